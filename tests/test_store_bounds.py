"""The store is bounded by default (issue 13, 5): a size cap and a retention per host, both settable by flag and
environment variable with the probe and upload limits; a listing reads metadata only; rate limits count per
token, or per /24 or /64 network; /healthz says whether the store can be written, without writing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from framework_advisor import storage
from framework_advisor.app import create_app
from framework_advisor.cli_tokens import new_token
from framework_advisor.config import LIMITS, MiB, Settings
from framework_advisor.probes.report import ProbeParams, ProbeReport
from framework_advisor.storage import Store, StoreFull, token_digest
from tests.conftest import REPO_ROOT
from tests.service_fixtures import HOST, FakeProbe, bloated_report_json, canned_report_json, run_cli, settings_for


def _report(host: str = "node-1", chars: int = 0) -> ProbeReport:
    return ProbeReport.model_validate(bloated_report_json(True, chars, host=host) if chars else
                                      {**canned_report_json(True), "host": host})


def _ids(store: Store, host: str) -> list[str]:
    return [probe.id for probe in store.list_probes(host=host, limit=500)]


# --- bounded by default, settable by flag and variable -----------------------------------------------------------

def test_the_defaults_bound_the_store():
    settings = Settings(data_dir=Path("x"))
    assert settings.max_store_bytes == 1024 * MiB and settings.keep_per_host == 100
    store = Store(Path("x"), settings.max_store_bytes, settings.keep_per_host)
    assert store.max_bytes == 1024 * MiB and store.keep_per_host == 100


SERVE_FLAGS = {"--max-store-mb": ("5", "max_store_bytes", 5 * MiB), "--keep-per-host": ("7", "keep_per_host", 7),
               "--probe-rate-limit": ("3", "probe_rate_limit", 3), "--upload-rate-limit": ("4", "upload_rate_limit", 4),
               "--rate-window": ("30", "probe_rate_window_s", 30.0), "--max-report-kb": ("128", "max_report_bytes", 128 * 1024),
               "--max-queued-probes": ("2", "max_queued_probes", 2)}


@pytest.fixture()
def served(monkeypatch):
    """`serve`'s settings, as the CLI builds them (gunicorn is not started)."""
    from framework_advisor import server

    seen = {}
    monkeypatch.setattr(server, "serve", lambda settings, **kwargs: seen.setdefault("settings", settings) and 0)
    return seen


@pytest.mark.parametrize("flag", sorted(SERVE_FLAGS))
def test_each_limit_is_set_by_its_flag_and_by_its_variable(flag, served, capsys, tmp_path, monkeypatch):
    text, field, value = SERVE_FLAGS[flag]
    assert run_cli(capsys, "serve", "--data-dir", str(tmp_path), flag, text)[0] == 0
    assert getattr(served.pop("settings"), field) == value
    variable = next(limit.env for limit in LIMITS if limit.flag == flag)
    monkeypatch.setenv(variable, text)
    assert run_cli(capsys, "serve", "--data-dir", str(tmp_path))[0] == 0
    assert getattr(served.pop("settings"), field) == value
    # The flag wins over the variable.
    assert run_cli(capsys, "serve", "--data-dir", str(tmp_path), flag, "900")[0] == 0
    assert getattr(served.pop("settings"), field) != value


def test_zero_lifts_the_cap_and_the_retention(served, capsys, tmp_path):
    assert run_cli(capsys, "serve", "--data-dir", str(tmp_path), "--max-store-mb", "0", "--keep-per-host", "0")[0] == 0
    settings = served["settings"]
    store = Store.for_settings(settings)
    assert store.max_bytes is None and store.keep_per_host is None


@pytest.mark.parametrize("given", [("--keep-per-host", "-1"), ("--max-store-mb", "lots"), ("--rate-window", "0"),
                                   ("--max-report-kb", "1"), ("--max-queued-probes", "0")])
def test_a_bad_limit_is_one_line_and_exit_2(given, served, capsys, tmp_path):
    code, _, err = run_cli(capsys, "serve", "--data-dir", str(tmp_path), *given)
    assert code == 2 and err.count("\n") == 1 and given[0] in err and "settings" not in served


