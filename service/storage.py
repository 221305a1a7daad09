"""The embedded SQLite store (WAL mode) in the data directory.

A file that is not a healthy database stops the service with a message naming it, rather than
being silently replaced: stored probe reports are user data. At request time, a full disk (or the
optional size cap, ``max_bytes``) raises StoreFull and any other SQLite failure StoreUnavailable; both
name the file, and the HTTP layer answers 507 / 503 problem+json. Writes are single statements or
explicit transactions, so a failed write leaves the previous, consistent state.

The store is bounded: a size cap (``max_bytes``) and a retention per host (``keep_per_host``: the newest N
probes of each host, this machine's own and uploaded ones counted apart, so that uploads naming this host
cannot push its own probes out); the oldest are deleted in the transaction that stores a new one. A probe's
report lives in a table of its own (``probe_reports``), apart from the metadata a listing reads, so a listing
never reads a report: the frameworks a report holds are written beside its metadata when it is stored.
Upload tokens (``tokens``: one per host, only its SHA-256 kept) live here too, shared by every process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from datetime import datetime, timezone
from contextlib import closing, contextmanager
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from pydantic import ValidationError

from framework_advisor.contract import ContractViolation, read_report
from framework_advisor.models import ProbeJob, ProbeSummary
from framework_advisor.probes.progress import ProbeProgress
from framework_advisor.probes.report import ProbeParams, ProbeReport
from framework_advisor.probes.vocabulary import FRAMEWORK_IDS

_log = logging.getLogger(__name__)
SCHEMA_VERSION = 4
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
    # Reports apart from the metadata (a listing reads no report; a row's columns after a large report are
    # reached only by walking its overflow pages); the frameworks a report holds beside its metadata; tokens.
    # probes.report stays, always NULL (SQLite before 3.35 cannot drop a column).
    4: """
        CREATE TABLE probe_reports (
            id      TEXT PRIMARY KEY,
            report  TEXT NOT NULL
        );
        INSERT INTO probe_reports (id, report) SELECT id, report FROM probes WHERE report IS NOT NULL;
        ALTER TABLE probes ADD COLUMN frameworks TEXT NOT NULL DEFAULT '[]';
        UPDATE probes SET frameworks = COALESCE((
            SELECT json_group_array(json_extract(value, '$.framework')) FROM json_each(probes.report, '$.frameworks')
            WHERE type = 'object'), '[]')
        WHERE json_valid(report) AND json_type(report, '$.frameworks') = 'array';
        UPDATE probes SET report = NULL WHERE report IS NOT NULL;
        CREATE INDEX probes_created ON probes (created_at);
        CREATE TABLE tokens (
            host        TEXT PRIMARY KEY COLLATE NOCASE,
            sha256      TEXT NOT NULL UNIQUE,
            created_at  TEXT NOT NULL
        );
    """,
}
ACTIVE_STATUSES = ("queued", "running")
# Metadata only: what a listing reads (the report is in probe_reports).
_COLUMNS = "id, created_at, host, status, params, progress, error, owner_pid, started_at, finished_at, frameworks"
_REPORT = "(SELECT report FROM probe_reports WHERE probe_reports.id = probes.id)"
# The probes of one host and source (own or uploaded) past the newest N: what retention deletes.
_BEYOND_KEPT = ("SELECT id FROM probes WHERE host = ? AND status NOT IN ('queued', 'running') "
                "AND (json_extract(params, '$.uploaded') IS 1) = ? ORDER BY created_at DESC, rowid DESC "
                "LIMIT -1 OFFSET ?")


class StoreError(Exception):
    """The store cannot be used; the message names the file and what to do."""


class StoreUnavailable(StoreError):
    """A read or write failed at request time (locked too long, I/O error, file removed...)."""


class StoreFull(StoreError):
    """The disk under the store (or the store's configured size cap) is full; nothing was written."""


class TokenExists(StoreError):
    """The host has an upload token already."""


@dataclass(frozen=True)
class StoreState:
    """What /healthz says about the store, read without writing anything."""

    readable: bool
    writable: bool
    size_bytes: int
    max_bytes: Optional[int]  # the cap; None: only the disk
    free_bytes: int  # room left: the disk's free space, or the cap's, whichever is less
    problem: Optional[str] = None  # why it is not readable or not writable


def token_digest(token: str) -> str:
    """What the store keeps of an upload token: its SHA-256 (a token is 256 random bits: no salt or stretching
    needed to keep it from being guessed back)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _is_full(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc)


# Finished probes never change: their parsed rows are kept (per process) for the answers that pool them.
FINISHED_CACHE_ENTRIES = 64


class Store:
    def __init__(self, path: Path, max_bytes: int | None = None, keep_per_host: int | None = None):
        self.path = path
        self.max_bytes = max_bytes or None  # 0: no cap
        self.keep_per_host = keep_per_host or None  # 0: keep all
        self._finished: OrderedDict[str, ProbeJob] = OrderedDict()
        self._finished_lock = threading.Lock()
        self._state: Optional[tuple[int, float, StoreState]] = None  # (min_free_bytes, when, state): see state()

    @classmethod
    def open(cls, path: Path, max_bytes: int | None = None, keep_per_host: int | None = None) -> Store:
        """Open (creating and migrating if needed); ``max_bytes`` caps the database file's size, ``keep_per_host``
        the probes kept per host and source (0 or None: no cap, keep all)."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the data directory {path.parent}: {exc.strerror}") from None
        store = cls(path, max_bytes, keep_per_host)
        store._migrate()
        return store

    @classmethod
    def for_settings(cls, settings) -> Store:
        """The store of ``settings`` (a config.Settings) with its size cap and retention."""
        return cls.open(settings.database_path, max_bytes=settings.max_store_bytes,
                        keep_per_host=settings.keep_per_host)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            # mode=rw: a store file removed under a running service is an error, never silently an empty new one.
            connection = sqlite3.connect(f"{self.path.absolute().as_uri()}?mode=rw", uri=True, timeout=10,
                                         isolation_level=None)
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
        return self.state().readable

    def state(self, min_free_bytes: int = 0, max_age_s: float = 0.0) -> StoreState:
        """Readable (its header and schema read), writable (the file and its directory may be written, the file
        system is not read-only, and at least ``min_free_bytes`` are left under the cap and on the disk) and the
        room left. Writes nothing: one query and a statvfs, and with ``max_age_s`` the last answer (for the same
        ``min_free_bytes``) is reused for that long, so /healthz under load costs less than a connection."""
        now = time.monotonic()
        with self._finished_lock:
            cached = self._state
        if cached is not None and cached[0] == min_free_bytes and now - cached[1] < max_age_s:
            return cached[2]
        state = self._read_state(min_free_bytes)
        with self._finished_lock:
            self._state = (min_free_bytes, now, state)
        return state

    def _read_state(self, min_free_bytes: int) -> StoreState:
        try:
            with self._connect() as db:
                page_size, pages, unused, max_pages = db.execute(
                    "SELECT page_size, page_count, freelist_count, max_page_count, (SELECT count(*) FROM sqlite_master) "
                    "FROM pragma_page_size, pragma_page_count, pragma_freelist_count, pragma_max_page_count"
                ).fetchone()[:4]
        except StoreError as exc:
            return StoreState(False, False, 0, self.max_bytes, 0, str(exc))
        size = pages * page_size
        try:
            disk = os.statvfs(self.path.parent)
        except OSError as exc:
            return StoreState(True, False, size, self.max_bytes, 0,
                              f"cannot read the free space under {self.path}: {exc.strerror}")
        on_disk = disk.f_bavail * disk.f_frsize + unused * page_size  # free pages inside the file are room too
        under_cap = (max_pages - pages + unused) * page_size if self.max_bytes is not None else on_disk
        free = max(0, min(on_disk, under_cap))
        problem = None
        if disk.f_flag & os.ST_RDONLY:
            problem = f"the file system under {self.path} is read-only"
        elif not (os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK)):
            problem = f"this process may not write the store {self.path} or its directory"
        elif free < min_free_bytes:
            where = "under the store's size cap" if under_cap < on_disk else "on the disk"
            problem = (f"the store {self.path} has {free} bytes left {where}, less than the largest report it "
                       f"accepts ({min_free_bytes} bytes)")
        return StoreState(True, problem is None, size, self.max_bytes, free, problem)

    def get_probe(self, probe_id: str) -> ProbeJob | None:
        with self._connect() as db:
            row = db.execute(f"SELECT {_COLUMNS}, {_REPORT} FROM probes WHERE id = ?", (probe_id,)).fetchone()
        return _probe_from_row(row) if row else None

    def list_probes(self, host: str | None = None, limit: int = 50) -> list[ProbeSummary]:
        """The newest probes' metadata (no report is read)."""
        query = f"SELECT {_COLUMNS} FROM probes"
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
                    row = db.execute(f"SELECT {_COLUMNS}, {_REPORT} FROM probes WHERE id = ?", (probe_id,)).fetchone()
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
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT host, json_extract(params, '$.uploaded') IS 1 FROM probes WHERE id = ?",
                             (probe_id,)).fetchone()
            if row is not None:
                self._make_room(db, row[0], bool(row[1]))
            db.execute("DELETE FROM probe_reports WHERE id = ?", (probe_id,))
            if report is not None:
                db.execute("INSERT INTO probe_reports (id, report) VALUES (?, ?)", (probe_id, _report_json(report)))
            db.execute("UPDATE probes SET status = ?, error = ?, finished_at = ?, frameworks = ? WHERE id = ?",
                       (status, error, _now(), _frameworks_json(report), probe_id))
            db.execute("COMMIT")

    def save_finished_probe(self, probe_id: str, host: str, params: ProbeParams, report: ProbeReport) -> None:
        """Store a probe run outside the job queue (the CLI) or uploaded from elsewhere."""
        now = _now()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            self._make_room(db, host, params.uploaded)
            db.execute("INSERT INTO probes (id, created_at, host, status, params, started_at, finished_at, frameworks) "
                       "VALUES (?, ?, ?, 'finished', ?, ?, ?, ?)",
                       (probe_id, now, host, _params_json(params), now, now, _frameworks_json(report)))
            db.execute("INSERT INTO probe_reports (id, report) VALUES (?, ?)", (probe_id, _report_json(report)))
            db.execute("COMMIT")

    def _make_room(self, db: sqlite3.Connection, host: str, uploaded: bool) -> None:
        """Retention, inside the caller's write transaction: delete this host's (and source's) probes past the
        newest ``keep_per_host - 1``, so that with the one being stored it keeps ``keep_per_host``. Deleting first
        lets a store at its cap reuse the pages; a failed write rolls the deletion back with it."""
        if self.keep_per_host is None:
            return
        beyond = (host, int(bool(uploaded)), self.keep_per_host - 1)
        db.execute(f"DELETE FROM probe_reports WHERE id IN ({_BEYOND_KEPT})", beyond)
        db.execute(f"DELETE FROM probes WHERE id IN ({_BEYOND_KEPT})", beyond)

    # --- upload tokens: one per host, only its SHA-256 kept ------------------------------------------------------

    def add_token(self, host: str, digest: str, replace: bool = False) -> None:
        """Bind the token whose SHA-256 is ``digest`` to ``host``; TokenExists when it has one (unless ``replace``)."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            if db.execute("SELECT 1 FROM tokens WHERE host = ?", (host,)).fetchone() and not replace:
                db.execute("ROLLBACK")
                raise TokenExists(f"{host} has an upload token already: revoke it first, or replace it")
            db.execute("INSERT OR REPLACE INTO tokens (host, sha256, created_at) VALUES (?, ?, ?)",
                       (host, digest, _now()))
            db.execute("COMMIT")

    def revoke_token(self, host: str) -> bool:
        with self._connect() as db:
            return db.execute("DELETE FROM tokens WHERE host = ?", (host,)).rowcount > 0

    def list_tokens(self) -> list[tuple[str, str, str]]:
        """(host, created_at, the first 12 hex digits of the token's SHA-256) per host, by host."""
        with self._connect() as db:
            return [(host, created, digest[:12]) for host, created, digest in
                    db.execute("SELECT host, created_at, sha256 FROM tokens ORDER BY host")]

    def token_host(self, digest: str) -> Optional[str]:
        """The host the token with this SHA-256 was issued to; None for an unknown token."""
        with self._connect() as db:
            row = db.execute("SELECT host FROM tokens WHERE sha256 = ?", (digest,)).fetchone()
        return row[0] if row else None

    def has_tokens(self) -> bool:
        with self._connect() as db:
            return db.execute("SELECT 1 FROM tokens LIMIT 1").fetchone() is not None

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


def _frameworks_json(report: ProbeReport | None) -> str:
    return json.dumps([entry.framework for entry in report.frameworks] if report is not None else [])


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
    """A row of _COLUMNS (then its report, with ``with_report``)."""
    (probe_id, created_at, host, status, params, progress, error, owner_pid, started_at,
     finished_at, frameworks) = row[:11]
    problems: list[str] = []
    fields: dict[str, Any] = {"id": probe_id, "created_at": created_at, "host": host, "status": status,
                              "params": _stored(ProbeParams, params, "parameters", probe_id, problems),
                              "progress": _stored(ProbeProgress, progress, "progress", probe_id, problems),
                              "started_at": started_at, "finished_at": finished_at}
    if with_report:
        fields["report"] = _stored(ProbeReport, row[11], "report", probe_id, problems)
        fields["frameworks"] = [entry.framework for entry in fields["report"].frameworks] if fields["report"] else []
    else:
        fields["frameworks"] = _frameworks_held(frameworks)
    fields["error"] = "; ".join(filter(None, [error, *problems])) or None
    return (ProbeJob if with_report else ProbeSummary)(**fields)
