"""Probe jobs: queued in SQLite, run one at a time per machine, progress readable from any process.

Concurrent probes spoil each other's measurements, so a machine-wide file lock (shared with the
CLI's `probe`) lets only one run at a time; a request for a probe with the same parameters as a
queued or running one joins it. Each gunicorn worker process runs a small daemon thread that
claims queued jobs when it can take the lock.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from framework_advisor.config import MACHINE_LOCK_PATH
from framework_advisor.storage import Store, StoreError

PROGRESS_WRITE_INTERVAL_S = 0.25

ProbeRunner = Callable[..., dict[str, Any]]


@contextmanager
def machine_probe_lock(blocking: bool = True, path: Path = MACHINE_LOCK_PATH) -> Iterator[bool]:
    """Hold the machine-wide probe lock; yields False when ``blocking`` is off and it is taken."""
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def new_probe_id() -> str:
    return uuid.uuid4().hex[:16]


def probe_params(quick: bool = False, thorough: bool = False, frameworks: list[str] | None = None) -> dict[str, Any]:
    """How a probe was asked for, as stored with it (ProbeParams): identical requests compare equal."""
    params: dict[str, Any] = {"quick": bool(quick)}
    if thorough:
        params["thorough"] = True
    if frameworks:
        params["frameworks"] = sorted(frameworks)
    return params


class ProgressTracker:
    """Turns runner events into a progress document with a percentage, written at a bounded rate."""

    def __init__(self, write: Callable[[dict[str, Any]], None]):
        self._write = write
        self._state: dict[str, Any] = {"phase": "queued", "percent": 0.0}
        self._last_write = 0.0

    def __call__(self, event: dict[str, Any]) -> None:
        state = self._state
        if "phase" in event:
            state.update({k: v for k, v in event.items() if k in ("phase", "framework", "index", "total")})
            state.pop("step", None)
        elif "step" in event:
            state["step"] = event["step"]
        total = state.get("total") or 1
        inside = (event.get("done", 0) / event["total"]) if event.get("total") and "step" in event else 0.0
        if state["phase"] == "framework":
            state["percent"] = round(100 * (state.get("index", 0) + inside) / total, 1)
        elif state["phase"] == "done":
            state["percent"] = 100.0
        now = time.monotonic()
        if "phase" in event or now - self._last_write >= PROGRESS_WRITE_INTERVAL_S:
            self._last_write = now
            self._write(dict(state))


class ProbeJobs:
    def __init__(self, store: Store, run_probe: ProbeRunner, max_queued: int = 4, poll_s: float = 1.0,
                 lock_path: Path = MACHINE_LOCK_PATH):
        self._store = store
        self._lock_path = lock_path
        self._run_probe = run_probe
        self.max_queued = max_queued
        self._poll_s = poll_s
        self._wake = threading.Event()
        self._thread_pid: int | None = None
        self._start_lock = threading.Lock()

    def interrupt_orphans_at_start(self) -> None:
        """On start-up, a probe still marked running was cut off by a restart: say so.

        Holding the machine lock proves no probe runs anywhere; without it (another service or the
        CLI probes right now), a row whose owner process no longer exists is still an orphan."""
        with machine_probe_lock(blocking=False, path=self._lock_path) as held:
            if held:
                self._store.interrupt_orphans(lambda pid: False)
            else:
                self._store.interrupt_orphans(lambda pid: pid != os.getpid() and psutil.pid_exists(pid))

    def submit(self, host: str, params: dict[str, Any]) -> tuple[str, bool]:
        probe_id, created = self._store.enqueue_probe(new_probe_id(), host, params, self.max_queued)
        self.ensure_worker()
        self._wake.set()
        return probe_id, created

    def ensure_worker(self) -> None:
        """Start this process's job thread (threads do not survive gunicorn's fork, hence per pid)."""
        with self._start_lock:
            if self._thread_pid == os.getpid():
                return
            self._thread_pid = os.getpid()
            threading.Thread(target=self._loop, name="probe-jobs", daemon=True).start()

    def _loop(self) -> None:
        while True:
            self._wake.wait(self._poll_s)
            self._wake.clear()
            try:
                self.run_pending()
            except Exception:  # a broken store must not kill the thread; the next poll retries
                time.sleep(self._poll_s)

    def run_pending(self) -> int:
        """Run queued probes while this process can hold the machine lock; returns how many ran."""
        ran = 0
        while True:
            with machine_probe_lock(blocking=False, path=self._lock_path) as held:
                if not held:
                    return ran
                # Whoever ran a probe held this lock; holding it now means any 'running' row is an orphan.
                self._store.interrupt_orphans(lambda pid: False)
                job = self._store.claim_next_probe(os.getpid())
                if job is None:
                    return ran
                self._run(job)
                ran += 1

    def _run(self, job: dict[str, Any]) -> None:
        tracker = ProgressTracker(lambda progress: self._store.update_progress(job["id"], progress))
        try:
            report = self._run_probe(quick=job["params"].get("quick", False),
                                     frameworks=job["params"].get("frameworks"), progress=tracker,
                                     **({"thorough": True} if job["params"].get("thorough") else {}))
        except Exception as exc:  # the probe isolates frameworks; this is a bug in the probe itself
            self._store.finish_probe(job["id"], None, error=f"the probe failed: {exc}")
            return
        tracker({"phase": "done"})
        try:
            self._store.finish_probe(job["id"], report)
        except StoreError as exc:  # e.g. the disk filled up: say so on the job rather than leave it running
            self._store.finish_probe(job["id"], None, error=f"the probe ran but its report could not be stored: {exc}")
