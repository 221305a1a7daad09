"""The real server: gunicorn with gthread workers, as `make run` starts it."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse

import pytest

from tests.server_process import running_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("data")) as (base_url, process, _):
        yield urlparse(base_url)


def request(server, method, path, body=None, headers=None, chunked=False):
    connection = http.client.HTTPConnection(server.hostname, server.port, timeout=30)
    try:
        if chunked:
            connection.putrequest(method, path)
            for name, value in (headers or {}).items():
                connection.putheader(name, value)
            connection.putheader("Transfer-Encoding", "chunked")
            connection.endheaders()
            for start in range(0, len(body), 8192):
                chunk = body[start:start + 8192]
                connection.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            connection.send(b"0\r\n\r\n")
        else:
            connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


def test_recommendation_over_http(server):
    body = json.dumps({"goals": ["learning"], "experience": "beginner",
                       "hardware": {"os": "windows", "arch": "x86_64", "cpu": {"model": "x", "cores": 8},
                                    "memory_gb": 16, "accelerators": []}}).encode()
    status, content_type, payload = request(server, "POST", "/v1/recommendations", body,
                                            {"Content-Type": "application/json"})
    assert status == 200 and content_type == "application/json"
    ranking = json.loads(payload)["ranking"]
    assert len(ranking) == 5 and ranking[-1]["framework"] == "mlx" and ranking[-1]["supported"] is False


def test_small_chunked_body_is_accepted(server):
    body = json.dumps({"goals": ["research"], "experience": "expert",
                       "hardware": {"os": "linux", "arch": "x86_64"}}).encode()
    status, _, payload = request(server, "POST", "/v1/recommendations", body,
                                 {"Content-Type": "application/json"}, chunked=True)
    assert status == 200, payload


def test_oversized_chunked_body_is_413_not_truncated(server):
    body = b'{"goals": ["learning"], "experience": "beginner", "pad": "' + b"x" * 200_000 + b'"}'
    status, content_type, payload = request(server, "POST", "/v1/recommendations", body,
                                            {"Content-Type": "application/json"}, chunked=True)
    assert status == 413 and content_type == "application/problem+json", payload


def test_the_form_is_served(server):
    status, content_type, payload = request(server, "GET", "/")
    assert status == 200 and content_type.startswith("text/html") and b'id="advisor-form"' in payload
    for asset in ("/static/app.js", "/static/style.css"):
        assert request(server, "GET", asset)[0] == 200
