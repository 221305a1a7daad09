"""The worker's set-up, before anything is measured: what its Ready says and its WorkerResult starts with.

The thread count is set in the environment before the framework's import (``machine.limit_threads``), the
framework imported and timed, its first result timed, its build, devices and unused accelerators read, and
the plan made. The CPU affinity waits (``Setup.pin``): workers started together import in parallel on every
CPU, and each is pinned when its turns begin.
"""

from __future__ import annotations

import dataclasses
import gc
import sys
import time
from typing import Any

from .adapter import Adapter, Settings, exception_text, seen
from .adapters import load_module
from .conversation import Conversation
from .machine import limit_threads, pin_cpus
from .messages import PlanEntry, Ready
from .options import WorkerOptions
from .protocol import progress
from .records import BenchmarkError, DeviceSeen, SkippedBenchmark, UnusedAccelerator, WorkerResult
from .suite import plan


@dataclasses.dataclass
class Setup:
    options: WorkerOptions
    settings: Settings
    adapter: Adapter
    version: str
    import_s: float
    first_result_s: float
    build: dict[str, Any]
    devices: list[DeviceSeen]
    unused: list[UnusedAccelerator]
    plan: list[PlanEntry]
    skipped: list[SkippedBenchmark]
    errors: list[BenchmarkError]
    thread_controls: dict[str, Any]
    pinned: bool = False

    def pin(self) -> None:
        """Apply the CPU affinity (once): the parent's CPUs, or the first ``threads`` this process may use."""
        if not self.pinned:
            self.pinned = True
            self.thread_controls.update(pin_cpus(self.options.threads, self.options.cpus))

    def conversation(self) -> Conversation:
        return Conversation(self.adapter, self.plan, self.skipped)

    def ready(self) -> Ready:
        return Ready(type="ready", framework=self.options.framework, version=self.version,
                     threads=self.options.threads, import_s=self.import_s, first_result_s=self.first_result_s,
                     plan=self.plan, devices=self.devices, unused_accelerators=self.unused, skipped=self.skipped,
                     errors=self.errors, build=self.build)

    def result(self, conversation: Conversation) -> WorkerResult:
        benchmarks, errors, skipped = conversation.outcome()
        options = self.options
        return WorkerResult(
            framework=options.framework, version=self.version, threads=options.threads, import_s=self.import_s,
            first_result_s=self.first_result_s, duration_s=round(time.perf_counter() - self.settings.started, 3),
            quick=options.quick, thorough=options.thorough, python=sys.version.split()[0], build=self.build,
            devices=self.devices, unused_accelerators=self.unused, benchmarks=benchmarks,
            errors=(self.errors + errors)[:64], skipped=skipped, thread_controls=self.thread_controls)


def set_up(options: WorkerOptions, started: float) -> Setup:
    """Import ``options.framework`` in this process and read what it sees; ``started``: the worker's start
    (perf_counter). An import failure propagates: a non-zero exit with the traceback on stderr."""
    settings = Settings(options, started=started)
    thread_controls = limit_threads(options.threads, pin=False)
    module = load_module(options.framework)  # stdlib-only at module level
    progress("import", 0, None)

    t0 = time.perf_counter()
    lib = module.load(settings)
    import_s = time.perf_counter() - t0

    adapter = module.Adapter(lib, settings)  # applies in-framework thread settings before the first op
    t0 = time.perf_counter()
    adapter.first_result()
    first_result_s = time.perf_counter() - t0

    import numpy  # noqa: F401 - after the framework's own import, so that import_s is the framework's alone

    errors: list[BenchmarkError] = []
    try:
        build = adapter.build()
    except Exception as exc:  # noqa: BLE001
        build = {}
        errors.append(BenchmarkError(benchmark="build", device="cpu", message=exception_text(exc)))
    try:
        devices = adapter.devices()
    except Exception as exc:  # noqa: BLE001
        devices = [seen("cpu", "cpu", True)]
        errors.append(BenchmarkError(benchmark="devices", device="cpu", message=exception_text(exc)))
    usable = {entry.device for entry in devices if entry.usable}
    try:
        unused = adapter.unused_accelerators(usable)
    except Exception as exc:  # noqa: BLE001
        unused = []
        errors.append(BenchmarkError(benchmark="unused_accelerators", device="cpu", message=exception_text(exc)))

    # The framework's own objects (TensorFlow: millions) move to the permanent generation: the gc.collect()
    # between benchmarks, and automatic collections during warm-up, then scan only what the benchmarks made
    # (a full collection under TensorFlow took ~0.2 s each time).
    gc.freeze()
    planned, skipped = plan(adapter, devices)
    return Setup(options=options, settings=settings, adapter=adapter, version=adapter.version()[:100],
                 import_s=round(import_s, 4), first_result_s=round(first_result_s, 4), build=build, devices=devices,
                 unused=unused, plan=planned, skipped=skipped, errors=errors, thread_controls=thread_controls)
