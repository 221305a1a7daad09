"""Serving with gunicorn (gthread workers: a sync worker would be held by a long stream)."""

from __future__ import annotations

import dataclasses
import ipaddress
import sys

from gunicorn.app.base import BaseApplication

from framework_advisor.rules.rulebase import RuleFileError
from framework_advisor.config import TOKEN_ENV, Settings
from framework_advisor.guarded_worker import guarded_worker_class
from framework_advisor.storage import StoreError


class _Gunicorn(BaseApplication):
    def __init__(self, application, options: dict):
        self._application = application
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        return self._application


def is_loopback(host: str) -> bool:
    """True only for an address that cannot be reached from another machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # another host name: it may resolve to anything


def serve(settings: Settings, host: str, port: int, workers: int, threads: int, run_probe=None) -> int:
    """Serve until stopped; returns the exit status. ``run_probe`` replaces the real probe (the fuzzing
    script serves a fake one: fuzzing must not start real framework benchmarks)."""
    from framework_advisor.app import create_app

    # Without a token, POST /v1/probes (runs code on this machine, stores uploads) is open to whoever
    # can connect: that is only acceptable on loopback.
    if not is_loopback(host) and not settings.api_token:
        print(f"framework-advisor: error: refusing to serve on {host} (not loopback) without a token: set "
              f"{TOKEN_ENV}, or serve on 127.0.0.1", file=sys.stderr)
        return 2

    # The address served on is a name requests may use (a wildcard address is not a name: --allowed-host).
    if not is_loopback(host) and host.strip("[]") not in ("0.0.0.0", "::"):
        settings = dataclasses.replace(settings, allowed_hosts=(*settings.allowed_hosts, host))

    # Build the app once, in the master, so a bad rule file or store stops start-up with one message
    # instead of workers failing to boot in a loop.
    try:
        application = create_app(settings, run_probe=run_probe)
    except (RuleFileError, StoreError) as exc:
        print(f"framework-advisor: error: cannot start: {exc}", file=sys.stderr)
        return 2
    print(f"framework-advisor: serving on http://{host}:{port} (data in {settings.data_dir})", file=sys.stderr)
    _Gunicorn(application, {
        "bind": f"{host}:{port}",
        "workers": workers,
        # gthread with a read deadline, fair threads per client and a connection cap (guarded_worker.py)
        "worker_class": guarded_worker_class(settings.read_timeout_s, settings.max_peer_connections, threads),
        "threads": threads,
        "preload_app": True,
        "accesslog": "-",
        "errorlog": "-",
        "timeout": 60,
        "graceful_timeout": 10,
    }).run()
    return 0
