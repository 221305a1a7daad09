"""Per-client rate limit for expensive endpoints, counted in the SQLite store.

The counter lives in the store (service.storage.Store.hit_rate_limit), so every gunicorn worker and
every service process using the same data directory shares it: two workers do not double the limit
(Flask-Limiter's memory storage would count per worker). A fixed window per client; the client is the
connection's peer address (the service binds loopback by default and trusts no forwarding header).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import request

from framework_advisor.problems import Problem
from framework_advisor.storage import Store


@dataclass(frozen=True)
class RateLimit:
    name: str  # the endpoint's key prefix, e.g. "probes"
    limit: int  # requests per window and client; 0 disables the limit
    window_s: float
    clock: Callable[[], float] = time.time  # wall clock: shared by processes (tests inject one)

    def check(self, store: Store) -> None:
        """Count this request; raise 429 with Retry-After when the client is over its limit."""
        if self.limit <= 0:
            return
        client = request.remote_addr or "unknown"
        retry_after = store.hit_rate_limit(f"{self.name}:{client}", self.limit, self.window_s, self.clock())
        if retry_after is not None:
            seconds = max(1, math.ceil(retry_after))
            raise Problem(429, f"too many requests to this endpoint from {client}: at most {self.limit} per "
                               f"{self.window_s:g} s; retry in {seconds} s",
                          headers={"Retry-After": str(seconds)})
