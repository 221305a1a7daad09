"""The benchmarks: each builds its problem at the size asked (or its ladder's), makes the first call, and says
how its output is checked and its record made; a session (``session``) times it.

Every benchmark checks the output of its last timed call against a NumPy reference (``checks``); a wrong
output raises ``CheckError`` and gives no figure. A benchmark that does not apply raises ``Skip``. Each
``setup_*`` takes ``size``: None for the benchmark's own ladder (the standard size, or below it for a
framework far too slow), or the exact size the parent asks for; ``SETUPS`` names them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Optional

from .adapter import Adapter, Skip
from .checks import (MLP_BATCH, MLP_LR, MLP_SIZES, CheckError, check_close, check_mlp_step, conv_reference_at,
                     mlp_problem, mlp_reference, round_to_bf16, tolerance)
from .cleanup import first_step_within
from .figures import latency_record, rate_record
from .machine import MiB
from .session import Bench
from .sizes import (MLP_STEPS, SMALL_ADD_ELEMENTS, Sized, bandwidth_elements, conv_batches, fixed_size, h2d_bytes,
                    matmul_sizes, pick_size)
from .timing import Measurement


def _np():
    import numpy

    return numpy


def _cpu_peak_flops(fw: Adapter, device: str, precision: str) -> float | None:
    """The CPU peak of the worker's threads in FLOP/s, for the size ladder's test (CPUs only), or None."""
    peak = fw.settings.peak(device, precision) if device == "cpu" else None
    return peak.value * 1e9 if peak else None


def _sized(fw: Adapter, size: Optional[int], sizes: tuple[int, ...], build: Callable[[int], Callable[[], Any]],
           work: Callable[[int], float], sync: Callable[[Any], Any], standard: int,
           peak: Optional[float]) -> Sized:
    if size is None:
        return pick_size(sizes, build, work, sync, fw.settings, standard, peak)
    return fixed_size(size, build, sync, standard)


def _bench(name: str, device: str, sized: Sized, sync: Callable[[Any], Any], check: Callable[[Measurement], None],
           record: Callable[[Measurement], Any], fw: Adapter) -> Bench:
    return Bench(name=name, device=device, size=sized.size, standard=sized.standard, run=sized.run, sync=sync,
                 check=check, record=record, budget_s=fw.settings.budget_for(sized), first_call_s=sized.first_call_s,
                 prior_calls=sized.prior_calls, prior_s=sized.prior_s, reduced_because=sized.reduced_because or None)


def _first_call(run: Callable[[], Any], sync: Callable[[Any], Any]) -> float:
    t0 = time.perf_counter()
    sync(run())
    return time.perf_counter() - t0


def setup_matmul(fw: Adapter, device: str, dtype: str, size: Optional[int] = None, **_: Any) -> Bench:
    np = _np()
    name = f"matmul_{dtype}"
    if dtype == "bf16" and not fw.bf16_ok(device):
        raise Skip("no fast bf16 on this device (needs avx512_bf16 or AMX on x86 CPUs, or an accelerator)")
    precision, settings_used = fw.matmul_precision(device, dtype)
    rng = np.random.default_rng(1)
    sizes, standard = matmul_sizes(device, dtype, fw.settings.quick, fw.settings.threads)
    hosts: dict[int, tuple[Any, Any]] = {}
    matmul = fw.matmul(device, dtype)

    def build(n: int) -> Callable[[], Any]:
        hosts.clear()
        a = rng.random((n, n), dtype=np.float32) * 2 - 1
        b = rng.random((n, n), dtype=np.float32) * 2 - 1
        if dtype == "bf16":
            a, b = round_to_bf16(a), round_to_bf16(b)
        hosts[n] = (a, b)
        da, db = fw.array(a, device, dtype), fw.array(b, device, dtype)
        return lambda: matmul(da, db)

    sync = fw.sync_for(device)
    sized = _sized(fw, size, sizes, build, lambda n: 2.0 * n ** 3, sync, standard, _cpu_peak_flops(fw, device, dtype))
    n = sized.size

    def check(timing: Measurement) -> None:
        a, b = hosts[n]
        got = fw.to_numpy(timing.last_output)
        rows = rng.choice(n, size=min(n, 24), replace=False)
        cols = rng.choice(n, size=min(n, 24), replace=False)
        reference = a[rows].astype(np.float64) @ b[:, cols].astype(np.float64)
        tol = tolerance(precision)
        if got.shape != (n, n):
            raise CheckError(f"{name}: output shape {got.shape}, expected {(n, n)}")
        check_close(got[np.ix_(rows, cols)], reference, rtol=tol, atol=tol * math.sqrt(n), what=name)

    def record(timing: Measurement):
        return rate_record(name, device, params={"n": n, **sized.params("n"), **settings_used}, precision=precision,
                           unit="GFLOP/s", timing=timing, work=2.0 * n ** 3)

    return _bench(name, device, sized, sync, check, record, fw)


def setup_conv2d(fw: Adapter, device: str, size: Optional[int] = None, **_: Any) -> Bench:
    np = _np()
    if not fw.has_conv:
        raise Skip(f"{fw.framework} has no convolution operation")
    precision, settings_used = fw.conv_precision(device)
    rng = np.random.default_rng(2)
    batches, standard = conv_batches(device, fw.settings.quick)
    w = ((rng.random((3, 3, 64, 64), dtype=np.float32) * 2 - 1) / np.float32(24)).astype(np.float32)
    state: dict[str, Any] = {}

    def build(batch: int) -> Callable[[], Any]:
        state.clear()
        x = rng.random((batch, 56, 56, 64), dtype=np.float32) * 2 - 1
        run, to_nhwc, layout = fw.conv2d(device, x, w)
        state.update(x=x, to_nhwc=to_nhwc, layout=layout)
        return run

    def flops(batch: int) -> float:
        return 2.0 * batch * 56 * 56 * 64 * 64 * 9

    sync = fw.sync_for(device)
    sized = _sized(fw, size, batches, build, flops, sync, standard, _cpu_peak_flops(fw, device, "fp32"))
    batch = sized.size

    def check(timing: Measurement) -> None:
        got = state["to_nhwc"](timing.last_output)
        if tuple(got.shape) != (batch, 56, 56, 64):
            raise CheckError(f"conv2d: output shape {tuple(got.shape)}, expected {(batch, 56, 56, 64)}")
        positions = [(0, 0, 0), (batch - 1, 55, 55), (0, 0, 55), (batch - 1, 55, 0)]
        positions += [(int(rng.integers(batch)), int(rng.integers(56)), int(rng.integers(56))) for _ in range(44)]
        reference = conv_reference_at(state["x"], w, positions)
        sampled = np.stack([got[b, i, j, :] for b, i, j in positions])
        tol = tolerance(precision)
        check_close(sampled, reference, rtol=tol, atol=tol * math.sqrt(576) / 24, what="conv2d")

    def record(timing: Measurement):
        params = {"batch": batch, "height": 56, "width": 56, "in_channels": 64, "out_channels": 64, "kernel": 3,
                  "padding": "same", "layout": state["layout"], **sized.params("batch"), **settings_used}
        return rate_record("conv2d", device, params=params, precision=precision, unit="GFLOP/s", timing=timing,
                           work=flops(batch))

    return _bench("conv2d", device, sized, sync, check, record, fw)


def _cyclic(np: Any, n: int) -> Any:
    """0, 1, ..., 1023, 0, 1, ... (n float32 values): exact in fp32, and any element's value is known."""
    return np.resize(np.arange(1024, dtype=np.float32), n)


