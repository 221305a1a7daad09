"""Abuse limits: the probe endpoint's rate limit (shared by every worker), one probe at a time per
machine, body caps on every POST (chunked too), loopback-only serving without a token, and nothing a
request sends being executed, rendered as template code or used as a path."""

from __future__ import annotations

import io
import multiprocessing
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import quote

import pytest

from framework_advisor.app import create_app
from framework_advisor.rate_limit import RateLimit
from framework_advisor.storage import Store
from tests.service_fixtures import SERVICE_TOKEN, FakeProbe, canned_report_json, settings_for, wait_for

REPO_ROOT = Path(__file__).resolve().parent.parent


class FakeClock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def app_with_clock(tmp_path, probe, limit=3, window=60.0):
    app = create_app(settings_for(tmp_path, probe_rate_limit=limit, probe_rate_window_s=window), run_probe=probe)
    clock = FakeClock()
    app.extensions["framework_advisor.probe_rate_limit"] = RateLimit("probes", limit, window, clock=clock)
    return app, clock


# --- rate limit ----------------------------------------------------------------------------------------

def test_probe_requests_over_the_limit_get_429_with_retry_after(tmp_path):
    probe = FakeProbe()
    probe.release.set()
    app, clock = app_with_clock(tmp_path, probe, limit=3, window=60)
    client = app.test_client()
    for _ in range(3):
        assert client.post("/v1/probes", json={"quick": True}).status_code == 202
    clock.now += 20
    refused = client.post("/v1/probes", json={"quick": True})
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert refused.headers["Retry-After"] == "40"  # what is left of the client's 60 s window
    assert "at most 3 per 60 s" in refused.get_json()["detail"]
    clock.now += 40  # the window has passed
    assert client.post("/v1/probes", json={"quick": True}).status_code == 202


