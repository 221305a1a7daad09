"""The worker in turns (probes/worker/messages.py): a real NumPy worker driven through its protocol from the
test (commands on stdin, replies on a pipe passed as --reply-fd), and the conversation's rules in-process.

Every reply is read through its own model (``TypeAdapter`` of the messages' dataclasses) and the result
through ``TypeAdapter(WorkerResult)``, as the parent reads them.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from framework_advisor.probes.worker.messages import REPLIES, Calibration, Failed, Finished, Prepared, Ready, Samples
from framework_advisor.probes.worker.options import WorkerOptions
from framework_advisor.probes.worker.protocol import PARENT_GONE_STATUS
from framework_advisor.probes.worker.records import WorkerResult
from tests.conftest import REPO_ROOT

REPLY_TIMEOUT_S = 60.0  # a bound that keeps a hung worker from hanging the suite, not a performance claim


class Driven:
    """A worker process and its two channels, as the parent holds them."""

    def __init__(self, tmp_path: Path, framework: str = "numpy", quick: bool = True, cpus: tuple[int, ...] = ()):
        self.out = tmp_path / "out" / f"{framework}.json"
        self.scratch = tmp_path / "tmp"
        self.scratch.mkdir(parents=True)
        read_end, write_end = os.pipe()
        options = WorkerOptions(framework=framework, out=str(self.out), threads=1, deadline_s=60.0, quick=quick,
                                reply_fd=write_end, cpus=cpus)
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TMPDIR": str(self.scratch)}
        self.stderr = open(tmp_path / "stderr.txt", "w+b")
        self.process = subprocess.Popen([sys.executable, "-m", "framework_advisor.probes.worker",
                                         *options.to_argv()], cwd=REPO_ROOT, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.DEVNULL, stderr=self.stderr, pass_fds=(write_end,))
        os.close(write_end)  # the worker holds the only write end: its exit ends our reads
        self.replies = os.fdopen(read_end, "rb")
        self.lines: list[dict] = []

    def send(self, command) -> None:
        text = command if isinstance(command, str) else json.dumps(command)
        self.process.stdin.write(text.encode() + b"\n")
        self.process.stdin.flush()

    def reply(self):
        """The next reply, validated by the model its ``type`` names."""
        ready, _, _ = select.select([self.replies], [], [], REPLY_TIMEOUT_S)
        assert ready, f"no reply within {REPLY_TIMEOUT_S} s; stderr: {self.stderr_text()[-2000:]}"
        line = self.replies.readline()
        assert line, f"the worker closed its replies; stderr: {self.stderr_text()[-2000:]}"
        raw = json.loads(line)
        self.lines.append(raw)
        return TypeAdapter(REPLIES[raw["type"]]).validate_json(line)

    def ask(self, command):
        self.send(command)
        return self.reply()

    def stderr_text(self) -> str:
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.replies.close()
        self.stderr.close()


@pytest.fixture()
def driven(tmp_path):
    workers: list[Driven] = []

    def start(framework: str = "numpy", quick: bool = True, cpus: tuple[int, ...] = ()) -> Driven:
        workers.append(Driven(tmp_path / str(len(workers)), framework, quick, cpus))
        return workers[-1]

    yield start
    for worker in workers:
        worker.close()


@pytest.mark.slow
def test_a_numpy_worker_measures_in_turns_and_writes_every_session_at_exit(driven):
    worker = driven(cpus=(0,))
    ready = worker.reply()
    assert isinstance(ready, Ready) and ready.framework == "numpy" and ready.threads == 1
    assert ready.import_s > 0 and ready.version
    plan = {(entry.benchmark, entry.device): entry for entry in ready.plan}
    assert [entry.benchmark for entry in ready.plan] == ["matmul_fp32", "elementwise_bandwidth", "dispatch_latency"]
    matmul = plan[("matmul_fp32", "cpu")]
    assert (matmul.standard_size, matmul.size_key) == (512, "n")  # quick: n = 512 on CPUs
    assert plan[("dispatch_latency", "cpu")].standard_size == 64
    assert {s.benchmark for s in ready.skipped} >= {"conv2d", "matmul_bf16", "mlp_step_compiled"}

    calibration = worker.ask({"cmd": "calibrate"})
    assert isinstance(calibration, Calibration) and calibration.gflops > 0 and calibration.threads == 1
    if sys.platform == "linux":  # pinned once the turns began: every thread of the worker
        assert set(_allowed_cpus(worker.process.pid).values()) == {"0"}
    assert "NumPy" in calibration.method and calibration.seconds < 5

    own = worker.ask({"cmd": "prepare", "benchmark": "matmul_fp32", "device": "cpu", "size": None})
    assert isinstance(own, Prepared) and own.size == 512 and own.standard_size == 512 and own.block_size >= 1
    assert own.first_call_s > 0 and own.per_call_s > 0 and own.reduced_because is None
    small = worker.ask({"cmd": "prepare", "benchmark": "matmul_fp32", "device": "cpu", "size": 256})
    assert isinstance(small, Prepared) and small.size == 256

    for _ in range(3):  # rounds: each session in turn, two blocks each
        for size in (None, 256):
            samples = worker.ask({"cmd": "sample", "benchmark": "matmul_fp32", "device": "cpu", "size": size,
                                  "blocks": 2})
            assert isinstance(samples, Samples) and len(samples.per_call_s) == 2 and samples.wall_s > 0
            assert samples.size == (512 if size is None else 256)

    headline = worker.ask({"cmd": "finish", "benchmark": "matmul_fp32", "device": "cpu", "size": 512})
    comparison = worker.ask({"cmd": "finish", "benchmark": "matmul_fp32", "device": "cpu", "size": 256})
    for finished, size, role in ((headline, 512, "headline"), (comparison, 256, "comparison")):
        assert isinstance(finished, Finished)
        record = finished.record
        assert (record.size, record.role, record.params["n"]) == (size, role, size)
        assert record.timing.samples == 6 and len(record.timing.per_call_s) == 6
        assert record.timing.stop == "rounds" and record.timing.first_call_s > 0 and record.checked
        assert record.value > 0 and record.best >= record.value and record.wall_s > 0
        # Its percent of peak is of the peak the calibration measured (no peaks were passed on the command line).
        assert record.peak.measured and record.peak.value == calibration.gflops
        assert record.percent_of_peak == pytest.approx(100 * record.value / calibration.gflops, abs=0.1)

    # Bad commands are answered, and the worker goes on.
    for bad in ("not json", {"cmd": "dance"}, {"cmd": "sample", "benchmark": "matmul_fp32", "device": "cpu",
                                               "size": 512, "blocks": 1},  # finished: the session is closed
                {"cmd": "sample", "benchmark": "matmul_fp32", "device": "cpu"},  # no blocks
                {"cmd": "prepare", "benchmark": "matmul_fp32", "device": "cpu", "size": 0},
                {"cmd": "prepare", "benchmark": "matmul_fp32", "device": "quantum"},
                {"cmd": "finish", "benchmark": "matmul_fp32", "device": "cpu", "sise": 512}):
        failed = worker.ask(bad)
        assert isinstance(failed, Failed) and failed.kind == "exception" and failed.message, bad
    skipped = worker.ask({"cmd": "prepare", "benchmark": "conv2d", "device": "cpu"})
    assert isinstance(skipped, Failed) and skipped.kind == "skip" and "convolution" in skipped.message
    # A session that was prepared but never finished is not in the result.
    assert isinstance(worker.ask({"cmd": "prepare", "benchmark": "dispatch_latency", "device": "cpu"}), Prepared)
    early = worker.ask({"cmd": "finish", "benchmark": "dispatch_latency", "device": "cpu"})
    assert isinstance(early, Failed) and "before any sample" in early.message

    worker.send({"cmd": "exit"})
    assert worker.process.wait(timeout=REPLY_TIMEOUT_S) == 0, worker.stderr_text()[-2000:]
    assert worker.replies.readline() == b""  # nothing more on the channel
    result = TypeAdapter(WorkerResult).validate_json(worker.out.read_bytes())
    assert [(b.name, b.size, b.role) for b in result.benchmarks] == [("matmul_fp32", 512, "headline"),
                                                                      ("matmul_fp32", 256, "comparison")]
    assert result.benchmarks[0] == headline.record and result.benchmarks[1] == comparison.record
    assert result.errors == []  # protocol mistakes are replies, not benchmark errors
    assert {s.benchmark for s in result.skipped} == {s.benchmark for s in ready.skipped}
    assert result.thread_controls["cpu_affinity"] == [0]
    assert list(worker.scratch.iterdir()) == [], "the worker left files in its TMPDIR"
    assert all(set(line) >= {"type"} for line in worker.lines)


@pytest.mark.slow
def test_stdin_closed_without_exit_ends_the_worker_without_a_result(driven):
    worker = driven()
    assert isinstance(worker.reply(), Ready)
    assert isinstance(worker.ask({"cmd": "prepare", "benchmark": "matmul_fp32", "device": "cpu"}), Prepared)
    started = time.monotonic()
    worker.process.stdin.close()
    status = worker.process.wait(timeout=REPLY_TIMEOUT_S)
    assert status == PARENT_GONE_STATUS and time.monotonic() - started < 10
    assert not worker.out.exists() and not worker.out.parent.exists()
    assert list(worker.scratch.iterdir()) == []
    assert "leaving without a result" in worker.stderr_text()


@pytest.mark.slow
def test_an_abandoned_compile_skips_what_follows_and_the_worker_still_writes_its_result(driven):
    """JAX's jit of the MLP step takes ~0.3 s cold: a deadline of 1 ms abandons it."""
    import importlib.util

    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    worker = driven("jax", quick=False)
    ready = worker.reply()
    assert ready.plan[-1].benchmark == "mlp_step_compiled"
    compiled = worker.ask({"cmd": "prepare", "benchmark": "mlp_step_compiled", "device": "cpu", "deadline_s": 0.001})
    assert isinstance(compiled, Failed) and compiled.kind == "exception" and "abandoned" in compiled.message
    after = worker.ask({"cmd": "prepare", "benchmark": "dispatch_latency", "device": "cpu"})
    assert isinstance(after, Failed) and after.kind == "skip" and "abandoned compile" in after.message
    worker.send({"cmd": "exit"})
    assert worker.process.wait(timeout=REPLY_TIMEOUT_S) == 0, worker.stderr_text()[-2000:]
    result = TypeAdapter(WorkerResult).validate_json(worker.out.read_bytes())
    assert [(e.benchmark, e.kind) for e in result.errors] == [("mlp_step_compiled", "exception")]
    assert "dispatch_latency" in {s.benchmark for s in result.skipped}


