"""A whole probe: phase A inventory, then one worker per installed framework, then derived facts.

The result is the ProbeReport (``probes.report``): what the machine has, what each framework saw and
measured there, what failed and why, and how long it all took. Everything a worker needs to know about the
machine and the run crosses the process boundary once, on its command line (``WorkerOptions``): its thread
count, its deadline, the accelerators present, the CPU's ISA flags and the device peaks its FLOP figures are
a percent of. The records the workers write are the report's records; nothing edits them afterwards.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import psutil

from framework_advisor.probes.conditions import LoadWatch
from framework_advisor.probes.derived import derive, understated_cpu_peak
from framework_advisor.probes.hardware import HardwareProfile
from framework_advisor.probes.history import StoredProbe, reusable
from framework_advisor.probes.hygiene import remove_stale_scratch
from framework_advisor.probes.target import TargetPython, WorkerTree, this_python
from framework_advisor.probes.inventory import take_inventory
from framework_advisor.probes.peaks import accelerator_peak, cpu_peak_gflops, measured_cpu_ghz
from framework_advisor.probes.report import (REPORT_SCHEMA_VERSION, FailedFramework, FrameworkFailure, FrameworkRun,
                                             ProbeOptions, ProbeReport, SkippedFramework)
from framework_advisor.probes.rounds import Outcome, Plan, measure_in_rounds
from framework_advisor.probes.runner import ProgressCallback, WorkerLimits, worker_command
from framework_advisor.probes.workers import WorkerArgv, WorkerProcess, wait_until_ready
from framework_advisor.probes.system import System
from framework_advisor.probes.vocabulary import FRAMEWORK_IDS
from framework_advisor.probes.worker.machine import usable_cpus
from framework_advisor.probes.worker.options import WorkerOptions
from framework_advisor.probes.worker.records import Peak

# The worker must have written its result this long before the runner's timeout kills it.
DEADLINE_MARGIN_S = 5.0
# The precisions a FLOP figure may run at (an fp32 matmul runs as TF32 on NVIDIA Ampere and later with JAX's
# defaults, as bf16 passes on a TPU): the worker takes the peak of the precision it really used.
PEAK_PRECISIONS = ("fp32", "tf32", "bf16")

# Below this many CPUs, a probe measures with one thread per framework unless asked otherwise.
SMALL_MACHINE_CPUS = 2


def worker_deadline_s(timeout_s: float) -> float:
    """The deadline a worker is given (seconds from its start): a margin before the runner's timeout."""
    return round(max(timeout_s / 2, timeout_s - DEADLINE_MARGIN_S), 3)


def _clock_ghz(machine: System) -> Optional[float]:
    return measured_cpu_ghz(machine.path("/proc/cpuinfo"), machine.path("/sys/devices/system/cpu"))


def device_peaks(hardware: HardwareProfile, threads: int, cpu_ghz: Optional[float]) -> dict[str, dict[str, Peak]]:
    """Per device kind and precision, the peak (GFLOP/s) a worker's FLOP figure is a percent of.

    CPU: the cores the worker runs on (its threads, at most one per physical core counts) at the measured
    clock. Accelerators: the first device of each kind (a worker measures one device)."""
    peaks: dict[str, dict[str, Peak]] = {}
    if hardware.cpu is not None and cpu_ghz:
        cores = min(threads, hardware.cpu.cores)
        for precision in PEAK_PRECISIONS:
            value, how = cpu_peak_gflops(cores, cpu_ghz, hardware.cpu.flags, precision)
            if value:
                peaks.setdefault("cpu", {})[precision] = Peak(value=round(value, 1), source=how[:1000],
                                                              clock_ghz=round(cpu_ghz, 3))
    for kind in sorted(hardware.accelerator_kinds()):
        accelerator = hardware.first_accelerator(kind)
        for precision in PEAK_PRECISIONS:
            tflops, how = accelerator_peak(accelerator.name, precision)
            if tflops:
                peaks.setdefault(kind, {})[precision] = Peak(value=round(tflops * 1000, 1), source=how[:1000])
    return peaks


