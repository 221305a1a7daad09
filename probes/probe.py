"""A whole probe: phase A inventory, then one worker per installed framework, then derived facts.

The result is the ProbeReport (documented in openapi.yaml): what the machine has, what each
framework saw and measured there, what failed and why, and how long it all took.
"""

from __future__ import annotations

import platform
import socket
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from framework_advisor.probes.derived import derive
from framework_advisor.probes.installed import installed_versions
from framework_advisor.probes.inventory import take_inventory
from framework_advisor.probes.peaks import accelerator_peak, cpu_peak_gflops, measured_cpu_ghz
from framework_advisor.probes.runner import ProgressCallback, WorkerLimits, default_worker_argv, run_worker
from framework_advisor.probes.system import System

FRAMEWORKS = ("numpy", "pytorch", "jax", "mlx", "tensorflow")
REPORT_SCHEMA_VERSION = 1
# Benchmarks measured in FLOP/s, for which a percent of the device's peak is meaningful.
_FLOP_BENCHMARKS = {"matmul_fp32": "fp32", "matmul_bf16": "bf16", "conv2d": "fp32"}

WorkerArgv = Callable[[str, Path], list[str]]


def _percent_of_peak(bench: dict[str, Any], hardware: dict[str, Any], cpu_ghz: float | None,
                     threads: int | None) -> None:
    dtype = _FLOP_BENCHMARKS.get(bench.get("name", ""))
    if dtype is None or not bench.get("value"):
        return
    if bench.get("device") == "cpu":
        cpu = hardware.get("cpu", {})
        if not cpu or not cpu_ghz:
            return
        # The peak of the cores the worker ran on (it used `threads`, at most one per core counts).
        cores = min(threads, cpu["cores"]) if threads else cpu["cores"]
        peak, how = cpu_peak_gflops(cores, cpu_ghz, cpu.get("flags", []), dtype)
    else:
        accelerator = next((a for a in hardware.get("accelerators", []) if a["kind"] == bench.get("device")), None)
        if accelerator is None:
            return
        tflops, how = accelerator_peak(accelerator["name"], dtype)
        peak = tflops * 1000 if tflops else None  # per device: workers measure one device
    if peak:
        bench["percent_of_peak"] = round(100 * bench["value"] / peak, 1)
        bench["peak"] = {"value": round(peak, 1), "unit": "GFLOP/s", "source": how}


def _flag_understated_cpu_peak(results: Sequence[dict[str, Any]], cpu_ghz: float | None) -> None:
    """A CPU figure above the computed peak proves the assumed clock too low (turbo under a hypervisor that
    reports the nominal clock). Then every CPU peak of the report is understated by the same factor: their
    percents are dropped rather than shown above 100, and each peak says so, with the clock the fastest
    figure implies (a lower bound on the effective clock)."""
    cpu = [(result["framework"], bench) for result in results for bench in result.get("benchmarks", [])
           if bench.get("device") == "cpu" and bench.get("peak", {}).get("value")]
    if not cpu or not cpu_ghz:
        return
    def ratio(bench: dict[str, Any]) -> float:
        return max(bench.get("value") or 0, bench.get("best") or 0) / bench["peak"]["value"]
    framework, fastest = max(cpu, key=lambda item: ratio(item[1]))
    if ratio(fastest) <= 1.0:
        return
    implied = cpu_ghz * ratio(fastest)
    figure = max(fastest.get("value") or 0, fastest.get("best") or 0)
    for _, bench in cpu:
        percent = bench.pop("percent_of_peak", None)
        bench["peak"].update(
            understated=True, assumed_ghz=round(cpu_ghz, 3), effective_ghz_at_least=round(implied, 2),
            percent_at_assumed_clock=percent,
            note=(f"{framework} {fastest['name']} reached {figure:.4g} GFLOP/s, above this peak computed at "
                  f"{cpu_ghz:.2f} GHz: the clock under load runs at {implied:.2f} GHz or more, so the true peak is "
                  f"unknown and no percent of it is given"))


def run_probe(frameworks: Sequence[str] | None = None, quick: bool = False,
              progress: ProgressCallback | None = None, limits: WorkerLimits | None = None,
              threads: int | None = None, worker_argv: WorkerArgv | None = None,
              system: System | None = None, thorough: bool = False) -> dict[str, Any]:
    """Probe this machine; ``frameworks=[]`` takes the inventory only.

    ``worker_argv`` replaces the real worker command and ``system`` the machine the inventory reads
    (fault-injection tests and recorded fixture machines). ``thorough`` (ignored with ``quick``) also
    measures cold compiles that run an external compiler (torch.compile, mx.compile on the CPU); a default
    full probe records those as skipped with a reason that names the flag."""
    started = time.monotonic()
    thorough = bool(thorough) and not quick
    limits = limits or WorkerLimits(timeout_s=30.0 if quick else 150.0 if thorough else 60.0)
    wanted = list(FRAMEWORKS if frameworks is None else frameworks)
    report_progress = progress or (lambda event: None)

    report_progress({"phase": "inventory"})
    inventory_started = time.monotonic()
    hardware = take_inventory(system)
    inventory_s = round(time.monotonic() - inventory_started, 3)
    versions = installed_versions(wanted)
    accelerators = sorted({a["kind"] for a in hardware.get("accelerators", [])})

    results: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    to_run = [f for f in wanted if versions.get(f) or worker_argv is not None]
    for index, framework in enumerate(wanted):
        if framework not in to_run:
            skipped.append({"framework": framework, "reason": "not installed"})
    for index, framework in enumerate(to_run):
        report_progress({"phase": "framework", "framework": framework, "index": index, "total": len(to_run)})

        def argv(out: Path, framework: str = framework) -> list[str]:
            if worker_argv is not None:
                return worker_argv(framework, out)
            return default_worker_argv(framework, out, quick, threads, accelerators, thorough)

        results.append(run_worker(framework, argv, limits, progress))

    machine = system or System()
    cpu_ghz = measured_cpu_ghz(machine.path("/proc/cpuinfo"), machine.path("/sys/devices/system/cpu"))
    for result in results:
        for bench in result.get("benchmarks", []):
            _percent_of_peak(bench, hardware, cpu_ghz, result.get("threads"))
    _flag_understated_cpu_peak(results, cpu_ghz)

    failures = [{"framework": r["framework"], **r["failure"]} for r in results if "failure" in r]
    report = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "host": socket.gethostname(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "thorough": thorough,
        "hardware": hardware,
        "inventory_s": inventory_s,
        "frameworks": results,
        "skipped": skipped,
        "failures": failures,
        "derived": derive(results, hardware),
        "versions": {"python": platform.python_version(),
                     **{f: v for f, v in versions.items() if v is not None}},
        "duration_s": round(time.monotonic() - started, 3),
    }
    report_progress({"phase": "done", "duration_s": report["duration_s"]})
    return report
