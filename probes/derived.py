"""Facts the rule base uses, derived from a probe's comparisons (or, for older reports, its records).

relative_speed: the geometric mean, over the throughput benchmarks, of the fastest framework's figure divided
by this one's (1.0 = the fastest). slowdown: how many times slower than the fastest, on the benchmarks both
ran, with its range across the rounds (``slowdown_range``): evidence only where the whole range says so, and
as sure as its rounds agreed (``speed_certainty``). A framework whose range reaches down to the tie ratio of
the notes (1.10) counts as tied.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
import dataclasses
from dataclasses import dataclass
from typing import Optional, Union

from framework_advisor.probes.comparisons import Comparison, Interval, combine, geometric_mean
from framework_advisor.probes.hardware import HardwareProfile
from framework_advisor.probes.report import DerivedFacts, FailedFramework, FrameworkRun, UnderstatedPeak
from framework_advisor.probes.vocabulary import ACCELERATOR_KINDS, BENCHMARK_LABELS

# Higher-is-better figures that make up the speed comparison (dispatch latency is a separate story).
THROUGHPUT_BENCHMARKS = ("matmul_fp32", "conv2d", "elementwise_bandwidth", "mlp_step_eager")
# Accelerators in the order a user would want them used (the vocabulary's order); the first present is "the best".
ACCELERATOR_PREFERENCE = ACCELERATOR_KINDS
TIE_RATIO = 1.10
FULL_ROUNDS = 5  # a full probe's rounds: fewer weigh less
AGREEING_SPREAD = 1.10  # rounds this close (high / low) agree: the run-to-run noise of a quiet machine
RECORDS_CERTAINTY = 0.5  # one figure per framework, no rounds to show its spread
QUICK_WEIGHT = 0.6  # a quick probe measures two benchmarks with fewer samples

Run = Union[FrameworkRun, FailedFramework]


def _best_figures(run: FrameworkRun) -> dict[str, float]:
    """The highest checked figure per throughput benchmark, across devices."""
    figures: dict[str, float] = {}
    for bench in run.benchmarks:
        if bench.name in THROUGHPUT_BENCHMARKS and bench.checked and bench.value > 0:
            figures[bench.name] = max(figures.get(bench.name, 0.0), float(bench.value))
    return figures


def best_accelerator(hardware: HardwareProfile) -> Optional[str]:
    present = hardware.accelerator_kinds()
    return next((kind for kind in ACCELERATOR_PREFERENCE if kind in present), None)


def understated_cpu_peak(runs: Sequence[Run]) -> Optional[UnderstatedPeak]:
    """The CPU figure that most exceeds its computed peak, if any does (each worker flags its own record; one
    figure above the peak shows the peak's clock too low for every framework's CPU figures)."""
    over = [(run.framework, record) for run in runs if isinstance(run, FrameworkRun) for record in run.benchmarks
            if record.device == "cpu" and record.peak is not None and record.peak.understated]
    if not over:
        return None
    framework, record = max(over, key=lambda item: item[1].best / item[1].peak.value)
    peak = record.peak
    implied = round(peak.clock_ghz * record.best / peak.value, 2) if peak.clock_ghz else None
    return UnderstatedPeak(framework=framework, benchmark=record.name, figure_gflops=record.best,
                           peak_gflops=peak.value, assumed_clock_ghz=peak.clock_ghz, clock_ghz_at_least=implied)


@dataclass(frozen=True)
class _Speed:
    relative: float  # geometric mean of (the fastest's figure / this one's), 1.0 = the fastest
    slowdown: Optional[Interval]  # against the fastest, over every benchmark both ran
    evidence: Optional[Interval]  # ... over those whose figures were settled: what the rules may weigh
    compared: tuple[str, ...]  # the benchmarks of ``evidence``
    certainty: float  # how much ``evidence`` can be trusted, before the quick probe's discount


def _certainty(interval: Interval) -> float:
    """1.0 for five rounds or more within 10% of each other; down to 0.2 as the rounds' range widens to 3x,
    and less with fewer rounds: the points a difference earns shrink with the doubt about it."""
    agreement = 1 - math.log(max(1.0, interval.spread / AGREEING_SPREAD)) / math.log(3 / AGREEING_SPREAD)
    return round(max(0.2, min(1.0, agreement)) * min(1.0, interval.rounds / FULL_ROUNDS), 3)


def _chosen_comparisons(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """Per throughput benchmark, the comparison on the best device that two frameworks or more ran."""
    order = {device: index for index, device in enumerate((*ACCELERATOR_PREFERENCE, "cpu"))}
    chosen = []
    for name in THROUGHPUT_BENCHMARKS:
        candidates = [c for c in comparisons if c.benchmark == name and len(c.frameworks) > 1]
        if candidates:
            chosen.append(min(candidates, key=lambda c: order.get(c.device, len(order))))
    return chosen


def _noisy_records(runs: Sequence[Run]) -> set[tuple[str, str, str, Optional[int]]]:
    """(framework, benchmark, device, size) of every record flagged noisy."""
    return {(run.framework, record.name, record.device, record.size) for run in runs if isinstance(run, FrameworkRun)
            for record in run.benchmarks if record.timing.noisy}


def _speed_from_comparisons(comparisons: Sequence[Comparison], runs: Sequence[Run]) -> dict[str, _Speed]:
    chosen = _chosen_comparisons(comparisons)
    noisy = _noisy_records(runs)

    def settled(comparison: Comparison, framework: str) -> bool:
        key = (framework, comparison.benchmark, comparison.device)
        return (*key, comparison.size) not in noisy and (*key, None) not in noisy  # None: a record of no size
    frameworks = {entry.framework for comparison in chosen for entry in comparison.frameworks}
    relative = {}
    for framework in frameworks:
        ratios = [1 / c.slowdown(framework, c.fastest()).median for c in chosen if c.figures(framework)]
        relative[framework] = geometric_mean(ratios)
    if not relative:
        return {}
    fastest = max(relative, key=lambda f: (relative[f], f))
    speeds = {}
    for framework in frameworks:
        shared = [c for c in chosen if c.figures(framework) and c.figures(fastest)]
        # Evidence only from comparisons where neither figure was flagged noisy (it moved between rounds).
        settled_shared = [c for c in shared if settled(c, framework) and settled(c, fastest)]
        interval = combine([c.slowdown(framework, fastest) for c in shared]) if shared else None
        evidence = combine([c.slowdown(framework, fastest) for c in settled_shared]) if settled_shared else None
        speeds[framework] = _Speed(relative=relative[framework], slowdown=interval, evidence=evidence,
                                   compared=tuple(c.benchmark for c in settled_shared),
                                   certainty=_certainty(evidence) if evidence else 0.0)
    return speeds


def _speed_from_records(runs: Sequence[Run]) -> dict[str, _Speed]:
    """Reports without comparisons (before measuring in rounds, or a replayed recording): each framework's own
    best figures, without a spread: half as sure as agreeing rounds, and no evidence at all where a figure
    it rests on was flagged noisy (noisy figures never move the ranking on their own)."""
    figures = {run.framework: _best_figures(run) for run in runs if isinstance(run, FrameworkRun)}
    noisy = {run.framework: {b.name for b in run.benchmarks if b.timing.noisy}
             for run in runs if isinstance(run, FrameworkRun)}
    best: dict[str, float] = {}
    for per_framework in figures.values():
        for name, value in per_framework.items():
            best[name] = max(best.get(name, 0.0), value)
    relative = {framework: geometric_mean([value / best[name] for name, value in mine.items()])
                for framework, mine in figures.items() if mine}
    if not relative:
        return {}
    fastest = max(relative, key=lambda f: (relative[f], f))
    speeds = {}
    for framework in relative:
        shared = [name for name in figures[framework] if name in figures[fastest]]
        ratio = geometric_mean([figures[fastest][n] / figures[framework][n] for n in shared]) if shared else None
        settled = not any(name in noisy[framework] or name in noisy[fastest] for name in shared)
        point = Interval(median=ratio, low=ratio, high=ratio, rounds=1) if ratio else None
        speeds[framework] = _Speed(relative=relative[framework], slowdown=point, evidence=point if settled else None,
                                   compared=tuple(shared) if settled else (),
                                   certainty=RECORDS_CERTAINTY if settled else 0.0)
    return speeds


def speed_basis(compared: Sequence[str], rounds: Optional[int], quick: bool) -> str:
    """What a speed comparison rests on, in words: "quick probe: matrix multiply (fp32) and element-wise
    bandwidth only", or the full probe's benchmarks and rounds."""
    names = [BENCHMARK_LABELS[name].lower() for name in compared]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    if quick:
        return f"quick probe: {listed} only"
    return f"{listed}" + (f", {rounds} rounds each" if rounds and rounds > 1 else ", one figure each")