def test_a_bad_limit_variable_is_one_line_and_exit_2(served, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMEWORK_ADVISOR_KEEP_PER_HOST", "many")
    code, _, err = run_cli(capsys, "serve", "--data-dir", str(tmp_path))
    assert code == 2 and err == ("framework-advisor: error: FRAMEWORK_ADVISOR_KEEP_PER_HOST must be a whole number "
                                 ">= 1 (or 0: keep all), not 'many'\n")


@pytest.mark.parametrize("page_path", ["docs/security.md", "README.md"])
def test_every_limit_is_documented_with_its_flag_variable_and_default(page_path):
    page = (REPO_ROOT / page_path).read_text(encoding="utf-8")
    rows = [line for line in page.splitlines() if line.startswith("|")]
    defaults = Settings(data_dir=Path("x"))
    for limit in LIMITS:
        row = next((line for line in rows if f"`serve {limit.flag}`" in line), None)
        assert row is not None, f"{page_path} has no row for serve {limit.flag}"
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[2] == f"`{limit.env}`", row
        assert cells[3].split()[0] == limit.default_text(defaults).split()[0], row


def test_the_cli_probe_stores_with_the_same_bounds(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMEWORK_ADVISOR_KEEP_PER_HOST", "2")
    monkeypatch.setenv("FRAMEWORK_ADVISOR_MAX_STORE_MB", "3")
    store = Store.for_settings(Settings.from_env(data_dir=tmp_path))
    assert store.keep_per_host == 2 and store.max_bytes == 3 * MiB


# --- retention -------------------------------------------------------------------------------------------------

def test_retention_keeps_the_newest_n_per_host(tmp_path):
    store = Store.open(tmp_path / "db.sqlite3", keep_per_host=3)
    for index in range(5):
        store.save_finished_probe(f"a{index}", "node-1", ProbeParams(uploaded=True), _report("node-1"))
        store.save_finished_probe(f"b{index}", "node-2", ProbeParams(uploaded=True), _report("node-2"))
    assert _ids(store, "node-1") == ["a4", "a3", "a2"] and _ids(store, "node-2") == ["b4", "b3", "b2"]
    assert store.get_probe("a0") is None
    with sqlite3.connect(store.path) as db:  # no report of a deleted probe is left behind
        assert db.execute("SELECT count(*) FROM probe_reports").fetchone()[0] == 6


def test_uploads_naming_this_machine_cannot_push_its_own_probes_out(tmp_path):
    store = Store.open(tmp_path / "db.sqlite3", keep_per_host=2)
    store.save_finished_probe("own-1", HOST, ProbeParams(), _report(HOST))
    store.save_finished_probe("own-2", HOST, ProbeParams(), _report(HOST))
    for index in range(10):
        store.save_finished_probe(f"forged-{index}", HOST, ProbeParams(uploaded=True), _report(HOST))
    kept = _ids(store, HOST)
    assert "own-1" in kept and "own-2" in kept and len(kept) == 4
    assert store.latest_finished_probe(HOST).id == "own-2"


def test_a_queued_probe_finishing_makes_room_too(tmp_path):
    store = Store.open(tmp_path / "db.sqlite3", keep_per_host=1)
    store.save_finished_probe("old", HOST, ProbeParams(), _report(HOST))
    store.enqueue_probe("new", HOST, ProbeParams(), max_queued=4)
    assert store.claim_next_probe(1).id == "new"
    store.finish_probe("new", _report(HOST))
    assert _ids(store, HOST) == ["new"] and store.get_probe("new").report is not None


def test_over_http_the_oldest_upload_of_a_host_goes(tmp_path):
    client = create_app(settings_for(tmp_path, keep_per_host=2), run_probe=FakeProbe()).test_client()
    locations = [client.post("/v1/probes", json={**canned_report_json(True), "host": "node-9"}).headers["Location"]
                 for _ in range(3)]
    assert client.get(locations[0]).status_code == 404
    assert [client.get(location).status_code for location in locations[1:]] == [200, 200]
    assert len(client.get("/v1/probes?host=node-9").get_json()["probes"]) == 2


def test_at_the_cap_a_refused_report_keeps_what_retention_would_have_deleted(tmp_path):
    path = tmp_path / "db.sqlite3"
    store = Store.open(path, keep_per_host=1)
    store.save_finished_probe("first", "node-1", ProbeParams(uploaded=True), _report("node-1"))
    with sqlite3.connect(path) as db:
        size = db.execute("PRAGMA page_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0]
    capped = Store.open(path, max_bytes=size + 2 * 4096, keep_per_host=1)
    with pytest.raises(StoreFull):
        capped.save_finished_probe("huge", "node-1", ProbeParams(uploaded=True), _report("node-1", 300_000))
    assert _ids(capped, "node-1") == ["first"] and capped.get_probe("first").report is not None
    assert capped.get_probe("huge") is None
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM probe_reports").fetchone()[0] == 1


# --- a listing reads metadata only ------------------------------------------------------------------------------

def _read_bytes() -> int:
    with open("/proc/self/io") as io:
        return int(next(line for line in io if line.startswith("rchar:")).split()[1])


@pytest.fixture()
def reads(monkeypatch):
    """Every (table, column) the store's SQL reads, through SQLite's authorizer."""
    seen: list[tuple[str, str]] = []
    real_connect = sqlite3.connect

    def connect(*args, **kwargs):
        connection = real_connect(*args, **kwargs)

        def authorize(action, table, column, database, trigger):
            if action == sqlite3.SQLITE_READ:
                seen.append((table, column))
            return sqlite3.SQLITE_OK

        connection.set_authorizer(authorize)
        return connection

    monkeypatch.setattr(storage.sqlite3, "connect", connect)
    return seen


def test_a_listing_reads_no_report(tmp_path, reads):
    store = Store.open(tmp_path / "db.sqlite3")
    for index in range(40):  # 40 reports of ~250 KB: 10 MB of reports
        store.save_finished_probe(f"p{index:02}", f"node-{index % 4}", ProbeParams(uploaded=True),
                                  _report(f"node-{index % 4}", 250_000))
    store.list_probes(limit=500)  # warm: the code paths are loaded
    reads.clear()
    before = _read_bytes() if Path("/proc/self/io").exists() else None
    listed = store.list_probes(limit=500)
    read = _read_bytes() - before if before is not None else None
    assert len(listed) == 40 and all(probe.frameworks == ["pytorch", "mlx", "jax"] for probe in listed)
    assert ("probe_reports", "report") not in reads and not any(table == "probe_reports" for table, _ in reads)
    if read is not None:
        assert read < 1 * MiB, f"listing 40 probes read {read} bytes"
    # One probe: its report, and only its own.
    reads.clear()
    assert store.get_probe("p07").report.host == "node-3"
    assert ("probe_reports", "report") in reads


def test_a_version_3_store_is_migrated_with_its_reports_and_frameworks(tmp_path):
    path = tmp_path / "db.sqlite3"
    with sqlite3.connect(path, isolation_level=None) as db:
        for version in (1, 2, 3):
            db.executescript(storage._MIGRATIONS[version])
        db.execute("PRAGMA user_version = 3")
        report = json.dumps(canned_report_json(True))
        rows = [("good", report), ("damaged", "{not json"), ("odd", '{"frameworks": ["pytorch", 5]}'), ("none", None)]
        for probe_id, text in rows:
            db.execute("INSERT INTO probes (id, created_at, host, status, report) VALUES (?, ?, 'node', 'finished', ?)",
                       (probe_id, f"2026-11-0{len(probe_id)}T00:00:00+00:00", text))
    store = Store.open(path)
    listed = {probe.id: probe.frameworks for probe in store.list_probes()}
    assert listed == {"good": ["pytorch", "mlx", "jax"], "damaged": [], "odd": [], "none": []}
    assert store.get_probe("good").report.host == canned_report_json(True)["host"]
    assert "cannot be read" in store.get_probe("damaged").error
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM probes WHERE report IS NOT NULL").fetchone()[0] == 0
        assert db.execute("PRAGMA user_version").fetchone()[0] == storage.SCHEMA_VERSION


# --- rate limits per token or per network -------------------------------------------------------------------------

@pytest.mark.parametrize("first,same,other", [
    ("192.0.2.7", "192.0.2.200", "192.0.3.7"),
    ("2001:db8:0:1::1", "2001:db8:0:1:ffff:ffff:ffff:fffe", "2001:db8:0:2::1"),
    ("::ffff:198.51.100.1", "198.51.100.77", "198.51.101.1"),
])
def test_the_probe_limit_counts_per_network_not_per_address(tmp_path, first, same, other):
    probe = FakeProbe()
    probe.release.set()
    client = create_app(settings_for(tmp_path, probe_rate_limit=1), run_probe=probe).test_client()

    def start(address):
        return client.post("/v1/probes", json={"quick": True}, environ_overrides={"REMOTE_ADDR": address})

    assert start(first).status_code == 202
    refused = start(same)  # another address of the same /24 or /64: the same budget
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert "/24" in refused.get_json()["detail"] or "/64" in refused.get_json()["detail"]
    assert start(other).status_code == 202


def test_the_upload_limit_counts_per_token_behind_one_address(tmp_path):
    app = create_app(settings_for(tmp_path, upload_rate_limit=2), run_probe=FakeProbe())
    store = app.extensions["framework_advisor.store"]
    tokens = {host: new_token() for host in ("node-a", "node-b")}
    for host, token in tokens.items():
        store.add_token(host, token_digest(token))
    client = app.test_client()

    def upload(host):
        return client.post("/v1/probes", json={**canned_report_json(True), "host": host},
                           headers={"Authorization": f"Bearer {tokens[host]}"})

    assert [upload("node-a").status_code for _ in range(3)] == [201, 201, 429]
    assert [upload("node-b").status_code for _ in range(2)] == [201, 201]  # one NAT address, its own budget
    assert "the token of node-a" in upload("node-a").get_json()["detail"]


# --- /healthz ---------------------------------------------------------------------------------------------------

def test_healthz_reports_the_store(tmp_path):
    client = create_app(settings_for(tmp_path), run_probe=FakeProbe()).test_client()
    health = client.get("/healthz")
    assert health.status_code == 200
    store = health.get_json()["store"]
    assert store["readable"] is True and store["writable"] is True and store["max_bytes"] == 1024 * MiB
    assert 0 < store["size_bytes"] and 1 * MiB <= store["free_bytes"] <= 1024 * MiB


def test_healthz_is_503_when_the_store_cannot_be_written(tmp_path, monkeypatch):
    client = create_app(settings_for(tmp_path), run_probe=FakeProbe()).test_client()
    monkeypatch.setattr(storage.os, "access", lambda path, mode: mode != storage.os.W_OK)  # e.g. a chmod, a mount
    health = client.get("/healthz")
    assert health.status_code == 503 and health.mimetype == "application/problem+json"
    assert "may not write" in health.get_json()["detail"] and health.headers["Retry-After"]


def test_healthz_is_503_when_the_disk_has_no_room_for_a_report(tmp_path, monkeypatch):
    client = create_app(settings_for(tmp_path), run_probe=FakeProbe()).test_client()
    real = storage.os.statvfs

    class Full:
        def __init__(self, result):
            self.f_bavail, self.f_frsize, self.f_flag = 10, result.f_frsize, result.f_flag

    monkeypatch.setattr(storage.os, "statvfs", lambda path: Full(real(path)))
    health = client.get("/healthz")
    assert health.status_code == 503 and "on the disk" in health.get_json()["detail"]


def test_healthz_is_503_when_the_store_file_is_gone_and_does_not_recreate_it(tmp_path):
    settings = settings_for(tmp_path)
    client = create_app(settings, run_probe=FakeProbe()).test_client()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{settings.database_path}{suffix}").unlink(missing_ok=True)
    health = client.get("/healthz")
    assert health.status_code == 503 and "cannot be read" in health.get_json()["detail"]
    assert not settings.database_path.exists()


def test_healthz_writes_nothing(tmp_path, monkeypatch):
    settings = settings_for(tmp_path)
    client = create_app(settings, run_probe=FakeProbe()).test_client()
    client.get("/healthz")

    def files():
        return {path.name: (path.stat().st_size, path.stat().st_mtime_ns) for path in settings.data_dir.iterdir()}

    before = files()
    writes = []
    real_connect = storage.sqlite3.connect

    def connect(*args, **kwargs):
        connection = real_connect(*args, **kwargs)
        connection.set_authorizer(lambda action, *rest: writes.append(action) or sqlite3.SQLITE_OK
                                  if action in (sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE)
                                  else sqlite3.SQLITE_OK)
        return connection

    monkeypatch.setattr(storage.sqlite3, "connect", connect)
    assert all(client.get("/healthz").status_code == 200 for _ in range(50))
    assert writes == [] and files() == before


def test_healthz_reads_the_store_at_most_once_per_interval(tmp_path, monkeypatch):
    from framework_advisor import api

    client = create_app(settings_for(tmp_path), run_probe=FakeProbe()).test_client()
    store = client.application.extensions["framework_advisor.store"]
    reads = []
    real = store._read_state
    monkeypatch.setattr(store, "_read_state", lambda *args: reads.append(1) or real(*args))
    clock = [1000.0]
    monkeypatch.setattr(storage.time, "monotonic", lambda: clock[0])
    assert all(client.get("/healthz").status_code == 200 for _ in range(100))
    assert len(reads) == 1  # a load balancer's 100 probes: one look at the store
    clock[0] += api.HEALTH_CACHE_S
    assert client.get("/healthz").status_code == 200 and len(reads) == 2
