"""The CI audit over the SYNTHESIZED fixture machines: the real probe (`run_probe`) runs with the
fixture's System (tests/fixtures/hardware) and replayed worker outputs (tests/fixtures/workers), and
the audit's exit code, table, JSON, JUnit, job summary and annotations are checked.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from junitparser import JUnitXml

from hardware_fixtures import fixture_machine
from framework_advisor.probes.probe import run_probe
from framework_advisor.probes.report import ProbeOptions, ProbeReport, SkippedFramework
from framework_advisor.audit.outputs import AuditResult
from framework_advisor.audit.policy import PolicyError, load_policy, parse_require, policy_json_schema
from framework_advisor.audit.run import AuditOptions, run_audit
from framework_advisor.cli import main
from tests.openapi_schemas import validate

REPO_ROOT = Path(__file__).resolve().parent.parent
WORKERS = Path(__file__).resolve().parent / "fixtures" / "workers"


def fixture_probe(machine: str, calls: list | None = None):
    """The real run_probe on a fixture machine, its workers replaying recorded outputs."""
    recording = WORKERS / f"{machine}.json"
    recorded = json.loads(recording.read_text())

    def probe(options: ProbeOptions) -> ProbeReport:
        if calls is not None:
            calls.append(options.frameworks)
        wanted = [f for f in (options.frameworks if options.frameworks is not None else recorded) if f in recorded]
        return run_probe(options.model_copy(update={"frameworks": wanted}), system=fixture_machine(machine),
                         worker_argv=lambda fw, out, fd: [sys.executable, str(WORKERS / "replay_worker.py"),
                                                      str(recording), fw, str(out), str(fd)])
    return probe


def audit(machine: str, requires: list[str], tmp_path: Path, strict: bool = False, environ: dict | None = None,
          probe=None):
    options = AuditOptions(requirements=[parse_require(text) for text in requires], strict=strict,
                           json_out=str(tmp_path / "audit.json"), junit_out=tmp_path / "audit.xml",
                           environ=environ or {})
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run_audit(options, probe=probe or fixture_probe(machine), stdout=stdout, stderr=stderr)
    verdict = json.loads((tmp_path / "audit.json").read_text())
    return code, verdict, stdout.getvalue(), stderr.getvalue()


def junit_counts(path: Path) -> dict[str, int]:
    xml = JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert len(suites) == 1
    suite = suites[0]
    cases = list(suite)
    assert suite.tests == len(cases)
    return {"tests": suite.tests, "failures": suite.failures, "skipped": suite.skipped, "errors": suite.errors}


# --- fixture machines ----------------------------------------------------------------------------------

H100_POLICY = ["accelerator:cuda>=8,memory>=79", "framework:pytorch@cuda>=2.4,<3",
               "benchmark:pytorch.matmul_bf16@cuda>=50%", "benchmark:numpy.matmul_fp32@cpu>=1000"]


def test_h100_server_meets_a_gpu_training_policy(tmp_path):
    code, verdict, _, stderr = audit("h100-sxm-8x", H100_POLICY, tmp_path)
    assert code == 0, stderr
    assert verdict["status"] == "passed" and verdict["counts"] == {"passed": 4, "failed": 0, "skipped": 0, "inconclusive": 0, "total": 4}
    bf16 = next(r for r in verdict["requirements"] if r["id"] == "benchmark:pytorch.matmul_bf16@cuda>=50%")
    assert 60 < bf16["observed"] < 80  # 690 of the H100 SXM's 989 dense bf16 TFLOP/s
    assert junit_counts(tmp_path / "audit.xml") == {"tests": 4, "failures": 0, "skipped": 0, "errors": 0}
    validate("ProbeReport", verdict["report"])
    AuditResult.model_validate(verdict)


def test_a_framework_that_cannot_use_the_gpu_fails_with_the_reason_and_the_fix(tmp_path):
    code, verdict, _, stderr = audit("h100-sxm-8x", ["framework:jax@cuda", "accelerator:cuda>=16"], tmp_path)
    assert code == 1
    jax, count = verdict["requirements"]
    assert jax["status"] == "failed" and "cpu-only-build" in jax["message"] and "jax[cuda13]" in jax["message"]
    assert count["status"] == "failed" and "8x NVIDIA H100 80GB HBM3" in count["message"]
    assert "framework:jax@cuda" in stderr and "accelerator:cuda>=16" in stderr and "FAILED" in stderr
    xml = JUnitXml.fromfile(str(tmp_path / "audit.xml"))
    failed = [case.name for suite in xml for case in suite if case.result and case.result[0]._tag == "failure"]
    assert failed == ["framework:jax@cuda", "accelerator:cuda>=16"]


def test_tpu_host_with_a_crashed_framework(tmp_path):
    summary = tmp_path / "summary.md"
    environ = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    code, verdict, stdout, _ = audit("tpu-v4-8", ["accelerator:tpu>=4", "benchmark:jax.matmul_bf16@tpu>=50%",
                                                  "framework:pytorch", "no-failures"], tmp_path, environ=environ)
    assert code == 1
    by_id = {r["id"]: r for r in verdict["requirements"]}
    assert by_id["accelerator:tpu>=4"]["status"] == "passed"
    assert by_id["benchmark:jax.matmul_bf16@tpu>=50%"]["status"] == "passed"
    assert by_id["framework:pytorch"]["status"] == "failed" and "crash" in by_id["framework:pytorch"]["message"]
    assert by_id["no-failures"]["status"] == "failed" and "PyTorch" in by_id["no-failures"]["message"]
    text = summary.read_text()
    assert "❌ failed" in text and "`framework:pytorch`" in text and "`no-failures`" in text
    errors = [line for line in stdout.splitlines() if line.startswith("::error ")]
    assert len(errors) == 2 and any("framework%3Apytorch" in line for line in errors)


def test_apple_laptop_and_a_latency_ceiling(tmp_path):
    code, verdict, _, _ = audit("apple-m2-max", ["accelerator:apple-gpu", "framework:mlx@apple-gpu",
                                                 "benchmark:mlx.dispatch_latency@apple-gpu<=20",
                                                 "framework:jax@apple-gpu"], tmp_path)
    assert code == 1
    statuses = [r["status"] for r in verdict["requirements"]]
    assert statuses == ["passed", "passed", "passed", "failed"]
    assert "unsupported" in verdict["requirements"][3]["message"]


def test_cpu_server_skips_what_was_not_measured_and_strict_fails_it(tmp_path):
    requires = ["framework:pytorch", "benchmark:pytorch.matmul_bf16@cpu>=100", "benchmark:numpy.matmul_fp32>=5%"]
    code, verdict, _, stderr = audit("arm-neoverse-v2", requires, tmp_path)
    assert code == 0, stderr
    skipped = {r["id"]: r["message"] for r in verdict["requirements"] if r["status"] == "skipped"}
    assert "skipped in quick mode" in skipped["benchmark:pytorch.matmul_bf16@cpu>=100"]
    assert "no peak is known" in skipped["benchmark:numpy.matmul_fp32@cpu>=5%"]  # no clock for this Arm part
    assert junit_counts(tmp_path / "audit.xml") == {"tests": 3, "failures": 0, "skipped": 2, "errors": 0}
    assert "skipped" in stderr

    code, verdict, _, _ = audit("arm-neoverse-v2", requires, tmp_path, strict=True)
    assert code == 1 and verdict["status"] == "failed"
    assert junit_counts(tmp_path / "audit.xml") == {"tests": 3, "failures": 2, "skipped": 0, "errors": 0}


def test_no_nvidia_device_is_named_on_a_cpu_machine(tmp_path):
    code, verdict, _, stderr = audit("arm-neoverse-v2", ["accelerator:cuda>=1"], tmp_path)
    assert code == 1 and "no NVIDIA CUDA device was found" in verdict["requirements"][0]["message"]
    assert "no NVIDIA CUDA device was found" in stderr


def test_the_probe_runs_only_the_frameworks_the_requirements_name(tmp_path):
    calls: list = []
    audit("h100-sxm-8x", ["framework:numpy", "accelerator:cuda"], tmp_path, probe=fixture_probe("h100-sxm-8x", calls))
    audit("h100-sxm-8x", ["accelerator:cuda"], tmp_path, probe=fixture_probe("h100-sxm-8x", calls))
    audit("h100-sxm-8x", ["no-failures"], tmp_path, probe=fixture_probe("h100-sxm-8x", calls))
    assert calls == [["numpy"], [], None]


# --- could not run, usage and policy errors -------------------------------------------------------------

def test_a_crashing_probe_exits_3_and_says_why(tmp_path):
    def broken_probe(options):
        raise OSError("no space left on device")

    summary = tmp_path / "summary.md"
    code, verdict, stdout, stderr = audit("h100-sxm-8x", ["framework:pytorch"], tmp_path, probe=broken_probe,
                                          environ={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert code == 3 and verdict["status"] == "error" and "no space left" in verdict["error"]
    assert "could not run" in stderr and "could not run" in summary.read_text()
    assert stdout.startswith("::error title=framework-advisor audit could not run::")


def test_no_installed_framework_exits_3(tmp_path):
    def nothing_installed(options):
        inventory_only = run_probe(options.model_copy(update={"frameworks": []}),
                                   system=fixture_machine("arm-neoverse-v2"))
        return inventory_only.model_copy(update={"skipped": (SkippedFramework(framework="pytorch",
                                                                              reason="not installed"),)})

    code, verdict, _, _ = audit("arm-neoverse-v2", ["framework:pytorch"], tmp_path, probe=nothing_installed)
    assert code == 3 and "no framework could be probed" in verdict["error"]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_malformed_policy_exits_2_with_file_line_column(tmp_path, capsys):
    policy = write(tmp_path / "policy.yaml", "version: 1\nrequirements:\n  - framework: {name: pytorch}\n"
                                            "  - accelerator: {kind: cuda, min_cuont: 2}\n")
    assert main(["audit", "--policy", str(policy)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{policy}:4:" in err and "min_cuont" in err

    duplicate = write(tmp_path / "dup.yaml", "version: 1\nversion: 1\nrequirements: []\n")
    assert main(["audit", "--policy", str(duplicate)]) == 2
    assert f"{duplicate}:2:1" in capsys.readouterr().err

    two_kinds = write(tmp_path / "two.yaml", "version: 1\nrequirements:\n"
                                             "  - {framework: {name: jax}, no_failures: true}\n")
    with pytest.raises(PolicyError, match=r"two\.yaml:3:5: .*exactly one of"):
        load_policy(two_kinds)


@pytest.mark.parametrize("argv, message", [
    (["audit", "--require", "gpu:any"], "does not parse"),
    (["audit", "--require", "framework:pytroch"], "'pytroch' is not one of"),
    (["audit", "--require", "benchmark:jax.matmul_fp32@cuda<=5%"], "percent of peak is a floor"),
    (["audit"], "nothing to check"),
    (["audit", "--require", "no-failures", "--report", "missing.json"], "missing.json: cannot read"),
    (["audit", "--require", "no-failures", "--post", "ftp://x"], "http(s) URL"),
])
def test_usage_errors_exit_2_on_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0


def test_a_policy_file_and_its_schema(tmp_path):
    policy = write(tmp_path / "gpu.yaml", """\
