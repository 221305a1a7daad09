"""gunicorn's threaded worker, guarded against slow and greedy clients (what ``serve`` runs).

gunicorn's gthread worker gives a connection a thread as soon as its first bytes arrive, and the thread then
reads the request line, the headers and (through the application) the body with blocking reads that have no
deadline: eight sockets that send one byte a second hold every thread of ``serve --workers 2 --threads 4``
for as long as they like. This worker changes five things, each per worker process:

- **Requests are buffered before they get a thread.** The worker's main loop (an event loop already) reads a
  connection's request without blocking until its headers and body are in (``BUFFERED_BYTES`` at most);
  only then does a thread take it. A slow client costs a socket and a buffer, never a thread. What follows
  a larger body (an uploaded report) is read by the thread.
- **A read deadline.** A request must be in within ``read_timeout_s`` of its first byte (of the connection
  being taken up again, for a kept-alive one): past it, the client gets a 408 problem+json and the
  connection is closed, whether it is still being buffered or already has a thread (then the main loop
  shuts its read side, so the blocked read returns at once). Once ``request_body.BufferedBody`` has the
  whole body, the deadline is lifted: a slow answer is the service's business, not the client's.
- **Fair threads.** One peer (client address) holds at most ``max_peer_busy`` threads (default: all but
  one); its other ready requests wait their turn without a thread, so another client always finds one.
- **A connection cap.** One peer holds at most ``max_peer_connections`` open connections (idle, buffering,
  waiting or served); beyond that a new one is answered 429 and closed, so no client can use up the worker's
  ``worker_connections`` or its buffers.
- **Closing never blocks.** gunicorn closes a connection "gracefully" with a blocking read of up to 2 s in the
  main loop, so each client that does not close its end stalls the whole worker for 2 s; here the lingering
  close waits in the loop's poller instead.

It also answers gunicorn's own protocol errors (bad request line, 431 header fields too large, 414 ...) as
problem+json instead of an HTML page, and sends no ``Server`` header. Loopback clients all share one address:
behind a reverse proxy on the same host every request comes from the proxy (docs/deploy/nginx.conf), which
then enforces the per-client limits itself.

This leans on gunicorn's gthread internals (accept, enqueue_req, finish_request, on_client_socket_readable,
murder_pending, TConn.init/close, handle, handle_request, handle_error): pyproject.toml keeps gunicorn within
one major version and tests/test_slow_clients.py runs the real thing.
"""

from __future__ import annotations

import errno
import re
import selectors
import socket
import ssl
import threading
import time
from collections import Counter, defaultdict, deque
from functools import partial

from gunicorn.http import errors as http_errors
from gunicorn.http import wsgi as gunicorn_wsgi
from gunicorn.workers.gthread import TConn, ThreadWorker

from framework_advisor.request_body import bind_connection, current_connection, raw_problem_response

DEFAULT_READ_TIMEOUT_S = 10.0
DEFAULT_MAX_PEER_CONNECTIONS = 64
# What the main loop buffers of one request before a thread takes it: the headers and a body up to the
# service's 64 KiB request limit. A larger body (an uploaded report) is read on by the thread.
BUFFERED_BYTES = 128 * 1024
_RECV_BYTES = 64 * 1024
# The header fields that say where a request's body ends (or that a thread must take it now).
_FRAMING = re.compile(rb"\r\n(content-length|transfer-encoding|expect)[ \t]*:([^\r\n]*)", re.IGNORECASE)
# A connection that ends after its response lingers this long (reading and dropping what its client still
# sends) so the client sees the whole response rather than a reset (RFC 9112 section 9.6); in the main loop's
# poller, not in a blocking read there as gunicorn does it (gunicorn's way stalls the worker for 2 s per client
# that does not close its end).
LINGER_S = 2.0
LINGER_BYTES = 64 * 1024
MAX_LINGERING = 256
SWEEP_EVERY_S = 0.25  # how often deadlines are checked: a late request is cut within this of its deadline

# gunicorn's classification of what it refuses before the application runs (workers/base.py handle_error),
# most specific first; each answered as problem+json.
_PROTOCOL_ERRORS: tuple[tuple[type, int, str], ...] = (
    (http_errors.InvalidResponseHeaderName, 500, "internal error"),  # the application's fault, not the client's
    (http_errors.InvalidResponseHeader, 500, "internal error"),
    (http_errors.LimitRequestLine, 414, "the request line is too long"),
    (http_errors.LimitRequestHeaders, 431, "the request header fields are too large"),
    (http_errors.UnsupportedTransferCoding, 501, "unsupported transfer coding"),
    (http_errors.ExpectationFailed, 417, "expectation failed"),
    (http_errors.ForbiddenProxyRequest, 403, "proxy request forbidden"),
    (http_errors.ConfigurationProblem, 500, "server configuration problem"),
    (http_errors.ParseException, 400, "malformed request"),
    (ssl.SSLError, 403, "TLS error"),
)