def _allowed_cpus(pid: int) -> dict[str, str]:
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith("Cpus_allowed_list:"):
                found[task.name] = line.split(":", 1)[1].strip()
    return found


@pytest.mark.skipif(sys.platform != "linux" or len(os.sched_getaffinity(0)) < 2, reason="Linux, 2+ CPUs")
def test_pinning_after_the_import_moves_every_thread_the_framework_started():
    """Linux pins one thread at a time: the thread pools a framework started at its import must move too."""
    script = ("import json, os, threading\n"
              "from framework_advisor.probes.worker.machine import pin_cpus\n"
              "stop = threading.Event()\n"
              "pool = [threading.Thread(target=stop.wait) for _ in range(3)]\n"
              "[thread.start() for thread in pool]\n"
              "applied = pin_cpus(1, (1,))\n"
              "print(json.dumps(applied))\n"
              "import sys; sys.stdout.flush(); sys.stdin.readline(); stop.set()\n")
    child = subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    try:
        applied = json.loads(child.stdout.readline())
        assert applied == {"cpu_affinity": [1], "cpu_affinity_threads": 4}
        assert set(_allowed_cpus(child.pid).values()) == {"1"}
    finally:
        child.communicate(b"\n", timeout=30)


# --- the conversation's rules, in this process ----------------------------------------------------------------

