"""What the parent needs to run a worker subprocess and judge how it ended: its command line, its limits,
its stderr (progress lines and a tail), the classification of a failed exit, and the reading of its result.

A hang, a segfault, an import error or runaway memory becomes a structured failure in the report (kind,
message, stderr tail). The worker's result is read back through its own model (``TypeAdapter(WorkerResult)``):
a result that is not JSON, has a field of the wrong type or is for another framework is a ``bad-output``
failure that names what is wrong. ``probes.workers`` runs the processes.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import psutil
from pydantic import TypeAdapter, ValidationError

from framework_advisor.probes.report import Failure
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


def tree_rss(process: psutil.Process) -> int:
    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied):  # it has just exited
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def failure(kind: str, message: str, stderr_tail: str, exit_code: int | None) -> Failure:
    return Failure(kind=kind, message=message[:2000], stderr_tail=stderr_tail, exit_code=exit_code)


def classify_exit(exit_code: int, stderr_tail: str) -> Failure:
    if exit_code < 0:
        number = -exit_code
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = str(number)
        if number == signal.SIGKILL:
            return failure("out-of-memory", "killed by SIGKILL (likely the kernel's out-of-memory killer)",
                            stderr_tail, exit_code)
        return failure("crash", f"the worker died from signal {name}", stderr_tail, exit_code)
    last_line = next((line for line in reversed(stderr_tail.splitlines()) if line.strip()), "")
    if "ModuleNotFoundError" in stderr_tail or "ImportError" in stderr_tail:
        return failure("import-error", last_line or "import failed", stderr_tail, exit_code)
    if "MemoryError" in stderr_tail:
        return failure("out-of-memory", last_line, stderr_tail, exit_code)
    return failure("error", last_line or f"the worker exited with status {exit_code}", stderr_tail, exit_code)


class StderrReader(threading.Thread):
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
            return failure("bad-output", f"the worker's result is {size} bytes; a result is at most "
                                          f"{MAX_RESULT_BYTES} bytes", stderr_tail, 0)
        text = out.read_bytes()
    except OSError as exc:
        return failure("bad-output", f"the worker exited 0 but wrote no result ({exc.strerror or exc})",
                        stderr_tail, 0)
    try:
        result = _result_adapter().validate_json(text)
    except ValidationError as exc:
        return failure("bad-output", f"the worker exited 0 but wrote no valid result: {describe_problems(exc)}",
                        stderr_tail, 0)
    if result.framework != framework:
        return failure("bad-output", f"the worker's result is for {result.framework}, not for {framework}",
                        stderr_tail, 0)
    return result