def setup_bandwidth(fw: Adapter, device: str, size: Optional[int] = None, **_: Any) -> Bench:
    np = _np()
    standard, chosen = bandwidth_elements(device, fw.settings)
    llc, wanted = chosen["llc_bytes"], chosen["wanted_bytes"]
    n = standard if size is None else size
    b = _cyclic(np, n)
    c = np.full(n, 0.5, dtype=np.float32)
    run, preallocated = fw.add(device, b, c)
    del b, c
    sync = fw.sync_for(device)
    first_s = _first_call(run, sync)

    def check(timing: Measurement) -> None:
        got = fw.to_numpy(timing.last_output)
        if got.shape != (n,):
            raise CheckError(f"elementwise_bandwidth: output shape {got.shape}, expected {(n,)}")
        index = np.unique(np.linspace(0, n - 1, 8193).astype(np.int64))
        expected = (index % 1024).astype(np.float64) + 0.5
        check_close(got[index], expected, rtol=0, atol=0, what="elementwise_bandwidth (sampled a = b + c)")
        checksum = float(got[index].astype(np.float64).sum())
        if checksum != float(expected.sum()):
            raise CheckError(f"elementwise_bandwidth: checksum {checksum} != {float(expected.sum())}")

    def record(timing: Measurement):
        params: dict[str, Any] = {"elements": n, "array_bytes": n * 4, "arrays_counted": 3,
                                  "preallocated_output": preallocated}
        if device == "cpu":
            params.update(llc_bytes=llc, llc_source=chosen["llc_source"],
                          at_least_4x_llc=bool(llc) and n * 4 >= 4 * llc)
            if llc and n == standard and n * 4 < wanted:
                params["note"] = (f"arrays capped at {n * 4 // MiB} MiB to stay within the time budget; 4x the "
                                  f"reported last-level cache would be {wanted // MiB} MiB")
        else:
            params["note"] = ("the device's cache size is not read; arrays this size exceed 4x the L2 of current "
                              "NVIDIA datacenter GPUs (H100: 50 MB) but not of every part (MI300X: 256 MB)")
        return rate_record("elementwise_bandwidth", device, params=params, precision="fp32", unit="GB/s",
                           timing=timing, work=3.0 * n * 4)

    return Bench(name="elementwise_bandwidth", device=device, size=n, standard=standard, run=run, sync=sync,
                 check=check, record=record, budget_s=fw.settings.budget_for(), first_call_s=first_s)


