"""Bearer-token guard for the endpoints that cost the machine something (probes) or store data (uploads).

Without a configured token these endpoints are open, which is only safe on loopback: `serve` refuses
to bind elsewhere without one (service/server.py).
"""

from __future__ import annotations

import hmac

from flask import current_app, request

from framework_advisor.config import TOKEN_ENV
from framework_advisor.problems import Problem


def token_status() -> str:
    """'open' (no token configured), 'valid', 'missing' or 'wrong' for this request."""
    expected = current_app.extensions["framework_advisor.settings"].api_token
    if not expected:
        return "open"
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        return "missing"
    return "valid" if hmac.compare_digest(given.strip().encode(), expected.encode()) else "wrong"


def require_token(status: str | None = None) -> None:
    """Raise 401 unless the request carries the configured bearer token (no token configured: pass)."""
    status = status or token_status()
    if status == "missing":
        raise Problem(401, "this endpoint needs 'Authorization: Bearer <token>' (the token the service was "
                           f"started with, {TOKEN_ENV})", headers={"WWW-Authenticate": 'Bearer realm="framework-advisor"'})
    if status == "wrong":
        raise Problem(401, "the bearer token is not the one this service was started with",
                      headers={"WWW-Authenticate": 'Bearer realm="framework-advisor", error="invalid_token"'})
