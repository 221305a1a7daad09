"""Fault injection at the worker seam: hangs, crashes, exceptions and runaway memory become
structured failures within their limits, and the other frameworks' results stay intact."""

from __future__ import annotations

import sys
import time

import psutil
import pytest

from framework_advisor.probes.runner import WorkerLimits, run_worker
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
])
def test_each_fault_becomes_a_structured_failure(mode, kind, needle):
    started = time.monotonic()
    result = run_worker("pytorch", fault(mode), LIMITS)
    assert time.monotonic() - started < LIMITS.timeout_s + 3
    failure = result["failure"]
    assert failure["kind"] == kind, failure
    assert needle in failure["message"] + failure["stderr_tail"]


def test_a_hung_worker_leaves_no_process_behind():
    before = len(sleepers())
    run_worker("pytorch", fault("hang"), LIMITS)
    time.sleep(0.2)
    assert len(sleepers()) == before


def test_progress_lines_reach_the_callback_and_stay_out_of_the_tail():
    events = []
    result = run_worker("pytorch", fault("raise"), LIMITS, progress=events.append)
    assert {"framework": "pytorch", "step": "start"} in events
    assert "@@progress" not in result["failure"]["stderr_tail"]


def test_faulty_frameworks_do_not_spoil_the_others(monkeypatch):
    from framework_advisor.probes import probe

    modes = {"numpy": "ok", "pytorch": "hang", "jax": "segfault", "mlx": "alloc", "tensorflow": "raise"}

    def argv(framework, out):
        return [sys.executable, FAULT_WORKER, modes[framework], framework, "--out", str(out)]

    started = time.monotonic()
    report = probe.run_probe(limits=LIMITS, worker_argv=argv)
    assert time.monotonic() - started < 5 * (LIMITS.timeout_s + 2)
    by_framework = {r["framework"]: r for r in report["frameworks"]}
    assert "failure" not in by_framework["numpy"] and by_framework["numpy"]["benchmarks"][0]["value"] == 10.0
    assert {f["framework"]: f["kind"] for f in report["failures"]} == {
        "pytorch": "timeout", "jax": "crash", "mlx": "out-of-memory", "tensorflow": "error"}
    assert report["derived"]["numpy"]["failed"] is False and report["derived"]["jax"]["failed"] is True
