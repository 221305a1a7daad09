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


# --- rows this version cannot read: written by another version, or damaged ------------------------------------------

def _row(store: Store, probe_id: str, report: str | None, params: str = "{}", progress: str = "{}") -> None:
    with sqlite3.connect(store.path) as db:
        db.execute("INSERT INTO probes (id, created_at, host, status, params, progress, finished_at) "
                   "VALUES (?, '2026-12-01T00:00:00+00:00', 'node', 'finished', ?, ?, "
                   "'2026-12-01T00:00:00+00:00')", (probe_id, params, progress))
        if report is not None:
            db.execute("INSERT INTO probe_reports (id, report) VALUES (?, ?)", (probe_id, report))


def test_a_version_1_report_is_read_in_todays_shape(tmp_path):
    import json

    from tests.service_fixtures import canned_report_json

    store = Store.open(tmp_path / "db.sqlite3")
    old = canned_report_json(quick=True)
    old["schema_version"] = 1
    old["frameworks"][0]["unused_accelerators"] = [{"kind": "cuda", "reason": "cpu-only-build", "detail": "CPU build",
                                                     "fix": "pip install torch"}]
    _row(store, "v1", json.dumps(old))
    probe = store.get_probe("v1")
    assert probe.error is None and probe.report.schema_version == 2
    assert probe.report.frameworks[0].unused_accelerators[0].detail == "CPU build"  # the command is dropped


@pytest.mark.parametrize("report,params,progress", [
    ('{"schema_version": 1, "host": "x", "frameworks": 5, "derived": [1]}', "{}", "{}"),
    ('{"schema_version": 2, "host": "x", "frameworks": [], "new_field_of_a_newer_version": 1}', "{}", "{}"),
    ("not json", "{}", "{}"),
    (None, '{"quick": true, "priority": "high"}', '{"phase": "framework", "percent": 100.4}'),
])
def test_a_row_that_cannot_be_read_still_lists_and_says_why(tmp_path, report, params, progress):
    store = Store.open(tmp_path / "db.sqlite3")
    _row(store, "odd", report, params, progress)
    [listed] = store.list_probes()
    probe = store.get_probe("odd")
    assert listed.id == probe.id == "odd" and probe.report is None
    assert "cannot be read by this version" in probe.error


def test_the_api_answers_for_an_unreadable_row_without_a_500(tmp_path):
    from framework_advisor.app import create_app
    from tests.service_fixtures import FakeProbe, settings_for

    settings = settings_for(tmp_path)
    _row(Store.open(settings.database_path), "odd", '{"schema_version": 1, "frameworks": {"a": 1}}')
    client = create_app(settings, run_probe=FakeProbe()).test_client()
    assert client.get("/v1/probes").status_code == 200
    body = client.get("/v1/probes/odd").get_json()
    assert body["status"] == "finished" and "cannot be read" in body["error"]
    answer = client.post("/v1/recommendations", json={"goals": ["research"], "experience": "expert",
                                                      "probe_id": "odd"})
    assert answer.status_code == 409 and "cannot be read" in answer.get_json()["detail"]


def test_recent_finished_probes_are_this_machines_own_newest_first_and_parsed_once(tmp_path):
    from framework_advisor.probes.report import ProbeParams
    from tests.service_fixtures import canned_report

    store = Store.open(tmp_path / "store.db")
    report = canned_report(quick=True)
    for probe_id in ("first", "second", "third"):
        store.save_finished_probe(probe_id, "here", ProbeParams(quick=True), report)
    store.save_finished_probe("uploaded", "here", ProbeParams(quick=True, uploaded=True), report)
    store.save_finished_probe("elsewhere", "there", ProbeParams(quick=True), report)
    recent = store.recent_finished_probes("here", limit=2)
    assert [probe.id for probe in recent] == ["third", "second"]
    again = store.recent_finished_probes("here", limit=5)
    assert [probe.id for probe in again] == ["third", "second", "first"]
    assert again[0] is recent[0]  # a finished probe never changes: parsed once per process
