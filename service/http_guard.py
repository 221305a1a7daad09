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
from functools import lru_cache
from urllib.parse import urlsplit

from flask import Flask, current_app, request

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


@lru_cache(maxsize=1024)
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
    environ = request.environ  # read directly: this runs on every request
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    if not host_allowed(host, current_app.extensions["framework_advisor.settings"].allowed_hosts):
        raise Problem(421, f"this service does not answer for the host {host_name(host)[:100]!r}; it answers "
                           "for localhost and its loopback addresses, and for the names it is started with "
                           "(serve --allowed-host NAME, FRAMEWORK_ADVISOR_ALLOWED_HOSTS)")
    method = environ.get("REQUEST_METHOD", "")
    if method in STATE_CHANGING:
        site = environ.get("HTTP_SEC_FETCH_SITE")
        if site is not None and site.strip().lower() not in SAME_ORIGIN_FETCH_SITES:
            raise Problem(403, f"a {method} from another site (Sec-Fetch-Site: {site[:40]}) is refused; "
                               "only this service's own pages and non-browser clients may change its state")
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and _origin_netloc(origin) != host.strip().lower():
            raise Problem(403, f"a {method} from the origin {origin[:100]!r} is refused; only this "
                               "service's own pages and non-browser clients may change its state")
    if method == "POST" and request.routing_exception is None:
        mimetype = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        if not is_json_media_type(mimetype):
            raise Problem(415, f"a POST must be application/json (got {mimetype[:100] or 'none'}), an empty one too")


class SecurityHeaders:
    """WSGI middleware: the security headers on every response of the application it wraps, added to the header
    list as the response starts (no header parsing; this runs on every request)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        api = not (path == "/" or path.startswith("/static/"))  # the form page and its files may be revalidated

        def start(status, headers, exc_info=None):
            names = {name.lower() for name, _ in headers}
            if api:  # answers about this machine: never kept by a cache
                if "cache-control" in names:
                    headers = [(name, value) for name, value in headers if name.lower() != "cache-control"]
                headers.extend(NO_STORE.items())
            headers.extend(item for item in SECURITY_HEADERS.items() if item[0].lower() not in names)
            if "content-security-policy" not in names and any(
                    name.lower() == "content-type" and value.startswith("text/html") for name, value in headers):
                headers.append(("Content-Security-Policy", HTML_POLICY))
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def install_http_guard(app: Flask) -> None:
    """Register the checks (before every request, first) and the headers (on every response)."""
    app.before_request_funcs.setdefault(None, []).insert(0, _check_request)
    app.wsgi_app = SecurityHeaders(app.wsgi_app)
