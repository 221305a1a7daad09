"""Facts the rule base uses, derived from a probe's worker results.

relative_speed: the geometric mean, over the throughput benchmarks a framework shares with the
fastest framework, of its figure divided by the fastest's (1.0 = the fastest). slowdown is its
inverse ("measured 80x slower"). Frameworks within the tie ratio of the notes count as tied.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

# Higher-is-better figures that make up the speed comparison (dispatch latency is a separate story).
THROUGHPUT_BENCHMARKS = ("matmul_fp32", "conv2d", "elementwise_bandwidth", "mlp_step_eager")
# Accelerators in the order a user would want them used; the first one present is "the best".
ACCELERATOR_PREFERENCE = ("cuda", "rocm", "tpu", "apple-gpu", "intel-xpu")
TIE_RATIO = 1.10


def _best_figures(result: Mapping[str, Any]) -> dict[str, float]:
    """The highest checked figure per throughput benchmark, across devices."""
    figures: dict[str, float] = {}
    for bench in result.get("benchmarks", []):
        if bench.get("name") in THROUGHPUT_BENCHMARKS and bench.get("checked") and bench.get("value", 0) > 0:
            figures[bench["name"]] = max(figures.get(bench["name"], 0.0), float(bench["value"]))
    return figures


def _geometric_mean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def best_accelerator(hardware: Mapping[str, Any]) -> str | None:
    present = {a["kind"] for a in hardware.get("accelerators", [])}
    return next((kind for kind in ACCELERATOR_PREFERENCE if kind in present), None)


def derive(results: Sequence[Mapping[str, Any]], hardware: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per framework: relative_speed, slowdown, fastest, reached_accelerator, failed (+ failure kind)."""
    figures = {r["framework"]: _best_figures(r) for r in results if "failure" not in r}
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

    derived: dict[str, dict[str, Any]] = {}
    for result in results:
        framework = result["framework"]
        entry: dict[str, Any] = {"failed": "failure" in result}
        if "failure" in result:
            entry["failure_kind"] = result["failure"]["kind"]
            entry["failure_message"] = result["failure"]["message"]
        if framework in relative and fastest is not None:
            # Compare with the fastest on the benchmarks both ran, so a missing figure does not flatter.
            shared = [n for n in figures[framework] if n in figures[fastest]]
            ratio = _geometric_mean([figures[fastest][n] / figures[framework][n] for n in shared]) if shared else None
            entry["relative_speed"] = round(relative[framework], 4)
            if ratio is not None:
                entry["slowdown"] = round(ratio, 2)
                entry["tied_with_fastest"] = ratio <= TIE_RATIO
            entry["fastest"] = fastest
        if wanted is not None and "failure" not in result:
            seen = {d.get("device") for d in result.get("devices", []) if d.get("usable", True)}
            entry["reached_accelerator"] = wanted in seen
            fixes = [u for u in result.get("unused_accelerators", []) if u.get("kind") == wanted]
            if fixes:
                entry["accelerator_issue"] = fixes[0]
        derived[framework] = entry
    return derived
