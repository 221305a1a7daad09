"""Slow and greedy clients against the real `framework-advisor serve` (gunicorn, guarded gthread workers), over
real sockets: they cannot starve the workers, a request has a read deadline, one address holds a bounded number
of connections, and what gunicorn refuses itself is problem+json too (service/guarded_worker.py).

Bounds here are generous (seconds where the service answers in milliseconds) and each is far below the time the
attack used to cost: before this, sixteen sockets sending a body one byte a second kept /healthz from answering
for as long as they kept sending.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager
from urllib.parse import urlparse

import pytest

from tests.server_process import running_server

pytestmark = pytest.mark.slow

OTHER_CLIENT = "127.0.0.2"  # another loopback address: another peer as far as the service can tell
BODY = json.dumps({"goals": ["learning"], "experience": "beginner",
                   "hardware": {"os": "linux", "arch": "x86_64", "cpu": {"model": "x", "cores": 2}}}).encode()


def _port(base_url: str) -> int:
    return urlparse(base_url).port


def _connect(port: int, source: str = "127.0.0.1", timeout: float = 15.0) -> socket.socket:
    try:
        return socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    except OSError as exc:  # macOS has only 127.0.0.1 unless configured
        pytest.skip(f"cannot connect from {source}: {exc}")


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return data


def _response(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def get(port: int, path: str, source: str = "127.0.0.1", timeout: float = 15.0, extra: bytes = b""):
    """(status, headers, body) of one GET over a fresh connection, or raise socket.timeout."""
    sock = _connect(port, source, timeout)
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".encode() + extra + b"\r\n")
        return _response(_read_all(sock))
    finally:
        sock.close()


def raw(port: int, request: bytes, timeout: float = 15.0) -> tuple[int, dict[str, str], bytes]:
    sock = _connect(port, timeout=timeout)
    try:
        sock.sendall(request)
        return _response(_read_all(sock))
    finally:
        sock.close()


class Drip:
    """Sockets that each send one byte a second, from a thread, until stopped; what each received is kept."""

    def __init__(self, sockets: list[socket.socket]):
        self.sockets = sockets
        self.received = [b""] * len(sockets)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for sock in self.sockets:
            sock.setblocking(False)
        while not self._stop.wait(1.0):
            for index, sock in enumerate(self.sockets):
                try:
                    sock.send(b" ")
                    self.received[index] += sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in self.sockets:
            sock.close()


@contextmanager
def dripping(port: int, head: bytes, count: int, spacing_s: float = 0.1):
    """``count`` connections that send ``head`` at once, then a byte a second; spaced so that every worker
    takes some (workers race to accept)."""
    sockets = []
    for _ in range(count):
        sock = _connect(port)
        sock.sendall(head)
        sockets.append(sock)
        time.sleep(spacing_s)
    drip = Drip(sockets)
    try:
        yield drip
    finally:
        drip.stop()


SLOW_BODY = (b"POST /v1/recommendations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             b"Content-Length: 1000\r\n\r\n{")
SLOW_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


# --- serve as make run starts it (2 workers x 4 threads), with a read deadline far beyond the test ---------

@pytest.fixture(scope="module")
def patient(tmp_path_factory):
    """A read deadline of 60 s: what keeps /healthz answering below is not the deadline."""
    with running_server(tmp_path_factory.mktemp("data"), env={"FRAMEWORK_ADVISOR_READ_TIMEOUT_S": "60"}) as (url, *_):
        yield _port(url)


@pytest.mark.parametrize("head", [SLOW_BODY, SLOW_HEADERS], ids=["body", "headers"])
def test_sixteen_slow_loris_sockets_do_not_keep_healthz_from_answering(patient, head):
    with dripping(patient, head, 16) as drip:
        time.sleep(2.5)  # every socket has dripped; before the fix each held one of the eight threads
        for source in ("127.0.0.1", OTHER_CLIENT):  # the same address as the attacker, and another one
            status, _, body = get(patient, "/healthz", source=source, timeout=15)
            assert status == 200 and json.loads(body)["status"] == "ok"
        assert drip.received == [b""] * 16  # still being read: the slow requests were neither answered nor cut
    status, _, _ = get(patient, "/healthz")
    assert status == 200


def test_gunicorn_refusals_are_problem_json_without_a_server_banner(patient):
    cases = [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(150)) + b"\r\n", 431),
        (b"GET /" + b"a" * 8000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"POST /v1/recommendations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
         b"Transfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n", 400),  # a malformed chunk size
    ]
    for request, expected in cases:
        status, headers, body = raw(patient, request)
        assert status == expected, body
        assert headers["content-type"] == "application/problem+json"
        problem = json.loads(body)
        assert problem["status"] == expected and problem["detail"]
        assert "server" not in headers and headers["x-content-type-options"] == "nosniff"
    status, headers, _ = get(patient, "/healthz")
    assert status == 200 and "server" not in headers
    assert headers["cache-control"] == "no-store" and headers["referrer-policy"] == "no-referrer"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["cross-origin-resource-policy"] == "same-origin"


# --- a short read deadline ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hasty(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("data"), env={"FRAMEWORK_ADVISOR_READ_TIMEOUT_S": "2"}) as (url, *_):
        yield _port(url)


def _until_answered(sock: socket.socket, bound_s: float = 20.0) -> bytes:
    """Drip a byte every 0.5 s until the service answers or closes; what it sent."""
    sock.settimeout(0.5)
    received, started = b"", time.monotonic()
    while time.monotonic() - started < bound_s:
        try:
            sock.send(b" ")
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            break
        if not chunk:
            break
        received += chunk
    return received


@pytest.mark.parametrize("head", [
    SLOW_HEADERS,
    SLOW_BODY,
    # A body past what the worker buffers before a thread takes it: the thread reads the rest, under the deadline.
    (b"POST /v1/recommendations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
     b"Content-Length: 500000\r\n\r\n" + b" " * 200_000),
], ids=["headers", "small-body", "large-body"])
def test_a_request_not_in_by_the_deadline_gets_408_and_the_connection_ends(hasty, head):
    sock = _connect(hasty)
    try:
        sock.sendall(head)
        answer = _until_answered(sock)
    finally:
        sock.close()
    status, headers, body = _response(answer)
    assert status == 408 and headers["content-type"] == "application/problem+json"
    assert json.loads(body)["status"] == 408 and "within 2 s" in json.loads(body)["detail"]


def test_a_request_sent_at_once_is_served_kept_alive_chunked_or_large(hasty):
    import requests

    with requests.Session() as session:
        for _ in range(3):  # kept alive: each request on the same connection gets a fresh deadline
            response = session.post(f"http://127.0.0.1:{hasty}/v1/recommendations", data=BODY,
                                    headers={"Content-Type": "application/json"})
            assert response.status_code == 200
            time.sleep(1.2)  # together longer than the deadline
        chunked = session.post(f"http://127.0.0.1:{hasty}/v1/recommendations", data=iter([BODY[:20], BODY[20:]]),
                               headers={"Content-Type": "application/json"})
        assert chunked.status_code == 200
        large = session.post(f"http://127.0.0.1:{hasty}/v1/recommendations", data=BODY + b" " * 300_000,
                             headers={"Content-Type": "application/json"})
        assert large.status_code == 413 and large.headers["Content-Type"] == "application/problem+json"


# --- one worker, four threads, four connections per client ---------------------------------------------------

@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    env = {"FRAMEWORK_ADVISOR_MAX_CONNECTIONS_PER_PEER": "4", "FRAMEWORK_ADVISOR_READ_TIMEOUT_S": "60"}
    with running_server(tmp_path_factory.mktemp("data"), args=("--workers", "1", "--threads", "4"),
                        env=env) as (url, *_):
        yield _port(url)


def test_one_address_holds_at_most_its_share_of_connections(capped):
    held = [_connect(capped, timeout=1.0) for _ in range(10)]
    try:
        time.sleep(0.5)
        outcomes = []
        for sock in held:
            try:
                outcomes.append(sock.recv(65536) or b"closed")
            except socket.timeout:
                outcomes.append(None)  # still open, waiting for its request
            except ConnectionResetError:
                outcomes.append(b"reset")
        assert outcomes.count(None) == 4
        refused = [_response(answer) for answer in outcomes if answer not in (None, b"reset", b"closed")]
        assert refused and all(status == 429 and headers["content-type"] == "application/problem+json"
                               for status, headers, _ in refused)
        assert get(capped, "/healthz", source=OTHER_CLIENT)[0] == 200  # another client is served meanwhile
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.5)
    assert get(capped, "/healthz")[0] == 200  # closed connections no longer count


def test_one_address_cannot_hold_every_thread_with_slow_large_bodies(capped):
    large = (b"POST /v1/recommendations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             b"Content-Length: 900000\r\n\r\n" + b" " * 200_000)  # past the buffer: each one goes to a thread
    with dripping(capped, large, 4):
        time.sleep(1.5)
        assert get(capped, "/healthz", source=OTHER_CLIENT, timeout=15)[0] == 200


def test_clients_that_never_close_do_not_stall_the_worker(capped):
    """gunicorn's own graceful close reads for up to 2 s in the worker's main loop, per client that does not
    close its end: eight such clients stalled one worker for about 16 s."""
    lingering, started = [], time.monotonic()
    try:
        for _ in range(8):
            sock = _connect(capped)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            assert _response(_read_all(sock))[0] == 200  # answered, then the service ended its side
            lingering.append(sock)  # ... and this client never closes its own
        assert get(capped, "/healthz", source=OTHER_CLIENT, timeout=15)[0] == 200
        assert time.monotonic() - started < 8.0
    finally:
        for sock in lingering:
            sock.close()