def worker_options(framework: str, options: ProbeOptions, hardware: HardwareProfile, timeout_s: float,
                   cpu_ghz: Optional[float], cpus: tuple[int, ...] = ()) -> WorkerOptions:
    """What one worker is asked to do (its ``out`` is set by the runner's scratch directory)."""
    threads = options.threads or usable_cpus()
    return WorkerOptions(
        framework=framework, out="", threads=threads, deadline_s=worker_deadline_s(timeout_s),
        quick=options.quick, thorough=options.thorough and not options.quick,
        accelerators=tuple(sorted(hardware.accelerator_kinds())),
        cpu_flags=tuple(hardware.cpu.flags) if hardware.cpu is not None else (),
        peaks=device_peaks(hardware, threads, cpu_ghz), cpus=cpus)


def choose_cpus(watch: LoadWatch, threads: int) -> tuple[int, ...]:
    """The CPUs every worker is pinned to for its turns: the ``threads`` idlest before the workers start (a
    CPU another process keeps busy would halve a one-thread worker); all of them when it uses every CPU."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return ()
    if threads >= len(allowed):
        return ()
    return tuple(watch.idlest_cpus(allowed, threads))


def choose_threads(options: ProbeOptions, watch: LoadWatch) -> tuple[int, str]:
    """The CPU threads every framework gets, and why (said in the report)."""
    cpus = usable_cpus()
    if options.threads is not None:
        if options.threads > cpus:  # more threads than CPUs to run them on would only measure the scheduler
            return cpus, f"{options.threads} threads were asked for; this probe may use {cpus} CPUs"
        return options.threads, f"{options.threads} thread(s), as asked"
    if cpus <= SMALL_MACHINE_CPUS:
        return 1, (f"one thread per framework: on {cpus} CPUs, figures at every CPU swing with anything else the "
                   f"machine runs (probe --threads N to choose)")
    if watch.busy_before():
        return 1, (f"one thread per framework: other processes kept {watch.others_percent():g}% of the {cpus} CPUs "
                   f"busy when the probe started (probe --threads N to choose)")
    return cpus, f"{cpus} threads: every CPU this probe may use"


def rounds_plan(options: ProbeOptions) -> Plan:
    """At least ten samples per figure (five rounds of two blocks), three more rounds when the machine is busy
    or a figure moved more than 30% between rounds."""
    compile_deadline = 15.0 if options.quick else 120.0 if options.thorough else 40.0
    return Plan(rounds=5, blocks=2, extra_rounds_when_busy=3, compile_deadline_s=compile_deadline)


def _measure(workers: list[WorkerProcess], options: ProbeOptions, limits: WorkerLimits, started: float,
             watch: LoadWatch, report_progress: ProgressCallback) -> tuple[Outcome, list]:
    """The workers' imports (together), their turns, and how each ended."""
    report_progress({"phase": "importing", "total": len(workers)})
    wait_until_ready(workers, max(1.0, limits.timeout_s - (time.monotonic() - started)))
    outcome = measure_in_rounds(workers, rounds_plan(options), watch, report_progress) if options.benchmarks else Outcome()
    return outcome, [worker.close() for worker in workers]


