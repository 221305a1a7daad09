"""Fault injection: a process killed while it runs a probe, a restart during a probe, a full store,
a corrupted store file, and many writers at once. Real processes and real SQLite throughout; the full
disk is SQLite's own SQLITE_FULL from a page cap (PRAGMA max_page_count, the store's max_bytes), since
mounting a tiny filesystem needs privileges CI does not have."""

from __future__ import annotations

import multiprocessing
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from framework_advisor.app import create_app
from framework_advisor.probe_jobs import ProbeJobs, machine_probe_lock
from framework_advisor.storage import Store, StoreError, StoreFull
from framework_advisor.probes.report import ProbeParams, ProbeReport
from tests.service_fixtures import (HOST, FakeProbe, bloated_report_json, canned_report, canned_report_json,
                                    instant_probe, settings_for, wait_for)

REPO_ROOT = Path(__file__).resolve().parent.parent

# A process that takes the oldest queued probe and runs it until it is killed (a gunicorn worker mid-probe).
_PROBING_PROCESS = r"""
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from framework_advisor.probe_jobs import ProbeJobs
from framework_advisor.storage import Store

def stuck_probe(options, progress=None):
    progress({"phase": "measuring", "benchmark": "matmul_fp32", "index": 0, "total": 1})
    time.sleep(600)

ProbeJobs(Store.open(Path(sys.argv[1])), stuck_probe, lock_path=Path(sys.argv[2])).run_pending()
"""

# The service itself (the app, its job thread) taking a probe over HTTP, then being restarted.
_SERVICE_PROCESS = r"""
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from framework_advisor.app import create_app
from framework_advisor.config import Settings

def stuck_probe(options, progress=None):
    progress({"phase": "measuring", "benchmark": "matmul_fp32", "index": 0, "total": 1})
    time.sleep(600)

data = Path(sys.argv[1])
client = create_app(Settings(data_dir=data, probe_lock_path=Path(sys.argv[2])), run_probe=stuck_probe).test_client()
print(client.post("/v1/probes", json={"quick": True}).get_json()["id"], flush=True)
time.sleep(600)
"""


