"""The worker processes of one probe: started together (their imports overlap), then talked to one at a time.

Each ``WorkerProcess`` is one framework's worker subprocess in its own process group, with a reply channel (a
pipe the worker writes ``messages`` to) and its commands on stdin. It gets this process's environment without
its secrets (``hygiene.worker_environment``), a scratch directory named after this process (removed by the
next start if this process is killed first: ``hygiene.remove_stale_scratch``), and a watchdog pipe whose end
only this process holds: when this process dies, however, the worker kills its process group
(``worker/watchdog.py``). Every wait for a reply is bounded, and the
worker's memory is watched while it lasts: a hang, a crash, runaway memory or a reply that is not one becomes
the worker's ``Failure`` (the same kinds as ever), the worker is killed with everything it started, and the
probe goes on with the others.
"""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Optional

import psutil
from pydantic import TypeAdapter, ValidationError

from framework_advisor.probes.hygiene import scratch_dir, worker_environment
from framework_advisor.probes.report import FailedFramework, Failure, FrameworkRun
from framework_advisor.probes.runner import (POLL_SECONDS, ProgressCallback, StderrReader, WorkerLimits,
                                             classify_exit, describe_problems, failure, kill_group, read_result,
                                             tree_rss)
from framework_advisor.probes.worker.messages import REPLIES, Ready
from framework_advisor.probes.worker.records import WorkerResult
from framework_advisor.probes.worker.watchdog import WATCHDOG_ENV

# argv(out, reply_fd) -> the worker's command line
WorkerArgv = Callable[[Path, int], list[str]]
EXIT_TIMEOUT_S = 15.0
MAX_REPLY_BYTES = 4 * 2**20
STARTING = "to its start (the framework's import and set-up)"


@cache
def _reply_adapter(kind: str) -> TypeAdapter:
    return TypeAdapter(REPLIES[kind])


class WorkerGone(Exception):
    """The worker failed (its ``failure`` says how); it has been killed."""


