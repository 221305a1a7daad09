"""Probe jobs: queued in SQLite, run one at a time per machine, progress readable from any process.

Concurrent probes spoil each other's measurements, so a file lock in the data directory (shared with the
CLI's `probe` on the same data directory: config.probe_lock_path) lets only one run at a time; a request for a probe with the same parameters as a
queued or running one joins it. Each gunicorn worker process runs a small daemon thread that
claims queued jobs when it can take the lock.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import psutil

from framework_advisor.config import probe_lock_path
from framework_advisor.models import ProbeJob
from framework_advisor.probes.history import StoredProbe
from framework_advisor.probes.progress import ProbeProgress, ProgressFolder
from framework_advisor.probes.report import ProbeParams, ProbeReport
from framework_advisor.storage import Store, StoreError

PROGRESS_WRITE_INTERVAL_S = 0.25

# run_probe(options, progress=...) -> ProbeReport: the real probe, or a stand-in in tests.
ProbeRunner = Callable[..., ProbeReport]


LOCK_POLL_S = 0.2


class ProbeLockTimeout(Exception):
    """Another probe held this machine's probe lock for longer than the caller would wait."""


class ProbeLockError(StoreError):
    """The probe lock file cannot be used safely (a symbolic link, not a file, another user's); nothing ran."""


def _open_lock_file(path: Path):
    """The lock file, opened for locking only if it is a regular file of this user's: never through a symbolic
    link (O_NOFOLLOW: a link planted there could make us create or lock a file elsewhere), never one another
    user owns (holding it, they could keep every probe of ours from running)."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ProbeLockError(f"the probe lock {path} is a symbolic link: refusing to follow it; remove it (or "
                                 f"use another data directory)") from None
        raise ProbeLockError(f"cannot open the probe lock {path}: {exc.strerror}") from None
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = "is not a regular file"
    elif info.st_uid != os.geteuid():
        problem = f"belongs to another user ({_user_name(info.st_uid)}), not to this one ({_user_name(os.geteuid())})"
    if problem:
        os.close(fd)
        raise ProbeLockError(f"the probe lock {path} {problem}: refusing to use it; remove it, or use a data "
                             f"directory of your own (--data-dir)")
    return os.fdopen(fd, "r+b")


def _user_name(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name}, uid {uid}"
    except (ImportError, KeyError):
        return f"uid {uid}"


@contextmanager
def machine_probe_lock(blocking: bool = True, path: Optional[Path] = None,
                       timeout_s: Optional[float] = None) -> Iterator[bool]:
    """Hold the probe lock (``path``; default: config.probe_lock_path()); yields False when ``blocking`` is off
    and it is taken. A lock file that is a symbolic link, not a file, or another user's raises ProbeLockError.

    With ``timeout_s``, waits at most that long, then raises ProbeLockTimeout."""
    path = probe_lock_path() if path is None else Path(path)
    with _open_lock_file(path) as handle:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (fcntl.LOCK_NB if deadline is not None or not blocking else 0))
                break
            except BlockingIOError:
                if deadline is None:
                    yield False
                    return
                if time.monotonic() >= deadline:
                    raise ProbeLockTimeout(f"another probe held this machine's probe lock ({path}) for more than "
                                           f"{timeout_s:g} s") from None
                time.sleep(LOCK_POLL_S)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def latest_own_probe(store: Store) -> Optional[StoredProbe]:
    """This machine's newest finished probe of its own, for the next probe to reuse when nothing changed."""
    latest = store.latest_finished_probe(socket.gethostname())
    return StoredProbe(latest.id, latest.report) if latest is not None and latest.report is not None else None


def new_probe_id() -> str:
    return uuid.uuid4().hex[:16]


class ThrottledWriter:
    """Writes a probe's progress to the store when its phase changes, else at most every
    PROGRESS_WRITE_INTERVAL_S (workers report many steps a second)."""

    def __init__(self, write: Callable[[ProbeProgress], None]):
        self._write = write
        self._last_phase: str | None = None
        self._last_write = 0.0

    def __call__(self, state: ProbeProgress) -> None:
        now = time.monotonic()
        if state.phase != self._last_phase or now - self._last_write >= PROGRESS_WRITE_INTERVAL_S:
            self._last_phase, self._last_write = state.phase, now
            self._write(state)


class ProbeJobs:
    def __init__(self, store: Store, run_probe: ProbeRunner, max_queued: int = 4, poll_s: float = 1.0,
                 lock_path: Optional[Path] = None):
        self._store = store
        self._lock_path = lock_path if lock_path is not None else probe_lock_path()
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

    def submit(self, host: str, params: ProbeParams) -> tuple[str, bool]:
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

    def _run(self, job: ProbeJob) -> None:
        progress = ProgressFolder(ThrottledWriter(lambda state: self._store.update_progress(job.id, state)))
        try:
            report = self._run_probe(job.params.options(), progress=progress)
        except Exception as exc:  # the probe isolates frameworks; this is a bug in the probe itself
            self._store.finish_probe(job.id, None, error=f"the probe failed: {exc}")
            return
        progress({"phase": "done"})
        try:
            self._store.finish_probe(job.id, report)
        except StoreError as exc:  # e.g. the disk filled up: say so on the job rather than leave it running
            self._store.finish_probe(job.id, None, error=f"the probe ran but its report could not be stored: {exc}")
