"""The timing harness of the worker: honest per-call times for one callable, and every sample.

Method (shared/notes/benchmarking.md):

1. The first call is timed on its own (``first_call_s``): compilation and lazy initialisation land there.
   A caller that has already made it (a size ladder that ran the callable to choose its size) passes
   ``first_call_s`` and the calls it made after it (``prior_calls``, ``prior_s``); those count as warm-up,
   so they are not repeated.
2. Warm-up: at least ``warmup_calls`` calls and at least ``warmup_s`` seconds (prior calls included), and at
   least one call here, which also gives the per-call estimate for the block size.
3. A block size is chosen from 1, 2, 5, 10, 20, 50, ... so that one block takes at least ``min_block_s``
   (1 ms); timing single sub-microsecond calls would measure the clock, not the call.
4. Blocks are timed with the garbage collector off (it is switched back on afterwards, also on error).
5. Measuring stops as soon as there are ``min_blocks`` blocks, ``min_total_s`` seconds of blocks, and the
   spread is small (``settled``): IQR/median <= ``target_rel_iqr``, or the 95% distribution-free confidence
   interval of the median lies within +-2.5% of it. Otherwise it stops when ``budget_s`` (counted from the
   end of the first call, so warm-up included) is spent.

A figure is ``noisy`` when its samples did not settle (``settled``: at least 5 samples and the spread rule),
however the measuring stopped: a figure whose blocks were cut by the budget but agree is not noisy.

Steps 1-3 happen when a ``Sampler`` is made; its ``blocks(k)`` times k more blocks, as often as its caller
asks: ``measure`` asks until the stopping rule holds, a worker in turns (``session``) when the parent says.
``sync(output)`` is called on every call's output before the clock is read, so asynchronous frameworks
(JAX, MLX, CUDA streams) are timed to a finished result, not to a dispatched one.

The result keeps every block's per-call time (``per_call_s``), so that a reader can judge the spread itself.
Standard library only: the harness imports no framework.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from .records import MAX_SAMPLES, Timing

# When to stop timing (standalone): the median's 95% CI within +-2.5% of it, or IQR/median at most 5%.
CI_HALF_WIDTH = 0.025
TARGET_REL_IQR = 0.05
# When a figure is flagged noisy: fewer samples than this, or a spread twice the stopping rule's (IQR/median
# above 10%, torch.utils.benchmark's own stopping level, and the median's CI wider than +-5%). A figure that
# merely did not reach the tight stopping rule within its budget is not noisy: only an unsettled one is.
MIN_SETTLED_SAMPLES = 5
UNSETTLED_REL_IQR = 0.10
UNSETTLED_CI_HALF_WIDTH = 0.05
MIN_BUDGET_BLOCKS = 3  # even a blown budget yields this many blocks, so that a spread exists
MAX_BLOCKS = MAX_SAMPLES  # what a Timing record holds
STOPS = ("converged", "budget", "rounds")  # "rounds": the parent decided how many blocks, in turns
_SLACK = 1 - 1e-9  # thresholds compare with a relative slack so that float rounding of clock sums cannot tip them


def _reaches(value: float, threshold: float) -> bool:
    return value >= threshold * _SLACK


@dataclass
class Measurement:
    """What ``measure`` found: per-call times in seconds, every block's sample, and the last call's output.

    ``samples`` counts blocks of ``block_size`` calls; ``per_call_s`` holds one per-call time per block, in the
    order measured. ``record()`` gives the worker's ``records.Timing`` (six significant digits).
    """

    median_s: float
    min_s: float
    p10_s: float
    iqr_s: float
    samples: int
    block_size: int
    total_s: float  # time of the measurement itself: first call, warm-up and blocks
    first_call_s: Optional[float]
    noisy: bool
    per_call_s: list[float] = field(default_factory=list)
    warmup_calls: int = 0
    stop: str = "converged"  # one of STOPS
    last_output: Any = field(default=None, repr=False, compare=False)  # the last timed call's output

    @property
    def rel_iqr(self) -> float:
        return self.iqr_s / self.median_s if self.median_s > 0 else math.inf

    def record(self) -> Timing:
        def r(value: float) -> float:
            return float(f"{value:.6g}")

        return Timing(median_s=r(self.median_s), min_s=r(self.min_s), p10_s=r(self.p10_s), iqr_s=r(self.iqr_s),
                      samples=self.samples, block_size=self.block_size, total_s=r(self.total_s),
                      noisy=self.noisy, per_call_s=[r(value) for value in self.per_call_s],
                      rel_iqr=r(self.rel_iqr) if math.isfinite(self.rel_iqr) else None,
                      first_call_s=None if self.first_call_s is None else r(self.first_call_s),
                      warmup_calls=self.warmup_calls, stop=self.stop if self.stop in STOPS else "budget")


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (NumPy's default), q in [0, 1]."""
    if not sorted_values:
        raise ValueError("no values")
    position = q * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def median_ci_ranks(n: int, confidence: float = 0.95) -> Optional[tuple[int, int]]:
    """0-based order-statistic ranks (lo, hi) of a distribution-free CI for the median, or None if n is too small.

    The interval [x_(j), x_(n-1-j)] covers the median with probability 1 - 2 P(Binomial(n, 1/2) <= j);
    j is the largest rank that keeps that coverage >= ``confidence``. n >= 6 is needed for 95%.
    """
    alpha_half = (1 - confidence) / 2
    cumulative = 0.0
    best = None
    for j in range(n // 2):
        cumulative += math.comb(n, j) / 2 ** n  # P(B <= j)
        if cumulative <= alpha_half:
            best = j
        else:
            break
    return None if best is None else (best, n - 1 - best)


def converged(per_call: list[float], target_rel_iqr: float = TARGET_REL_IQR,
              ci_half_width: float = CI_HALF_WIDTH) -> bool:
    """The spread rule: small IQR, or a tight distribution-free CI of the median."""
    ordered = sorted(per_call)
    median = percentile(ordered, 0.5)
    if median <= 0:
        return False
    if (percentile(ordered, 0.75) - percentile(ordered, 0.25)) / median <= target_rel_iqr:
        return True
    ranks = median_ci_ranks(len(ordered))
    if ranks is None:
        return False
    low, high = ordered[ranks[0]], ordered[ranks[1]]
    return (median - low) / median <= ci_half_width and (high - median) / median <= ci_half_width


# Measured in rounds (the parent's turns), a figure is unsettled when its median moved by more than this
# factor from one round to another: the minutes between rounds are what a busy machine changes.
UNSETTLED_ROUND_RATIO = 1.3
MIN_ROUNDS = 3


def rounds_settled(round_medians: list[float]) -> bool:
    """Enough rounds (``MIN_ROUNDS``) and none more than ``UNSETTLED_ROUND_RATIO`` away from another."""
    return len(round_medians) >= MIN_ROUNDS and max(round_medians) <= UNSETTLED_ROUND_RATIO * min(round_medians)


def settled(per_call: list[float]) -> bool:
    """Enough samples (``MIN_SETTLED_SAMPLES``) and no more than twice the stopping rule's spread: the
    opposite of a noisy figure."""
    return len(per_call) >= MIN_SETTLED_SAMPLES and converged(per_call, UNSETTLED_REL_IQR, UNSETTLED_CI_HALF_WIDTH)


def block_size_for(per_call_s: float, min_block_s: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... whose block of calls takes >= min_block_s."""
    size = 1
    steps = (2, 2.5, 2)  # 1 -> 2 -> 5 -> 10 -> 20 -> 50 ...
    index = 0
    while not _reaches(size * per_call_s, min_block_s) and size < 10 ** 9:
        size = int(round(size * steps[index % 3]))
        index += 1
    return size


class Sampler:
    """One callable's first call, warm-up and block size (made here), then its timed blocks, ``k`` at a time.

    ``first_call_s`` given: the caller made the first call (and ``prior_calls`` more, taking ``prior_s``
    seconds) already; it is recorded, not repeated, and the prior calls count toward the warm-up.
    ``started`` is the clock after the first call: a budget counts from there.
    """

    def __init__(self, run: Callable[[], Any], sync: Optional[Callable[[Any], Any]] = None, *,
                 warmup_calls: int = 3, warmup_s: float = 0.05, min_block_s: float = 1e-3,
                 first_call_s: Optional[float] = None, prior_calls: int = 0, prior_s: float = 0.0,
                 clock: Callable[[], float] = time.perf_counter):
        self.run, self.sync = run, sync or (lambda output: None)
        self.clock, self.min_block_s = clock, min_block_s
        begun = clock()
        earlier_s = 0.0  # time the caller spent on the first and prior calls
        if first_call_s is None:
            output = run()
            self.sync(output)
            self.started = clock()
            first_call_s = self.started - begun
            prior_calls, prior_s = 0, 0.0
        else:
            self.started = begun
            earlier_s = first_call_s + prior_s
        self.first_call_s = first_call_s
        # Warm-up: >= warmup_calls calls and >= warmup_s seconds; also the per-call estimate for the block size.
        calls = 0
        warm_times: list[float] = []
        while True:
            t0 = clock()
            output = run()
            self.sync(output)
            t1 = clock()
            warm_times.append(t1 - t0)
            calls += 1
            if prior_calls + calls >= warmup_calls and _reaches(prior_s + t1 - self.started, warmup_s):
                break
        recent = sorted(warm_times[-max(warmup_calls, len(warm_times) // 2):])
        self.estimate_s = max(percentile(recent, 0.5), 1e-9)
        self.block_size = block_size_for(self.estimate_s, min_block_s)
        self.warmup_calls = prior_calls + calls
        self.per_call: list[float] = []
        self.block_time_s = 0.0  # the timed blocks alone
        self.total_s = clock() - begun + earlier_s  # first call, warm-up, and every block timed since
        self.last_output = output

    @property
    def full(self) -> bool:
        return len(self.per_call) >= MAX_BLOCKS

    def blocks(self, count: int, deadline: Optional[float] = None) -> list[float]:
        """Time ``count`` more blocks (fewer once ``MAX_BLOCKS`` are held), garbage collection off; return
        their per-call times. A first block shorter than ``min_block_s`` (calls got faster after warm-up)
        recalibrates the block size and is timed again, unless ``deadline`` has passed."""
        run, sync, clock = self.run, self.sync, self.clock
        new: list[float] = []
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            while len(new) < count and not self.full:
                block = self.block_size
                t0 = clock()
                for _ in range(block):
                    output = run()
                    sync(output)
                t1 = clock()
                self.last_output = output
                elapsed = t1 - t0
                self.total_s += elapsed
                if not _reaches(elapsed, self.min_block_s) and not self.per_call and block < 10 ** 9:
                    # The estimate from warm-up was too high (calls got faster): recalibrate and start over.
                    self.block_size = block_size_for(max(elapsed / block, 1e-9), self.min_block_s)
                    if deadline is None or t1 < deadline:
                        continue
                new.append(elapsed / block)
                self.per_call.append(elapsed / block)
                self.block_time_s += elapsed
        finally:
            if gc_was_enabled:
                gc.enable()
        return new

    def until_settled(self, budget_s: float, *, min_blocks: int = 5, min_total_s: float = 0.1,
                      target_rel_iqr: float = TARGET_REL_IQR) -> str:
        """Time blocks one by one until ``min_blocks`` blocks, ``min_total_s`` seconds of them and a small
        spread ("converged"), or until ``budget_s`` after the first call is spent ("budget"; at least
        ``MIN_BUDGET_BLOCKS`` blocks, or ``min_blocks`` if fewer)."""
        deadline = self.started + budget_s
        gc_was_enabled = gc.isenabled()
        gc.disable()  # off between blocks too, as within them
        try:
            while not self.full:
                self.blocks(1, deadline)
                if (len(self.per_call) >= min_blocks and _reaches(self.block_time_s, min_total_s)
                        and converged(self.per_call, target_rel_iqr)):
                    return "converged"
                if self.clock() >= deadline and len(self.per_call) >= min(MIN_BUDGET_BLOCKS, min_blocks):
                    return "budget"
            return "budget"
        finally:
            if gc_was_enabled:
                gc.enable()

    def measurement(self, stop: str) -> Measurement:
        """The summary of every block timed so far (at least one)."""
        if not self.per_call:
            raise ValueError("no block was timed")
        ordered = sorted(self.per_call)
        return Measurement(
            median_s=percentile(ordered, 0.5), min_s=ordered[0], p10_s=percentile(ordered, 0.10),
            iqr_s=percentile(ordered, 0.75) - percentile(ordered, 0.25), samples=len(ordered),
            block_size=self.block_size, total_s=self.total_s, first_call_s=self.first_call_s,
            noisy=not settled(self.per_call), per_call_s=list(self.per_call),
            warmup_calls=self.warmup_calls, stop=stop, last_output=self.last_output)


def measure(run: Callable[[], Any], sync: Optional[Callable[[Any], Any]] = None, *, budget_s: float,
            min_blocks: int = 5, min_total_s: float = 0.1, target_rel_iqr: float = TARGET_REL_IQR,
            warmup_calls: int = 3, warmup_s: float = 0.05, min_block_s: float = 1e-3,
            first_call_s: Optional[float] = None, prior_calls: int = 0, prior_s: float = 0.0,
            clock: Callable[[], float] = time.perf_counter) -> Measurement:
    """Time ``run()`` (with ``sync`` applied to each output) by the method in the module docstring, in one go."""
    sampler = Sampler(run, sync, warmup_calls=warmup_calls, warmup_s=warmup_s, min_block_s=min_block_s,
                      first_call_s=first_call_s, prior_calls=prior_calls, prior_s=prior_s, clock=clock)
    stop = sampler.until_settled(budget_s, min_blocks=min_blocks, min_total_s=min_total_s,
                                 target_rel_iqr=target_rel_iqr)
    return sampler.measurement(stop)
