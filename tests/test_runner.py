"""Fault injection at the worker seam (the parent side: ``probes.workers`` and ``probes.runner``): hangs,
crashes, exceptions, runaway memory and malformed replies or results, at start-up, during a turn and at the
end, become structured failures within their limits, and the other frameworks' results stay intact."""

from __future__ import annotations

import sys
import time

import psutil
import pytest

from framework_advisor.probes.report import FailedFramework, FrameworkRun, ProbeOptions, ProbeReport
from framework_advisor.probes.runner import WorkerLimits, describe_problems, worker_command
from framework_advisor.probes.worker.messages import Prepared, Samples
from framework_advisor.probes.worker.options import WorkerOptions
from framework_advisor.probes.workers import WorkerGone, WorkerProcess, wait_until_ready
from tests.conftest import REPO_ROOT

FAULT_WORKER = str(REPO_ROOT / "tests" / "fault_worker.py")
LIMITS = WorkerLimits(timeout_s=3.0, memory_bytes=300 * 2**20)
SAMPLE = {"cmd": "sample", "benchmark": "matmul_fp32", "device": "cpu", "size": 8, "blocks": 2}


def fault_argv(modes):
    """A worker_argv for run_probe: each framework's fault worker in the mode ``modes`` names."""
    return lambda framework, out, fd: [sys.executable, FAULT_WORKER, modes[framework], framework,
                                       "--out", str(out), "--reply-fd", str(fd)]


def start(mode, framework="pytorch", progress=None):
    argv = fault_argv({framework: mode})
    return WorkerProcess(framework, lambda out, fd: argv(framework, out, fd), LIMITS, progress)


def sleepers():
    return [p for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [])[:2] == ["sleep", "300"]]


@pytest.mark.parametrize("mode,kind,needle", [
    ("hang", "timeout", "no reply within 3 s to its start"),
    ("segfault", "crash", "SIGSEGV"),
    ("raise", "error", "the framework exploded"),
    ("import-error", "import-error", "framework_that_is_not_installed"),
    ("alloc", "out-of-memory", "GiB"),
])
def test_a_fault_at_start_up_becomes_a_structured_failure(mode, kind, needle):
    started = time.monotonic()
    worker = start(mode)
    with pytest.raises(WorkerGone):
        worker.ready(LIMITS.timeout_s)
    result = worker.close()
    assert time.monotonic() - started < LIMITS.timeout_s + 3
    assert isinstance(result, FailedFramework) and result.framework == "pytorch"
    assert result.failure.kind == kind, result.failure
    assert needle in result.failure.message + result.failure.stderr_tail
    assert result.wall_s is not None and result.wall_s > 0


@pytest.mark.parametrize("mode,kind,needle", [
    ("hang-in-turn", "timeout", "no reply within 3 s to sample matmul_fp32"),
    ("die-in-turn", "crash", "SIGSEGV"),
    ("bad-reply", "bad-output", "is not a reply"),
    ("wrong-reply", "bad-output", "per_call_s"),
])
def test_a_fault_during_a_turn_becomes_a_structured_failure(mode, kind, needle):
    worker = start(mode)
    worker.ready(LIMITS.timeout_s)
    with pytest.raises(WorkerGone):
        worker.request(SAMPLE, LIMITS.timeout_s)
    assert not worker.alive
    with pytest.raises(WorkerGone):  # a failed worker is not asked again
        worker.request(SAMPLE, LIMITS.timeout_s)
    result = worker.close()
    assert isinstance(result, FailedFramework) and result.failure.kind == kind, result
    assert needle in result.failure.message + result.failure.stderr_tail


@pytest.mark.parametrize("mode,needle", [
    ("garbage", "no valid result"),
    ("nothing", "wrote no result"),
    ("other-framework", "is for jax, not for pytorch"),
])
def test_a_bad_result_at_the_end_is_bad_output(mode, needle):
    worker = start(mode)
    worker.ready(LIMITS.timeout_s)
    result = worker.close()
    assert isinstance(result, FailedFramework) and result.failure.kind == "bad-output"
    assert needle in result.failure.message


def test_a_result_with_a_wrong_field_type_is_bad_output_naming_the_fields():
    worker = start("wrong-type")
    worker.ready(LIMITS.timeout_s)
    message = worker.close().failure.message
    assert "threads: " in message and "benchmarks.0.value: " in message
    assert "valid integer" in message and "valid number" in message
    assert len(message) < 600  # short: the first few problems, not a dump


def test_a_result_missing_a_field_is_bad_output_naming_it():
    worker = start("missing-field")
    worker.ready(LIMITS.timeout_s)
    result = worker.close()
    assert result.failure.kind == "bad-output" and "version: Field required" in result.failure.message