@pytest.fixture()
def conversation():
    np = pytest.importorskip("numpy")
    from framework_advisor.probes.worker.adapter import Settings
    from framework_advisor.probes.worker.adapters import numpy as numpy_adapter
    from framework_advisor.probes.worker.conversation import Conversation
    from framework_advisor.probes.worker.suite import plan

    adapter = numpy_adapter.Adapter(np, Settings(WorkerOptions(framework="numpy", out="", threads=1,
                                                                deadline_s=60.0, quick=True)))
    planned, skipped = plan(adapter, adapter.devices())
    return Conversation(adapter, planned, skipped)


def _prepare(conversation, benchmark="dispatch_latency", size=None):
    reply = conversation.prepare(benchmark, "cpu", size)
    assert isinstance(reply, Prepared), reply
    return reply


def test_a_size_below_the_own_one_is_a_comparison_and_one_at_or_above_it_a_headline(conversation):
    own = _prepare(conversation, size=None)
    assert own.size == 64
    for size, role in ((32, "comparison"), (64, "headline"), (128, "headline")):
        _prepare(conversation, size=size)
        conversation.sample("dispatch_latency", "cpu", size, 3)
        finished = conversation.finish("dispatch_latency", "cpu", size)
        assert isinstance(finished, Finished) and finished.record.role == role and finished.record.size == size
        assert finished.record.params["elements"] == size


