"""The command line as a person meets it on a terminal (issue 11, point 7): tables that fit 80 columns without
cutting a header or a version, reasons that wrap under themselves, "did you mean" for a typo, goals with commas,
options that exclude each other, every mistake of a hardware file at its line, Ctrl-C, a plain top-level help,
"runs here" only for this machine, `recommend` and `serve` reading the same store, and `rules lint`'s exits.
Each case runs the real CLI: `main(argv)` in this process, or `python -m framework_advisor` in a subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest
from rich.console import Console

from framework_advisor import render
from framework_advisor.cli import build_parser, main
from framework_advisor.contract import read_report
from framework_advisor.probes.report import FailedFramework, ProbeOptions, ProbeParams
from tests.conftest import REPO_ROOT
from tests.service_fixtures import HOST, canned_report

REPORT = REPO_ROOT / "tests" / "fixtures" / "reports" / "cpu-five-frameworks.json"
H100_YAML = """\
os: linux
arch: x86_64
cpu: {model: AMD EPYC 9654, cores: 96}
memory_gb: 1536
accelerators:
  - {kind: cuda, name: NVIDIA H100 80GB HBM3, count: 8, memory_gb: 80, compute_capability: "9.0"}
"""


def cli(*argv, env=None, timeout=120):
    """The installed command line in a subprocess, on an 80-column "terminal", with a store of its own."""
    environ = {**os.environ, "COLUMNS": "80", **(env or {})}
    return subprocess.run([sys.executable, "-m", "framework_advisor", *argv], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=timeout, env=environ)


def one_line_usage_error(result) -> str:
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("framework-advisor") and ": error: " in lines[0]
    return lines[0]


@pytest.fixture()
def isolated_store(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMEWORK_ADVISOR_DATA_DIR", str(tmp_path / "no-store-here"))
    return {"FRAMEWORK_ADVISOR_DATA_DIR": str(tmp_path / "no-store-here")}


# --- tables at 80 columns -----------------------------------------------------------------------------------


def _probe_summary_at_80(monkeypatch, capsys, report) -> str:
    """`framework-advisor probe` printing ``report`` (the measuring itself stood in for) at 80 columns."""
    monkeypatch.setattr(render, "_console", Console(width=80))
    monkeypatch.setattr("framework_advisor.cli._probe_with_progress", lambda *args, **kwargs: report)
    assert main(["probe", "--no-store"]) == 0
    return capsys.readouterr().out


def _cell_words(report) -> set[str]:
    """Every word the probe table's cells hold: names, versions and figures."""
    words = set()
    for result in report.frameworks:
        words.add(result.framework)
        if not isinstance(result, FailedFramework):
            words |= {result.version, f"{result.import_s:.2f}"}
            for name in ("matmul_fp32", "elementwise_bandwidth", "dispatch_latency", "mlp_step_eager"):
                words |= set(render._figure(result, name, report.cpu_percents_hold()).split())  # "135 (99%)"
    return words


def test_probe_table_keeps_every_header_and_version_whole_at_80_columns(monkeypatch, capsys):
    report = read_report(json.loads(REPORT.read_text(encoding="utf-8")))
    assert any("+" in run.version for run in report.runs()) and len(report.runs()) == 5  # 2.13.0+cpu: the long one
    out = _probe_summary_at_80(monkeypatch, capsys, report)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in out, out
    tokens = set(out.split())
    for header in ("framework", "import", "matmul", "GFLOP/s", "bandwidth", "GB/s", "dispatch", "MLP", "steps/s",
                   "benchmark", "device", "size"):
        assert header in tokens, (header, out)
    assert "(% peak)" in out and "vs fastest" in out
    missing = _cell_words(report) - tokens
    assert not missing, (missing, out)
    # the ranges over rounds wrap between words, never inside one
    assert "(0.94x-1.08x" in tokens and "slower" in tokens


def test_a_failed_framework_keeps_its_whole_message_at_80_columns(monkeypatch, capsys):
    document = json.loads(REPORT.read_text(encoding="utf-8"))
    message = ("no reply within 60 s to its start (the framework's import and set-up); the worker was killed "
               "with everything it started")
    document["frameworks"] = [entry if entry["framework"] != "jax" else
                              {"framework": "jax", "failure": {"kind": "timeout", "message": message}, "wall_s": 60.0}
                              for entry in document["frameworks"]]
    out = _probe_summary_at_80(monkeypatch, capsys, read_report(document))
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= 80
    assert "failed: timeout" in out
    assert f"failed (timeout): {message}" in " ".join(out.split())  # whole, past the old 60-character cut


