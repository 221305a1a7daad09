"""Figures compared across frameworks: one benchmark at one size, measured in rounds (A B C, B C A, ...), and the
ratio between two frameworks with its spread across the rounds.

A round is one turn of every framework on the benchmark, so the figures of one round share the same minutes of
a busy machine; a ratio computed round by round cancels what those minutes did to both. The interval of a ratio
is its range across rounds: a 10% edge inside a 30% spread is no evidence (``Interval.excludes``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Annotated, Optional

from pydantic import Field

from framework_advisor.probes.hardware import Strict
from framework_advisor.probes.vocabulary import BenchmarkName, Device, FrameworkId

MAX_ROUNDS = 64
Seconds = Annotated[float, Field(gt=0)]


def ratio_text(ratio: float) -> str:
    """The one way a ratio is written: "38x", "2.8x", "1.15x" (two significant digits, at least)."""
    if ratio >= 10:
        return f"{ratio:.0f}x"
    if ratio >= 2:
        return f"{ratio:.1f}x"
    return f"{ratio:.2f}x"


class Interval(Strict):
    """A ratio's median across rounds and its range (low <= median <= high)."""

    median: Annotated[float, Field(gt=0)]
    low: Annotated[float, Field(gt=0)]
    high: Annotated[float, Field(gt=0)]
    rounds: Annotated[int, Field(ge=1)]

    def excludes(self, value: float) -> bool:
        """Whether every round put the ratio on the same side of ``value`` (the evidence holds across rounds)."""
        return self.low > value or self.high < value

    @property
    def spread(self) -> float:
        """high / low: 1.0 when every round agreed."""
        return self.high / self.low

    def text(self) -> str:
        if self.low == self.high:
            return ratio_text(self.median)
        return f"{ratio_text(self.median)} ({ratio_text(self.low)}-{ratio_text(self.high)} over {self.rounds} rounds)"


def geometric_mean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(value) for value in values) / len(values))


def combine(intervals: Sequence[Interval]) -> Interval:
    """Several benchmarks' intervals as one: the geometric means of their medians, lows and highs."""
    return Interval(median=geometric_mean([i.median for i in intervals]), low=geometric_mean([i.low for i in intervals]),
                    high=geometric_mean([i.high for i in intervals]), rounds=min(i.rounds for i in intervals))


class RoundFigures(Strict):
    """One framework's median per-call time in each round of one comparison."""

    framework: FrameworkId
    per_call_s: Annotated[list[Seconds], Field(max_length=MAX_ROUNDS)]


class NotCompared(Strict):
    """A framework that measured the benchmark but could not be compared at the common size, and why."""

    framework: FrameworkId
    reason: Annotated[str, Field(max_length=300)]


class Comparison(Strict):
    """One benchmark on one device at one size, every framework that ran it, round by round."""

    benchmark: BenchmarkName
    device: Device
    size: Annotated[int, Field(ge=1)]
    lower_is_better: bool = False
    frameworks: Annotated[list[RoundFigures], Field(max_length=5)]
    not_compared: Annotated[list[NotCompared], Field(max_length=5)] = Field(default_factory=list)

    def figures(self, framework: str) -> Optional[RoundFigures]:
        return next((entry for entry in self.frameworks if entry.framework == framework), None)

    def slowdown(self, framework: str, reference: str) -> Optional[Interval]:
        """How many times slower ``framework`` was than ``reference`` here, round by round (below 1: faster).

        Per-call times at one size: for throughput figures the ratio of times is the ratio of rates; for a
        latency (lower is better) too."""
        mine, theirs = self.figures(framework), self.figures(reference)
        if mine is None or theirs is None:
            return None
        pairs = list(zip(mine.per_call_s, theirs.per_call_s))
        if not pairs:
            return None
        ratios = sorted(own / other for own, other in pairs)
        return Interval(median=statistics.median(ratios), low=ratios[0], high=ratios[-1], rounds=len(ratios))

    def fastest(self) -> str:
        return min(self.frameworks, key=lambda entry: statistics.median(entry.per_call_s)).framework