def _peer(client) -> str:
    return client[0] if isinstance(client, tuple) and client else "local"


class RequestScanner:
    """Whether the bytes a connection sent so far hold a whole request (or as much of one as the main loop
    buffers). Only a scheduling guess: gunicorn's parser reads the request itself, from these bytes and then
    the socket, so a wrong guess costs a thread some waiting (under the deadline), never a misread. Incremental:
    each byte is looked at a bounded number of times, however the request is split into reads."""

    def __init__(self) -> None:
        self.buffer: bytes | bytearray = b""
        self._searched = 0  # where the search for the end of the headers resumes
        self._body_start: int | None = None
        self._length = 0
        self._chunked = False
        self._chunk_at = 0  # where the next chunk-size line starts (chunked bodies)

    def feed(self, data: bytes) -> bool:
        if not self.buffer:
            self.buffer = data  # usually the whole request in one read: no copy
        else:
            if isinstance(self.buffer, bytes):
                self.buffer = bytearray(self.buffer)
            self.buffer += data
        if len(self.buffer) >= BUFFERED_BYTES:
            return True
        if self._body_start is None:
            end = self.buffer.find(b"\r\n\r\n", max(0, self._searched - 3))
            self._searched = len(self.buffer)
            if end < 0:
                return False
            if self._read_headers(bytes(self.buffer[:end])):
                return True
            self._body_start = self._chunk_at = end + 4
        if self._chunked:
            return self._chunks_done()
        return len(self.buffer) - self._body_start >= self._length

    def _read_headers(self, head: bytes) -> bool:
        """Note the body's framing; True when a thread should take the request now."""
        for name, value in _FRAMING.findall(head):
            name, value = name.lower(), value.strip().lower()
            if name == b"expect":
                return True  # 100-continue: the client waits for gunicorn's go-ahead before it sends the body
            if name == b"transfer-encoding":
                self._chunked = self._chunked or b"chunked" in value
            elif not value.isdigit():
                return True  # a Content-Length gunicorn refuses
            else:
                self._length = int(value)
        return False

    def _chunks_done(self) -> bool:
        buffer = self.buffer
        while True:
            line_end = buffer.find(b"\r\n", self._chunk_at)
            if line_end < 0:
                return len(buffer) - self._chunk_at > 1024  # no such size line: let gunicorn refuse it
            size_text = bytes(buffer[self._chunk_at:line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                return True  # malformed: gunicorn says so at once
            if size == 0:  # the last chunk; then trailers (usually none) and an empty line
                return buffer.find(b"\r\n\r\n", line_end) >= 0
            following = line_end + 2 + size + 2
            if following > len(buffer):
                return False
            self._chunk_at = following


def _without_server_header(default_headers):
    def headers(self):
        return [line for line in default_headers(self) if not line.lower().startswith("server:")]

    headers.__wrapped__ = default_headers
    return headers


def drop_server_header() -> None:
    """gunicorn writes ``Server: gunicorn`` on every response and has no setting for it: filter it out."""
    response = gunicorn_wsgi.Response
    if not hasattr(response.default_headers, "__wrapped__"):
        response.default_headers = _without_server_header(response.default_headers)


class _Conn(TConn):
    """A connection with its peer, the request bytes buffered so far, its read deadline and whether it may carry
    another request."""

    def __init__(self, worker: GuardedThreadWorker, cfg, sock, client, server):
        super().__init__(cfg, sock, client, server)
        self.worker = worker
        self.peer = _peer(client)
        self.scanner = RequestScanner()  # the request's bytes as the main loop buffers them
        self.read_deadline: float | None = None  # monotonic; lifted once the request is read
        self.reaped = False
        self.request_read = False
        self.must_close = False
        self.polled = False  # registered with the worker's poller while its request is buffered
        self._released = False

    def start_request(self, deadline: float) -> None:
        self.read_deadline, self.reaped, self.request_read, self.must_close = deadline, False, False, False

    def init(self) -> None:
        super().init()
        buffered = self.scanner.buffer
        if buffered and self.parser is not None:  # hand the buffered bytes to gunicorn's parser, in order
            unreader = self.parser.unreader
            unreader.unread(unreader.take_buffered() + bytes(buffered))
            self.scanner = RequestScanner()

    # ConnectionState, called from the handling thread (request_body.BufferedBody)
    def body_read(self) -> None:
        self.read_deadline = None
        self.request_read = True

    def close_after_response(self) -> None:
        self.must_close = True

    def close(self, graceful: bool = False) -> None:
        try:
            if not (graceful and self.worker.linger(self)):
                super().close(False)
        finally:
            if not self._released:
                self._released = True
                self.worker.connection_closed(self)


class GuardedThreadWorker(ThreadWorker):
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S
    max_peer_connections: int = DEFAULT_MAX_PEER_CONNECTIONS  # 0: no cap
    max_peer_busy: int | None = None  # None: threads - 1 (at least 1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.peer_busy_limit = self.max_peer_busy or max(1, self.cfg.threads - 1)
        # All of these are touched by the main thread only (gunicorn runs accept, enqueue_req, finish_request,
        # the poller's callbacks and the murder_* sweeps there); handling threads only set their own _Conn's
        # attributes.
        self._open: Counter[str] = Counter()
        self._busy: Counter[str] = Counter()
        self._waiting: defaultdict[str, deque[_Conn]] = defaultdict(deque)
        self._buffering: set[_Conn] = set()
        self._in_thread: set[_Conn] = set()
        self._lingering: dict[socket.socket, tuple[float, int]] = {}  # socket: (deadline, bytes dropped)
        self._next_sweep = 0.0

    def init_process(self) -> None:
        drop_server_header()
        super().init_process()

    # --- the main thread: accepting, buffering, scheduling, sweeping --------------------------------------
    def accept(self, listener) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        peer = _peer(client_addr)
        if self.max_peer_connections and self._open[peer] >= self.max_peer_connections:
            self._refuse(client_sock, peer)
            return
        self._open[peer] += 1
        self.nr_conns += 1
        self._buffer_request(_Conn(self, self.cfg, client_sock, client_addr, listener.getsockname()), fresh=True)

    def _refuse(self, client_sock: socket.socket, peer: str) -> None:
        self.log.warning("refused a connection from %s: it holds %d already", peer, self._open[peer])
        response = raw_problem_response(
            429, f"too many connections from {peer}: at most {self.max_peer_connections} at a time per worker",
            {"Retry-After": "5"})
        try:
            client_sock.setblocking(False)
            client_sock.send(response)
            client_sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            client_sock.close()

    def on_client_socket_readable(self, conn: _Conn, client) -> None:
        """A kept-alive connection sends its next request: buffer it too."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._buffer_request(conn, fresh=False)

    def _buffer_request(self, conn: _Conn, fresh: bool) -> None:
        # The socket is non-blocking here: gunicorn makes it so when it accepts it and when it keeps it alive.
        # A fresh connection may stay silent a while (browsers open spare ones); its deadline starts at its
        # first byte, and until then it is closed after read_timeout_s like any idle one.
        conn.start_request(time.monotonic() + self.read_timeout_s)
        conn.scanner = RequestScanner()
        conn.data_ready = not fresh
        conn.polled = False
        self._buffering.add(conn)
        self._on_request_bytes(conn)  # what has arrived already; usually the whole request, then no polling

    def _on_request_bytes(self, conn: _Conn, _sock=None) -> None:
        try:
            data = conn.sock.recv(_RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            data = None
        except OSError:
            data = b""
        if data == b"":  # the client went away before its request was in
            self._stop_buffering(conn)
            self.nr_conns -= 1
            conn.close()
            return
        if data is not None:
            if not conn.data_ready:  # its first byte: the deadline runs from here
                conn.data_ready = True
                conn.read_deadline = time.monotonic() + self.read_timeout_s
            if conn.scanner.feed(data):
                self._stop_buffering(conn)
                self.enqueue_req(conn)
                return
        if not conn.polled:  # the rest comes later: the loop's poller says when
            conn.polled = True
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_request_bytes, conn))

    def _stop_buffering(self, conn: _Conn) -> None:
        self._buffering.discard(conn)
        if conn.polled:
            conn.polled = False
            try:
                self.poller.unregister(conn.sock)
            except (KeyError, ValueError, OSError):
                pass

    def enqueue_req(self, conn: _Conn) -> None:
        if self._busy[conn.peer] >= self.peer_busy_limit:
            self._waiting[conn.peer].append(conn)  # its turn comes when one of its peer's requests ends
            return
        self._busy[conn.peer] += 1
        self._in_thread.add(conn)
        # What the thread still has to read (a body past the buffer, or a request read ahead by the previous
        # one's thread) gets its own deadline: the time spent waiting for a thread is not the client's doing.
        conn.read_deadline = time.monotonic() + self.read_timeout_s
        super().enqueue_req(conn)

    def finish_request(self, conn: _Conn, fs) -> None:
        if conn in self._in_thread:
            self._in_thread.discard(conn)
            self._busy[conn.peer] -= 1
        conn.read_deadline = None
        conn.request_read = False
        try:
            super().finish_request(conn, fs)
        finally:
            self._next_turn(conn.peer)

    def _next_turn(self, peer: str) -> None:
        waiting = self._waiting.get(peer)
        while waiting and self._busy[peer] < self.peer_busy_limit:
            self.enqueue_req(waiting.popleft())
        if not waiting:
            self._waiting.pop(peer, None)
        if not self._busy[peer]:
            del self._busy[peer]

    def connection_closed(self, conn: _Conn) -> None:
        self._open[conn.peer] -= 1
        if self._open[conn.peer] <= 0:
            del self._open[conn.peer]

    def linger(self, conn: _Conn) -> bool:
        """Close ``conn`` gracefully without blocking: send FIN now, drop what the client still sends, close when
        it closes or LINGER_S have passed. False when it cannot linger (then close it at once)."""
        sock = conn.sock
        if (len(self._lingering) >= MAX_LINGERING or self.poller is None
                or threading.current_thread() is not threading.main_thread()):
            return False
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
            self.poller.register(sock, selectors.EVENT_READ, self._drain)
        except (OSError, ValueError, KeyError):
            return False
        self._lingering[sock] = (time.monotonic() + LINGER_S, 0)
        return True

    def _drain(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        deadline, dropped = self._lingering.get(sock, (0.0, 0))
        if not data or dropped + len(data) > LINGER_BYTES:
            self._end_linger(sock)
        else:
            self._lingering[sock] = (deadline, dropped + len(data))

    def _end_linger(self, sock: socket.socket) -> None:
        self._lingering.pop(sock, None)
        try:
            self.poller.unregister(sock)
        except (KeyError, ValueError, OSError):
            pass
        try:
            sock.close()
        except OSError:
            pass

    def murder_pending(self) -> None:
        """Called by gunicorn's loop after every batch of events: the deadlines are swept a few times a second."""
        super().murder_pending()
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_EVERY_S
        self.sweep_late_requests()
        for sock in [sock for sock, (deadline, _) in self._lingering.items() if now > deadline]:
            self._end_linger(sock)

    def sweep_late_requests(self) -> None:
        """Past its deadline, a request still being buffered is answered 408 and closed; one a thread is reading
        gets its read side shut: the blocked read returns at once and the thread answers 408."""
        now = time.monotonic()
        for conn in [conn for conn in self._buffering if conn.read_deadline is not None and now > conn.read_deadline]:
            self._stop_buffering(conn)
            if conn.data_ready:  # a request had begun; a connection that never spoke is just closed
                self.log.info("request from %s not in within %g s: 408", conn.peer, self.read_timeout_s)
                self._write_quietly(conn.sock, self._late())
            self.nr_conns -= 1
            conn.close()
        for conn in list(self._in_thread):
            deadline = conn.read_deadline
            if deadline is not None and now > deadline:
                conn.read_deadline = None
                conn.reaped = True
                self.log.info("request from %s not in within %g s: closing it", conn.peer, self.read_timeout_s)
                try:
                    conn.sock.shutdown(socket.SHUT_RD)
                except OSError:
                    pass

    def _late(self) -> bytes:
        return raw_problem_response(408, f"the request did not arrive within {self.read_timeout_s:g} s; send "
                                         "the headers and the whole body at once")

    # --- the handling threads --------------------------------------------------------------------------
    def handle(self, conn: _Conn):
        bind_connection(conn)
        try:
            result = super().handle(conn)
        finally:
            bind_connection(None)
        if conn.reaped and not conn.request_read:  # cut off while its headers were still coming
            self._write_quietly(conn.sock, self._late())
            return False
        return result

    def handle_request(self, req, conn: _Conn) -> bool:
        keep_alive = super().handle_request(req, conn)
        return keep_alive and not conn.must_close

    def handle_error(self, req, client, addr, exc) -> None:
        """gunicorn's own refusals (before the application runs) as problem+json, never an HTML page."""
        conn = current_connection()
        if conn is not None and conn.reaped:
            self._write_quietly(client, self._late())
            conn.request_read = True  # answered here; handle() must not answer again
            return
        status, what = next(((status, what) for kind, status, what in _PROTOCOL_ERRORS if isinstance(exc, kind)),
                            (500, "internal error"))
        if status >= 500:
            self.log.exception("error handling a request from %s", _peer(addr))
            detail = "Internal error; it has been logged."
        else:
            self.log.warning("invalid request from %s: %s", _peer(addr), exc)
            detail = f"{what}: {str(exc)[:300]}"
        self._write_quietly(client, raw_problem_response(status, detail))

    @staticmethod
    def _write_quietly(sock, data: bytes) -> None:
        try:
            sock.setblocking(False)
            sock.send(data)
        except OSError:
            pass


def guarded_worker_class(read_timeout_s: float, max_peer_connections: int, threads: int) -> type:
    """The worker class for ``serve``, with its limits (gunicorn takes a class as ``worker_class``)."""
    return type("GuardedThreadWorker", (GuardedThreadWorker,), {
        "read_timeout_s": read_timeout_s, "max_peer_connections": max_peer_connections,
        "max_peer_busy": max(1, threads - 1), "__module__": __name__})
