"""Probe jobs over HTTP: 202 + Location, polling, joining, queue limits, listing, and the measured
facts entering "this machine" recommendations. The probe itself is a fast stand-in here; the real
one is exercised by tests/test_probe_e2e.py."""

from __future__ import annotations

import json

import pytest

from framework_advisor.app import create_app
from tests.openapi_schemas import validate
from framework_advisor.probes.report import ProbeParams, ProbeReport
from tests.service_fixtures import HOST, SERVICE_TOKEN, FakeProbe, canned_report_json, settings_for, wait_for

@pytest.fixture()
def fake_probe():
    return FakeProbe()


@pytest.fixture()
def probe_client(tmp_path, fake_probe):
    return create_app(settings_for(tmp_path), run_probe=fake_probe).test_client()


def test_start_poll_and_finish(probe_client, fake_probe):
    response = probe_client.post("/v1/probes", json={"quick": True})
    assert response.status_code == 202
    location = response.headers["Location"]
    assert location == f"/v1/probes/{response.get_json()['id']}"
    running = wait_for(probe_client, location, "running", phase="measuring")
    assert running["progress"]["benchmark"] == "matmul_fp32" and running.get("report") is None
    fake_probe.release.set()
    finished = wait_for(probe_client, location, "finished")
    validate("ProbeJob", finished)
    assert finished["report"]["derived"]["mlx"]["slowdown"] == 80.6
    assert fake_probe.calls == [{"quick": True, "frameworks": None}]


def test_an_identical_request_joins_the_running_probe(probe_client, fake_probe):
    first = probe_client.post("/v1/probes", json={"quick": True}).get_json()["id"]
    second = probe_client.post("/v1/probes", json={"quick": True}).get_json()["id"]
    assert first == second
    fake_probe.release.set()
    wait_for(probe_client, f"/v1/probes/{first}", "finished")
    assert len(fake_probe.calls) == 1


def test_a_different_request_queues_behind_and_the_queue_is_bounded(probe_client, fake_probe):
    running = probe_client.post("/v1/probes", json={}).get_json()["id"]
    wait_for(probe_client, f"/v1/probes/{running}", "running")
    queued = [probe_client.post("/v1/probes", json={"frameworks": [name]})
              for name in ("numpy", "pytorch", "jax", "mlx")]
    assert all(r.status_code == 202 and r.get_json()["status"] == "queued" for r in queued)
    refused = probe_client.post("/v1/probes", json={"frameworks": ["tensorflow"]})
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert refused.headers["Retry-After"]
    fake_probe.release.set()
    for response in queued:
        wait_for(probe_client, response.headers["Location"], "finished")
    assert [call["frameworks"] for call in fake_probe.calls] == [None, ["numpy"], ["pytorch"], ["jax"], ["mlx"]]


def test_list_and_filter_by_host(probe_client, fake_probe):
    fake_probe.release.set()
    probe_id = probe_client.post("/v1/probes", content_type="application/json").get_json()["id"]
    wait_for(probe_client, f"/v1/probes/{probe_id}", "finished")
    listed = probe_client.get(f"/v1/probes?host={HOST}").get_json()["probes"]
    assert [p["id"] for p in listed] == [probe_id] and "report" not in listed[0]
    assert probe_client.get("/v1/probes?host=elsewhere").get_json()["probes"] == []
    validate("ProbeList", probe_client.get("/v1/probes").get_json())


def test_this_machine_recommendation_uses_the_latest_probe(probe_client, fake_probe):
    fake_probe.release.set()
    probe_id = probe_client.post("/v1/probes", content_type="application/json").get_json()["id"]
    wait_for(probe_client, f"/v1/probes/{probe_id}", "finished")
    answer = probe_client.post("/v1/recommendations", json={"goals": ["research"], "experience": "expert"}).get_json()
    assert answer["probe_id"] == probe_id
    mlx = next(item for item in answer["ranking"] if item["framework"] == "mlx")
    messages = " ".join(reason["message"] for reason in mlx["reasons"])
    assert "81x slower than PyTorch" in messages
    jax = next(item for item in answer["ranking"] if item["framework"] == "jax")
    assert any("probe of JAX failed" in reason["message"] and "crash" in reason["message"]
               for reason in jax["reasons"])
    by_id = probe_client.post("/v1/recommendations", json={"goals": ["research"], "experience": "expert",
                                                           "probe_id": probe_id}).get_json()
    assert by_id["hardware_source"] == "probe" and by_id["probe_id"] == probe_id


@pytest.mark.parametrize("body,status,needle", [
    ({"quick": "yes"}, 422, "/quick"),
    ({"frameworks": ["caffe"]}, 422, "/frameworks/0"),
    ({"threads": 0}, 422, "/threads"),
    ({"quick": True, "samples": 3}, 422, "/samples"),
])
def test_bad_probe_requests(probe_client, body, status, needle):
    response = probe_client.post("/v1/probes", json=body)
    assert response.status_code == status and needle in json.dumps(response.get_json())


