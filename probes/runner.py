"""Phase B: one worker subprocess per framework, each with a hard timeout and a memory cap.

A hang, a segfault, an import error or runaway memory becomes a structured failure in the report
(kind, message, stderr tail); it never stalls or crashes the caller. Every worker runs in its own
process group, which is killed when the worker is done, so nothing is left running.

The worker's result is read back through its own model (``TypeAdapter(WorkerResult)``): a result that is
not JSON, has a field of the wrong type or is for another framework is a ``bad-output`` failure that names
what is wrong. A good one becomes a new ``FrameworkRun`` with the wall time measured here; nothing the
worker wrote is edited.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import psutil
from pydantic import TypeAdapter, ValidationError

from framework_advisor.probes.report import FailedFramework, Failure, FrameworkRun
from framework_advisor.probes.worker.options import WorkerOptions
from framework_advisor.probes.worker.protocol import PROGRESS_PREFIX  # the worker end of the same stderr protocol
from framework_advisor.probes.worker.records import WorkerResult

# A real result is tens of KB (every timed block's sample included); anything this big is not one.
MAX_RESULT_BYTES = 32 * 2**20
STDERR_TAIL_CHARS = 2000
POLL_SECONDS = 0.05
WORKER_MODULE = "framework_advisor.probes.worker"
PROBLEMS_NAMED = 3  # a bad-output message names this many validation problems

ProgressCallback = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class WorkerLimits:
    timeout_s: float = 60.0
    memory_bytes: int = field(default_factory=lambda: int(psutil.virtual_memory().total * 0.5))


def worker_command(options: WorkerOptions) -> list[str]:
    """The command line of the worker that ``options`` describe, in this interpreter."""
    return [sys.executable, "-m", WORKER_MODULE, *options.to_argv()]


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _failure(kind: str, message: str, stderr_tail: str, exit_code: int | None) -> Failure:
    return Failure(kind=kind, message=message[:2000], stderr_tail=stderr_tail, exit_code=exit_code)


def _classify_exit(exit_code: int, stderr_tail: str) -> Failure:
    if exit_code < 0:
        number = -exit_code
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = str(number)
        if number == signal.SIGKILL:
            return _failure("out-of-memory", "killed by SIGKILL (likely the kernel's out-of-memory killer)",
                            stderr_tail, exit_code)
        return _failure("crash", f"the worker died from signal {name}", stderr_tail, exit_code)
    last_line = next((line for line in reversed(stderr_tail.splitlines()) if line.strip()), "")
    if "ModuleNotFoundError" in stderr_tail or "ImportError" in stderr_tail:
        return _failure("import-error", last_line or "import failed", stderr_tail, exit_code)
    if "MemoryError" in stderr_tail:
        return _failure("out-of-memory", last_line, stderr_tail, exit_code)
    return _failure("error", last_line or f"the worker exited with status {exit_code}", stderr_tail, exit_code)


class _StderrReader(threading.Thread):
    """Reads the worker's stderr: progress lines go to the callback, the rest is kept as a tail."""

    def __init__(self, stream, framework: str, progress: ProgressCallback | None):
        super().__init__(daemon=True)
        self._stream = stream
        self._framework = framework
        self._progress = progress
        self._tail: list[str] = []
        self._tail_chars = 0

    def run(self) -> None:
        for raw in iter(self._stream.readline, b""):
            line = raw.decode("utf-8", "replace")
            if line.startswith(PROGRESS_PREFIX):
                self._report(line[len(PROGRESS_PREFIX):])
                continue
            self._tail.append(line)
            self._tail_chars += len(line)
            while self._tail_chars > STDERR_TAIL_CHARS * 2 and len(self._tail) > 1:
                self._tail_chars -= len(self._tail.pop(0))

    def _report(self, payload: str) -> None:
        if self._progress is None:
            return
        try:
            event = json.loads(payload)
        except json.JSONDecodeError:
            return
        if isinstance(event, dict):
            self._progress({"framework": self._framework, **event})

    def tail(self) -> str:
        return "".join(self._tail)[-STDERR_TAIL_CHARS:]


