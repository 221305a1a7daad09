"""One benchmark at one size on one device, measured in as many turns as the parent gives it: a session.

``prepare`` builds the problem (``benchmarks``: its size from the ladder or the parent's, the first call,
the first check where a benchmark has one), warms it up and picks the block size (``timing.Sampler``);
``sample(k)`` times k more blocks; ``finish`` checks the last output against its NumPy reference and gives
the record over every sample of the session. A worker driven by the parent samples in rounds (the record's
``timing.stop`` is "rounds"); a worker on its own (``suite.run_standalone``) samples until the figure settles
or its budget is spent (``settle``), through the same session.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from .figures import with_percent_of_peak
from .messages import Prepared, Samples
from .records import BenchmarkRecord, Peak
from .timing import Measurement, Sampler, rounds_settled


@dataclass
class Bench:
    """A benchmark's problem built at one size: what a session times, checks and reports."""

    name: str
    device: str
    size: int
    standard: int  # the standard size of this benchmark on this device
    run: Callable[[], Any]
    sync: Callable[[Any], Any]
    check: Callable[[Measurement], None]  # raises CheckError unless the last timed output is right
    record: Callable[[Measurement], BenchmarkRecord]  # the figure, its params and precision
    budget_s: float  # for a self-driven measurement (``Settings.budget_for``)
    first_call_s: Optional[float] = None  # the set-up made the first call already (a ladder, a compile)
    prior_calls: int = 0  # ... and these calls after it, which count as warm-up
    prior_s: float = 0.0
    reduced_because: Optional[str] = None  # the ladder stopped below the standard size, and why


def role_of(size: int, asked: Optional[int], headline_size: Optional[int], standard: int) -> str:
    """"comparison" for a size the parent asked for below the worker's own headline size (the size its ladder
    picked, or the standard size before it picked one); else "headline"."""
    if asked is not None and size < (headline_size if headline_size is not None else standard):
        return "comparison"
    return "headline"


class Session:
    """A prepared benchmark: its sampler, the samples so far, and its own working time."""

    def __init__(self, bench: Bench, role: str, build_s: float):
        started = time.perf_counter()
        self.bench = bench
        self.role = role
        self.sampler = Sampler(bench.run, bench.sync, first_call_s=bench.first_call_s,
                               prior_calls=bench.prior_calls, prior_s=bench.prior_s)
        self.stop: Optional[str] = None  # set by ``settle``; None: the parent chose the blocks ("rounds")
        self.round_medians: list[float] = []  # one per ``sample`` command: a round of the parent's
        self.wall_s = build_s + time.perf_counter() - started  # this session's own work, not other turns

    @property
    def key(self) -> tuple[str, str, int]:
        return self.bench.name, self.bench.device, self.bench.size

    def prepared(self) -> Prepared:
        bench = self.bench
        return Prepared(type="prepared", benchmark=bench.name, device=bench.device, size=bench.size,
                        standard_size=bench.standard, block_size=self.sampler.block_size,
                        per_call_s=float(f"{self.sampler.estimate_s:.6g}"),
                        first_call_s=float(f"{self.sampler.first_call_s:.6g}"),
                        reduced_because=bench.reduced_because or None)

    def _samples(self, per_call: list[float], wall_s: float) -> Samples:
        self.wall_s += wall_s
        return Samples(type="samples", benchmark=self.bench.name, device=self.bench.device, size=self.bench.size,
                       per_call_s=[float(f"{value:.6g}") for value in per_call], wall_s=round(wall_s, 6))

    def sample(self, blocks: int) -> Samples:
        """``blocks`` more timed blocks (fewer once a record's worth of samples is held)."""
        started = time.perf_counter()
        new = self.sampler.blocks(blocks)
        if new:
            self.round_medians.append(statistics.median(new))
        return self._samples(new, time.perf_counter() - started)

    def settle(self, min_blocks: int, min_total_s: float) -> Samples:
        """Blocks until the figure settles (``min_blocks`` blocks, ``min_total_s`` of them, a small spread) or
        the benchmark's budget is spent; the record says which."""
        started = time.perf_counter()
        before = len(self.sampler.per_call)
        self.stop = self.sampler.until_settled(self.bench.budget_s, min_blocks=min_blocks, min_total_s=min_total_s)
        return self._samples(self.sampler.per_call[before:], time.perf_counter() - started)

    def finish(self, peaks: dict[str, dict[str, Peak]], framework: str) -> BenchmarkRecord:
        """The record over every sample: the output checked (``CheckError`` if wrong), the percent of peak."""
        started = time.perf_counter()
        measurement = self.sampler.measurement(self.stop or "rounds")
        if self.stop is None:  # measured in rounds: unsettled means it moved between rounds
            measurement = dataclasses.replace(measurement, noisy=not rounds_settled(self.round_medians))
        self.bench.check(measurement)
        record = with_percent_of_peak(self.bench.record(measurement), peaks, framework)
        self.wall_s += time.perf_counter() - started
        return dataclasses.replace(record, wall_s=round(self.wall_s, 3), size=self.bench.size, role=self.role)
