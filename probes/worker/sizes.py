"""Problem sizes: the standard size of each benchmark on each kind of device, and the ladder that reaches it.

Every framework is measured at the same size on the same kind of device, so that figures compare; a
framework too slow for it steps down the ladder and records the standard size and why (``Sized.params``).
The parent can also ask for one size exactly (``fixed_size``): a comparison at a size every framework ran.
Each benchmark's size is one number, named by its key (``SIZE_KEYS``; ``standard_size`` gives it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from .machine import MiB, last_level_cache_bytes

if TYPE_CHECKING:
    from .adapter import Settings


@dataclass
class Sized:
    """The size a ladder chose, its callable, and the calls already made at that size."""

    size: int
    run: Callable[[], Any]
    per_call_s: float  # the best of the calls after the first
    first_call_s: float
    prior_calls: int  # calls after the first
    prior_s: float
    standard: int
    predicted_standard_s: Optional[float] = None  # set when the ladder reduced the size
    reduced_because: str = ""  # ... and why (empty for a size the parent asked for)

    @property
    def reduced(self) -> bool:
        return self.size != self.standard

    def params(self, key: str) -> dict[str, Any]:
        """What to record with the figure about a size the ladder reduced (nothing for an asked size)."""
        if not self.reduced or not self.reduced_because:
            return {}
        return {f"standard_{key}": self.standard,
                "size_note": (f"measured at {key}={self.size}, below the standard {key}={self.standard} that the "
                              f"other frameworks use on this device: {self.reduced_because}; one call at the "
                              f"standard size would take about {self.predicted_standard_s:.2g} s")}


def pick_size(sizes: Sequence[int], build: Callable[[int], Callable[[], Any]], work: Callable[[int], float],
              sync: Callable[[Any], Any], settings: Settings, standard: int,
              peak_flops: Optional[float] = None) -> Sized:
    """Ascend ``sizes`` up to ``standard``, the size every framework uses on this kind of device (equal sizes,
    so that figures compare). A framework too slow for the standard size stops below it: a step is not taken
    when one call at the next size is predicted (from the calls at this size, by the work ratio) to take
    longer than ``slow_call_s`` (the standard size) or ``reduced_call_s`` (a size below it), or, with
    ``peak_flops`` (``work`` in FLOP), when the rate at this size is below ``MIN_FRACTION_OF_PEAK`` of it: the
    standard is kept for frameworks in the same league, whatever the load, and refused to ones 10x+ slower.

    At each size the first call is timed, then two more (the best of them predicts the next size); the
    chosen size's calls are handed to the timing harness as its first call and warm-up.
    """
    ladder = sorted(size for size in sizes if size < standard) + [standard]
    chosen: Sized | None = None

    def refused(current: Sized, size: int) -> str | None:
        """Why the step from ``current`` to ``size`` is not taken, or None."""
        limit = settings.slow_call_s if size == standard else settings.reduced_call_s
        predicted = current.per_call_s * work(size) / work(current.size)
        if predicted > limit:
            return f"one call at {size} was predicted to take {predicted:.2g} s (limit {limit:g} s)"
        rate = work(current.size) / max(current.per_call_s, 1e-12)
        if size == standard and peak_flops and rate < MIN_FRACTION_OF_PEAK * peak_flops:
            return (f"its rate at {current.size}, {rate / 1e9:.3g} GFLOP/s, is under {MIN_FRACTION_OF_PEAK:.0%} of "
                    f"the computed peak of its threads ({peak_flops / 1e9:.3g} GFLOP/s)")
        return None

    for size in ladder:
        if chosen is not None:
            if refused(chosen, size):
                # Before stepping down from the standard size, confirm: calls delayed by another process (a
                # preempted BLAS thread stalls its partner for a time slice) must not shrink a framework's
                # problem. Up to 10 more calls or 0.15 s at this size; the fastest call decides.
                spent = 0.0
                for _ in range(10):
                    t0 = time.perf_counter()
                    sync(chosen.run())
                    elapsed = time.perf_counter() - t0
                    chosen.prior_calls += 1
                    chosen.prior_s += elapsed
                    chosen.per_call_s = min(chosen.per_call_s, elapsed)
                    spent += elapsed
                    if spent >= 0.15 or not refused(chosen, size):
                        break
            why = refused(chosen, size)
            if why:
                chosen.predicted_standard_s = chosen.per_call_s * work(standard) / work(chosen.size)
                chosen.reduced_because = why
                break
        run = build(size)
        t0 = time.perf_counter()
        sync(run())
        first = time.perf_counter() - t0
        # The first call at a new shape may compile or create kernels (XLA, oneDNN): judge by the best of
        # two more calls, unless the first alone says this size is far too big.
        timed = []
        if first < 2 * settings.slow_call_s:
            for _ in range(2):
                t0 = time.perf_counter()
                sync(run())
                timed.append(time.perf_counter() - t0)
        chosen = Sized(size=size, run=run, per_call_s=min(timed) if timed else first, first_call_s=first,
                       prior_calls=len(timed), prior_s=sum(timed), standard=standard)
    assert chosen is not None
    return chosen


def fixed_size(size: int, build: Callable[[int], Callable[[], Any]], sync: Callable[[Any], Any],
               standard: int) -> Sized:
    """Exactly ``size`` (the parent's choice): built, and its first call timed."""
    run = build(size)
    t0 = time.perf_counter()
    sync(run())
    first = time.perf_counter() - t0
    return Sized(size=size, run=run, per_call_s=first, first_call_s=first, prior_calls=0, prior_s=0.0,
                 standard=standard)


# A framework whose rate below the standard size is under this fraction of the CPU's computed peak is measured
# below the standard size (mlx[cpu] on Linux: ~1-2%); fast libraries reach 20-100% even on a loaded machine.
MIN_FRACTION_OF_PEAK = 0.05


# Standard sizes: every framework is measured at the same size on the same kind of device (a framework too
# slow for it steps down the ladder and says so). CPU fp32 matmul: 2048, or 1024 for one or two threads (a
# core's BLAS is at its peak by 1024, and a 2048 call takes ~0.12 s on one core: ten samples of every framework
# would cost seconds); 512 in quick (a quick look, below the sizes where BLAS reaches its peak); bf16 runs at
# 1024 (bf16 rates on CPUs without AMX are a fraction of fp32's). Accelerators: 8192 (4096 in quick).
FEW_THREADS = 2


def matmul_sizes(device: str, dtype: str, quick: bool, threads: int = FEW_THREADS + 1) -> tuple[tuple[int, ...], int]:
    if device == "cpu":
        full_fp32 = 1024 if threads <= FEW_THREADS else 2048
        standard = 512 if quick else full_fp32 if dtype == "fp32" else 1024
        return (256, 512, 1024, 2048), standard
    return (1024, 2048, 4096, 8192), 4096 if quick else 8192


# conv2d 56x56x64 -> 64, 3x3: batch 8 on CPUs (4 in quick), 128 on accelerators (32 in quick).
def conv_batches(device: str, quick: bool) -> tuple[tuple[int, ...], int]:
    if device == "cpu":
        return (1, 8), 4 if quick else 8
    return (8, 32, 128), 32 if quick else 128


# What each benchmark's one size number counts (the plan's and the records' ``size``).
SIZE_KEYS = {"matmul_fp32": "n", "matmul_bf16": "n", "conv2d": "batch", "elementwise_bandwidth": "elements",
             "dispatch_latency": "elements", "mlp_step_eager": "steps", "mlp_step_compiled": "steps",
             "h2d_copy": "bytes"}
SMALL_ADD_ELEMENTS = 64  # dispatch_latency: a tiny op, so that the figure is the framework's overhead
MLP_STEPS = 1  # the MLP steps have one size: a fixed 784-256-256-10 MLP, batch 128, one step a call


def bandwidth_elements(device: str, settings: Settings) -> tuple[int, dict[str, Any]]:
    """elementwise_bandwidth's standard size: arrays of >= 4x the last-level cache, capped by the budget (and
    >= 16 MiB); on accelerators >= 64 MiB (256 MiB full). Also what to record about how it was chosen."""
    llc, llc_source = last_level_cache_bytes()
    wanted = 4 * llc if llc else 64 * MiB
    array_bytes = max(16 * MiB, min(wanted, settings.bandwidth_cap_bytes))
    if device != "cpu":
        array_bytes = max(array_bytes, (64 if settings.quick else 256) * MiB)  # GPU caches are <= ~256 MiB
        wanted = array_bytes
    return array_bytes // 4 // 1024 * 1024, {"llc_bytes": llc, "llc_source": llc_source, "wanted_bytes": wanted}


def h2d_bytes(settings: Settings) -> int:
    return (64 if settings.quick else 256) * MiB


def standard_size(name: str, device: str, settings: Settings) -> tuple[int, str]:
    """The size every framework is measured at for ``name`` on ``device``, and its key."""
    quick = settings.quick
    if name in ("matmul_fp32", "matmul_bf16"):
        size = matmul_sizes(device, name.split("_")[1], quick, settings.threads)[1]
    elif name == "conv2d":
        size = conv_batches(device, quick)[1]
    elif name == "elementwise_bandwidth":
        size = bandwidth_elements(device, settings)[0]
    elif name == "dispatch_latency":
        size = SMALL_ADD_ELEMENTS
    elif name == "h2d_copy":
        size = h2d_bytes(settings)
    else:
        size = MLP_STEPS
    return size, SIZE_KEYS[name]