@cache
def _result_adapter() -> TypeAdapter:
    return TypeAdapter(WorkerResult)


def describe_problems(error: ValidationError, limit: int = PROBLEMS_NAMED) -> str:
    """The first few problems of a validation error, short: ``benchmarks.0.value: Input should be ...``."""
    problems = error.errors(include_url=False, include_input=False)
    named = ["{}: {}".format(".".join(str(part) for part in problem["loc"]) or "(the document)",
                             problem["msg"][:160]) for problem in problems[:limit]]
    more = len(problems) - limit
    return "; ".join(named) + (f" (and {more} more)" if more > 0 else "")


def read_result(out: Path, framework: str, stderr_tail: str) -> WorkerResult | Failure:
    """The worker's result file through the worker's model, or the bad-output failure that says why not."""
    try:
        size = out.stat().st_size
        if size > MAX_RESULT_BYTES:
            return _failure("bad-output", f"the worker's result is {size} bytes; a result is at most "
                                          f"{MAX_RESULT_BYTES} bytes", stderr_tail, 0)
        text = out.read_bytes()
    except OSError as exc:
        return _failure("bad-output", f"the worker exited 0 but wrote no result ({exc.strerror or exc})",
                        stderr_tail, 0)
    try:
        result = _result_adapter().validate_json(text)
    except ValidationError as exc:
        return _failure("bad-output", f"the worker exited 0 but wrote no valid result: {describe_problems(exc)}",
                        stderr_tail, 0)
    if result.framework != framework:
        return _failure("bad-output", f"the worker's result is for {result.framework}, not for {framework}",
                        stderr_tail, 0)
    return result


def run_worker(framework: str, argv_for_out: Callable[[Path], list[str]], limits: WorkerLimits,
               progress: ProgressCallback | None = None,
               env: dict[str, str] | None = None) -> FrameworkRun | FailedFramework:
    """Run one worker; return what it measured (with the wall time around it), or how it failed."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="framework-advisor-worker-") as scratch:
        out = Path(scratch) / "result.json"
        worker_env = {**os.environ, **(env or {}), "TMPDIR": scratch}
        process = subprocess.Popen(argv_for_out(out), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, env=worker_env, start_new_session=True)
        reader = _StderrReader(process.stderr, framework, progress)
        reader.start()
        stopped = None
        try:
            watched = psutil.Process(process.pid)
            while process.poll() is None:
                if time.monotonic() - started > limits.timeout_s:
                    stopped = ("timeout", f"no result within {limits.timeout_s:g} s; the worker was killed")
                    break
                if _tree_rss(watched) > limits.memory_bytes:
                    stopped = ("out-of-memory", f"resident memory passed {limits.memory_bytes / 2**30:.1f} GiB; "
                                                f"the worker was killed")
                    break
                try:
                    process.wait(timeout=POLL_SECONDS)  # returns as soon as the worker exits
                except subprocess.TimeoutExpired:
                    pass
        except psutil.NoSuchProcess:
            pass
        finally:
            _kill_group(process.pid)  # the worker's children too, whatever happened
            process.wait()
            reader.join(timeout=5)
            process.stderr.close()
        tail = reader.tail()
        if stopped is not None:
            outcome: WorkerResult | Failure = _failure(stopped[0], stopped[1], tail, None)
        elif process.returncode != 0:
            outcome = _classify_exit(process.returncode, tail)
        else:
            outcome = read_result(out, framework, tail)
        wall_s = round(time.monotonic() - started, 3)
    if isinstance(outcome, Failure):
        return FailedFramework(framework=framework, failure=outcome, wall_s=wall_s)
    fields = {field.name: getattr(outcome, field.name) for field in dataclasses.fields(WorkerResult)}
    return FrameworkRun(**fields, wall_s=wall_s)
