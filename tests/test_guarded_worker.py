"""The guarded worker's parts that need no server: when the main loop thinks a request is in (a scheduling
guess only; gunicorn's parser reads the request itself), and the responses it writes on its own.
tests/test_slow_clients.py runs the whole worker under a real `serve`."""

from __future__ import annotations

import json

import pytest

from framework_advisor.guarded_worker import BUFFERED_BYTES, RequestScanner, drop_server_header
from framework_advisor.request_body import raw_problem_response


def fed(*parts: bytes) -> list[bool]:
    scanner = RequestScanner()
    return [scanner.feed(part) for part in parts]


@pytest.mark.parametrize("parts,expected", [
    ((b"GET / HTTP/1.1\r\nHost: x\r\n", b"\r\n"), [False, True]),
    ((b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", b"cde"), [False, True]),
    ((b"POST / HTTP/1.1\r\ncontent-LENGTH:5\r\n\r\nabcde",), [True]),
    ((b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", b"0\r\n", b"\r\n"), [False, False, True]),
    ((b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n0\r\nTrailer: y\r\n\r\n",), [True]),
    # handed to gunicorn at once, which refuses or answers them: a bad chunk size, a bad length, 100-continue
    ((b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n",), [True]),
    ((b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",), [True]),
    ((b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n",), [True]),
])
def test_a_request_is_in_when_its_framing_says_so(parts, expected):
    assert fed(*parts) == expected


def test_the_end_of_the_headers_is_found_across_reads_and_a_big_request_goes_to_a_thread():
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    assert fed(*(request[i:i + 1] for i in range(len(request))))[-1] is True  # "\r\n\r\n" split over four reads
    assert fed(b"POST / HTTP/1.1\r\nContent-Length: 900000\r\n\r\n" + b" " * BUFFERED_BYTES) == [True]
    endless = RequestScanner()
    assert not endless.feed(b"GET / HTTP/1.1\r\nX: ")
    assert any(endless.feed(b"a" * 4096) for _ in range(BUFFERED_BYTES // 4096 + 1))  # no end: buffered only so far


def test_the_workers_own_answers_are_problem_json_with_the_headers():
    head, _, body = raw_problem_response(429, "too many connections", {"Retry-After": "5"}).partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 429 Too Many Requests" and "Connection: close" in lines
    assert "Content-Type: application/problem+json" in lines and "Retry-After: 5" in lines
    assert "Referrer-Policy: no-referrer" in lines and "Cache-Control: no-store" in lines
    assert f"Content-Length: {len(body)}" in lines and json.loads(body)["status"] == 429


def test_the_server_header_is_dropped_once():
    from gunicorn.http import wsgi

    drop_server_header()
    patched = wsgi.Response.default_headers
    drop_server_header()
    assert wsgi.Response.default_headers is patched  # not wrapped twice