class WorkerProcess:
    def __init__(self, framework: str, argv: WorkerArgv, limits: WorkerLimits,
                 progress: Optional[ProgressCallback] = None, env: Optional[dict[str, str]] = None):
        self.framework = framework
        self.limits = limits
        self.failure: Optional[Failure] = None
        self.ready_reply: Optional[Ready] = None
        self.peak_rss = 0
        self._exited_at: Optional[float] = None
        self._started = time.monotonic()
        self._scratch = scratch_dir("worker")
        self._out = self._scratch / "result.json"
        read_fd, write_fd = os.pipe()
        # The watchdog: the worker reads its end, this process alone holds the other (os.pipe's ends are not
        # inherited by other children) until _release; nothing is written, its end of file is the message.
        watch_fd, self._watchdog = os.pipe()
        worker_env = worker_environment(**(env or {}), TMPDIR=str(self._scratch), **{WATCHDOG_ENV: str(watch_fd)})
        try:
            self.process = subprocess.Popen(argv(self._out, write_fd), stdin=subprocess.PIPE,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=worker_env,
                                            start_new_session=True, pass_fds=(write_fd, watch_fd))
        except BaseException:
            os.close(self._watchdog)
            shutil.rmtree(self._scratch, ignore_errors=True)
            raise
        finally:
            os.close(write_fd)
            os.close(watch_fd)
        self._watched = psutil.Process(self.process.pid)
        self._stderr = StderrReader(self.process.stderr, framework, progress)
        self._stderr.start()
        self._replies: queue.Queue[Optional[bytes]] = queue.Queue()
        threading.Thread(target=self._read_replies, args=(read_fd,), daemon=True,
                         name=f"replies of {framework}").start()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.failure is None

    def _read_replies(self, read_fd: int) -> None:
        with os.fdopen(read_fd, "rb") as channel:
            for line in channel:
                self._replies.put(line)
        self._replies.put(None)  # the worker closed its end: it exited

    def _fail(self, kind: str, message: str, exit_code: Optional[int] = None) -> WorkerGone:
        kill_group(self.process.pid)
        self.process.wait()
        self._stderr.join(timeout=5)
        if self.failure is None:
            self.failure = failure(kind, message, self._stderr.tail(), exit_code)
        return WorkerGone(self.failure.message)

    def _died(self) -> WorkerGone:
        self.process.wait()
        self._stderr.join(timeout=5)
        self.failure = classify_exit(self.process.returncode, self._stderr.tail())
        return WorkerGone(self.failure.message)

    def _poll(self, waiting_for: str, wait_s: float = POLL_SECONDS) -> Any:
        """One look at the worker (waiting at most ``wait_s`` for a reply): its reply, or None while it works.

        Raises WorkerGone when it died, closed its channel or passed its memory limit."""
        try:
            line = self._replies.get(timeout=wait_s)
        except queue.Empty:
            line = b""
        if line is None:  # the channel closed: the worker is gone, or going
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                raise self._fail("bad-output", f"the worker closed its reply channel {waiting_for}") from None
            raise self._died()
        if line:
            self._watch_memory(waiting_for)  # a turn ends at its high point: its arrays are still allocated
            return self._parse(line, waiting_for)
        if self.process.poll() is not None:
            # Its last replies may still be in the pipe (the closed channel ends the wait), unless a child it
            # left holds the channel open.
            self._exited_at = self._exited_at or time.monotonic()
            if time.monotonic() - self._exited_at > EXIT_TIMEOUT_S:
                raise self._died()
            return None
        self._watch_memory(waiting_for)
        return None

    def _watch_memory(self, waiting_for: str) -> None:
        rss = tree_rss(self._watched)
        self.peak_rss = max(self.peak_rss, rss)
        if rss > self.limits.memory_bytes:
            raise self._fail("out-of-memory", f"resident memory passed {self.limits.memory_bytes / 2**30:.1f} "
                                              f"GiB {waiting_for}; the worker was killed")

    def _reply(self, timeout_s: float, waiting_for: str) -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            reply = self._poll(waiting_for)
            if reply is not None:
                return reply
            if time.monotonic() > deadline:
                raise self._fail("timeout", f"no reply within {timeout_s:g} s {waiting_for}; the worker was killed")

    def _parse(self, line: bytes, waiting_for: str) -> Any:
        try:
            if len(line) > MAX_REPLY_BYTES:
                raise ValueError(f"a reply of {len(line)} bytes")
            document = json.loads(line)
            return _reply_adapter(document["type"]).validate_python(document)
        except ValidationError as exc:
            raise self._fail("bad-output", f"the worker's reply {waiting_for} is malformed: "
                                           f"{describe_problems(exc)}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise self._fail("bad-output", f"the worker's reply {waiting_for} is not a reply "
                                           f"({type(exc).__name__}: {str(exc)[:200]})") from None

    def _take_ready(self, reply: Any) -> Ready:
        if not isinstance(reply, Ready) or reply.framework != self.framework:
            raise self._fail("bad-output", f"the worker's first reply is not the set-up of {self.framework}")
        self.ready_reply = reply
        return reply

    def ready(self, timeout_s: float) -> Ready:
        """Wait for the worker's set-up (its import, first result, devices, plan)."""
        return self._take_ready(self._reply(timeout_s, STARTING))

    def request(self, command: dict[str, Any], timeout_s: float) -> Any:
        """Send one command and wait for its reply; raises WorkerGone when the worker fails."""
        if self.failure is not None:
            raise WorkerGone(self.failure.message)
        try:
            self.process.stdin.write((json.dumps(command) + "\n").encode())
            self.process.stdin.flush()
        except OSError:
            raise self._died() from None
        return self._reply(timeout_s, f"to {command['cmd']} {command.get('benchmark', '')}".rstrip())

    def close(self) -> FrameworkRun | FailedFramework:
        """End the conversation: the worker writes its result and exits; what it measured, or how it failed."""
        try:
            if self.failure is None:
                try:
                    self.process.stdin.write(b'{"cmd": "exit"}\n')
                    self.process.stdin.close()
                except OSError:
                    pass
                try:
                    self.process.wait(timeout=EXIT_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    self._fail("timeout", f"the worker did not exit within {EXIT_TIMEOUT_S:g} s of being told to")
            kill_group(self.process.pid)  # its children too, whatever happened
            self.process.wait()
            self._stderr.join(timeout=5)
            wall_s = round(time.monotonic() - self._started, 3)
            if self.failure is None:
                outcome = (read_result(self._out, self.framework, self._stderr.tail()) if self.process.returncode == 0
                           else classify_exit(self.process.returncode, self._stderr.tail()))
                if isinstance(outcome, Failure):
                    self.failure = outcome
            if self.failure is not None:
                return FailedFramework(framework=self.framework, failure=self.failure, wall_s=wall_s)
            fields = {field.name: getattr(outcome, field.name) for field in dataclasses.fields(WorkerResult)}
            return FrameworkRun(**fields, wall_s=wall_s)
        finally:
            self._release()

    def stop(self) -> None:
        """Kill the worker and everything it started, now, whatever it is doing (the probe was interrupted, by
        Ctrl-C or an error); its scratch directory goes too. Harmless after close() or a second time."""
        kill_group(self.process.pid)
        try:
            self.process.wait(timeout=EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:  # SIGKILL cannot be refused; only an uninterruptible wait delays it
            pass
        self._release()

    def _release(self) -> None:
        """Close the pipes to the worker (the watchdog's too) and remove its scratch directory."""
        for stream in (self.process.stdin, self.process.stderr):
            try:
                stream.close()
            except (OSError, ValueError):
                pass
        if self._watchdog is not None:
            os.close(self._watchdog)
            self._watchdog = None
        shutil.rmtree(self._scratch, ignore_errors=True)


def wait_until_ready(workers: list[WorkerProcess], timeout_s: float) -> None:
    """Wait for every worker's set-up at once, watching all of them: one that hangs, dies or swells while
    another imports is caught then, not when its turn comes. Those that fail keep their failure."""
    deadline = time.monotonic() + timeout_s
    waiting = list(workers)
    while waiting:
        for worker in list(waiting):
            try:
                reply = worker._poll(STARTING, POLL_SECONDS / len(waiting))
                if reply is not None:
                    worker._take_ready(reply)
                    waiting.remove(worker)
                elif time.monotonic() > deadline:
                    raise worker._fail("timeout", f"no reply within {timeout_s:g} s {STARTING}; the worker was "
                                                  f"killed")
            except WorkerGone:
                waiting.remove(worker)