def test_an_explicit_size_before_the_own_one_compares_with_the_standard_size(conversation):
    _prepare(conversation, benchmark="matmul_fp32", size=256)  # quick standard: 512
    assert isinstance(conversation.sample("matmul_fp32", "cpu", 256, 2), Samples)
    record = conversation.finish("matmul_fp32", "cpu", 256).record
    assert record.role == "comparison" and record.params == {"n": 256}  # no size note: the parent chose it


def test_a_failing_sample_is_a_failed_reply_the_session_closes_and_the_error_is_kept(conversation):
    _prepare(conversation)
    session = conversation.sessions[("dispatch_latency", "cpu", 64)]

    def broken():
        raise MemoryError("no room")

    session.sampler.run = broken
    failed = conversation.sample("dispatch_latency", "cpu", None, 2)
    assert isinstance(failed, Failed) and failed.kind == "exception" and "MemoryError: no room" in failed.message
    assert conversation.sessions == {}
    again = conversation.sample("dispatch_latency", "cpu", None, 2)
    assert isinstance(again, Failed) and "no prepared session" in again.message
    _, errors, _ = conversation.outcome()
    assert [(e.benchmark, e.kind) for e in errors] == [("dispatch_latency", "exception")]  # once, not twice


def test_a_wrong_output_fails_its_check_at_finish(conversation):
    _prepare(conversation)
    session = conversation.sessions[("dispatch_latency", "cpu", 64)]
    good = session.sampler.run
    session.sampler.run = lambda: good() + 1e-3
    conversation.sample("dispatch_latency", "cpu", None, 2)
    failed = conversation.finish("dispatch_latency", "cpu", None)
    assert isinstance(failed, Failed) and failed.kind == "check" and "NumPy reference" in failed.message
    benchmarks, errors, _ = conversation.outcome()
    assert benchmarks == [] and errors[0].kind == "check"


def test_after_an_abandoned_compile_prepare_sample_and_calibrate_are_skipped(conversation):
    from framework_advisor.probes.worker import cleanup

    _prepare(conversation)
    cleanup.ABANDONED.append("mlp_step_compiled on cpu")
    try:
        for reply in (conversation.prepare("matmul_fp32", "cpu"), conversation.sample("dispatch_latency", "cpu", None, 1),
                      conversation.calibrate()):
            assert isinstance(reply, Failed) and reply.kind == "skip" and "abandoned compile" in reply.message
        _, errors, skipped = conversation.outcome()
        assert errors == [] and {"matmul_fp32", "dispatch_latency"} <= {s.benchmark for s in skipped}
    finally:
        cleanup.ABANDONED.clear()


