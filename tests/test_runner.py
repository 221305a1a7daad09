"""Fault injection at the worker seam: hangs, crashes, exceptions, runaway memory and malformed results
become structured failures within their limits, and the other frameworks' results stay intact."""

from __future__ import annotations

import sys
import time

import psutil
import pytest

from framework_advisor.probes.report import FailedFramework, FrameworkRun, ProbeOptions, ProbeReport
from framework_advisor.probes.runner import WorkerLimits, describe_problems, run_worker, worker_command
from framework_advisor.probes.worker.options import WorkerOptions
from tests.conftest import REPO_ROOT

FAULT_WORKER = str(REPO_ROOT / "tests" / "fault_worker.py")
LIMITS = WorkerLimits(timeout_s=3.0, memory_bytes=300 * 2**20)


def fault(mode):
    return lambda out: [sys.executable, FAULT_WORKER, mode, "pytorch", "--out", str(out)]


def sleepers():
    return [p for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [])[:2] == ["sleep", "300"]]


@pytest.mark.parametrize("mode,kind,needle", [
    ("hang", "timeout", "no result within 3 s"),
    ("segfault", "crash", "SIGSEGV"),
    ("raise", "error", "the framework exploded"),
    ("import-error", "import-error", "framework_that_is_not_installed"),
    ("alloc", "out-of-memory", "GiB"),
    ("garbage", "bad-output", "no valid result"),
    ("nothing", "bad-output", "wrote no result"),
    ("other-framework", "bad-output", "is for jax, not for pytorch"),
])
def test_each_fault_becomes_a_structured_failure(mode, kind, needle):
    started = time.monotonic()
    result = run_worker("pytorch", fault(mode), LIMITS)
    assert time.monotonic() - started < LIMITS.timeout_s + 3
    assert isinstance(result, FailedFramework) and result.framework == "pytorch"
    assert result.failure.kind == kind, result.failure
    assert needle in result.failure.message + result.failure.stderr_tail
    assert result.wall_s is not None and result.wall_s > 0


def test_a_result_with_a_wrong_field_type_is_bad_output_naming_the_fields():
    result = run_worker("pytorch", fault("wrong-type"), LIMITS)
    assert isinstance(result, FailedFramework) and result.failure.kind == "bad-output"
    message = result.failure.message
    assert "threads: " in message and "benchmarks.0.value: " in message
    assert "valid integer" in message and "valid number" in message
    assert len(message) < 600  # short: the first few problems, not a dump


def test_a_result_missing_a_field_is_bad_output_naming_it():
    result = run_worker("pytorch", fault("missing-field"), LIMITS)
    assert result.failure.kind == "bad-output" and "version: Field required" in result.failure.message


def test_describe_problems_names_the_first_few_and_counts_the_rest():
    from pydantic import TypeAdapter, ValidationError

    from framework_advisor.probes.worker.records import WorkerResult

    with pytest.raises(ValidationError) as caught:
        TypeAdapter(WorkerResult).validate_python({"framework": "caffe", "threads": 0})
    text = describe_problems(caught.value)
    assert text.startswith("framework: Input should be") and "(and " in text and text.count(";") == 2


def test_a_good_result_becomes_a_run_with_the_parents_wall_time():
    result = run_worker("pytorch", fault("ok"), LIMITS)
    assert isinstance(result, FrameworkRun)
    assert result.framework == "pytorch" and result.wall_s > 0
    assert result.benchmarks[0].value == 10.0 and result.benchmarks[0].timing.per_call_s[1] == 0.0019


def test_a_hung_worker_leaves_no_process_behind():
    before = len(sleepers())
    run_worker("pytorch", fault("hang"), LIMITS)
    time.sleep(0.2)
    assert len(sleepers()) == before


def test_progress_lines_reach_the_callback_and_stay_out_of_the_tail():
    events = []
    result = run_worker("pytorch", fault("raise"), LIMITS, progress=events.append)
    assert {"framework": "pytorch", "step": "start"} in events
    assert "@@progress" not in result.failure.stderr_tail


def test_the_worker_command_is_this_interpreter_and_the_options_argv():
    options = WorkerOptions(framework="numpy", out="/tmp/x.json", threads=2, deadline_s=55.0, quick=True)
    command = worker_command(options)
    assert command[:3] == [sys.executable, "-m", "framework_advisor.probes.worker"]
    assert command[3:] == options.to_argv()
    assert WorkerOptions.from_argv(command[3:], ["numpy"]) == options


def test_faulty_frameworks_do_not_spoil_the_others():
    from framework_advisor.probes import probe

    modes = {"numpy": "ok", "pytorch": "hang", "jax": "segfault", "mlx": "alloc", "tensorflow": "wrong-type"}

    def argv(framework, out):
        return [sys.executable, FAULT_WORKER, modes[framework], framework, "--out", str(out)]

    started = time.monotonic()
    report = probe.run_probe(ProbeOptions(), limits=LIMITS, worker_argv=argv)
    assert time.monotonic() - started < 5 * (LIMITS.timeout_s + 2)
    assert isinstance(report, ProbeReport)
    numpy = report.result("numpy")
    assert isinstance(numpy, FrameworkRun) and numpy.benchmarks[0].value == 10.0
    assert {f.framework: f.kind for f in report.failures} == {
        "pytorch": "timeout", "jax": "crash", "mlx": "out-of-memory", "tensorflow": "bad-output"}
    assert report.derived["numpy"].failed is False and report.derived["jax"].failed is True
    assert report.derived["tensorflow"].failure_kind == "bad-output"