def test_the_limit_is_per_client(tmp_path):
    probe = FakeProbe()
    probe.release.set()
    app, _ = app_with_clock(tmp_path, probe, limit=1)
    client = app.test_client()
    assert client.post("/v1/probes", json={}).status_code == 202
    assert client.post("/v1/probes", json={}).status_code == 429
    other = client.post("/v1/probes", json={}, environ_overrides={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 202


def test_bad_tokens_count_against_the_probe_limit(tmp_path):
    app = create_app(settings_for(tmp_path, probe_rate_limit=2, api_token=SERVICE_TOKEN), run_probe=FakeProbe())
    client = app.test_client()
    for _ in range(2):
        assert client.post("/v1/probes", json={}, headers={"Authorization": "Bearer guess"}).status_code == 401
    assert client.post("/v1/probes", json={}, headers={"Authorization": "Bearer guess"}).status_code == 429


def test_uploads_have_their_own_limit_and_leave_probe_starts_alone(tmp_path):
    probe = FakeProbe()
    probe.release.set()
    app = create_app(settings_for(tmp_path, probe_rate_limit=1, upload_rate_limit=3), run_probe=probe)
    client = app.test_client()
    for node in range(3):  # a fleet behind one address
        assert client.post("/v1/probes", json={**canned_report_json(True), "host": f"node-{node}"}).status_code == 201
    refused = client.post("/v1/probes", json={**canned_report_json(True), "host": "node-3"})
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert client.post("/v1/probes", json={"quick": True}).status_code == 202  # the probe limit is untouched
    assert client.post("/v1/probes", json={"quick": True}).status_code == 429


def test_two_workers_share_one_count(tmp_path):
    # Two apps on one data directory are two gunicorn workers: the count lives in the store, not in memory.
    probe = FakeProbe()
    probe.release.set()
    first, clock = app_with_clock(tmp_path, probe, limit=2)
    second = create_app(settings_for(tmp_path), run_probe=probe)
    second.extensions["framework_advisor.probe_rate_limit"] = RateLimit("probes", 2, 60, clock=clock)
    assert first.test_client().post("/v1/probes", json={}).status_code == 202
    assert second.test_client().post("/v1/probes", json={}).status_code == 202
    assert first.test_client().post("/v1/probes", json={}).status_code == 429
    assert second.test_client().post("/v1/probes", json={}).status_code == 429


def _hit_many(path: str, count: int) -> int:
    store = Store(Path(path))
    return sum(store.hit_rate_limit("probes:198.51.100.1", 25, 60.0, 1_000_000.0) is None for _ in range(count))


def test_processes_hitting_at_once_never_exceed_the_limit(tmp_path):
    path = tmp_path / "store.sqlite3"
    Store.open(path)
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        allowed = pool.starmap(_hit_many, [(str(path), 20)] * 4)
    assert sum(allowed) == 25  # 80 requests at once, from 4 processes: exactly the limit got through


# --- one probe per machine, bounded queue ----------------------------------------------------------------

def test_two_workers_never_run_two_probes_at_once(tmp_path):
    probe = FakeProbe()
    settings = settings_for(tmp_path)
    worker_a = create_app(settings, run_probe=probe).test_client()
    worker_b = create_app(settings, run_probe=probe).test_client()
    first = worker_a.post("/v1/probes", json={"frameworks": ["numpy"]}).get_json()["id"]
    wait_for(worker_a, f"/v1/probes/{first}", "running")
    second = worker_b.post("/v1/probes", json={"frameworks": ["jax"]}).get_json()["id"]
    worker_b.get(f"/v1/probes/{second}")  # B's job thread is up; it cannot take the machine lock
    statuses = {p["id"]: p["status"] for p in worker_b.get("/v1/probes").get_json()["probes"]}
    assert statuses == {first: "running", second: "queued"}
    probe.release.set()
    wait_for(worker_b, f"/v1/probes/{second}", "finished")
    assert [call["frameworks"] for call in probe.calls] == [["numpy"], ["jax"]]


# --- body caps: every POST route, with and without Content-Length -----------------------------------------

def _post_routes(app) -> list[str]:
    return sorted(rule.rule for rule in app.url_map.iter_rules() if "POST" in rule.methods)


def test_every_post_route_refuses_an_oversized_body_even_chunked(tmp_path):
    app = create_app(settings_for(tmp_path), run_probe=FakeProbe())
    client = app.test_client()
    routes = _post_routes(app)
    assert "/v1/recommendations" in routes and "/v1/probes" in routes
    big = b'{"goals": ["learning"], "experience": "beginner", "pad": "' + b"x" * (2 * 2**20) + b'"}'
    for route in routes:
        with_length = client.post(route, data=big, content_type="application/json")
        chunked = client.post(route, input_stream=io.BytesIO(big), content_type="application/json",
                              headers={"Transfer-Encoding": "chunked"},
                              environ_overrides={"wsgi.input_terminated": True})
        for response in (with_length, chunked):
            assert response.status_code == 413, (route, response.status_code, response.get_data()[:200])
            assert response.mimetype == "application/problem+json"


def test_a_chunked_probe_request_over_64_kib_is_413_not_parsed(tmp_path):
    # Reports may be 1 MiB, probe requests 64 KiB: a chunked body between the two is still refused.
    client = create_app(settings_for(tmp_path), run_probe=FakeProbe()).test_client()
    body = b'{"quick": true, "pad": "' + b"x" * 100_000 + b'"}'
    response = client.post("/v1/probes", input_stream=io.BytesIO(body), content_type="application/json",
                           headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413 and "at most 65536 bytes" in response.get_json()["detail"]


# --- binding -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("host,loopback", [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True),
                                           ("::1", True), ("[::1]", True), ("0.0.0.0", False), ("::", False),
                                           ("192.168.1.5", False), ("example.org", False)])
def test_is_loopback(host, loopback):
    from framework_advisor.server import is_loopback

    assert is_loopback(host) is loopback


def test_serve_defaults_to_loopback():
    from framework_advisor.cli import build_parser

    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"


def test_serve_on_a_public_address_without_a_token_refuses_in_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT), "HOME": str(tmp_path)}
    completed = subprocess.run([sys.executable, "-m", "framework_advisor", "serve", "--host", "0.0.0.0", "--port", "8",
                                "--data-dir", str(tmp_path / "data")], cwd=REPO_ROOT, env=env,
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to serve on 0.0.0.0" in lines[0] and "FRAMEWORK_ADVISOR_TOKEN" in lines[0]
    assert not (tmp_path / "data").exists()  # refused before touching anything


def test_serve_on_a_public_address_with_a_token_starts(tmp_path, monkeypatch):
    from framework_advisor import server

    started = {}

    class NoGunicorn:
        def __init__(self, application, options):
            started.update(options)

        def run(self):
            pass

    monkeypatch.setattr(server, "_Gunicorn", NoGunicorn)
    settings = settings_for(tmp_path, api_token=SERVICE_TOKEN)
    assert server.serve(settings, host="0.0.0.0", port=8123, workers=1, threads=1) == 0
    assert started["bind"] == "0.0.0.0:8123"


# --- nothing a request sends is executed, rendered as a template or used as a path ---------------------------

PAYLOADS = ["../../../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "/etc/passwd", "{{7*7}}", "${7*7}", "{0.__class__}",
            "{probed}", "%(x)s", "__import__('os').system('id')", "$(id)", "`id`", "<script>alert(1)</script>"]
_AUDIT = {"active": False, "events": []}
_WATCHED = ("open", "os.system", "subprocess.Popen", "os.posix_spawn", "os.exec", "exec", "compile", "os.listdir",
            "os.scandir", "shutil.rmtree", "os.remove", "os.rename")


def _audit_hook(event: str, args: tuple) -> None:
    if _AUDIT["active"] and event in _WATCHED:
        _AUDIT["events"].append((event, repr(args)[:2000]))


_HOOK_INSTALLED = threading.Lock()


@pytest.fixture()
def audited():
    """Records file opens, process starts and code compilation while the test's requests run.
    (An audit hook cannot be removed; it records only while active.)"""
    if not getattr(sys, "_framework_advisor_hook", False):
        with _HOOK_INSTALLED:
            sys.addaudithook(_audit_hook)
            sys._framework_advisor_hook = True
    _AUDIT["events"].clear()
    _AUDIT["active"] = True
    try:
        yield _AUDIT["events"]
    finally:
        _AUDIT["active"] = False


def test_the_audit_hook_sees_what_it_should(tmp_path, audited):
    (tmp_path / "{{7*7}}").write_text("x")  # the check below is not vacuous: an open with a payload is seen
    assert any(event == "open" and "{{7*7}}" in args for event, args in audited)


def test_request_values_are_never_executed_rendered_or_used_as_paths(tmp_path, audited):
    app = create_app(settings_for(tmp_path, probe_rate_limit=1000), run_probe=FakeProbe())
    client = app.test_client()
    client.get("/v1/hardware")  # take (and cache) the inventory outside what the payloads could influence
    responses = []
    _AUDIT["events"].clear()
    for payload in PAYLOADS:
        quoted = quote(payload, safe="")
        responses += [
            client.get(f"/v1/probes/{quoted}"),
            client.get(f"/v1/starters/{quoted}"),
            client.get(f"/v1/starters/pytorch?goal={quoted}"),
            client.get(f"/v1/starters/pytorch?device={quoted}"),
            client.get(f"/v1/probes?host={quoted}&limit=5"),
            client.get(f"/v1/probes?limit={quoted}"),
            client.get(f"/static/{quoted}"),
            client.get(f"/{quoted}"),
            client.post("/v1/recommendations", json={"goals": ["learning"], "experience": "beginner",
                                                     "probe_id": payload}),
            client.post("/v1/recommendations", json={"goals": [payload], "experience": payload}),
            client.post("/v1/probes", json={"frameworks": [payload]}),
        ]
    for response in responses:
        assert response.status_code < 500, (response.request.url, response.status_code)
        if response.status_code == 200:  # only the listing answers: nothing stored under such a host
            assert response.request.path == "/v1/probes" and response.get_json()["probes"] == []
        elif response.status_code == 308:  # Werkzeug merging "//" in /static//etc/passwd: stays in /static/
            assert response.headers["Location"].endswith("/static/etc/passwd")
            assert client.get("/static/etc/passwd").status_code == 404
        else:
            assert response.mimetype == "application/problem+json"
    leaked = [(event, args) for event, args in audited
              if any(p in args or quote(p, safe="") in args for p in PAYLOADS)]
    assert leaked == [], leaked


def test_uploaded_report_text_is_shown_literally_never_interpreted(tmp_path, audited):
    client = create_app(settings_for(tmp_path), run_probe=FakeProbe()).test_client()
    report = canned_report_json(quick=True)
    nasty = "{{7*7}} ${7*7} {probed} {0.__class__} %(x)s ../../etc/passwd"
    report["host"] = "../../etc/passwd{{7*7}}"
    # Answers derive their facts from the records (an upload's own derived facts are not trusted).
    report["frameworks"][2]["failure"]["message"] = report["failures"][0]["message"] = nasty
    report["derived"]["jax"]["failure_message"] = nasty
    stored = client.post("/v1/probes", json=report)
    assert stored.status_code == 201
    probe_id = stored.get_json()["id"]
    answer = client.post("/v1/recommendations", json={"goals": ["research"], "experience": "expert",
                                                      "probe_id": probe_id}).get_json()
    jax = next(item for item in answer["ranking"] if item["framework"] == "jax")
    messages = [reason["message"] for reason in jax["reasons"]]
    assert any(nasty in message for message in messages), messages  # verbatim: no 49, no True, no class
    assert client.get(f"/v1/probes?host={quote(report['host'], safe='')}").get_json()["probes"][0]["id"] == probe_id
    assert [args for event, args in audited if "etc/passwd" in args or "7*7" in args] == []