def test_a_benchmark_outside_the_plan_is_refused_with_why(conversation):
    conv = conversation.prepare("conv2d", "cpu")
    assert isinstance(conv, Failed) and conv.kind == "skip"
    cuda = conversation.prepare("matmul_fp32", "cuda")
    assert isinstance(cuda, Failed) and cuda.kind == "exception" and "not in this worker's plan" in cuda.message
    assert conversation.outcome()[1] == []


def test_calibration_is_an_in_cache_matmul_sized_by_the_l2():
    pytest.importorskip("numpy")
    from framework_advisor.probes.worker.calibration import calibrate, calibration_size

    assert calibration_size(None) == 256
    assert calibration_size(2 * 2 ** 20) == 384  # 3 x 384^2 x 4 B = 1.7 MiB
    assert calibration_size(1 * 2 ** 20) == 256  # 3 x 256^2 x 4 B = 768 KiB
    assert calibration_size(256 * 1024) == 128
    reply = calibrate(1, window_s=0.02)
    assert reply.gflops > 0 and "best of" in reply.method
    TypeAdapter(Calibration).validate_python(reply)


@pytest.mark.parametrize("line, message", [
    (b"[1, 2]", "JSON object"), (b'{"cmd": "prepare"}', "missing benchmark, device"),
    (b'{"cmd": "sample", "benchmark": "matmul_fp32", "device": "cpu", "blocks": 1001}', "from 1 to 1000"),
    (b'{"cmd": "sample", "benchmark": "matmul_fp32", "device": "cpu", "blocks": true}', "blocks must be"),
    (b'{"cmd": "prepare", "benchmark": "matmul_fp32", "device": "cpu", "deadline_s": -1}', "deadline_s"),
    (b'{"cmd": "exit", "now": true}', "unknown field(s) now"),
])
def test_malformed_commands_are_refused_with_what_is_wrong(line, message):
    from framework_advisor.probes.worker.protocol import BadCommand, parse_command

    with pytest.raises(BadCommand, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_command(line)
    command = parse_command(b'{"cmd": "prepare", "benchmark": "mlp_step_compiled", "device": "cpu", "deadline_s": 7}')
    assert (command.size, command.deadline_s) == (None, 7.0)


def test_the_new_options_cross_the_command_line():
    from framework_advisor.probes.worker.adapters import ADAPTERS

    options = WorkerOptions(framework="numpy", out="/tmp/r.json", threads=2, deadline_s=30.0, reply_fd=7,
                            cpus=(2, 3))
    assert WorkerOptions.from_argv(options.to_argv(), list(ADAPTERS)) == options
    assert "--reply-fd" not in WorkerOptions(framework="numpy", out="x", threads=1, deadline_s=1).to_argv()


def test_a_figure_above_a_measured_peak_is_above_100_percent_not_an_understated_peak():
    from framework_advisor.probes.worker.figures import with_percent_of_peak
    from framework_advisor.probes.worker.records import BenchmarkRecord, Peak, Timing

    timing = Timing(median_s=1.0, min_s=0.9, p10_s=0.95, iqr_s=0.01, samples=10, block_size=1, total_s=10.0,
                    noisy=False)
    record = BenchmarkRecord(name="matmul_fp32", device="cpu", unit="GFLOP/s", value=147.0, best=150.0, timing=timing)
    measured = {"cpu": {"fp32": Peak(value=140.0, source="measured", measured=True)}}
    nominal = {"cpu": {"fp32": Peak(value=140.0, source="2 cores x 2.2 GHz x 32", clock_ghz=2.2)}}
    assert with_percent_of_peak(record, measured, "pytorch").percent_of_peak == 105.0
    flagged = with_percent_of_peak(record, nominal, "pytorch")
    assert flagged.percent_of_peak is None and flagged.peak.understated
