"""Reading a request body before the application sees it, under the connection's read deadline.

``BufferedBody`` wraps the WSGI application: a request's whole body (at most ``cap`` + 1 bytes) is read into
memory first, so no route ever blocks on a client's socket. Under ``serve`` the read runs against the
deadline the guarded gunicorn worker (``framework_advisor.guarded_worker``) set when it gave the connection a
thread: headers and body together must arrive within ``--read-timeout`` seconds, or the worker shuts the
connection's read side and the client gets a 408. Under any other server (the test client, Werkzeug's
development server) the body is only buffered.

The worker and this wrapper meet through a thread-local (``bind_connection``): the thread that handles a
connection runs the application too. Nothing here imports gunicorn.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any, Protocol

_READ_CHUNK = 64 * 1024

# Sent on every response, the service's own and those written before or around the application (this
# wrapper, the worker's refusals and gunicorn's protocol errors): see docs/security.md.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
NO_STORE = {"Cache-Control": "no-store"}


class ConnectionState(Protocol):
    """What the worker's connection offers this wrapper (``guarded_worker._Conn``)."""

    reaped: bool  # the read deadline passed and the worker shut the read side

    def body_read(self) -> None: ...  # the request is in: the deadline no longer applies to it

    def close_after_response(self) -> None: ...  # the connection cannot carry another request


_bound = threading.local()


def bind_connection(state: ConnectionState | None) -> None:
    """The connection this thread is handling (set by the worker around each request; None after)."""
    _bound.state = state


def current_connection() -> ConnectionState | None:
    return getattr(_bound, "state", None)


def problem_bytes(status: int, detail: str, instance: str = "") -> bytes:
    """An RFC 9457 body, built without Flask (this wrapper and the worker answer outside a request context)."""
    from framework_advisor.models import Problem

    return Problem(title=HTTPStatus(status).phrase, status=status, detail=detail,
                   instance=instance).model_dump_json(exclude_none=True).encode()


def problem_headers(body: bytes, extra: dict[str, str] | None = None) -> list[tuple[str, str]]:
    headers = {"Content-Type": "application/problem+json", "Content-Length": str(len(body)),
               **SECURITY_HEADERS, **NO_STORE, **(extra or {})}
    return list(headers.items())


def raw_problem_response(status: int, detail: str, extra: dict[str, str] | None = None) -> bytes:
    """A whole HTTP/1.1 problem+json response that closes the connection, for a socket written directly."""
    body = problem_bytes(status, detail)
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", "Connection: close",
             *(f"{name}: {value}" for name, value in problem_headers(body, extra))]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _content_length(environ: dict[str, Any]) -> int | None:
    text = environ.get("CONTENT_LENGTH") or ""
    return int(text) if text.isascii() and text.isdigit() else None


class BufferedBody:
    """WSGI middleware: read the request body in full (``cap`` + 1 bytes at most) before calling ``app``.

    The application then reads from memory; its own limits (413 per route) still apply to what is read. A
    body announced larger than ``cap`` is not read at all (the application refuses it by its Content-Length,
    and the connection is closed after the answer)."""

    def __init__(self, app: Callable, cap: int, read_timeout_s: float | None = None):
        self.app = app
        self.cap = cap
        self.read_timeout_s = read_timeout_s  # only for the 408's message; the worker keeps the deadline

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        state = current_connection()
        try:
            refusal = self._buffer(environ, state)
        finally:
            if state is not None:
                state.body_read()
        if refusal is not None:
            status, detail = refusal
            if state is not None:
                state.close_after_response()
            body = problem_bytes(status, detail, environ.get("PATH_INFO", ""))
            start_response(f"{status} {HTTPStatus(status).phrase}", problem_headers(body))
            return [body]
        return self.app(environ, start_response)

    def _buffer(self, environ: dict[str, Any], state: ConnectionState | None) -> tuple[int, str] | None:
        """Replace wsgi.input with the body read into memory; a (status, detail) refusal, or None."""
        length = _content_length(environ)
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if length is None and not chunked or length == 0:
            return None
        if length is not None and length > self.cap:
            if state is not None:
                state.close_after_response()  # what follows is not read: no second request on this connection
            return None
        if length is None and not environ.get("wsgi.input_terminated"):
            return None  # a server that does not end a chunked stream: reading to its end could block
        wanted = self.cap + 1 if length is None else length
        stream, parts, total = environ["wsgi.input"], [], 0
        try:
            while total < wanted:
                part = stream.read(min(_READ_CHUNK, wanted - total))
                if not part:
                    break
                parts.append(part)
                total += len(part)
        except Exception as exc:  # noqa: BLE001 - a reset, the deadline's shutdown, a malformed chunk
            if state is not None and state.reaped:
                return 408, self._late()
            if isinstance(exc, OSError):
                return 400, "the request body ended before it was complete (the client closed the connection)"
            return 400, f"malformed request body: {type(exc).__name__}: {str(exc)[:200]}"
        if length is not None and total < length:  # the read side was shut at the deadline, or the client left
            if state is not None and state.reaped:
                return 408, self._late()
            return 400, f"the request body ended after {total} of the {length} bytes its Content-Length announced"
        if length is None and total > self.cap and state is not None:
            state.close_after_response()  # the rest of an oversized chunked body stays unread
        environ["wsgi.input"] = io.BytesIO(b"".join(parts))
        return None

    def _late(self) -> str:
        within = f" within {self.read_timeout_s:g} s" if self.read_timeout_s else ""
        return f"the request did not arrive{within}; send the headers and the whole body at once"
