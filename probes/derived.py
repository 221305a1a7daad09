"""Facts the rule base uses, derived from a probe's worker results.

relative_speed: the geometric mean, over the throughput benchmarks a framework shares with the
fastest framework, of its figure divided by the fastest's (1.0 = the fastest). slowdown is its
inverse ("measured 80x slower"). Frameworks within the tie ratio of the notes count as tied.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Optional, Union

from framework_advisor.probes.hardware import HardwareProfile
from framework_advisor.probes.report import DerivedFacts, FailedFramework, FrameworkRun, UnderstatedPeak
from framework_advisor.probes.vocabulary import ACCELERATOR_KINDS

# Higher-is-better figures that make up the speed comparison (dispatch latency is a separate story).
THROUGHPUT_BENCHMARKS = ("matmul_fp32", "conv2d", "elementwise_bandwidth", "mlp_step_eager")
# Accelerators in the order a user would want them used (the vocabulary's order); the first present is "the best".
ACCELERATOR_PREFERENCE = ACCELERATOR_KINDS
TIE_RATIO = 1.10

Run = Union[FrameworkRun, FailedFramework]


def _best_figures(run: FrameworkRun) -> dict[str, float]:
    """The highest checked figure per throughput benchmark, across devices."""
    figures: dict[str, float] = {}
    for bench in run.benchmarks:
        if bench.name in THROUGHPUT_BENCHMARKS and bench.checked and bench.value > 0:
            figures[bench.name] = max(figures.get(bench.name, 0.0), float(bench.value))
    return figures


def _geometric_mean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


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


def derive(runs: Sequence[Run], hardware: HardwareProfile) -> dict[str, DerivedFacts]:
    """Per framework: relative_speed, slowdown, fastest, reached_accelerator, failed (+ failure kind)."""
    figures = {run.framework: _best_figures(run) for run in runs if isinstance(run, FrameworkRun)}
    best_by_benchmark: dict[str, float] = {}
    for per_framework in figures.values():
        for name, value in per_framework.items():
            best_by_benchmark[name] = max(best_by_benchmark.get(name, 0.0), value)

    relative = {
        framework: _geometric_mean([value / best_by_benchmark[name] for name, value in per_framework.items()])
        for framework, per_framework in figures.items() if per_framework
    }
    fastest = max(relative, key=lambda f: (relative[f], f)) if relative else None
    wanted = best_accelerator(hardware)

    derived: dict[str, DerivedFacts] = {}
    for run in runs:
        facts: dict = {"failed": isinstance(run, FailedFramework)}
        if isinstance(run, FailedFramework):
            facts.update(failure_kind=run.failure.kind, failure_message=run.failure.message)
        if run.framework in relative and fastest is not None:
            # Compare with the fastest on the benchmarks both ran, so a missing figure does not flatter.
            mine = figures[run.framework]
            shared = [n for n in mine if n in figures[fastest]]
            ratio = _geometric_mean([figures[fastest][n] / mine[n] for n in shared]) if shared else None
            facts["relative_speed"] = round(min(1.0, relative[run.framework]), 4)
            if ratio is not None:
                # On the benchmarks it shares with the fastest, a framework can be the faster one (the fastest
                # leads on others): it is then not slower, and tied.
                facts["slowdown"] = round(max(1.0, ratio), 2)
                facts["tied_with_fastest"] = ratio <= TIE_RATIO
            facts["fastest"] = fastest
        if wanted is not None and isinstance(run, FrameworkRun):
            seen = {device.device for device in run.devices if device.usable}
            facts["reached_accelerator"] = wanted in seen
            issue = next((u for u in run.unused_accelerators if u.kind == wanted), None)
            if issue is not None:
                facts["accelerator_issue"] = issue
        derived[run.framework] = DerivedFacts(**facts)
    return derived
