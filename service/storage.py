"""The embedded SQLite store (WAL mode) in the data directory.

A file that is not a healthy database stops the service with a message naming it, rather than
being silently replaced: stored probe reports are user data.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing, contextmanager
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
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
}


class StoreError(Exception):
    """The store cannot be used; the message names the file and what to do."""


class Store:
    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Store:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the data directory {path.parent}: {exc.strerror}") from None
        store = cls(path)
        store._migrate()
        return store

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store {self.path}: {exc}") from None
        with closing(connection):
            connection.execute("PRAGMA busy_timeout = 10000")
            yield connection

    def _migrate(self) -> None:
        try:
            with self._connect() as db:
                if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                    raise sqlite3.DatabaseError("quick_check failed")
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
            raise StoreError(
                f"the store {self.path} is not a usable SQLite database ({exc}); move it aside to start "
                f"with an empty store, or restore it from a backup"
            ) from None

    def healthy(self) -> bool:
        try:
            with self._connect() as db:
                db.execute("SELECT 1").fetchone()
            return True
        except (sqlite3.Error, StoreError):
            return False

    def get_probe(self, probe_id: str) -> dict[str, Any] | None:
        with self._connect() as db:
            row = db.execute("SELECT id, created_at, host, status, report FROM probes WHERE id = ?",
                             (probe_id,)).fetchone()
        if row is None:
            return None
        return {"id": row[0], "created_at": row[1], "host": row[2], "status": row[3],
                "report": json.loads(row[4]) if row[4] else None}
