"""Who is calling, and what they may do: bearer tokens for the endpoints that cost the machine something
(probes), store data (uploads) or, with ``--private-reads``, read stored reports.

Two kinds of token:

- the service token, ``FRAMEWORK_ADVISOR_TOKEN`` (at least 32 characters; create_app and ``serve`` refuse a
  shorter one): it starts probes of this machine, reads stored reports, and uploads reports of this machine's
  own host only;
- upload tokens, one per machine of a fleet (``framework-advisor tokens add HOST``; the store keeps only their
  SHA-256): each uploads reports of its own host only, and reads stored reports. A report whose host is not
  the token's is refused with 403, so an upload speaks only for the machine that sent it.

With neither configured (no service token, no upload token in the store) every endpoint is open, which is
only safe on loopback: ``serve`` refuses to bind elsewhere without the service token (service/server.py).
"""

from __future__ import annotations

import hmac
import socket
from dataclasses import dataclass
from typing import Optional

from flask import current_app, g, request

from framework_advisor.config import TOKEN_ENV
from framework_advisor.problems import Problem
from framework_advisor.storage import Store, token_digest

_REALM = 'Bearer realm="framework-advisor"'


@dataclass(frozen=True)
class Caller:
    """``kind``: "anonymous" (no bearer token sent), "service" (the service token), "host" (``host``'s upload
    token) or "wrong" (a token that is neither)."""

    kind: str
    host: Optional[str] = None

    @property
    def identity(self) -> Optional[str]:
        """What the rate limits count this caller by (None: by its network, see rate_limit.client_key)."""
        return {"service": "the service token", "host": f"the token of {self.host}"}.get(self.kind)


def _settings():
    return current_app.extensions["framework_advisor.settings"]


def _store() -> Store:
    return current_app.extensions["framework_advisor.store"]


def caller() -> Caller:
    """This request's caller, from its Authorization header (looked up once per request)."""
    if "framework_advisor_caller" not in g:
        g.framework_advisor_caller = _identify()
    return g.framework_advisor_caller


def _identify() -> Caller:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        return Caller("anonymous")
    expected = _settings().api_token
    if expected and hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode()):
        return Caller("service")
    host = _store().token_host(token_digest(given))
    if host is not None:
        return Caller("host", host)
    # With no token configured at all every endpoint is open: a header there changes nothing (as it never did).
    return Caller("wrong") if expected or _store().has_tokens() else Caller("anonymous")


def tokens_configured() -> bool:
    """A service token or any upload token exists: uploads then need a token."""
    return bool(_settings().api_token) or _store().has_tokens()


def this_host() -> str:
    return socket.gethostname()


def _same_host(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()  # host names are case-insensitive


def unauthorized(who: Caller, needs: str) -> Problem:
    """401 for a caller without a usable token; ``needs`` says which token the endpoint takes."""
    if who.kind == "wrong":
        return Problem(401, "the bearer token is not one this service knows (neither the service token nor an "
                            "upload token issued with 'framework-advisor tokens add')",
                       headers={"WWW-Authenticate": f'{_REALM}, error="invalid_token"'})
    return Problem(401, f"this endpoint needs 'Authorization: Bearer <token>': {needs}",
                   headers={"WWW-Authenticate": _REALM})


def probe_start_refusal(who: Caller) -> Optional[Problem]:
    """Why ``who`` may not start a probe of this machine (None: it may)."""
    if not _settings().api_token:
        return unauthorized(who, "") if who.kind == "wrong" else None  # no service token: open, as before
    if who.kind == "service":
        return None
    if who.kind == "host":
        return Problem(403, f"the token of {who.host} only uploads {who.host}'s reports; starting a probe of this "
                            f"machine needs the service token ({TOKEN_ENV})")
    return unauthorized(who, f"the service token the service was started with ({TOKEN_ENV})")


def upload_refusal(who: Caller, report_host: Optional[str] = None) -> Optional[Problem]:
    """Why ``who`` may not upload a report of ``report_host`` (None: it may; with ``report_host`` None, only
    whether it may upload at all)."""
    if who.kind == "wrong":
        return unauthorized(who, "")
    if who.kind == "anonymous":
        return unauthorized(who, "the uploading machine's own token (framework-advisor tokens add HOST)") \
            if tokens_configured() else None
    if report_host is None:
        return None
    if who.kind == "host" and not _same_host(report_host, who.host):
        return Problem(403, f"this report is for host {report_host!r} but the token is {who.host!r}'s: a machine "
                            f"uploads only its own reports (give {report_host!r} its own token with "
                            f"'framework-advisor tokens add {report_host}')")
    if who.kind == "service" and not _same_host(report_host, this_host()):
        return Problem(403, f"this report is for host {report_host!r}: the service token uploads only this "
                            f"machine's reports ({this_host()!r}); give {report_host!r} its own token with "
                            f"'framework-advisor tokens add {report_host}' and upload with that")
    return None


def require_read() -> None:
    """With private reads (``serve --private-reads``), stored reports need a token (the service's or any
    upload token); 401 otherwise. Without: open."""
    if not _settings().private_reads:
        return
    who = caller()
    if who.kind in ("service", "host"):
        return
    raise unauthorized(who, "this service keeps stored reports private (--private-reads): send the service token "
                            "or a machine's upload token")