def setup_dispatch(fw: Adapter, device: str, size: Optional[int] = None, **_: Any) -> Bench:
    np = _np()
    n = SMALL_ADD_ELEMENTS if size is None else size
    x = np.arange(n, dtype=np.float32)
    y = np.full(n, 0.25, dtype=np.float32)
    run = fw.small_add(device, x, y)
    sync = fw.sync_for(device)
    first_s = _first_call(run, sync)

    def check(timing: Measurement) -> None:
        check_close(fw.to_numpy(timing.last_output), x.astype(np.float64) + 0.25, rtol=0, atol=0,
                    what=f"dispatch_latency ({n}-element add)")

    def record(timing: Measurement):
        return latency_record("dispatch_latency", device, params={"elements": n, "synced": "each call"},
                              precision="fp32", timing=timing)

    return Bench(name="dispatch_latency", device=device, size=n, standard=SMALL_ADD_ELEMENTS, run=run, sync=sync,
                 check=check, record=record, budget_s=fw.settings.budget_for(), first_call_s=first_s)


def setup_mlp(fw: Adapter, device: str, compiled: bool, size: Optional[int] = None,
              deadline_s: Optional[float] = None, first_compile: bool = True, **_: Any) -> Bench:
    """The training step: built, its first step made (the cold compile, within ``deadline_s``, for the
    compiled one) and checked against the reference step at once; the session then times later steps."""
    np = _np()
    name = "mlp_step_compiled" if compiled else "mlp_step_eager"
    if compiled and fw.compiler is None:
        raise Skip(f"{fw.framework} has no compiler")
    if size not in (None, MLP_STEPS):
        raise ValueError(f"{name} has one size, steps={MLP_STEPS} (a fixed {'-'.join(map(str, MLP_SIZES))} MLP, "
                         f"batch {MLP_BATCH}), not {size}")
    params, x, y = mlp_problem()
    ref_loss, ref_after = mlp_reference(params, x, y, MLP_LR)
    before = [p.copy() for p in params]
    started = time.perf_counter()
    step = (fw.mlp_compiled if compiled else fw.mlp_eager)(device, [p.copy() for p in params], x, y, MLP_LR)
    deadline = fw.settings.compile_deadline_s if deadline_s is None else deadline_s
    if compiled:
        output = first_step_within(step, deadline, f"{name} on {device}")
    else:
        output = step.step()
        step.sync(output)
    first_s = time.perf_counter() - started
    precision, settings_used = fw.matmul_precision(device, "fp32")
    check_mlp_step(before, step.params(), step.loss(output), ref_loss, ref_after, name, precision)

    def check(timing: Measurement) -> None:
        final_loss = step.loss(timing.last_output)
        if not math.isfinite(final_loss):
            raise CheckError(f"{name}: the loss after {timing.samples * timing.block_size} steps is {final_loss}")
        for value in step.params():
            if not np.isfinite(value).all():
                raise CheckError(f"{name}: non-finite parameters after training")

    def record(timing: Measurement):
        params_out: dict[str, Any] = {"layers": list(MLP_SIZES), "batch": MLP_BATCH, "optimizer": "sgd",
                                      "lr": MLP_LR, "api": step.api, **settings_used}
        if compiled:
            params_out.update(
                compiler=fw.compiler, compile_s=round(first_s, 4), compile="cold",
                compile_note=("cold: an empty cache directory, and this step never compiled before in this "
                              "process; compile_s is its first call (trace + compile + one step)"
                              + ("" if first_compile else "; another compile ran earlier in this process")),
                compile_deadline_s=deadline)
        else:
            params_out["first_step_s"] = round(first_s, 4)
        return rate_record(name, device, params=params_out, precision=precision, unit="steps/s", timing=timing,
                           work=1.0, scale=1.0)

    # The first step is the session's first call; the check above used it, so it is not repeated.
    return Bench(name=name, device=device, size=MLP_STEPS, standard=MLP_STEPS, run=step.step, sync=step.sync,
                 check=check, record=record, budget_s=fw.settings.budget_for(), first_call_s=first_s)