def test_wrapped_reasons_hang_under_their_first_line(tmp_path, isolated_store):
    hardware = tmp_path / "h100.yaml"
    hardware.write_text(H100_YAML)
    result = cli("recommend", "--goal", "research", "--experience", "beginner", "--hardware", str(hardware),
                 env=isolated_store)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    reasons = lines[next(i for i, line in enumerate(lines) if line.startswith("Why ")) + 1:
                    lines.index("Start")]
    reasons = [line for line in reasons if line.strip()]
    first = re.compile(r"^  [+-]\d+\.\d\d  \S")
    starts = [line for line in reasons if first.match(line)]
    continued = [line for line in reasons if not first.match(line)]
    assert starts and continued, "at 80 columns some reason wraps"
    for line in continued:  # under the text, past "  +1.80  ", not at the margin
        assert line.startswith(" " * 9) and line[9] != " ", line
    assert max(len(line) for line in lines) <= 80


# --- names: "did you mean", commas, exclusive options ------------------------------------------------------


@pytest.mark.parametrize("argv,suggestion", [
    (["recommend", "--goal", "reserch", "--experience", "expert"], "did you mean 'research'?"),
    (["recommend", "--goal", "learning,reserch", "--experience", "expert"], "did you mean 'research'?"),
    (["recommend", "--goal", "research", "--experience", "expret"], "did you mean 'expert'?"),
    (["probe", "--frameworks", "numpy,pytroch"], "did you mean 'pytorch'?"),
    (["audit", "--require", "framework:numpy", "--frameworks", "nunpy"], "did you mean 'numpy'?"),
    (["recomend", "--goal", "research"], "did you mean 'recommend'?"),
])
def test_a_typo_gets_a_did_you_mean(argv, suggestion, isolated_store):
    line = one_line_usage_error(cli(*argv, env=isolated_store))
    assert suggestion in line, line


