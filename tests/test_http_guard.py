"""What a web page may not make the service do (service/http_guard.py), and the headers every response carries.

A page the user opens can send requests to 127.0.0.1 (a form POST, a fetch in no-cors mode) and can rebind its
own host name to 127.0.0.1 (DNS rebinding). Before this, an empty cross-site POST started a full probe and any
Host header was answered. Each attack below is the request a browser sends for it; tests/test_browser.py runs
them from a page in Chromium. "Nothing started" is counted: the fake probe's calls and the stored probes.
"""

from __future__ import annotations

import json

import pytest

from framework_advisor.app import create_app
from framework_advisor.http_guard import host_allowed, host_name
from tests.service_fixtures import FakeProbe, settings_for, wait_for

TOKEN = "http-guard-test-token-0123456789abcdef"  # serve needs one off loopback (32 characters or more)
GOOD = {"goals": ["learning"], "experience": "beginner",
        "hardware": {"os": "linux", "arch": "x86_64", "cpu": {"model": "x", "cores": 2}}}


@pytest.fixture()
def probe():
    fake = FakeProbe()
    fake.release.set()
    return fake


@pytest.fixture()
def app(tmp_path, probe):
    return create_app(settings_for(tmp_path, probe_rate_limit=1000), run_probe=probe)


@pytest.fixture()
def client(app):
    return app.test_client()


def problem(response, status: int, *needles: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    for needle in needles:
        assert needle in body["detail"], body["detail"]
    return body


def nothing_started(client, probe) -> None:
    assert probe.calls == []
    assert client.get("/v1/probes").get_json()["probes"] == []


# --- Host: DNS rebinding -----------------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["rebind.attacker.example", "rebind.attacker.example:8000", "10.0.0.5:8000",
                                  "localhost.attacker.example", "127.0.0.1.nip.io", "[fe80::1]:8000"])
def test_a_host_that_is_not_loopback_gets_421_for_reads_and_probes(client, probe, host):
    problem(client.get("/v1/hardware", headers={"Host": host}), 421, "does not answer for the host")
    problem(client.get("/", headers={"Host": host}), 421)
    problem(client.post("/v1/probes", json={"quick": True}, headers={"Host": host}), 421)
    nothing_started(client, probe)


@pytest.mark.parametrize("host", ["localhost", "localhost:8000", "LOCALHOST:8000", "localhost.", "127.0.0.1:8000",
                                  "127.1.2.3", "[::1]:8000", "[::1]"])
def test_loopback_names_are_answered(client, host):
    assert client.get("/healthz", headers={"Host": host}).status_code == 200


def test_configured_hosts_are_answered_and_only_those(tmp_path, probe):
    settings = settings_for(tmp_path, allowed_hosts=("advisor.lan", "10.0.0.5"))
    client = create_app(settings, run_probe=probe).test_client()
    assert client.get("/healthz", headers={"Host": "advisor.lan:8000"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "ADVISOR.LAN"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "10.0.0.5:8000"}).status_code == 200
    problem(client.get("/healthz", headers={"Host": "other.lan"}), 421)
    anything = create_app(settings_for(tmp_path / "any", allowed_hosts=("*",)), run_probe=probe).test_client()
    assert anything.get("/healthz", headers={"Host": "whatever.example"}).status_code == 200


def test_host_names_are_compared_without_port_or_case():
    assert host_name("Example.COM:8000") == "example.com" and host_name("[::1]:80") == "::1"
    assert host_allowed("[::1]:8000", ()) and not host_allowed("::ffff:10.0.0.1", ())
    assert not host_allowed("evil.example", ("good.example",))


# --- cross-site state changes ----------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},  # another port of localhost is the same site to a browser
    {"Origin": "http://attacker.example"},
    {"Origin": "http://localhost:9999"},
    {"Origin": "null"},  # a sandboxed frame, a file: page
    {"Sec-Fetch-Site": "same-origin", "Origin": "http://attacker.example"},
], ids=["cross-site", "same-site", "origin", "other-port", "null-origin", "lying-fetch-site"])
def test_a_cross_site_post_is_403_and_starts_nothing(client, probe, headers):
    problem(client.post("/v1/probes", json={"quick": True}, headers=headers), 403, "refused")
    problem(client.post("/v1/probes", headers=headers), 403)  # the empty POST that used to start a full probe
    problem(client.post("/v1/recommendations", json=GOOD, headers=headers), 403)
    nothing_started(client, probe)


def test_the_services_own_pages_and_clients_without_browser_headers_may_post(client, probe):
    own = {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}  # the test client's Host is localhost
    assert client.post("/v1/recommendations", json=GOOD, headers=own).status_code == 200
    assert client.post("/v1/recommendations", json=GOOD, headers={"Sec-Fetch-Site": "none"}).status_code == 200
    assert client.post("/v1/recommendations", json=GOOD).status_code == 200  # curl, the CLI's upload
    assert client.post("/v1/probes", json={"quick": True}, headers=own).status_code == 202