def test_unknown_probe_and_bad_limit(probe_client):
    assert probe_client.get("/v1/probes/nope").status_code == 404
    assert probe_client.get("/v1/probes/..%2F..").status_code == 404
    assert probe_client.get("/v1/probes?limit=0").status_code == 400
    assert probe_client.get("/v1/probes?limit=abc").status_code == 400


def _dead_pid() -> int:
    """A pid that belonged to a process which has exited."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _store_with_orphan(tmp_path):
    from framework_advisor.storage import Store

    store = Store.open(tmp_path / "data" / "framework-advisor.sqlite3")
    store.enqueue_probe("stale", HOST, ProbeParams(), max_queued=4)
    store.claim_next_probe(owner_pid=_dead_pid())
    return store


def test_a_probe_left_running_by_a_restart_is_marked_interrupted(tmp_path, fake_probe):
    _store_with_orphan(tmp_path)
    client = create_app(settings_for(tmp_path), run_probe=fake_probe).test_client()
    body = client.get("/v1/probes/stale").get_json()
    assert body["status"] == "interrupted" and "stopped" in body["error"]


def test_an_orphan_is_found_even_while_another_process_holds_the_machine_lock(tmp_path, fake_probe):
    from framework_advisor.probe_jobs import machine_probe_lock

    _store_with_orphan(tmp_path)
    settings = settings_for(tmp_path)
    with machine_probe_lock(path=settings.probe_lock_path):  # e.g. the CLI probing right now
        client = create_app(settings, run_probe=fake_probe).test_client()
        body = client.get("/v1/probes/stale").get_json()
    assert body["status"] == "interrupted"


def test_a_probe_whose_owner_still_lives_is_left_running_while_the_lock_is_held(tmp_path, fake_probe):
    import os

    from framework_advisor.probe_jobs import machine_probe_lock
    from framework_advisor.storage import Store

    store = Store.open(tmp_path / "data" / "framework-advisor.sqlite3")
    store.enqueue_probe("live", HOST, ProbeParams(), max_queued=4)
    store.claim_next_probe(owner_pid=os.getppid())  # a process that certainly exists
    settings = settings_for(tmp_path)
    with machine_probe_lock(path=settings.probe_lock_path):
        client = create_app(settings, run_probe=fake_probe).test_client()
        assert client.get("/v1/probes/live").get_json()["status"] == "running"


# --- uploaded reports (fleet collection) and the bearer token -------------------------------------------

def test_an_uploaded_report_is_stored_under_its_own_host_and_found_by_host(probe_client):
    report = {**canned_report_json(quick=True), "host": "gpu-node-17"}
    response = probe_client.post("/v1/probes", json=report)
    assert response.status_code == 201, response.get_json()
    stored = probe_client.get(response.headers["Location"]).get_json()
    assert stored["status"] == "finished" and stored["host"] == "gpu-node-17"
    assert stored["params"]["uploaded"] is True
    assert ProbeReport.model_validate(stored["report"]) == ProbeReport.model_validate(report)  # nothing lost
    listed = probe_client.get("/v1/probes?host=gpu-node-17").get_json()["probes"]
    assert [probe["id"] for probe in listed] == [stored["id"]]
    assert probe_client.get(f"/v1/probes?host={HOST}").get_json()["probes"] == []


def test_an_invalid_uploaded_report_names_the_field(probe_client):
    report = canned_report_json(quick=True)
    report["hardware"]["os"] = "plan9"
    response = probe_client.post("/v1/probes", json=report)
    assert response.status_code == 422
    assert any(error["pointer"] == "/hardware/os" for error in response.get_json()["errors"])


def test_with_a_token_configured_probes_and_uploads_need_it(tmp_path, fake_probe):
    settings = settings_for(tmp_path, api_token=SERVICE_TOKEN)
    client = create_app(settings, run_probe=fake_probe).test_client()
    report = canned_report_json(quick=True)
    missing = client.post("/v1/probes", json=report)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert missing.content_type == "application/problem+json"
    wrong = client.post("/v1/probes", json=report, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "not one this service knows" in wrong.get_json()["detail"]
    right = client.post("/v1/probes", json=report, headers={"Authorization": f"Bearer {SERVICE_TOKEN}"})
    assert right.status_code == 201
    assert client.get("/v1/probes").status_code == 200  # reading stays open


def test_an_upload_naming_this_host_does_not_steer_this_machines_recommendations(probe_client):
    forged = probe_client.post("/v1/probes", json=canned_report_json(quick=True))  # host == this machine
    assert forged.status_code == 201
    answer = probe_client.post("/v1/recommendations", json={"goals": ["research"], "experience": "expert"})
    assert answer.get_json()["probe_id"] is None  # only probes this machine ran itself count


@pytest.mark.parametrize("mangled", [{"frameworks": 5}, {"derived": [1]}, {"frameworks": [{"unused_accelerators": None}]},
                                     {"frameworks": ["pytorch"]}])
def test_a_mangled_old_report_is_a_422_naming_the_field(probe_client, mangled):
    report = {**canned_report_json(quick=True), "schema_version": 1, **mangled}
    response = probe_client.post("/v1/probes", json=report)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert response.get_json()["errors"][0]["pointer"].split("/")[1] in mangled