def _wait_until(condition, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _kill(process: subprocess.Popen, sig: int) -> None:
    process.send_signal(sig)
    process.wait(timeout=30)


# --- a probe's process killed mid-run -------------------------------------------------------------------------

def test_a_probe_process_killed_mid_run_is_marked_interrupted_and_the_queue_goes_on(tmp_path):
    settings = settings_for(tmp_path)
    store = Store.open(settings.database_path)
    store.enqueue_probe("victim", HOST, ProbeParams(quick=True), max_queued=4)
    store.enqueue_probe("next", HOST, ProbeParams(), max_queued=4)
    child = subprocess.Popen([sys.executable, "-c", _PROBING_PROCESS, str(settings.database_path),
                              str(settings.probe_lock_path), str(REPO_ROOT)])
    try:
        _wait_until(lambda: store.get_probe("victim").progress.phase == "measuring", "the probe to run")
        with machine_probe_lock(blocking=False, path=settings.probe_lock_path) as free:
            assert not free  # the child holds the machine lock while it probes
    finally:
        _kill(child, signal.SIGKILL)  # no clean-up runs: as the OOM killer or a crash would end it
    assert store.get_probe("victim").status == "running"  # what the killed process left behind
    # Any surviving worker's job thread: takes the freed lock, reports the orphan, runs the queue.
    assert ProbeJobs(store, instant_probe, lock_path=settings.probe_lock_path).run_pending() == 1
    victim, following = store.get_probe("victim"), store.get_probe("next")
    assert victim.status == "interrupted" and "stopped" in victim.error and victim.finished_at
    assert following.status == "finished" and following.report.host == HOST


def test_a_restart_during_a_probe_marks_it_interrupted_at_start_up(tmp_path):
    # tests/test_probe_api.py fakes the orphan row; here a real service process is stopped mid-probe.
    settings = settings_for(tmp_path)
    child = subprocess.Popen([sys.executable, "-c", _SERVICE_PROCESS, str(settings.data_dir),
                              str(settings.probe_lock_path), str(REPO_ROOT)], stdout=subprocess.PIPE, text=True)
    try:
        probe_id = child.stdout.readline().strip()
        store = Store.open(settings.database_path)
        _wait_until(lambda: store.get_probe(probe_id).status == "running", "the probe to run")
    finally:
        _kill(child, signal.SIGTERM)  # what a restart sends
        child.stdout.close()
    client = create_app(settings, run_probe=FakeProbe()).test_client()  # the service comes back
    body = client.get(f"/v1/probes/{probe_id}").get_json()
    assert body["status"] == "interrupted" and "stopped while this probe ran" in body["error"]


# --- a full store -----------------------------------------------------------------------------------------------

def _size(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA page_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0]


def _integrity(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def test_a_full_store_answers_507_naming_it_and_keeps_its_data(tmp_path):
    settings = settings_for(tmp_path)
    client = create_app(settings, run_probe=FakeProbe()).test_client()
    first = client.post("/v1/probes", json={**canned_report_json(True), "host": "node-1"})
    assert first.status_code == 201
    before = client.get("/v1/probes").get_json()["probes"]

    capped = settings_for(tmp_path, max_store_bytes=_size(settings.database_path) + 4 * 4096)
    full_client = create_app(capped, run_probe=FakeProbe()).test_client()
    big = bloated_report_json(True, 200_000, host="node-2")
    refused = full_client.post("/v1/probes", json=big)
    assert refused.status_code == 507 and refused.mimetype == "application/problem+json"
    detail = refused.get_json()["detail"]
    assert str(settings.database_path) in detail and "full" in detail and "nothing was written" in detail

    assert _integrity(settings.database_path) == "ok"
    assert full_client.get("/v1/probes").get_json()["probes"] == before  # no half-written row
    assert full_client.get(first.headers["Location"]).get_json()["report"]["host"] == "node-1"
    assert full_client.get("/v1/probes").status_code == 200  # reading still works
    health = full_client.get("/healthz")  # but no room for another report: the health check says so
    assert health.status_code == 503 and "size cap" in health.get_json()["detail"]
    # Once there is room again, the same upload goes through.
    assert client.post("/v1/probes", json=big).status_code == 201


def test_a_probe_whose_report_does_not_fit_fails_with_the_reason_not_left_running(tmp_path):
    settings = settings_for(tmp_path)
    Store.open(settings.database_path)

    def huge_probe(options, progress=None):
        return ProbeReport.model_validate(bloated_report_json(options.quick, 200_000))

    capped = settings_for(tmp_path, max_store_bytes=_size(settings.database_path) + 4 * 4096)
    client = create_app(capped, run_probe=huge_probe).test_client()
    probe_id = client.post("/v1/probes", json={"quick": True}).get_json()["id"]
    failed = wait_for(client, f"/v1/probes/{probe_id}", "failed")
    assert "could not be stored" in failed["error"] and "full" in failed["error"] and failed.get("report") is None
    assert _integrity(settings.database_path) == "ok"


def test_store_full_is_a_store_error_with_the_path(tmp_path):
    path = tmp_path / "db.sqlite3"
    Store.open(path)
    store = Store.open(path, max_bytes=_size(path))
    with pytest.raises(StoreFull) as caught:
        store.save_finished_probe("p", HOST, ProbeParams(), ProbeReport.model_validate(bloated_report_json(True, 50_000)))
    assert str(path) in str(caught.value)
    assert Store.open(path).get_probe("p") is None


# --- a corrupted store file ----------------------------------------------------------------------------------------

def _store_with_rows(path: Path, rows: int = 60) -> None:
    store = Store.open(path)
    for index in range(rows):
        store.save_finished_probe(f"p{index}", HOST, ProbeParams(), ProbeReport.model_validate(bloated_report_json(True, 1500)))


def _corrupt_a_page_in_the_middle(path: Path) -> bytes:
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) >= 6 * page, "the store should span several pages"
    data[3 * page + 8:4 * page] = b"\xa5" * (page - 8)  # a b-tree page's cells overwritten
    path.write_bytes(bytes(data))
    return bytes(data)


def test_a_corrupted_page_stops_create_app_with_the_file_named(tmp_path):
    settings = settings_for(tmp_path)
    _store_with_rows(settings.database_path)
    assert not Path(f"{settings.database_path}-wal").exists()  # checkpointed: the corruption is in the file
    corrupted = _corrupt_a_page_in_the_middle(settings.database_path)
    with pytest.raises(StoreError) as caught:
        create_app(settings, run_probe=FakeProbe())
    message = str(caught.value)
    assert str(settings.database_path) in message and "move it aside" in message
    assert settings.database_path.read_bytes() == corrupted  # refused, never "repaired" or replaced


@pytest.mark.parametrize("damage", ["page", "header"])
def test_serve_on_a_corrupted_store_prints_one_line_and_exits_non_zero(tmp_path, damage):
    settings = settings_for(tmp_path)
    _store_with_rows(settings.database_path)
    if damage == "page":
        _corrupt_a_page_in_the_middle(settings.database_path)
    else:
        with open(settings.database_path, "r+b") as handle:
            handle.write(b"definitely not SQLite")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT), "HOME": str(tmp_path)}
    completed = subprocess.run([sys.executable, "-m", "framework_advisor", "serve", "--port", "9",
                                "--data-dir", str(settings.data_dir)], cwd=REPO_ROOT, env=env,
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("framework-advisor: error: cannot start:") and str(settings.database_path) in lines[0]


# --- many writers at once --------------------------------------------------------------------------------------------

def _write_many(path: str, worker: int, count: int) -> int:
    store = Store(Path(path))
    for index in range(count):
        store.save_finished_probe(f"w{worker}-{index}", f"host-{worker}", ProbeParams(), canned_report(True))
        # Distinct parameters, so no request joins another.
        store.enqueue_probe(f"q{worker}-{index}", HOST, ProbeParams(threads=worker * 100 + index + 1),
                            max_queued=10_000)
    return count


def test_processes_writing_at_once_lose_nothing_and_never_see_locked(tmp_path):
    path = tmp_path / "db.sqlite3"
    Store.open(path)
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        written = pool.starmap(_write_many, [(str(path), worker, 25) for worker in range(4)])  # raises on any error
    assert written == [25] * 4
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM probes WHERE status = 'finished'").fetchone()[0] == 100
        assert db.execute("SELECT COUNT(*) FROM probes WHERE status = 'queued'").fetchone()[0] == 100
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_threads_uploading_through_one_app_all_succeed(tmp_path):
    app = create_app(settings_for(tmp_path, probe_rate_limit=0), run_probe=FakeProbe())
    statuses: list[int] = []
    lock = threading.Lock()

    def upload(worker: int) -> None:
        client = app.test_client()
        for index in range(10):
            status = client.post("/v1/probes", json={**canned_report_json(True), "host": f"n{worker}-{index}"}).status_code
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=upload, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [201] * 80
    assert len(app.test_client().get("/v1/probes?limit=500").get_json()["probes"]) == 80