def run_probe(options: ProbeOptions, progress: Optional[ProgressCallback] = None,
              limits: Optional[WorkerLimits] = None, worker_argv: Optional[WorkerArgv] = None,
              system: Optional[System] = None, previous: Optional[StoredProbe] = None,
              python: Optional[TargetPython] = None) -> ProbeReport:
    """Probe this machine as ``options`` ask; ``options.frameworks == []`` takes the inventory only.

    Every framework's worker starts at once (their imports overlap), then they are measured in turns and
    rounds (``probes.rounds``). When ``previous`` (this machine's last probe) measured the same framework
    versions on the same hardware with the same settings less than a day ago on a quiet machine, its
    measurements are reused (``report.reused`` says so) unless ``options.fresh``. ``python`` is the
    interpreter whose frameworks are measured (default: this one; another runs a copy of the worker package,
    ``probes.target``). ``worker_argv(framework,
    out, reply_fd)`` replaces the real worker command and ``system`` the machine the inventory reads
    (fault-injection tests and recorded fixture machines)."""
    started = time.monotonic()
    report_progress = progress or (lambda event: None)
    remove_stale_scratch()  # what killed probes left in the temporary directory (their owners are gone)
    watch = LoadWatch(cpus=usable_cpus())
    wanted = list(FRAMEWORK_IDS if options.frameworks is None else options.frameworks)

    report_progress({"phase": "inventory"})
    inventory_started = time.monotonic()
    hardware = take_inventory(system)
    inventory_s = round(time.monotonic() - inventory_started, 3)
    # The window after the inventory tells how busy the machine is (watch.WINDOW_S): threads and CPUs by it.
    threads, threads_note = choose_threads(options, watch)
    options = options.model_copy(update={"threads": threads})
    target = python or this_python()
    versions = target.installed_versions(wanted)
    cpu_ghz = _clock_ghz(system or System())
    to_run = [framework for framework in wanted if versions.get(framework) or worker_argv is not None]
    skipped = [SkippedFramework(framework=framework, reason="not installed")
               for framework in wanted if framework not in to_run]
    measured_versions = {"python": target.version,
                         **{framework: version for framework, version in versions.items() if version is not None}}
    if previous is not None and not options.fresh and options.benchmarks and to_run:
        reuse, why = reusable(previous, to_run, hardware, measured_versions, options.quick,
                              options.thorough and not options.quick, threads, target.used())
        report_progress({"step": why})
        if reuse is not None:
            report = previous.report.model_copy(update={
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "reused": reuse,
                "inventory_s": inventory_s, "duration_s": round(time.monotonic() - started, 3), "skipped": skipped})
            report_progress({"phase": "done", "duration_s": report.duration_s})
            return report
    # All workers are alive at once: together they may use most of the memory, each its share.
    limits = limits or WorkerLimits(timeout_s=options.worker_timeout_s,
                                    memory_bytes=int(psutil.virtual_memory().total * 0.8 / max(1, len(to_run))))

    cpus = choose_cpus(watch, threads) if options.benchmarks else ()
    with ExitStack() as cleanup:
        # Another interpreter runs a copy of the worker package (it need not have the advisor installed).
        tree = cleanup.enter_context(WorkerTree()) if not target.own and worker_argv is None else None
        workers = []
        try:
            for framework in to_run:
                asked = worker_options(framework, options, hardware, limits.timeout_s, cpu_ghz, cpus)

                def argv(out: Path, reply_fd: int, framework: str = framework,
                         asked: WorkerOptions = asked) -> list[str]:
                    if worker_argv is not None:
                        return worker_argv(framework, out, reply_fd)
                    options_now = dataclasses.replace(asked, out=str(out), reply_fd=reply_fd)
                    if tree is not None:
                        return tree.command(target.executable) + options_now.to_argv()
                    return worker_command(options_now)

                workers.append(WorkerProcess(framework, argv, limits, progress))
            outcome, results = _measure(workers, options, limits, started, watch, report_progress)
        except BaseException:
            # Ctrl-C (KeyboardInterrupt) or an error: the workers run in sessions of their own, so the terminal's
            # SIGINT never reached them and one busy importing or measuring would outlive this process.
            for worker in workers:
                worker.stop()
            raise


    failures = [FrameworkFailure(framework=result.framework, **result.failure.model_dump())
                for result in results if isinstance(result, FailedFramework)]
    duration_s = round(time.monotonic() - started, 3)
    report = ProbeReport(
        schema_version=REPORT_SCHEMA_VERSION,
        host=socket.gethostname() or "localhost",
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        hardware=hardware,
        frameworks=results,
        failures=failures,
        derived=derive(results, hardware, outcome.comparisons, quick=options.quick),
        understated_cpu_peak=understated_cpu_peak(results),
        duration_s=duration_s,
        quick=options.quick,
        thorough=options.thorough and not options.quick,
        inventory_s=inventory_s,
        skipped=skipped,
        versions=measured_versions,
        comparisons=outcome.comparisons,
        calibrations=outcome.calibrations,
        conditions=watch.conditions(),
        threads=threads,
        threads_note=threads_note,
        workers_peak_rss_mb=round(sum(worker.peak_rss for worker in workers) / 2**20, 1) or None,
        python=target.used(),
    )
    report_progress({"phase": "done", "duration_s": duration_s})
    return report