def setup_h2d(fw: Adapter, device: str, size: Optional[int] = None, **_: Any) -> Bench:
    np = _np()
    standard = h2d_bytes(fw.settings)
    if size is not None and size % 4:
        raise ValueError(f"h2d_copy copies float32 values: {size} bytes is not a multiple of 4")
    n = (standard if size is None else size) // 4
    host = _cyclic(np, n)
    run = fw.h2d(device, host)
    if run is None:
        raise Skip("unified memory: no host-to-device copy")
    sync = fw.sync_for(device)
    first_s = _first_call(run, sync)

    def check(timing: Measurement) -> None:
        got = fw.to_numpy(timing.last_output)
        index = np.unique(np.linspace(0, n - 1, 4097).astype(np.int64))
        check_close(got[index], host[index], rtol=0, atol=0, what="h2d_copy (sampled)")

    def record(timing: Measurement):
        return rate_record("h2d_copy", device, params={"bytes": n * 4, "source": "pageable host memory"},
                           precision="fp32", unit="GB/s", timing=timing, work=n * 4.0)

    return Bench(name="h2d_copy", device=device, size=n * 4, standard=standard, run=run, sync=sync, check=check,
                 record=record, budget_s=fw.settings.budget_for(), first_call_s=first_s)


Setup = Callable[..., Bench]  # (adapter, device, size=None, deadline_s=None, first_compile=True) -> Bench
SETUPS: dict[str, Setup] = {
    "matmul_fp32": lambda fw, device, **asked: setup_matmul(fw, device, "fp32", **asked),
    "matmul_bf16": lambda fw, device, **asked: setup_matmul(fw, device, "bf16", **asked),
    "conv2d": setup_conv2d,
    "elementwise_bandwidth": setup_bandwidth,
    "dispatch_latency": setup_dispatch,
    "mlp_step_eager": lambda fw, device, **asked: setup_mlp(fw, device, False, **asked),
    "mlp_step_compiled": lambda fw, device, **asked: setup_mlp(fw, device, True, **asked),
    "h2d_copy": setup_h2d,
}