version: 1
requirements:
  - id: eight-h100
    accelerator: {kind: cuda, min_count: 8, min_memory_gb: 79}
  - framework: {name: pytorch, device: cuda, version: ">=2.4"}
  - benchmark: {framework: pytorch, name: matmul_bf16, device: cuda, min_percent_of_peak: 50}
""")
    requirements = load_policy(policy).requirements
    assert [r.label for r in requirements] == ["eight-h100", "framework:pytorch@cuda>=2.4",
                                              "benchmark:pytorch.matmul_bf16@cuda>=50%"]
    committed = json.loads((REPO_ROOT / "docs" / "ci" / "audit-policy.schema.json").read_text())
    assert committed == policy_json_schema(), "regenerate with: framework-advisor audit --policy-schema"
    for example in (REPO_ROOT / "docs" / "ci").glob("*policy*.yaml"):
        load_policy(example)  # the shipped example policies are valid


def test_a_stored_report_is_checked_without_probing(tmp_path, capsys):
    report = fixture_probe("h100-sxm-8x")(ProbeOptions(frameworks=["pytorch"])).to_json_dict()
    stored = write(tmp_path / "probe.json", json.dumps({"id": "x", "status": "finished", "host": "gpu-7",
                                                        "created_at": "2026-11-29T00:00:00+00:00", "report": report}))
    code = main(["audit", "--report", str(stored), "--require", "accelerator:cuda>=8", "--json", "-"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["counts"]["passed"] == 1

    broken = write(tmp_path / "broken.json", json.dumps({**report, "hardware": {"os": "beos"}}))
    assert main(["audit", "--report", str(broken), "--require", "no-failures"]) == 2
    assert "not a valid probe report" in capsys.readouterr().err


def test_annotations_are_summarised_beyond_ten(tmp_path):
    requires = [f"accelerator:cuda>={n}" for n in range(9, 23)]  # 14 failures on an 8-GPU host
    code, _, stdout, _ = audit("h100-sxm-8x", requires, tmp_path, environ={"GITHUB_ACTIONS": "true"})
    errors = [line for line in stdout.splitlines() if line.startswith("::error")]
    assert code == 1 and len(errors) == 10 and "5 more failed" in errors[-1]


# --- on this machine, through the real CLI -------------------------------------------------------------

def test_real_audit_of_numpy_on_this_machine(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "framework_advisor", "audit", "--quick", "--require", "framework:numpy",
         "--require", "accelerator:cuda>=100000", "--junit", str(tmp_path / "out.xml"), "--json", "-"],
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert completed.returncode == 1, completed.stderr
    verdict = json.loads(completed.stdout)
    assert [r["status"] for r in verdict["requirements"]] == ["passed", "failed"]
    # No machine has 100,000 NVIDIA GPUs; what the message says depends on whether this one has any.
    assert "no NVIDIA CUDA device was found" in completed.stderr or "fewer than the 100000" in completed.stderr
    assert junit_counts(tmp_path / "out.xml") == {"tests": 2, "failures": 1, "skipped": 0, "errors": 0}


# --- fleet collection: --post to a service with a token ------------------------------------------------

FLEET_TOKEN = "fleet-token-0123456789abcdef0123456789"  # a service token is at least 32 characters


@pytest.fixture()
def fleet_service(tmp_path):
    import threading

    from werkzeug.serving import make_server

    from framework_advisor.app import create_app
    from framework_advisor.config import Settings

    settings = Settings(data_dir=tmp_path / "fleet", probe_lock_path=tmp_path / "fleet.lock", api_token=FLEET_TOKEN)
    server = make_server("127.0.0.1", 0, create_app(settings))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_reports_are_uploaded_with_the_token_and_found_by_host(tmp_path, fleet_service):
    import requests

    options = AuditOptions(requirements=[parse_require("accelerator:cuda>=8")], post_url=fleet_service,
                           environ={"FRAMEWORK_ADVISOR_TOKEN": FLEET_TOKEN})
    stderr = io.StringIO()
    assert run_audit(options, probe=fixture_probe("h100-sxm-8x"), stdout=io.StringIO(), stderr=stderr) == 0
    assert "report uploaded to" in stderr.getvalue()
    host = socket.gethostname()  # run_probe names the report after the machine it ran on
    listed = requests.get(f"{fleet_service}/v1/probes", params={"host": host}, timeout=10).json()["probes"]
    assert len(listed) == 1 and listed[0]["params"]["uploaded"] is True


def test_a_refused_upload_is_a_warning_and_keeps_the_verdict(tmp_path, fleet_service):
    options = AuditOptions(requirements=[parse_require("accelerator:cuda>=8")], post_url=fleet_service,
                           environ={"FRAMEWORK_ADVISOR_TOKEN": "wrong", "GITHUB_ACTIONS": "true"})
    stderr = io.StringIO()
    assert run_audit(options, probe=fixture_probe("h100-sxm-8x"), stdout=io.StringIO(), stderr=stderr) == 0
    assert "not uploaded" in stderr.getvalue() and "401" in stderr.getvalue()
    assert "::warning title=framework-advisor upload failed::" in stderr.getvalue()


# --- the CI examples -----------------------------------------------------------------------------------

def test_this_repositorys_own_ci_policy_passes_on_this_runner(tmp_path):
    """The CPU policy of docs/ci runs for real here (numpy and pytorch, quick): the example works."""
    completed = subprocess.run(
        [sys.executable, "-m", "framework_advisor", "audit", "--policy", "docs/ci/cpu-policy.yaml", "--quick",
         "--junit", str(tmp_path / "audit.xml"), "--json", str(tmp_path / "audit.json")],
        capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert completed.returncode == 0, completed.stderr
    assert junit_counts(tmp_path / "audit.xml") == {"tests": 3, "failures": 0, "skipped": 0, "errors": 0}


def test_a_percent_of_peak_check_on_the_cpu_is_skipped_when_the_cpu_peak_is_understated(tmp_path):
    from framework_advisor.probes.report import UnderstatedPeak

    real = fixture_probe("h100-sxm-8x")

    def understated(options):
        report = real(options)
        flag = UnderstatedPeak(framework="pytorch", benchmark="matmul_fp32", figure_gflops=900.0, peak_gflops=800.0,
                               assumed_clock_ghz=2.0, clock_ghz_at_least=2.25)
        return report.model_copy(update={"understated_cpu_peak": flag})

    code, verdict, _, _ = audit("h100-sxm-8x", ["benchmark:numpy.matmul_fp32@cpu>=1%"], tmp_path, probe=understated)
    [result] = verdict["requirements"]
    assert code == 0 and result["status"] == "skipped" and "CPU peak is understated" in result["message"]


# --- noisy figures, benchmark-free audits and the probe lock (issue 10) -----------------------------------

def noisy_numpy_recording(tmp_path: Path, noisy_times: int) -> Path:
    """The Arm server's recording with NumPy's matmul as the noisy figure of the issue (1.3 GFLOP/s, three
    samples at n=256); SYNTHESIZED. Returns the recording; it turns settled after ``noisy_times`` replays
    (the replay worker reads it afresh each time)."""
    recorded = json.loads((WORKERS / "arm-neoverse-v2.json").read_text())
    matmul = recorded["numpy"]["benchmarks"][0]
    matmul.update(value=1.3, best=2.9, params={"n": 256})
    matmul["timing"].update(noisy=True, samples=3, median_s=0.0258, iqr_s=0.02)
    path = tmp_path / "noisy.json"
    path.write_text(json.dumps(recorded))
    (tmp_path / "noisy-left").write_text(str(noisy_times))
    return path


def replaying(tmp_path: Path, recording: Path, calls: list):
    """A probe on the Arm fixture machine that replays ``recording`` noisy as many times as noisy-left says,
    then settled at 300 GFLOP/s."""
    def probe(options: ProbeOptions) -> ProbeReport:
        calls.append(options)
        left = int((tmp_path / "noisy-left").read_text())
        if left <= 0:
            recorded = json.loads(recording.read_text())
            recorded["numpy"]["benchmarks"][0]["timing"]["noisy"] = False
            recorded["numpy"]["benchmarks"][0]["value"] = 300.0
            recording.write_text(json.dumps(recorded))
        (tmp_path / "noisy-left").write_text(str(left - 1))
        wanted = options.frameworks if options.frameworks is not None else ["numpy", "pytorch"]
        return run_probe(options.model_copy(update={"frameworks": wanted}), system=fixture_machine("arm-neoverse-v2"),
                         worker_argv=lambda fw, out, fd: [sys.executable, str(WORKERS / "replay_worker.py"),
                                                      str(recording), fw, str(out), str(fd)])
    return probe


POLICY = [str(REPO_ROOT / "docs" / "ci" / "cpu-policy.yaml")]


def _policy_audit(tmp_path, probe, strict=False):
    options = AuditOptions(requirements=list(load_policy(REPO_ROOT / "docs/ci/cpu-policy.yaml").requirements),
                           quick=True, strict=strict, json_out=str(tmp_path / "audit.json"),
                           junit_out=tmp_path / "audit.xml", environ={"GITHUB_ACTIONS": "true"})
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run_audit(options, probe=probe, stdout=stdout, stderr=stderr)
    return code, json.loads((tmp_path / "audit.json").read_text()), stdout.getvalue(), stderr.getvalue()


def test_a_threshold_against_a_figure_that_stays_noisy_is_inconclusive_never_failed(tmp_path):
    calls = []
    probe = replaying(tmp_path, noisy_numpy_recording(tmp_path, noisy_times=2), calls)
    code, verdict, stdout, stderr = _policy_audit(tmp_path, probe)
    assert code == 4 and verdict["status"] == "inconclusive", stderr
    floor = next(r for r in verdict["requirements"] if r["id"] == "numpy-matmul-floor")
    assert floor["status"] == "inconclusive" and "noisy figure (3 samples" in floor["message"]
    assert "still noisy when re-measured" in floor["message"] and verdict["remeasured"] == ["numpy-matmul-floor"]
    # re-measured once: only NumPy, fresh (never reusing the noisy figure)
    assert [(c.frameworks, c.fresh) for c in calls] == [(["numpy", "pytorch"], False), (["numpy"], True)]
    assert "re-measuring numpy" in stderr and "::warning title=audit inconclusive%3A numpy-matmul-floor" in stdout
    assert junit_counts(tmp_path / "audit.xml") == {"tests": 3, "failures": 0, "skipped": 1, "errors": 0}


def test_strict_turns_inconclusive_into_a_failure(tmp_path):
    probe = replaying(tmp_path, noisy_numpy_recording(tmp_path, noisy_times=2), [])
    code, verdict, _, _ = _policy_audit(tmp_path, probe, strict=True)
    assert code == 1 and verdict["status"] == "failed" and verdict["counts"]["inconclusive"] == 1
    assert junit_counts(tmp_path / "audit.xml")["failures"] == 1


def test_a_noisy_figure_that_settles_when_re_measured_is_judged_on_the_new_figure(tmp_path):
    calls = []
    probe = replaying(tmp_path, noisy_numpy_recording(tmp_path, noisy_times=1), calls)
    code, verdict, _, stderr = _policy_audit(tmp_path, probe)
    floor = next(r for r in verdict["requirements"] if r["id"] == "numpy-matmul-floor")
    assert code == 0 and floor["status"] == "passed" and floor["observed"] == 300.0, stderr
    assert len(calls) == 2


def test_an_audit_of_accelerators_and_frameworks_runs_no_benchmark_and_takes_no_lock(tmp_path):
    """The real NumPy worker, set-up only, while another process holds this machine's probe lock."""
    from framework_advisor.probe_jobs import machine_probe_lock

    data = tmp_path / "data"  # the audit's lock is that data directory's (config.probe_lock_path)
    data.mkdir()
    with machine_probe_lock(path=data / "probe.lock"):
        completed = subprocess.run(
            [sys.executable, "-m", "framework_advisor", "audit", "--require", "framework:numpy>=2",
             "--lock-timeout", "1", "--json", str(tmp_path / "audit.json")],
            capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
            env={**os.environ, "FRAMEWORK_ADVISOR_DATA_DIR": str(data)})
    assert completed.returncode == 0, completed.stderr
    report = json.loads((tmp_path / "audit.json").read_text())["report"]
    [numpy] = report["frameworks"]
    assert numpy["framework"] == "numpy" and numpy["benchmarks"] == [] and report["comparisons"] == []
    assert "waiting" not in completed.stderr


def test_lock_timeout_bounds_the_wait_for_another_probe(tmp_path):
    from framework_advisor.probe_jobs import machine_probe_lock

    data = tmp_path / "data"
    data.mkdir()
    with machine_probe_lock(path=data / "probe.lock"):
        completed = subprocess.run(
            [sys.executable, "-m", "framework_advisor", "audit", "--policy", "docs/ci/cpu-policy.yaml", "--quick",
             "--lock-timeout", "0.5", "--json", str(tmp_path / "audit.json")],
            capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
            env={**os.environ, "FRAMEWORK_ADVISOR_DATA_DIR": str(data)})
    assert completed.returncode == 3, completed.stderr
    verdict = json.loads((tmp_path / "audit.json").read_text())
    assert verdict["status"] == "error" and "for more than 0.5 s; nothing was measured" in verdict["error"]
    assert "waiting for it to finish (at most 0.5 s)" in completed.stderr
