"""What a browser may not make this service do, and the headers every response carries.

A service on 127.0.0.1 is reachable by every web page the user opens: a page cannot read a cross-origin answer,
but it can send a request (a form POST, a fetch with ``mode: 'no-cors'``) and it can rebind its own host name to
127.0.0.1 (DNS rebinding), after which the browser treats the service as that page's own origin. So:

- **Host.** A request must name a loopback host (``localhost``, 127.0.0.0/8, ``[::1]``) or one the operator
  allowed (``serve --allowed-host``, FRAMEWORK_ADVISOR_ALLOWED_HOSTS; ``serve --host`` adds its own address):
  421 Misdirected Request otherwise. A rebound name never matches, so a rebinding page reads nothing.
- **Cross-site.** A state-changing request (POST, PUT, PATCH, DELETE) whose ``Sec-Fetch-Site`` is anything but
  ``same-origin`` or ``none``, or whose ``Origin`` is not this service's own, is refused with 403. Another port
  of localhost is ``same-site`` to a browser, so same-site is refused too. A client that sends neither header
  (curl, the CLI, the audit's upload) is not a browser and passes.
- **JSON only.** Every POST needs ``Content-Type: application/json``, an empty one too (415): the only types a
  page may send without a CORS preflight are text/plain and the two form encodings.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

from framework_advisor.json_body import _is_json_media_type as is_json_media_type
from framework_advisor.problems import Problem
from framework_advisor.request_body import NO_STORE, SECURITY_HEADERS

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAME_ORIGIN_FETCH_SITES = frozenset({"same-origin", "none"})
HTML_POLICY = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"


def host_name(host: str) -> str:
    """The name of a Host header value, without its port, brackets or trailing dot, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def is_loopback_name(name: str) -> bool:
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    name = host_name(host)
    if is_loopback_name(name):
        return True
    names = {host_name(entry) for entry in allowed}
    return "*" in names or name in names


def _origin_netloc(origin: str) -> str | None:
    try:
        parts = urlsplit(origin)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None  # "null" (a sandboxed frame, a file: page) and anything else that is not an origin
    return parts.netloc.lower()


def _check_request() -> None:
    allowed = current_app.extensions["framework_advisor.settings"].allowed_hosts
    if not host_allowed(request.host, allowed):
        raise Problem(421, f"this service does not answer for the host {host_name(request.host)!r}; it answers "
                           "for localhost and its loopback addresses, and for the names it is started with "
                           "(serve --allowed-host NAME, FRAMEWORK_ADVISOR_ALLOWED_HOSTS)")
    if request.method in STATE_CHANGING:
        site = request.headers.get("Sec-Fetch-Site")
        if site is not None and site.strip().lower() not in SAME_ORIGIN_FETCH_SITES:
            raise Problem(403, f"a {request.method} from another site (Sec-Fetch-Site: {site[:40]}) is refused; "
                               "only this service's own pages and non-browser clients may change its state")
        origin = request.headers.get("Origin")
        if origin is not None and _origin_netloc(origin) != request.host.lower():
            raise Problem(403, f"a {request.method} from the origin {origin[:100]!r} is refused; only this "
                               "service's own pages and non-browser clients may change its state")
    if request.method == "POST" and request.routing_exception is None and not is_json_media_type(request.mimetype):
        shown = request.mimetype or "none"
        raise Problem(415, f"a POST must be application/json (got {shown}), an empty one too")


def _is_page_or_static() -> bool:
    return request.path == "/" or request.path.startswith("/static/")


def _headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", HTML_POLICY)
    if not _is_page_or_static():  # the API: answers about this machine, never kept by a cache
        for name, value in NO_STORE.items():
            response.headers[name] = value
    return response


def install_http_guard(app: Flask) -> None:
    """Register the checks (before every request, first) and the headers (on every response)."""
    app.before_request_funcs.setdefault(None, []).insert(0, _check_request)
    app.after_request(_headers)