def test_goals_take_commas_and_repeats(tmp_path, capsys, isolated_store):
    hardware = tmp_path / "h100.yaml"
    hardware.write_text(H100_YAML)
    code = main(["recommend", "--goal", "research,learning", "--goal", "production", "--goal", "research",
                 "--experience", "expert", "--hardware", str(hardware), "--json"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["goals"] == ["research", "learning", "production"]
    assert "no goal" in one_line_usage_error(cli("recommend", "--goal", ",", "--experience", "expert"))


def test_quick_and_thorough_exclude_each_other():
    line = one_line_usage_error(cli("probe", "--quick", "--thorough", "--no-store"))
    assert "--thorough" in line and "not allowed with" in line and "--quick" in line


# --- recommend answers from the store serve uses ------------------------------------------------------------


def test_recommend_data_dir_answers_from_the_store_serve_uses(tmp_path, monkeypatch, capsys):
    from framework_advisor.app import create_app
    from framework_advisor.config import Settings
    from framework_advisor.storage import Store

    monkeypatch.delenv("FRAMEWORK_ADVISOR_DATA_DIR", raising=False)
    data_dir = tmp_path / "data"
    Store.open(Settings(data_dir=data_dir).database_path).save_finished_probe(
        "stored-probe", HOST, ProbeParams.asked(ProbeOptions(quick=True)), canned_report(True))
    served = []
    monkeypatch.setattr("framework_advisor.server.serve", lambda settings, **kwargs: served.append(settings) or 0)
    question = {"goals": ["research"], "experience": "expert"}

    def cli_and_api(*data_dir_flag):
        assert main(["recommend", "--goal", "research", "--experience", "expert", "--json", *data_dir_flag]) == 0
        from_cli = json.loads(capsys.readouterr().out)
        assert main(["serve", *data_dir_flag]) == 0
        response = create_app(served[-1]).test_client().post("/v1/recommendations", json=question)
        assert response.status_code == 200
        return from_cli["probe_id"], response.get_json()["probe_id"]

    assert cli_and_api("--data-dir", str(data_dir)) == ("stored-probe", "stored-probe")
    monkeypatch.setenv("FRAMEWORK_ADVISOR_DATA_DIR", str(data_dir))
    assert cli_and_api() == ("stored-probe", "stored-probe")
    assert cli_and_api("--data-dir", str(tmp_path / "elsewhere")) == (None, None)  # another store: no probe


# --- hardware files ------------------------------------------------------------------------------------------

FIVE_MISTAKES_YAML = """\
os: beos
arch: sparc
cpu: {model: X, cores: many}
memory_gb: -4
accelerators:
  - {kind: gpu, name: Big GPU}
"""
FIVE_MISTAKES_JSON = """\
{
  "os": "linux",
  "arch": "sparc",
  "cpu": {"model": "X",
          "cores": "many"},
  "memory_gb": -4,
  "accelerators": [
    {"kind": "gpu", "name": "Big GPU", "count": 0}
  ],
  "os": "beos"
}
"""


def hardware_errors(capsys, path) -> list[str]:
    code = main(["recommend", "--goal", "research", "--experience", "expert", "--hardware", str(path)])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == "" and "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert all(line.startswith("framework-advisor: error: ") for line in lines), lines
    return [line.removeprefix("framework-advisor: error: ") for line in lines]


def test_a_yaml_hardware_file_reports_every_mistake_at_its_line(tmp_path, capsys, isolated_store):
    path = tmp_path / "hw.yaml"
    path.write_text(FIVE_MISTAKES_YAML)
    errors = hardware_errors(capsys, path)
    assert [error.split(": ", 2)[:2] for error in errors] == [
        [f"{path}:1:1", "/os"], [f"{path}:2:1", "/arch"], [f"{path}:3:17", "/cpu/cores"],
        [f"{path}:4:1", "/memory_gb"], [f"{path}:6:6", "/accelerators/0/kind"]]
    assert "'beos' is not allowed here" in errors[0] and "got str 'many'" in errors[2]


def test_a_json_hardware_file_reports_every_mistake_at_its_line(tmp_path, capsys, isolated_store):
    path = tmp_path / "hw.json"
    path.write_text(FIVE_MISTAKES_JSON)
    errors = hardware_errors(capsys, path)
    assert [error.split(": ", 2)[:2] for error in errors] == [
        [f"{path}:3:3", "/arch"], [f"{path}:5:11", "/cpu/cores"], [f"{path}:6:3", "/memory_gb"],
        [f"{path}:8:6", "/accelerators/0/kind"], [f"{path}:8:40", "/accelerators/0/count"],
        [f"{path}:10:3", "/os"], [f"{path}:10:3", "/os"]]
    # JSON parsers keep the last of two keys silently: here it is said, and the value checked is that last one
    assert "duplicate key 'os' (first at line 2)" in errors[-2] and "'beos' is not allowed here" in errors[-1]


def test_a_missing_key_is_reported_at_its_object_and_many_mistakes_are_capped(tmp_path, capsys, isolated_store):
    path = tmp_path / "hw.yaml"
    path.write_text("os: linux\narch: x86_64\ncpu:\n  model: X\n" + "".join(f"extra{i}: 1\n" for i in range(25)))
    errors = hardware_errors(capsys, path)
    assert errors[0] == f"{path}:3:1: /cpu/cores: required field"  # at the object it is missing from
    assert len(errors) == 21 and errors[-1] == f"{path}: and 6 more problems"
    assert errors[1].startswith(f"{path}:5:1: /extra0: unknown field")


@pytest.mark.parametrize("content", ["", "\n  \n", "# only a comment\n"])
def test_an_empty_hardware_file_says_so(tmp_path, capsys, isolated_store, content):
    path = tmp_path / "hw.yaml"
    path.write_text(content)
    errors = hardware_errors(capsys, path)
    assert len(errors) == 1 and errors[0].startswith(f"{path}: the file is empty; expected a HardwareProfile")


def test_hardware_dev_null_is_an_empty_file(isolated_store):
    line = one_line_usage_error(cli("recommend", "--goal", "research", "--experience", "expert",
                                    "--hardware", os.devnull, env=isolated_store))
    assert f"{os.devnull}: the file is empty" in line and "NoneType" not in line


# --- Ctrl-C ----------------------------------------------------------------------------------------------------


def test_ctrl_c_says_interrupted_exits_130_and_leaves_no_worker(tmp_path):
    """The terminal's SIGINT goes to the CLI's process group; the workers run in sessions of their own."""
    process = subprocess.Popen(
        [sys.executable, "-m", "framework_advisor", "probe", "--quick", "--frameworks", "numpy", "--no-store",
         "--fresh"], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, env={**os.environ, "XDG_DATA_HOME": str(tmp_path)})
    workers = []
    deadline = time.monotonic() + 60  # another probe on this machine may hold the probe lock for a while
    while not workers and time.monotonic() < deadline and process.poll() is None:
        workers = psutil.Process(process.pid).children(recursive=True)
        time.sleep(0.05)
    time.sleep(0.3)
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, (out, err)
    assert err.strip().splitlines()[-1] == "framework-advisor: interrupted" and "Traceback" not in err, err
    assert out == ""
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive, f"workers left running: {alive}"


def test_an_interrupted_probe_stops_its_workers_and_what_they_started():
    """A worker importing (it never reads a command) and the child it started are killed at once."""
    from framework_advisor.probes import probe
    from framework_advisor.probes.runner import WorkerLimits
    from tests.test_runner import fault_argv

    started = []
    # Processes earlier tests left running are not this probe's: only the ones it starts count.
    before = {child.pid for child in psutil.Process().children(recursive=True)}

    def new_children():
        return [child for child in psutil.Process().children(recursive=True) if child.pid not in before]

    def interrupt(event):
        if event.get("phase") == "importing" and threading.current_thread() is threading.main_thread():
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(child.name() == "sleep" for child in new_children()):
                time.sleep(0.02)
            started.extend((child, child.name()) for child in new_children())
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        probe.run_probe(ProbeOptions(frameworks=["numpy"], threads=1), progress=interrupt,
                        limits=WorkerLimits(timeout_s=60.0, memory_bytes=300 * 2**20),
                        worker_argv=fault_argv({"numpy": "hang"}))
    assert "sleep" in {name for _, name in started} and len(started) >= 2  # the worker and its child
    _, alive = psutil.wait_procs([process for process, _ in started], timeout=3)
    assert not alive, f"still running after the interrupt: {alive}"


# --- help, "runs here", rules lint ----------------------------------------------------------------------------


def test_top_level_help_is_plain_text_and_lists_every_command():
    result = cli("--help")
    assert result.returncode == 0
    commands = next(action for action in build_parser()._actions if action.dest == "command").choices
    assert {"serve", "hardware", "recommend", "probe", "audit", "rules"} <= set(commands)
    listed = {line.split()[0] for line in result.stdout.split("commands:")[1].splitlines()
              if line.startswith("  ") and not line.startswith("   ")}
    assert set(commands) <= listed, result.stdout
    assert "``" not in result.stdout and "`" not in result.stdout


def test_runs_here_only_for_this_machine(tmp_path, isolated_store):
    hardware = tmp_path / "h100.yaml"
    hardware.write_text(H100_YAML)
    described = cli("recommend", "--goal", "research", "--experience", "expert", "--hardware", str(hardware),
                    env=isolated_store)
    here = cli("recommend", "--goal", "research", "--experience", "expert", env=isolated_store)
    assert described.returncode == 0 and here.returncode == 0
    header = [line for line in described.stdout.splitlines() if "framework" in line and "score" in line]
    assert header and "runs here" not in described.stdout and "supported" in header[0]
    assert "runs here" in here.stdout


def test_rules_lint_exits_2_on_an_unloadable_file_and_1_on_other_errors(tmp_path, capsys):
    unloadable = tmp_path / "unloadable"
    unloadable.mkdir()
    (unloadable / "broken.yaml").write_text("rules: [\n")
    assert main(["rules", "lint", str(unloadable)]) == 2
    assert "broken.yaml:2:1: error[load]" in capsys.readouterr().out
    assert main(["rules", "lint", str(tmp_path / "absent")]) == 2
    capsys.readouterr()
    duplicated = tmp_path / "duplicated"
    duplicated.mkdir()
    rule = ("rules:\n  - id: extra-rule\n    when: {fact: experience, op: eq, value: %s}\n"
            "    then: {points: {numpy: 0.1}}\n    message: A planted rule.\n"
            "    refs: [https://example.org/planted]\n    reviewed: 2026-11-01\n")
    (duplicated / "a.yaml").write_text(rule % "expert")
    (duplicated / "b.yaml").write_text(rule % "beginner")
    assert main(["rules", "lint", str(duplicated)]) == 1  # it loads; one of its rules repeats an id
    out = capsys.readouterr().out
    assert "error[duplicate-id]" in out and "error[load]" not in out


def test_a_reader_that_leaves_early_gets_no_traceback():
    """`recommend --json | head -1`: the CLI stops quietly with the status a shell gives a SIGPIPE'd tool. The
    reader here has left before the first write (its end of the pipe is closed), so every write fails."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([sys.executable, "-m", "framework_advisor", "recommend", "--goal", "research",
                               "--experience", "expert", "--json"], stdout=write_end, stderr=subprocess.PIPE,
                              text=True, timeout=120, cwd=REPO_ROOT)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, "")
