"""The practical CPU peak right now: the best rate of a short in-cache fp32 matrix multiply by NumPy.

A nominal clock is not what the cores run at (turbo, a hypervisor's steal, a throttled part): a matmul
small enough for three matrices to fit in one core's L2 runs near the FMA units' rate at the current clock,
on the worker's own threads and CPUs. The parent asks for it before and after each framework's turn, so
the calibrations across a probe show whether the machine's speed drifted while it measured.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from typing import Optional

from .machine import l2_cache_bytes
from .messages import Calibration

WINDOW_S = 0.1  # the calls after the warm-up call, about this long
MIN_CALLS = 3
SIZES = (128, 384)  # n ranges over multiples of 64 in this range; 256 when the L2 size is unknown


def calibration_size(l2_bytes: Optional[int]) -> int:
    """The largest n (a multiple of 64 within ``SIZES``) whose three n x n fp32 matrices fit in the L2."""
    if not l2_bytes:
        return 256
    n = int(math.sqrt(l2_bytes / 12)) // 64 * 64
    return max(SIZES[0], min(SIZES[1], n))


def calibrate(threads: int, window_s: float = WINDOW_S,
              clock: Callable[[], float] = time.perf_counter) -> Calibration:
    import numpy as np

    started = clock()
    l2, source = l2_cache_bytes()
    n = calibration_size(l2)
    rng = np.random.default_rng(3)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        np.matmul(a, b, out=out)  # warm-up: the BLAS's threads and buffers, the matrices into the cache
        best, calls = math.inf, 0
        begun = clock()
        while True:
            t0 = clock()
            np.matmul(a, b, out=out)
            t1 = clock()
            best, calls = min(best, t1 - t0), calls + 1
            if calls >= MIN_CALLS and t1 - begun >= window_s:
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    gflops = 2.0 * n ** 3 / max(best, 1e-12) / 1e9
    fits = f"3 matrices ({3 * n * n * 4 // 1024} KiB) fit in the L2 ({l2 // 1024} KiB, {source})" if l2 else (
        "the L2 size is unknown")
    method = (f"best of {calls} calls of an fp32 {n}x{n} matrix multiply by NumPy (numpy.matmul into a "
              f"preallocated output) within {window_s:g} s after a warm-up call, on {threads} thread(s); {fits}; "
              f"2 n^3 FLOP a call")
    return Calibration(type="calibration", gflops=float(f"{gflops:.4g}"), threads=threads,
                       seconds=round(clock() - started, 4), method=method)