def derive(runs: Sequence[Run], hardware: HardwareProfile, comparisons: Sequence[Comparison] = (),
           quick: bool = False) -> dict[str, DerivedFacts]:
    """Per framework: relative_speed, slowdown (with its range over the rounds and how sure it is), fastest,
    reached_accelerator, failed (+ failure kind). Speed comes from the comparisons measured in rounds when
    there are any; a quick probe's speed evidence weighs QUICK_WEIGHT of a full one's."""
    speeds = _speed_from_comparisons(comparisons, runs) or _speed_from_records(runs)
    fastest = max(speeds, key=lambda f: (speeds[f].relative, f)) if speeds else None
    others = [speed for framework, speed in speeds.items() if framework != fastest]
    others_apart = all(speed.evidence is not None and speed.evidence.low > TIE_RATIO for speed in others)
    if fastest is not None and others:
        # Being the fastest is as sure as the comparison with the closest runner-up.
        runner_up = min(others, key=lambda speed: speed.slowdown.median if speed.slowdown else float("inf"))
        speeds[fastest] = dataclasses.replace(speeds[fastest], certainty=runner_up.certainty,
                                              compared=runner_up.compared,
                                              evidence=speeds[fastest].evidence if runner_up.evidence else None)
    wanted = best_accelerator(hardware)
    derived: dict[str, DerivedFacts] = {}
    for run in runs:
        facts: dict = {"failed": isinstance(run, FailedFramework)}
        if isinstance(run, FailedFramework):
            facts.update(failure_kind=run.failure.kind, failure_message=run.failure.message)
        speed = speeds.get(run.framework)
        if speed is not None and fastest is not None:
            facts.update(relative_speed=round(min(1.0, speed.relative), 4), fastest=fastest,
                         compared=list(speed.compared))
            if run.framework == fastest:
                facts["clearly_fastest"] = others_apart and bool(others)
            if speed.slowdown is not None:
                # On the benchmarks it shares with the fastest, a framework can be the faster one (the fastest
                # leads on others): it is then not slower, and tied.
                facts["slowdown"] = round(max(1.0, speed.slowdown.median), 2)
            evidence = speed.evidence
            if evidence is not None:  # what the rules may weigh (a noisy figure is none)
                facts.update(slowdown_range=Interval(median=round(evidence.median, 3), low=round(evidence.low, 3),
                                                     high=round(evidence.high, 3), rounds=evidence.rounds),
                             tied_with_fastest=evidence.low <= TIE_RATIO,
                             speed_certainty=round(speed.certainty * (QUICK_WEIGHT if quick else 1.0), 3),
                             speed_basis=speed_basis(speed.compared, evidence.rounds, quick))
        if wanted is not None and isinstance(run, FrameworkRun):
            seen = {device.device for device in run.devices if device.usable}
            facts["reached_accelerator"] = wanted in seen
            issue = next((u for u in run.unused_accelerators if u.kind == wanted), None)
            if issue is not None:
                facts["accelerator_issue"] = issue
        derived[run.framework] = DerivedFacts(**facts)
    return derived
