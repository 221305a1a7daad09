"""The suite: which benchmarks run on which device, in what order, and what happens when one fails.

Accelerators are measured first and cold compiles last (an abandoned compile keeps its thread, and nothing
is measured after it). ``--quick`` runs a documented subset, the same for every framework, so that quick
figures compare; compiles that run an external compiler wait for ``--thorough``.
"""

from __future__ import annotations

import dataclasses
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass

from .adapter import Adapter, Skip, clip, exception_text
from .benchmarks import (bench_bandwidth, bench_conv2d, bench_dispatch, bench_h2d, bench_matmul, bench_mlp_compiled,
                         bench_mlp_eager)
from .checks import CheckError
from .cleanup import ABANDONED
from .figures import with_percent_of_peak
from .protocol import progress
from .records import BenchmarkError, BenchmarkRecord, DeviceSeen, SkippedBenchmark

# What --quick measures. Left out: matmul_bf16, conv2d, mlp_step_eager (JAX's first eager step alone compiles
# ~30 primitives, ~1.7 s) and the compiled step; h2d_copy stays (accelerators only).
QUICK_BENCHMARKS = ("matmul_fp32", "elementwise_bandwidth", "dispatch_latency", "h2d_copy")
THOROUGH_HINT = "framework-advisor probe --thorough (over HTTP: POST /v1/probes {\"thorough\": true})"


@dataclass
class Planned:
    name: str
    device: str
    run: Callable[[], BenchmarkRecord]


def _no_bf16_reason(fw: Adapter, device: str) -> str:
    if device == "cpu" and not fw.settings.options.cpu_flags:
        return "no CPU flags were passed (--cpu-flags): bf16 support is unknown, so it is not measured"
    return "no fast bf16 here (x86 CPUs need avx512_bf16 or AMX; Arm CPUs the bf16 extension)"


def plan(fw: Adapter, devices: list[DeviceSeen]) -> tuple[list[Planned], list[SkippedBenchmark]]:
    """The benchmarks to run, accelerators first, and the ones skipped up front (with why)."""
    quick = fw.settings.quick
    kinds = []
    for entry in devices:
        if entry.usable and entry.device not in kinds:
            kinds.append(entry.device)
    kinds.sort(key=lambda kind: kind == "cpu")
    planned: list[Planned] = []
    skipped: list[SkippedBenchmark] = []

    def add(name: str, device: str, function: Callable[[Adapter, str], BenchmarkRecord]) -> None:
        planned.append(Planned(name, device, lambda: function(fw, device)))

    def skip(name: str, device: str, reason: str) -> None:
        skipped.append(SkippedBenchmark(benchmark=name, device=device, reason=reason))

    def add_or_skip(name: str, device: str, function: Callable[[Adapter, str], BenchmarkRecord]) -> None:
        if quick and name not in QUICK_BENCHMARKS:
            skip(name, device, f"not in the quick subset ({', '.join(QUICK_BENCHMARKS)}); a full probe measures it")
        else:
            add(name, device, function)

    for device in kinds:
        add("matmul_fp32", device, lambda f, d: bench_matmul(f, d, "fp32"))
        if fw.bf16_ok(device):
            add_or_skip("matmul_bf16", device, lambda f, d: bench_matmul(f, d, "bf16"))
        else:
            skip("matmul_bf16", device, fw.no_bf16_reason or _no_bf16_reason(fw, device))
        if fw.has_conv:
            add_or_skip("conv2d", device, bench_conv2d)
        else:
            skip("conv2d", device, f"{fw.framework} has no convolution operation")
        add_or_skip("elementwise_bandwidth", device, bench_bandwidth)
        add_or_skip("dispatch_latency", device, bench_dispatch)
        add_or_skip("mlp_step_eager", device, bench_mlp_eager)
        if device != "cpu":
            add_or_skip("h2d_copy", device, bench_h2d)
    # Compiled steps go last: a compile that overruns its deadline is abandoned with its thread still
    # running, and nothing may be measured after that.
    for index, device in enumerate(kinds):
        if fw.compiler is None:
            skip("mlp_step_compiled", device, f"{fw.framework} has no compiler")
        elif quick:
            skip("mlp_step_compiled", device, "skipped in quick mode (a cold compile takes seconds)")
        elif fw.slow_compile(device) and not fw.settings.thorough:
            skip("mlp_step_compiled", device, f"not measured by default: {fw.slow_compile(device)}; measure it "
                                              f"with {THOROUGH_HINT}")
        else:
            add("mlp_step_compiled", device,
                lambda f, d, first=(index == 0): bench_mlp_compiled(f, d, first_compile=first))
    return planned, skipped


def run_suite(fw: Adapter, planned: list[Planned], skipped: list[SkippedBenchmark]
              ) -> tuple[list[BenchmarkRecord], list[BenchmarkError], list[SkippedBenchmark]]:
    """Run every planned benchmark; one that raises becomes an error entry and the others go on.

    Each record gets its percent of the device's peak here (``figures.with_percent_of_peak``) and the wall
    time its benchmark took."""
    benchmarks: list[BenchmarkRecord] = []
    errors: list[BenchmarkError] = []
    skipped = list(skipped)
    total = len(planned)
    for index, item in enumerate(planned):
        if ABANDONED:
            skipped.append(SkippedBenchmark(benchmark=item.name, device=item.device, reason=(
                f"not run: an abandoned compile ({ABANDONED[0]}) is still using the CPU")))
            continue
        progress(item.name, index, total, device=item.device)
        started = time.perf_counter()
        try:
            record = with_percent_of_peak(item.run(), fw.settings.options.peaks, fw.framework)
            benchmarks.append(dataclasses.replace(record, wall_s=round(time.perf_counter() - started, 3)))
        except Skip as reason:
            skipped.append(SkippedBenchmark(benchmark=item.name, device=item.device, reason=clip(str(reason))))
        except Exception as exc:  # noqa: BLE001 - any failure of one benchmark is data, not a crash
            errors.append(BenchmarkError(benchmark=item.name, device=item.device, message=exception_text(exc),
                                         kind="check" if isinstance(exc, CheckError) else "exception"))
        finally:
            gc.collect()
    progress("done", total, total)
    return benchmarks, errors, skipped
