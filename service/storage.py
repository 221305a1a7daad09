"""The embedded SQLite store (WAL mode) in the data directory.

A file that is not a healthy database stops the service with a message naming it, rather than
being silently replaced: stored probe reports are user data. At request time, a full disk (or the
optional size cap, ``max_bytes``) raises StoreFull and any other SQLite failure StoreUnavailable; both
name the file, and the HTTP layer answers 507 / 503 problem+json. Writes are single statements or
explicit transactions, so a failed write leaves the previous, consistent state.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections import OrderedDict
from datetime import datetime, timezone
from contextlib import closing, contextmanager
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from framework_advisor.contract import ContractViolation, read_report
from framework_advisor.models import ProbeJob, ProbeSummary
from framework_advisor.probes.progress import ProbeProgress
from framework_advisor.probes.report import ProbeParams, ProbeReport
from framework_advisor.probes.vocabulary import FRAMEWORK_IDS

_log = logging.getLogger(__name__)
SCHEMA_VERSION = 3
_MIGRATIONS = {
    1: """
        CREATE TABLE probes (
            id          TEXT PRIMARY KEY,
            created_at  TEXT NOT NULL,
            host        TEXT NOT NULL,
            status      TEXT NOT NULL,
            report      TEXT
        );
        CREATE INDEX probes_host ON probes (host, created_at);
    """,
    2: """
        ALTER TABLE probes ADD COLUMN params TEXT NOT NULL DEFAULT '{}';
        ALTER TABLE probes ADD COLUMN progress TEXT NOT NULL DEFAULT '{}';
        ALTER TABLE probes ADD COLUMN error TEXT;
        ALTER TABLE probes ADD COLUMN owner_pid INTEGER;
        ALTER TABLE probes ADD COLUMN started_at TEXT;
        ALTER TABLE probes ADD COLUMN finished_at TEXT;
        CREATE INDEX probes_status ON probes (status, created_at);
    """,
    3: """
        CREATE TABLE rate_limits (
            key          TEXT PRIMARY KEY,
            window_start REAL NOT NULL,
            hits         INTEGER NOT NULL
        );
    """,
}
ACTIVE_STATUSES = ("queued", "running")
_COLUMNS = "id, created_at, host, status, report, params, progress, error, owner_pid, started_at, finished_at"
# The frameworks a stored report holds, read by SQLite's JSON functions (a listing parses no report in Python); a
# damaged report holds none.
_FRAMEWORKS_HELD = ("(SELECT json_group_array(json_extract(value, '$.framework')) FROM json_each("
                    "CASE WHEN json_valid(report) THEN report ELSE '{}' END, '$.frameworks'))")


class StoreError(Exception):
    """The store cannot be used; the message names the file and what to do."""


class StoreUnavailable(StoreError):
    """A read or write failed at request time (locked too long, I/O error, file removed...)."""


class StoreFull(StoreError):
    """The disk under the store (or the store's configured size cap) is full; nothing was written."""


def _is_full(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc)


# Finished probes never change: their parsed rows are kept (per process) for the answers that pool them.
FINISHED_CACHE_ENTRIES = 64


class Store:
    def __init__(self, path: Path, max_bytes: int | None = None):
        self.path = path
        self.max_bytes = max_bytes
        self._finished: OrderedDict[str, ProbeJob] = OrderedDict()
        self._finished_lock = threading.Lock()

    @classmethod
    def open(cls, path: Path, max_bytes: int | None = None) -> Store:
        """Open (creating and migrating if needed); ``max_bytes`` caps the database file's size."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the data directory {path.parent}: {exc.strerror}") from None
        store = cls(path, max_bytes)
        store._migrate()
        return store

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open the store {self.path}: {exc}") from None
        with closing(connection):
            try:
                connection.execute("PRAGMA busy_timeout = 10000")
                if self.max_bytes is not None:
                    page_size = connection.execute("PRAGMA page_size").fetchone()[0]
                    connection.execute(f"PRAGMA max_page_count = {max(1, self.max_bytes // page_size)}")
                yield connection
            except sqlite3.Error as exc:
                if connection.in_transaction:  # SQLite may already have rolled back (e.g. on SQLITE_FULL)
                    try:
                        connection.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                if _is_full(exc):
                    raise StoreFull(f"the store {self.path} is full ({exc}): nothing was written; free disk "
                                    f"space there (or raise the store's size cap) and retry") from None
                raise StoreUnavailable(f"the store {self.path} failed: {exc}") from None

    def _migrate(self) -> None:
        try:
            with self._connect_raw() as db:
                check = db.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    first_problem = next((line for line in check.splitlines() if not line.startswith("***")), check)
                    raise sqlite3.DatabaseError(f"integrity check failed: {first_problem[:200]}")
                db.execute("PRAGMA journal_mode = WAL")
                current = db.execute("PRAGMA user_version").fetchone()[0]
                if current > SCHEMA_VERSION:
                    raise StoreError(f"the store {self.path} was written by a newer framework-advisor "
                                     f"(schema {current} > {SCHEMA_VERSION}); upgrade, or use another --data-dir")
                for version in range(current + 1, SCHEMA_VERSION + 1):
                    # One transaction per step, so a crash never leaves a half-migrated schema.
                    db.executescript(
                        f"BEGIN IMMEDIATE; {_MIGRATIONS[version]} PRAGMA user_version = {version}; COMMIT;"
                    )
        except sqlite3.DatabaseError as exc:
            if _is_full(exc):
                raise StoreFull(f"the store {self.path} cannot be prepared: the disk is full ({exc}); "
                                "free space there and start again") from None
            raise StoreError(
                f"the store {self.path} is not a usable SQLite database ({exc}); move it aside to start "
                f"with an empty store, or restore it from a backup"
            ) from None

    @contextmanager
    def _connect_raw(self) -> Iterator[sqlite3.Connection]:
        """A connection whose sqlite3 errors pass through unchanged (start-up checks word their own)."""
        connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        with closing(connection):
            connection.execute("PRAGMA busy_timeout = 10000")
            yield connection

    def healthy(self) -> bool:
        try:
            with self._connect() as db:
                db.execute("SELECT 1").fetchone()
            return True
        except (sqlite3.Error, StoreError):
            return False

    def get_probe(self, probe_id: str) -> ProbeJob | None:
        with self._connect() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM probes WHERE id = ?", (probe_id,)).fetchone()
        return _probe_from_row(row) if row else None

    def list_probes(self, host: str | None = None, limit: int = 50) -> list[ProbeSummary]:
        query = f"SELECT {_COLUMNS}, {_FRAMEWORKS_HELD} FROM probes"
        args: tuple[Any, ...] = ()
        if host is not None:
            query, args = query + " WHERE host = ?", (host,)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY created_at DESC, rowid DESC LIMIT ?", (*args, limit)).fetchall()
        return [_probe_from_row(row, with_report=False) for row in rows]

    def latest_finished_probe(self, host: str) -> ProbeJob | None:
        """The newest probe this machine ran itself: an uploaded report naming the same host does not count
        (anyone allowed to upload could otherwise steer this machine's recommendations)."""
        recent = self.recent_finished_probes(host, limit=1)
        return recent[0] if recent else None

    def recent_finished_probes(self, host: str, limit: int) -> list[ProbeJob]:
        """This machine's own finished probes with a readable report, newest first (uploads never count)."""
        with self._connect() as db:
            ids = [row[0] for row in db.execute(
                "SELECT id FROM probes WHERE host = ? AND status = 'finished' "
                "AND json_extract(params, '$.uploaded') IS NOT 1 "
                "ORDER BY finished_at DESC, rowid DESC LIMIT ?", (host, limit))]
            probes = []
            for probe_id in ids:
                with self._finished_lock:
                    probe = self._finished.get(probe_id)
                    if probe is not None:
                        self._finished.move_to_end(probe_id)
                if probe is None:
                    row = db.execute(f"SELECT {_COLUMNS} FROM probes WHERE id = ?", (probe_id,)).fetchone()
                    if row is None:
                        continue  # deleted meanwhile
                    probe = _probe_from_row(row)
                    with self._finished_lock:
                        self._finished[probe_id] = probe
                        while len(self._finished) > FINISHED_CACHE_ENTRIES:
                            self._finished.popitem(last=False)
                probes.append(probe)
        return [probe for probe in probes if probe.report is not None]

    def enqueue_probe(self, probe_id: str, host: str, params: ProbeParams, max_queued: int) -> tuple[str, bool]:
        """Queue a probe, or join an active one with the same parameters: returns (id, created).

        Raises QueueFull when ``max_queued`` probes are already waiting."""
        encoded = _params_json(params)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                same = db.execute("SELECT id FROM probes WHERE host = ? AND params = ? AND status IN (?, ?) "
                                  "ORDER BY created_at LIMIT 1", (host, encoded, *ACTIVE_STATUSES)).fetchone()
                if same:
                    db.execute("COMMIT")
                    return same[0], False
                queued = db.execute("SELECT COUNT(*) FROM probes WHERE status = 'queued'").fetchone()[0]
                if queued >= max_queued:
                    raise QueueFull(queued)
                db.execute("INSERT INTO probes (id, created_at, host, status, params) VALUES (?, ?, ?, 'queued', ?)",
                           (probe_id, _now(), host, encoded))
                db.execute("COMMIT")
            except QueueFull:
                db.execute("ROLLBACK")
                raise
        return probe_id, True

    def claim_next_probe(self, owner_pid: int) -> ProbeJob | None:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT id FROM probes WHERE status = 'queued' ORDER BY created_at, rowid LIMIT 1"
                             ).fetchone()
            if row:
                db.execute("UPDATE probes SET status = 'running', owner_pid = ?, started_at = ? WHERE id = ?",
                           (owner_pid, _now(), row[0]))
            db.execute("COMMIT")
        return self.get_probe(row[0]) if row else None

    def update_progress(self, probe_id: str, progress: ProbeProgress) -> None:
        with self._connect() as db:
            db.execute("UPDATE probes SET progress = ? WHERE id = ?",
                       (progress.model_dump_json(exclude_none=True), probe_id))

    def finish_probe(self, probe_id: str, report: ProbeReport | None, error: str | None = None) -> None:
        status = "finished" if error is None else "failed"
        with self._connect() as db:
            db.execute("UPDATE probes SET status = ?, report = ?, error = ?, finished_at = ? WHERE id = ?",
                       (status, _report_json(report) if report is not None else None, error, _now(), probe_id))

    def save_finished_probe(self, probe_id: str, host: str, params: ProbeParams, report: ProbeReport) -> None:
        """Store a probe run outside the job queue (the CLI) or uploaded from elsewhere."""
        now = _now()
        with self._connect() as db:
            db.execute("INSERT INTO probes (id, created_at, host, status, report, params, started_at, finished_at) "
                       "VALUES (?, ?, ?, 'finished', ?, ?, ?, ?)",
                       (probe_id, now, host, _report_json(report), _params_json(params), now, now))

    def hit_rate_limit(self, key: str, limit: int, window_s: float, now: float) -> float | None:
        """Count one request for ``key`` in its fixed window; None when allowed, else seconds until the
        window ends. One counter per key in the store, so every process serving it shares the count."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT window_start, hits FROM rate_limits WHERE key = ?", (key,)).fetchone()
            if row is None or now - row[0] >= window_s or now < row[0]:
                db.execute("INSERT OR REPLACE INTO rate_limits (key, window_start, hits) VALUES (?, ?, 1)",
                           (key, now))
                # Forget other clients' finished windows, so the table stays as small as the active clients.
                db.execute("DELETE FROM rate_limits WHERE window_start <= ?", (now - window_s,))
                db.execute("COMMIT")
                return None
            if row[1] >= limit:
                db.execute("COMMIT")
                return row[0] + window_s - now
            db.execute("UPDATE rate_limits SET hits = hits + 1 WHERE key = ?", (key,))
            db.execute("COMMIT")
            return None

    def interrupt_orphans(self, is_alive) -> int:
        """Mark running probes whose owner process is gone as interrupted; never leave them 'running'."""
        with self._connect() as db:
            rows = db.execute("SELECT id, owner_pid FROM probes WHERE status = 'running'").fetchall()
            orphans = [probe_id for probe_id, pid in rows if pid is None or not is_alive(pid)]
            for probe_id in orphans:
                db.execute("UPDATE probes SET status = 'interrupted', finished_at = ?, "
                           "error = 'the service stopped while this probe ran' WHERE id = ?", (_now(), probe_id))
        return len(orphans)


class QueueFull(Exception):
    """Too many probes are already waiting."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _params_json(params: ProbeParams) -> str:
    # Only what differs from the defaults, keys sorted: equal requests are equal text (the queue joins on it).
    return json.dumps(params.model_dump(mode="json", exclude_defaults=True), sort_keys=True)


def _report_json(report: ProbeReport) -> str:
    return report.model_dump_json(exclude_none=True)


def _stored(model: type, text: str | None, what: str, probe_id: str, problems: list[str]) -> Any:
    """A column's JSON as ``model``; a row another version wrote, or a damaged one, gives the model's default
    and a problem, so that the row still lists (one bad row must not take every listing down)."""
    if not text:
        return model() if model is not ProbeReport else None
    try:
        document = json.loads(text)
        return read_report(document) if model is ProbeReport else model.model_validate(document)
    except (ValueError, TypeError, ValidationError, ContractViolation) as exc:
        _log.warning("probe %s: its stored %s cannot be read by this version: %s", probe_id, what, exc)
        problems.append(f"its stored {what} cannot be read by this version")
        return model() if model is not ProbeReport else None


def _frameworks_held(text: str | None) -> list[str]:
    try:
        names = json.loads(text) if text else []
    except ValueError:
        return []
    return [name for name in names if name in FRAMEWORK_IDS] if isinstance(names, list) else []


def _probe_from_row(row: tuple, with_report: bool = True) -> ProbeJob | ProbeSummary:
    (probe_id, created_at, host, status, report, params, progress, error, owner_pid, started_at,
     finished_at) = row[:11]
    problems: list[str] = []
    fields: dict[str, Any] = {"id": probe_id, "created_at": created_at, "host": host, "status": status,
                              "params": _stored(ProbeParams, params, "parameters", probe_id, problems),
                              "progress": _stored(ProbeProgress, progress, "progress", probe_id, problems),
                              "started_at": started_at, "finished_at": finished_at}
    if with_report:
        fields["report"] = _stored(ProbeReport, report, "report", probe_id, problems)
        fields["frameworks"] = [entry.framework for entry in fields["report"].frameworks] if fields["report"] else []
    elif len(row) > 11:
        fields["frameworks"] = _frameworks_held(row[11])
    fields["error"] = "; ".join(filter(None, [error, *problems])) or None
    return (ProbeJob if with_report else ProbeSummary)(**fields)
