"""Stand-ins shared by the service tests: a canned ProbeReport, fake probes, isolated settings, polling, the CLI
run in-process and a hardware file.

A canned report is what a probe of a small CPU machine returns (it meets openapi.yaml's ProbeReport);
the fake probes stand in for the real one, which tests/test_probe_e2e.py exercises.
"""

from __future__ import annotations

import socket
import threading
import time

from framework_advisor.config import Settings
from framework_advisor.probes.report import ProbeOptions, ProbeReport

HOST = socket.gethostname()
# A service token long enough for create_app (config.MIN_TOKEN_CHARS).
SERVICE_TOKEN = "service-token-for-tests-0123456789abcdef"


def canned_report_json(quick: bool) -> dict:
    """A ProbeReport as JSON: PyTorch and MLX ran (MLX 80x slower), JAX crashed."""
    hardware = {"os": "linux", "arch": "x86_64", "cpu": {"model": "test", "cores": 2}, "memory_gb": 8,
                "accelerators": []}
    timing = {"median_s": 0.06, "min_s": 0.059, "p10_s": 0.0595, "iqr_s": 0.001, "samples": 5, "block_size": 1,
              "total_s": 0.5, "noisy": False, "per_call_s": [0.059, 0.06, 0.06, 0.061, 0.06]}
    bench = {"name": "matmul_fp32", "device": "cpu", "unit": "GFLOP/s", "value": 290.0, "best": 295.0,
             "timing": timing, "params": {"n": 2048}}
    run = {"threads": 2, "import_s": 1.0, "first_result_s": 0.01, "duration_s": 3.0, "quick": quick,
           "devices": [{"device": "cpu", "name": "cpu", "usable": True}]}
    crash = {"kind": "crash", "message": "the worker died from signal SIGSEGV"}
    return {
        "schema_version": 2, "host": HOST, "created_at": "2026-11-22T00:00:00+00:00", "quick": quick,
        "hardware": hardware, "inventory_s": 0.01,
        "frameworks": [{"framework": "pytorch", "version": "2.13.0", "benchmarks": [bench], **run},
                       {"framework": "mlx", "version": "0.32.4", "benchmarks": [{**bench, "value": 3.6, "best": 3.7}],
                        **run},
                       {"framework": "jax", "failure": crash}],
        "failures": [{"framework": "jax", **crash}],
        "derived": {"pytorch": {"failed": False, "relative_speed": 1.0, "slowdown": 1.0, "fastest": "pytorch"},
                    "mlx": {"failed": False, "relative_speed": 0.0124, "slowdown": 80.6, "fastest": "pytorch"},
                    "jax": {"failed": True, "failure_kind": "crash", "failure_message": crash["message"]}},
        "versions": {"python": "3.11.7"}, "duration_s": 0.05,
    }


def canned_report(quick: bool) -> ProbeReport:
    return ProbeReport.model_validate(canned_report_json(quick))


def bloated_report_json(quick: bool, chars: int, host: str | None = None) -> dict:
    """A valid report made large by a long setting in a framework's free-form build information."""
    report = canned_report_json(quick)
    report["frameworks"][0]["build"] = {"notes": "x" * chars}
    return {**report, "host": host or report["host"]}


class FakeProbe:
    """Records calls; blocks until released so tests can observe queued and running states."""

    def __init__(self):
        self.calls = []
        self.release = threading.Event()

    def __call__(self, options: ProbeOptions, progress=None) -> ProbeReport:
        self.calls.append({"quick": options.quick, "frameworks": options.frameworks})
        progress({"phase": "measuring", "benchmark": "matmul_fp32", "index": 0, "total": 2})
        self.release.wait(10)
        return canned_report(options.quick)


def instant_probe(options: ProbeOptions, progress=None) -> ProbeReport:
    """A probe that answers at once."""
    if progress:
        progress({"phase": "measuring", "benchmark": "matmul_fp32", "index": 0, "total": 1})
    return canned_report(options.quick)


def settings_for(tmp_path, **overrides) -> Settings:
    """Each test gets its own store and its own "machine" lock, so no earlier test's job thread
    (or a probe running on this machine) can hold it."""
    return Settings(data_dir=tmp_path / "data", probe_lock_path=tmp_path / "probe.lock", **overrides)


def wait_for(client, url, status, timeout=10, phase=None):
    """Poll a probe until it has ``status`` (and its progress ``phase``, when given: a claimed probe is
    'running' a moment before its first progress is written)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(url).get_json()
        if body["status"] == status and (phase is None or body["progress"]["phase"] == phase):
            return body
        time.sleep(0.05)
    raise AssertionError(f"{url} never reached {status} (phase {phase}): {body}")


APPLE_YAML = """\
os: darwin
arch: arm64
cpu: {model: Apple M2 Max, cores: 12}
memory_gb: 64
accelerators:
  - {kind: apple-gpu, name: Apple M2 Max GPU, memory_gb: 64}
"""


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """The CLI's main() in this process: (exit status, stdout, stderr); argparse's own exits included."""
    from framework_advisor.cli import main

    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err