def test_describe_problems_names_the_first_few_and_counts_the_rest():
    from pydantic import TypeAdapter, ValidationError

    from framework_advisor.probes.worker.records import WorkerResult

    with pytest.raises(ValidationError) as caught:
        TypeAdapter(WorkerResult).validate_python({"framework": "caffe", "threads": 0})
    text = describe_problems(caught.value)
    assert text.startswith("framework: Input should be") and "(and " in text and text.count(";") == 2


def test_a_good_conversation_becomes_a_run_with_the_parents_wall_time():
    worker = start("ok")
    ready = worker.ready(LIMITS.timeout_s)
    assert ready.framework == "pytorch" and ready.plan[0].benchmark == "matmul_fp32"
    prepared = worker.request({"cmd": "prepare", "benchmark": "matmul_fp32", "device": "cpu", "size": None},
                              LIMITS.timeout_s)
    assert isinstance(prepared, Prepared) and prepared.size == 8
    samples = worker.request(SAMPLE, LIMITS.timeout_s)
    assert isinstance(samples, Samples) and samples.per_call_s == [0.002, 0.002]
    result = worker.close()
    assert isinstance(result, FrameworkRun)
    assert result.framework == "pytorch" and result.wall_s > 0
    assert result.benchmarks[0].value == 10.0 and result.benchmarks[0].timing.per_call_s[1] == 0.0019
    assert worker.peak_rss > 0


def test_a_hung_worker_leaves_no_process_behind():
    before = len(sleepers())
    worker = start("hang")
    with pytest.raises(WorkerGone):
        worker.ready(LIMITS.timeout_s)
    worker.close()
    time.sleep(0.2)
    assert len(sleepers()) == before


def test_progress_lines_reach_the_callback_and_stay_out_of_the_tail():
    events = []
    worker = start("raise", progress=events.append)
    with pytest.raises(WorkerGone):
        worker.ready(LIMITS.timeout_s)
    result = worker.close()
    assert {"framework": "pytorch", "step": "start"} in events
    assert "@@progress" not in result.failure.stderr_tail


def test_waiting_for_all_catches_runaway_memory_while_another_worker_still_imports():
    hanging, hoarding = start("hang", "pytorch"), start("alloc", "jax")
    window = 8.0  # room for the hoarder to reach its cap on a loaded 2-core machine (2 s was not, once)
    started = time.monotonic()
    wait_until_ready([hanging, hoarding], window)
    assert time.monotonic() - started < window + 2
    assert hoarding.failure.kind == "out-of-memory" and hanging.failure.kind == "timeout"
    # caught while it passed the limit, not seconds later: a 64 MiB step or two beyond it at most
    assert hoarding.peak_rss < LIMITS.memory_bytes + 3 * 64 * 2**20
    for worker in (hanging, hoarding):
        worker.close()


def test_the_worker_command_is_this_interpreter_and_the_options_argv():
    options = WorkerOptions(framework="numpy", out="/tmp/x.json", threads=2, deadline_s=55.0, quick=True)
    command = worker_command(options)
    assert command[:3] == [sys.executable, "-m", "framework_advisor.probes.worker"]
    assert command[3:] == options.to_argv()
    assert WorkerOptions.from_argv(command[3:], ["numpy"]) == options


def test_faulty_frameworks_do_not_spoil_the_others():
    from framework_advisor.probes import probe

    modes = {"numpy": "ok", "pytorch": "hang", "jax": "segfault", "mlx": "die-in-turn", "tensorflow": "wrong-type"}
    started = time.monotonic()
    report = probe.run_probe(ProbeOptions(), limits=LIMITS, worker_argv=fault_argv(modes))
    assert time.monotonic() - started < 5 * (LIMITS.timeout_s + 2)
    assert isinstance(report, ProbeReport)
    numpy = report.result("numpy")
    assert isinstance(numpy, FrameworkRun) and numpy.benchmarks[0].value == 10.0
    assert {f.framework: f.kind for f in report.failures} == {
        "pytorch": "timeout", "jax": "crash", "mlx": "crash", "tensorflow": "bad-output"}
    assert report.derived["numpy"].failed is False and report.derived["jax"].failed is True
    assert report.derived["tensorflow"].failure_kind == "bad-output"


def test_frameworks_at_different_sizes_are_compared_at_the_smallest_or_said_not_to_be():
    from framework_advisor.probes import probe

    modes = {"numpy": "ok", "jax": "big", "pytorch": "no-small"}
    report = probe.run_probe(ProbeOptions(frameworks=sorted(modes)), limits=LIMITS, worker_argv=fault_argv(modes))
    [comparison] = report.comparisons
    assert comparison.size == 8  # NumPy's own size; JAX prepared it at 8 as well
    assert sorted(entry.framework for entry in comparison.frameworks) == ["jax", "numpy"]
    assert [(left.framework, left.reason) for left in comparison.not_compared] == [
        ("pytorch", "measured at size 16 only: it could not run at 8, the size every other framework ran")]
    assert all(len(entry.per_call_s) >= 5 for entry in comparison.frameworks)  # at least five rounds
