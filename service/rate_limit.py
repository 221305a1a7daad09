"""Per-client rate limit for expensive endpoints, counted in the SQLite store.

The counter lives in the store (service.storage.Store.hit_rate_limit), so every gunicorn worker and
every service process using the same data directory shares it: two workers do not double the limit
(Flask-Limiter's memory storage would count per worker). A fixed window per client. The client is its token
when it sent a valid one (the service token, or a machine's upload token: a fleet behind one NAT address
gets one budget per machine), else its network: the /24 of an IPv4 peer, the /64 of an IPv6 one (one host
holds a whole /64, so counting by address would let it take a fresh budget per address). The peer is the
connection's; the service trusts no forwarding header.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

from flask import request

from framework_advisor.problems import Problem
from framework_advisor.storage import Store

IPV4_PREFIX = 24
IPV6_PREFIX = 64


def network_of(address: Optional[str]) -> str:
    """The network a peer address is counted by: '192.0.2.0/24', '2001:db8:1:2::/64' ('unknown' if unreadable;
    an IPv4-mapped IPv6 address counts as its IPv4)."""
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def client_key(identity: Optional[str] = None) -> str:
    """``identity`` (a valid token's, see auth.Caller.identity), else the peer's network."""
    return identity if identity else network_of(request.remote_addr)


@dataclass(frozen=True)
class RateLimit:
    name: str  # the endpoint's key prefix, e.g. "probes"
    limit: int  # requests per window and client; 0 disables the limit
    window_s: float
    clock: Callable[[], float] = time.time  # wall clock: shared by processes (tests inject one)

    def check(self, store: Store, identity: Optional[str] = None) -> None:
        """Count this request for its client (``client_key``); raise 429 with Retry-After when it is over."""
        if self.limit <= 0:
            return
        client = client_key(identity)
        retry_after = store.hit_rate_limit(f"{self.name}:{client}", self.limit, self.window_s, self.clock())
        if retry_after is not None:
            seconds = max(1, math.ceil(retry_after))
            raise Problem(429, f"too many requests to this endpoint from {client}: at most {self.limit} per "
                               f"{self.window_s:g} s; retry in {seconds} s",
                          headers={"Retry-After": str(seconds)})
