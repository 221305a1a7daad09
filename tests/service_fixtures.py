"""Stand-ins shared by the service tests: a canned ProbeReport, fake probes, isolated settings, polling.

A canned report is what a probe of a small CPU machine returns (it meets openapi.yaml's ProbeReport);
the fake probes stand in for the real one, which tests/test_probe_e2e.py exercises.
"""

from __future__ import annotations

import socket
import threading
import time

from framework_advisor.config import Settings

HOST = socket.gethostname()


def canned_report(quick: bool) -> dict:
    hardware = {"os": "linux", "arch": "x86_64", "cpu": {"model": "test", "cores": 2}, "memory_gb": 8,
                "accelerators": []}
    bench = {"name": "matmul_fp32", "device": "cpu", "unit": "GFLOP/s", "value": 290.0, "checked": True}
    return {
        "schema_version": 1, "host": HOST, "created_at": "2026-11-22T00:00:00+00:00", "quick": quick,
        "hardware": hardware, "inventory_s": 0.01,
        "frameworks": [{"framework": "pytorch", "version": "2.13.0", "benchmarks": [bench]},
                       {"framework": "mlx", "version": "0.32.4", "benchmarks": [{**bench, "value": 3.6}]},
                       {"framework": "jax", "failure": {"kind": "crash", "message": "died from SIGSEGV"}}],
        "skipped": [], "failures": [{"framework": "jax", "kind": "crash", "message": "died from SIGSEGV"}],
        "derived": {"pytorch": {"failed": False, "relative_speed": 1.0, "slowdown": 1.0, "fastest": "pytorch"},
                    "mlx": {"failed": False, "relative_speed": 0.0124, "slowdown": 80.6, "fastest": "pytorch"},
                    "jax": {"failed": True, "failure_kind": "crash", "failure_message": "died from SIGSEGV"}},
        "versions": {"python": "3.11.7"}, "duration_s": 0.05,
    }


class FakeProbe:
    """Records calls; blocks until released so tests can observe queued and running states."""

    def __init__(self):
        self.calls = []
        self.release = threading.Event()

    def __call__(self, quick=False, frameworks=None, progress=None):
        self.calls.append({"quick": quick, "frameworks": frameworks})
        progress({"phase": "framework", "framework": "pytorch", "index": 0, "total": 2})
        self.release.wait(10)
        return canned_report(quick)


def instant_probe(quick=False, frameworks=None, progress=None):
    """A probe that answers at once."""
    if progress:
        progress({"phase": "framework", "framework": "numpy", "index": 0, "total": 1})
    return canned_report(quick)


def settings_for(tmp_path, **overrides) -> Settings:
    """Each test gets its own store and its own "machine" lock, so no earlier test's job thread
    (or a probe running on this machine) can hold it."""
    return Settings(data_dir=tmp_path / "data", probe_lock_path=tmp_path / "probe.lock", **overrides)


def wait_for(client, url, status, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(url).get_json()
        if body["status"] == status:
            return body
        time.sleep(0.05)
    raise AssertionError(f"{url} never reached {status}: {body}")
