"""What changed between two stored probes (probes.probe_diff): versions, devices and figures, each figure's
ratio B/A and whether the change exceeds its noise; through the CLI (`probes list | show | diff`, a real
process against a temporary data directory) and over HTTP (`GET /v1/probes/{a}/diff/{b}`).

The reports are synthesized: the canned CPU report of the service tests (PyTorch and MLX ran, JAX crashed),
with the samples, sizes, versions and devices each test needs."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import pytest

from framework_advisor.app import create_app
from framework_advisor.probes.probe_diff import NOISE_FLOOR, diff_reports, noise_verdict
from framework_advisor.probes.report import ProbeParams, ProbeReport
from framework_advisor.probes.worker.records import BenchmarkRecord, Timing
from framework_advisor.storage import Store
from tests.conftest import REPO_ROOT
from tests.openapi_schemas import validate
from tests.service_fixtures import canned_report_json, settings_for

MATMUL_WORK = 2.0 * 2048 ** 3


def samples(median_s: float, spread: float, count: int = 10) -> list[float]:
    """``count`` per-call times evenly spread over median_s * (1 - spread) .. median_s * (1 + spread)."""
    step = 2 * spread / (count - 1)
    return [median_s * (1 - spread + step * index) for index in range(count)]


def with_matmul(document: dict, framework: str, median_s: float, spread: float = 0.01, count: int = 10,
                n: int = 2048) -> dict:
    """``document`` with ``framework``'s fp32 matmul measured at ``median_s`` per call (n x n), its samples
    spread by +-``spread``."""
    document = copy.deepcopy(document)
    run = next(entry for entry in document["frameworks"] if entry["framework"] == framework)
    per_call = samples(median_s, spread, count)
    timing = {"median_s": median_s, "min_s": per_call[0], "p10_s": per_call[0], "iqr_s": median_s * spread,
              "samples": count, "block_size": 1, "total_s": sum(per_call), "noisy": False, "per_call_s": per_call}
    run["benchmarks"] = [{"name": "matmul_fp32", "device": "cpu", "unit": "GFLOP/s", "precision": "fp32",
                          "value": round(2.0 * n ** 3 / median_s / 1e9, 1),
                          "best": round(2.0 * n ** 3 / per_call[0] / 1e9, 1), "timing": timing,
                          "params": {"n": n}, "size": n}]
    return document


def base() -> dict:
    """The canned report, each framework with its own lists (the canned one shares them), PyTorch at 290 and
    MLX at 3.6 GFLOP/s with tight samples."""
    document = copy.deepcopy(canned_report_json(False))
    for entry in document["frameworks"]:
        if "devices" in entry:
            entry["devices"] = copy.deepcopy(entry["devices"])
    document = with_matmul(document, "pytorch", MATMUL_WORK / 290e9)
    return with_matmul(document, "mlx", MATMUL_WORK / 3.6e9)


def report(document: dict) -> ProbeReport:
    validate("ProbeReport", document)
    return ProbeReport.model_validate(document)


def diff(a: dict, b: dict):
    return diff_reports("probeA", report(a), "probeB", report(b))


def figure(result, framework: str):
    return next(change for change in result.figures if change.framework == framework)


def test_a_changed_version_is_named_and_the_unchanged_ones_are_kept_apart():
    after = base()
    after["frameworks"][0]["version"] = "2.14.0"
    after["python"] = {"executable": "/usr/bin/python3.12", "version": "3.12.1", "prefix": "/usr"}
    result = diff(base(), after)
    versions = {version.name: version for version in result.versions}
    assert (versions["pytorch"].a, versions["pytorch"].b, versions["pytorch"].changed) == ("2.13.0", "2.14.0", True)
    assert (versions["python"].a, versions["python"].b) == ("3.11.7", "3.12.1")
    assert versions["mlx"].changed is False
    assert [version.name for version in result.changed_versions()] == ["python", "pytorch"]
    # JAX crashed in both: no version on either side, and its outcome did not change.
    jax = next(outcome for outcome in result.frameworks if outcome.framework == "jax")
    assert (jax.a, jax.b, jax.changed) == ("failed", "failed", False) and "SIGSEGV" in jax.a_detail


def test_a_new_and_a_removed_device_and_what_each_framework_saw():
    before, after = base(), base()
    before["hardware"]["accelerators"] = [{"kind": "rocm", "name": "AMD Instinct MI300X", "count": 8}]
    before["frameworks"][0]["unused_accelerators"] = [{"kind": "rocm", "reason": "cpu-only-build"}]
    after["hardware"]["accelerators"] = [{"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "count": 2}]
    after["frameworks"][0]["devices"].append({"device": "cuda", "name": "NVIDIA H100 80GB HBM3", "usable": True,
                                              "index": 0})
    after["frameworks"][1]["unused_accelerators"] = [{"kind": "cuda", "reason": "unsupported"}]
    result = diff(before, after)
    assert [(acc.kind, acc.a_count, acc.b_count) for acc in result.accelerators] == [("rocm", 8, None),
                                                                                   ("cuda", None, 2)]
    [seen] = result.devices_seen
    assert (seen.framework, seen.device, seen.index, seen.a_usable, seen.b_usable) == ("pytorch", "cuda", 0, None, True)
    assert {(u.framework, u.kind, u.a_reason, u.b_reason) for u in result.unused_accelerators} == {
        ("pytorch", "rocm", "cpu-only-build", None), ("mlx", "cuda", None, "unsupported")}
    # The JSON keeps the nulls that say "not there".
    dumped = result.model_dump(mode="json", exclude_none=True)
    assert dumped["accelerators"][0]["b_count"] is None and dumped["devices_seen"][0]["a_usable"] is None
    assert diff(base(), base()).accelerators == [] and diff(base(), base()).devices_seen == []
    # A framework that crashed in B listed no devices there: its outcome says so, not every device "gone".
    crashed = base()
    crashed["frameworks"][1] = {"framework": "mlx", "failure": {"kind": "crash", "message": "died from SIGSEGV"}}
    result = diff(base(), crashed)
    assert result.devices_seen == [] and result.unused_accelerators == []
    assert [(o.framework, o.a, o.b) for o in result.frameworks if o.changed] == [("mlx", "ran", "failed")]


def test_a_figure_within_its_noise_is_not_a_change():
    # 3% faster, inside samples spread by +-5%: the middle halves overlap.
    result = diff(base(), with_matmul(base(), "pytorch", MATMUL_WORK / 290e9 / 1.03, spread=0.05))
    pytorch = figure(result, "pytorch")
    assert pytorch.ratio == pytest.approx(1.03, rel=0.01)
    assert pytorch.ratio_low < 1 < pytorch.ratio_high
    assert (pytorch.exceeds_noise, pytorch.verdict) == (False, "within-noise")
    assert result.changed_figures() == []


def test_tight_samples_do_not_make_a_small_change_exceed_the_run_to_run_floor():
    # 6% faster with samples within +-0.5%: the quartiles do not overlap, but probes minutes apart move this much.
    result = diff(base(), with_matmul(base(), "pytorch", MATMUL_WORK / 290e9 / 1.06, spread=0.005))
    pytorch = figure(result, "pytorch")
    assert pytorch.ratio_low > 1 and pytorch.ratio < NOISE_FLOOR
    assert pytorch.verdict == "within-noise" and pytorch.exceeds_noise is False


def test_a_figure_beyond_its_noise_is_better_or_worse_in_the_figures_direction():
    result = diff(base(), with_matmul(base(), "pytorch", MATMUL_WORK / 290e9 / 1.5, spread=0.05))
    pytorch = figure(result, "pytorch")
    assert pytorch.ratio == pytest.approx(1.5, rel=0.01) and pytorch.ratio_low > 1
    assert (pytorch.exceeds_noise, pytorch.verdict) == (True, "better")
    assert result.changed_figures() == [pytorch]
    slower = figure(diff(base(), with_matmul(base(), "mlx", MATMUL_WORK / 3.6e9 * 2)), "mlx")
    assert slower.ratio == pytest.approx(0.5, rel=0.01) and slower.verdict == "worse"


def _latency(median_us: float, per_call_us: list[float]) -> BenchmarkRecord:
    per_call = [us / 1e6 for us in per_call_us]
    timing = Timing(median_s=median_us / 1e6, min_s=min(per_call), p10_s=min(per_call), iqr_s=0.0, samples=len(per_call),
                    block_size=100, total_s=1.0, noisy=False, per_call_s=per_call)
    return BenchmarkRecord(name="dispatch_latency", device="cpu", unit="us", value=median_us, best=min(per_call_us),
                           timing=timing, precision="fp32", params={"elements": 16}, lower_is_better=True)


def test_a_latency_that_grew_beyond_its_noise_is_worse_and_too_few_samples_are_not_judged():
    ratio, (low, high), verdict = noise_verdict(_latency(10.0, [9.9, 10.0, 10.0, 10.1, 10.0]),
                                                _latency(20.0, [19.8, 20.0, 20.1, 20.0, 20.2]))
    assert ratio == 2.0 and low > 1.9 and high < 2.1 and verdict == "worse"
    assert noise_verdict(_latency(10.0, [10.0, 10.0, 10.0]), _latency(20.0, [20.0, 20.0, 20.0]))[2] == "not-judged"
    few = diff(base(), with_matmul(base(), "pytorch", MATMUL_WORK / 290e9 / 2, count=3))
    pytorch = figure(few, "pytorch")
    assert pytorch.verdict == "not-judged" and pytorch.exceeds_noise is None and pytorch.ratio_low is None
    assert few.model_dump(mode="json", exclude_none=True)["figures"][0]["exceeds_noise"] is None


def test_figures_at_different_sizes_are_not_compared_and_figures_in_one_probe_only_are_named():
    after = with_matmul(base(), "mlx", MATMUL_WORK / 3.6e9, n=1024)  # MLX stepped down to n=1024 in B
    conv = {"name": "conv2d", "device": "cpu", "unit": "GFLOP/s", "value": 50.0, "best": 52.0, "precision": "fp32",
            "timing": after["frameworks"][0]["benchmarks"][0]["timing"], "params": {"batch": 8}, "size": 8}
    after["frameworks"][0]["benchmarks"].append(conv)
    result = diff(base(), after)
    assert [change.framework for change in result.figures] == ["pytorch"]  # MLX's figures are of other problems
    [apart] = result.not_compared
    assert (apart.framework, apart.benchmark, apart.a, apart.b) == ("mlx", "matmul_fp32", ["fp32 n=2048"],
                                                                     ["fp32 n=1024"])
    assert "another size" in apart.reason
    assert [(only.framework, only.benchmark, only.size_text) for only in result.only_in_b] == [
        ("pytorch", "conv2d", "batch=8")]
    assert result.only_in_a == []
    # Another precision (tf32 where fp32 was) is not compared either.
    tf32 = base()
    tf32["frameworks"][0]["benchmarks"][0]["precision"] = "tf32 (TensorFloat-32 matmuls allowed)"
    assert "another precision" in diff(base(), tf32).not_compared[0].reason


def test_settings_that_differ_are_said_first():
    after = base()
    after.update(quick=True, host="gpu-node-17", threads=2,
                 conditions={"cpus": 2, "busy": True, "unreliable": True, "why": "steal 30%"})
    before = {**base(), "threads": 1}
    notes = " | ".join(diff(before, after).notes)
    assert "different machines" in notes and "A was a full probe and B a quick one" in notes
    assert "CPU threads per framework: A 1, B 2" in notes and "B was measured on a busy machine (steal 30%)" in notes


# ---- through the store: the CLI and HTTP ----

def _store_two(data_dir) -> tuple[str, str]:
    """Probe A (the base) and B (PyTorch 2.14.0 1.5x faster, MLX at n=1024, a new GPU) stored in ``data_dir``."""
    after = with_matmul(with_matmul(base(), "pytorch", MATMUL_WORK / 435e9, spread=0.02), "mlx", MATMUL_WORK / 3.6e9,
                        n=1024)
    after["frameworks"][0]["version"] = "2.14.0"
    after["hardware"]["accelerators"] = [{"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "count": 8}]
    store = Store.open(data_dir / "framework-advisor.sqlite3")
    for probe_id, document in (("a1b2c3d4e5f60001", base()), ("a1b2c3d4e5f60002", after)):
        store.save_finished_probe(probe_id, document["host"], ProbeParams(), report(document))
    return "a1b2c3d4e5f60001", "a1b2c3d4e5f60002"


def cli(*argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": str(REPO_ROOT)}
    env.pop("FRAMEWORK_ADVISOR_DATA_DIR", None)
    return subprocess.run([sys.executable, "-m", "framework_advisor", *argv], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_cli_lists_shows_and_diffs_stored_probes(tmp_path):
    a, b = _store_two(tmp_path)
    data = ("--data-dir", str(tmp_path))

    listed = cli("probes", "list", *data)
    assert listed.returncode == 0, listed.stderr
    rows = [line for line in listed.stdout.splitlines() if line.startswith("a1b2")]
    assert [row.split()[0] for row in rows] == [b, a]  # newest first
    assert all("finished" in row and "full" in row and "pytorch, mlx, jax" in row for row in rows)
    listed_json = json.loads(cli("probes", "list", "--json", *data).stdout)
    validate("ProbeList", listed_json)
    assert [probe["frameworks"] for probe in listed_json["probes"]] == [["pytorch", "mlx", "jax"]] * 2

    shown = cli("probes", "show", a, *data)
    assert shown.returncode == 0, shown.stderr
    assert f"Probe {a} of" in shown.stdout and "finished (full)" in shown.stdout and "pytorch" in shown.stdout
    assert json.loads(cli("probes", "show", a, "--json", *data).stdout)["report"]["frameworks"][0]["version"] == "2.13.0"

    table = cli("probes", "diff", a, b, *data)
    assert table.returncode == 0, table.stderr
    out = table.stdout
    assert "pytorch: 2.13.0 -> 2.14.0" in out and "new in B: 8 x NVIDIA H100 80GB HBM3 (cuda)" in out
    row = next(line for line in out.splitlines() if line.startswith("pytorch") and "matmul_fp32" in line)
    assert "n=2048" in row and "290" in row and "435" in row and "1.50x" in row and "better" in row
    assert "not compared: mlx matmul_fp32 on CPU, A fp32 n=2048, B fp32 n=1024" in " ".join(out.split())
    assert max(len(line) for line in out.splitlines()) <= 80 and "…" not in out  # readable at 80 columns

    as_json = cli("probes", "diff", a, b, "--json", *data)
    document = json.loads(as_json.stdout)
    validate("ProbeDiff", document)
    assert document["figures"][0]["verdict"] == "better" and document["a"]["id"] == a


@pytest.mark.parametrize("argv", [("show", "nope"), ("diff", "a1b2c3d4e5f60001", "nope"),
                                  ("diff", "nope", "a1b2c3d4e5f60001")])
def test_an_unknown_id_is_one_line_and_exit_2(tmp_path, argv):
    _store_two(tmp_path)
    result = cli("probes", *argv, "--data-dir", str(tmp_path))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "no probe with id 'nope'" in result.stderr


def test_without_a_store_the_list_is_empty_and_an_id_unknown(tmp_path):
    empty = tmp_path / "none"
    listed = cli("probes", "list", "--data-dir", str(empty))
    assert listed.returncode == 0 and "No probes stored" in listed.stdout
    assert not empty.exists(), "reading never creates a store"
    assert cli("probes", "diff", "x", "y", "--data-dir", str(empty)).returncode == 2


def test_http_diff_matches_the_contract_and_unknown_or_unfinished_probes_are_problems(tmp_path):
    settings = settings_for(tmp_path)
    a, b = _store_two(settings.data_dir)
    client = create_app(settings).test_client()
    response = client.get(f"/v1/probes/{a}/diff/{b}")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    validate("ProbeDiff", body)
    pytorch = next(change for change in body["figures"] if change["framework"] == "pytorch")
    assert pytorch["ratio"] == pytest.approx(1.5, rel=0.01) and pytorch["exceeds_noise"] is True
    assert [entry["framework"] for entry in body["not_compared"]] == ["mlx"]

    for path in (f"/v1/probes/{a}/diff/nope", f"/v1/probes/nope/diff/{b}", f"/v1/probes/{a}/diff/bad%20id"):
        missing = client.get(path)
        assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
        validate("Problem", missing.get_json())
        assert "no probe with id" in missing.get_json()["detail"]

    store = Store.open(settings.database_path)
    store.enqueue_probe("queued0000000001", "elsewhere", ProbeParams(), max_queued=4)
    waiting = client.get(f"/v1/probes/{a}/diff/queued0000000001")
    assert waiting.status_code == 409 and "it is queued" in waiting.get_json()["detail"]


def test_the_diff_table_stays_readable_at_80_columns_with_the_longest_names(monkeypatch):
    """Every framework, the longest benchmark name on an accelerator with a long size: nothing is cut short."""
    import io

    from rich.console import Console

    from framework_advisor import render_probes

    before = base()
    record = copy.deepcopy(before["frameworks"][0]["benchmarks"][0])
    record.update(name="elementwise_bandwidth", device="intel-xpu", unit="GB/s", params={"elements": 268435456},
                  size=268435456, precision="fp32")
    runs = [{**copy.deepcopy(before["frameworks"][0]), "framework": framework, "benchmarks": [record]}
            for framework in ("pytorch", "jax", "mlx", "tensorflow", "numpy")]
    before.update(frameworks=runs, failures=[], derived={}, host="a-rather-long-host-name.example.internal")
    after = copy.deepcopy(before)
    for run in after["frameworks"]:
        run["benchmarks"][0]["value"] = 12345.6
    output = io.StringIO()
    monkeypatch.setattr(render_probes, "_console", Console(file=output, width=80, color_system=None))
    render_probes.print_probe_diff(diff(before, after))
    text = output.getvalue()
    assert "…" not in text and max(len(line.rstrip()) for line in text.splitlines()) <= 80
    assert "tensorflow" in text and "elementwise_bandwidth" in text and "elements=268435456" in text
    assert "12,346" in text
