"""The SQLite store: created on demand, WAL mode, and a corrupt file is refused, never replaced."""

from __future__ import annotations

import sqlite3

import pytest

from framework_advisor.storage import Store, StoreError


def test_store_is_created_in_wal_mode(tmp_path):
    store = Store.open(tmp_path / "new" / "db.sqlite3")
    assert store.healthy()
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] >= 1


def test_corrupt_file_is_refused_with_its_name_and_left_alone(tmp_path):
    path = tmp_path / "db.sqlite3"
    garbage = b"this is not a database" * 100
    path.write_bytes(garbage)
    with pytest.raises(StoreError) as caught:
        Store.open(path)
    assert str(path) in str(caught.value) and "move it aside" in str(caught.value)
    assert path.read_bytes() == garbage


def test_unknown_probe_is_none(tmp_path):
    assert Store.open(tmp_path / "db.sqlite3").get_probe("nope") is None
