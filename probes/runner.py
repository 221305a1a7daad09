"""Phase B: one worker subprocess per framework, each with a hard timeout and a memory cap.

A hang, a segfault, an import error or runaway memory becomes a structured failure in the report
(kind, message, stderr tail); it never stalls or crashes the caller. Every worker runs in its own
process group, which is killed when the worker is done, so nothing is left running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from framework_advisor.probes.bench.common import PROGRESS_PREFIX  # the worker end of the same stderr protocol

STDERR_TAIL_CHARS = 2000
POLL_SECONDS = 0.05

ProgressCallback = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class WorkerLimits:
    timeout_s: float = 60.0
    memory_bytes: int = field(default_factory=lambda: int(psutil.virtual_memory().total * 0.5))


def default_worker_argv(framework: str, out: Path, quick: bool, threads: int | None,
                        accelerators: Sequence[str], thorough: bool = False) -> list[str]:
    argv = [sys.executable, "-m", "framework_advisor.probes.worker", framework, "--out", str(out)]
    if quick:
        argv.append("--quick")
    elif thorough:
        argv.append("--thorough")
    if threads:
        argv += ["--threads", str(threads)]
    if accelerators:
        argv += ["--accelerators", ",".join(accelerators)]
    return argv


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


def _failure(kind: str, message: str, stderr_tail: str, exit_code: int | None) -> dict[str, Any]:
    return {"kind": kind, "message": message, "stderr_tail": stderr_tail, "exit_code": exit_code}


def _classify_exit(exit_code: int, stderr_tail: str) -> dict[str, Any]:
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


def run_worker(framework: str, argv_for_out: Callable[[Path], list[str]], limits: WorkerLimits,
               progress: ProgressCallback | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one worker; return its result document, or {"framework", "failure"} when it failed."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="framework-advisor-worker-") as scratch:
        out = Path(scratch) / "result.json"
        worker_env = {**os.environ, **(env or {}), "TMPDIR": scratch}
        process = subprocess.Popen(argv_for_out(out), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, env=worker_env, start_new_session=True)
        reader = _StderrReader(process.stderr, framework, progress)
        reader.start()
        failure = None
        try:
            watched = psutil.Process(process.pid)
            while process.poll() is None:
                if time.monotonic() - started > limits.timeout_s:
                    failure = ("timeout", f"no result within {limits.timeout_s:g} s; the worker was killed")
                    break
                if _tree_rss(watched) > limits.memory_bytes:
                    failure = ("out-of-memory", f"resident memory passed {limits.memory_bytes / 2**30:.1f} GiB; "
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
        wall_s = round(time.monotonic() - started, 3)
        if failure is not None:
            return {"framework": framework, "wall_s": wall_s,
                    "failure": _failure(failure[0], failure[1], tail, None)}
        if process.returncode != 0:
            return {"framework": framework, "wall_s": wall_s, "failure": _classify_exit(process.returncode, tail)}
        try:
            result = json.loads(out.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            return {"framework": framework, "wall_s": wall_s,
                    "failure": _failure("bad-output", f"the worker exited 0 but wrote no valid result ({exc})",
                                        tail, 0)}
        if not isinstance(result, dict) or result.get("framework") != framework:
            return {"framework": framework, "wall_s": wall_s,
                    "failure": _failure("bad-output", "the worker's result is not a result for this framework",
                                        tail, 0)}
        result["wall_s"] = wall_s
        return result