def test_cross_site_reads_are_left_to_the_browser(client):
    # A GET changes nothing; the browser keeps its answer from the other origin (no CORS headers are sent).
    response = client.get("/v1/vocabulary", headers={"Sec-Fetch-Site": "cross-site", "Origin": "http://x.example"})
    assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response.headers


# --- JSON only ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_every_post_needs_json_even_an_empty_one(client, probe, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    for path in ("/v1/probes", "/v1/recommendations"):
        problem(client.post(path, headers=headers), 415, "application/json")
        problem(client.post(path, data=json.dumps({"quick": True}), headers=headers), 415)
    nothing_started(client, probe)


def test_an_empty_json_post_still_means_the_defaults(client, probe):
    response = client.post("/v1/probes", headers={"Content-Type": "application/json"})
    assert response.status_code == 202 and response.get_json()["params"]["quick"] is False
    wait_for(client, response.headers["Location"], "finished")
    assert probe.calls == [{"quick": False, "frameworks": None}]


def test_a_post_to_a_route_that_does_not_exist_is_404_not_415(client):
    problem(client.post("/v1/nothing-here"), 404)
    problem(client.post("/healthz"), 405)


# --- headers on every response -----------------------------------------------------------------------------

def _every_kind_of_response(client):
    yield "json", client.get("/v1/vocabulary")
    yield "recommendation", client.post("/v1/recommendations", json=GOOD)
    yield "markdown", client.post("/v1/recommendations", json=GOOD, headers={"Accept": "text/markdown"})
    yield "yaml", client.get("/openapi.yaml")
    yield "problem 404", client.get("/v1/nothing-here")
    yield "problem 405", client.delete("/healthz")
    yield "problem 415", client.post("/v1/probes", data="x", content_type="text/plain")
    yield "problem 421", client.get("/healthz", headers={"Host": "evil.example"})
    yield "problem 422", client.post("/v1/recommendations", json={"goals": ["gardening"]})
    yield "page", client.get("/")
    yield "static", client.get("/static/app.js")


def test_every_response_carries_the_security_headers(client):
    for kind, response in _every_kind_of_response(client):
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", kind
        assert headers["Referrer-Policy"] == "no-referrer", kind
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin", kind
        assert headers["Cross-Origin-Resource-Policy"] == "same-origin", kind
        if kind in ("page", "static"):
            assert "no-store" not in headers.get("Cache-Control", ""), kind  # the form may be cached (revalidated)
        else:
            assert headers["Cache-Control"] == "no-store", kind
        if response.mimetype == "text/html":
            assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        response.close()


def test_serve_allows_the_name_it_binds_and_runs_the_guarded_worker(tmp_path, monkeypatch):
    from framework_advisor import server
    from framework_advisor.guarded_worker import GuardedThreadWorker

    started = {}

    class NoGunicorn:
        def __init__(self, application, options):
            started.update(options, app=application)

        def run(self):
            pass

    monkeypatch.setattr(server, "_Gunicorn", NoGunicorn)
    settings = settings_for(tmp_path, api_token=TOKEN, read_timeout_s=7.0, max_peer_connections=9)
    assert server.serve(settings, host="advisor.lan", port=8123, workers=1, threads=4) == 0
    worker = started["worker_class"]
    assert issubclass(worker, GuardedThreadWorker)
    assert (worker.read_timeout_s, worker.max_peer_connections, worker.max_peer_busy) == (7.0, 9, 3)
    client = started["app"].test_client()
    assert client.get("/healthz", headers={"Host": "advisor.lan:8123"}).status_code == 200
    problem(client.get("/healthz", headers={"Host": "other.lan:8123"}), 421)
    started.clear()
    assert server.serve(settings_for(tmp_path / "b", api_token=TOKEN), host="0.0.0.0", port=8124,
                        workers=1, threads=1) == 0
    assert started["worker_class"].max_peer_busy == 1  # one thread: a client may take it
    problem(started["app"].test_client().get("/healthz", headers={"Host": "0.0.0.0:8124"}), 421)


def test_the_allowed_hosts_variable_and_flag(tmp_path, monkeypatch):
    from framework_advisor.config import Settings

    monkeypatch.setenv("FRAMEWORK_ADVISOR_ALLOWED_HOSTS", "a.lan, b.lan c.lan")
    assert Settings.from_env(data_dir=tmp_path).allowed_hosts == ("a.lan", "b.lan", "c.lan")
    assert Settings.from_env(data_dir=tmp_path, allowed_hosts=("d.lan",)).allowed_hosts == ("d.lan",)
    from framework_advisor.cli import build_parser

    args = build_parser().parse_args(["serve", "--allowed-host", "x.lan", "--allowed-host", "y.lan"])
    assert args.allowed_hosts == ["x.lan", "y.lan"]
