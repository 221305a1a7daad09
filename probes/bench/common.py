"""What every framework's benchmarks share: the plan, the size ladders, the NumPy references and the
output checks, the benchmark records, and the progress lines.

A framework module supplies an ``Adapter`` (put an array on a device, run a matmul, take an SGD step ...);
the functions here turn it into measured, checked benchmark records. Nothing here imports a framework;
NumPy is imported inside functions, after the worker has timed the framework's import.

Every benchmark checks the output of its last timed call against a NumPy reference (sampled where the
full reference would cost more than the benchmark). A wrong, non-finite or missing output raises
``CheckError``; the suite records it under ``errors`` and gives no figure.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from framework_advisor.probes.timing import Timing, measure

PROGRESS_PREFIX = "@@progress "
BENCHMARK_NAMES = ("matmul_fp32", "matmul_bf16", "conv2d", "elementwise_bandwidth", "dispatch_latency",
                   "mlp_step_eager", "mlp_step_compiled", "h2d_copy")
DEVICE_KINDS = ("cpu", "cuda", "rocm", "tpu", "apple-gpu", "intel-xpu")
MiB = 2 ** 20

# The MLP of the step benchmarks: 784-256-256-10, batch 128, plain SGD.
MLP_SIZES = (784, 256, 256, 10)
MLP_BATCH = 128
MLP_LR = 0.05
SMALL_ADD_ELEMENTS = 64
# A worker should be done by then (seconds from its start; the runner's default timeouts are 60 s and 30 s,
# and 150 s for a thorough probe).
WORKER_BUDGET_S = {False: 52.0, True: 26.0}
THOROUGH_WORKER_BUDGET_S = 140.0
# What --quick measures: a documented subset, the same for every framework so that quick figures compare.
# Left out: matmul_bf16, conv2d, mlp_step_eager (JAX's first eager step alone compiles ~30 primitives, ~1.7 s)
# and the compiled step; h2d_copy stays (accelerators only).
QUICK_BENCHMARKS = ("matmul_fp32", "elementwise_bandwidth", "dispatch_latency", "h2d_copy")
THOROUGH_HINT = "framework-advisor probe --thorough (over HTTP: POST /v1/probes {\"thorough\": true})"


class CheckError(ValueError):
    """A benchmark's output did not match its reference (wrong, non-finite, or missing)."""


class Skip(Exception):
    """A benchmark that does not apply here (recorded under ``skipped``, not under ``errors``)."""


def progress(step: str, done: int, total: int | None, **extra: Any) -> None:
    """One progress event on stderr: ``@@progress {"step":...,"done":...,"total":...}``."""
    payload = {"step": step, "done": done, "total": total, **extra}
    sys.stderr.write(PROGRESS_PREFIX + json.dumps(payload, separators=(",", ":")) + "\n")
    sys.stderr.flush()


def _np():
    import numpy

    return numpy


# ---------------------------------------------------------------------------------------------
# Machine facts the worker needs (stdlib)
# ---------------------------------------------------------------------------------------------


def cpu_flags() -> set[str]:
    """CPU ISA flags, Linux spelling (avx512f, avx512_bf16, amx_bf16, neon for asimd, bf16 on Arm)."""
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    flags.update(value.split())
                    break
    except OSError:
        pass
    if "asimd" in flags:
        flags.add("neon")
    if sys.platform == "darwin" and platform.machine() == "arm64":
        flags.add("neon")
        if _sysctl("hw.optional.arm.FEAT_BF16") == "1":
            flags.add("bf16")
    return flags


def _sysctl(name: str) -> str | None:
    try:
        out = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _parse_size(text: str) -> int | None:
    text = text.strip().upper()
    units = {"K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30}
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        return None


def last_level_cache_bytes() -> tuple[int | None, str]:
    """The largest cache level's size, and where it was read."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    best: tuple[int, int] | None = None
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        entries = []
    for entry in entries:
        if not entry.startswith("index"):
            continue
        try:
            with open(f"{base}/{entry}/level") as handle:
                level = int(handle.read().strip())
            with open(f"{base}/{entry}/size") as handle:
                size = _parse_size(handle.read())
        except (OSError, ValueError):
            continue
        if size and (best is None or (level, size) > best):
            best = (level, size)
    if best:
        return best[1], f"sysfs cache index L{best[0]}"
    if sys.platform == "darwin":
        for name in ("hw.l3cachesize", "hw.l2cachesize"):
            value = _sysctl(name)
            if value and value.isdigit() and int(value) > 0:
                return int(value), f"sysctl {name}"
    return None, "unknown"


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# ---------------------------------------------------------------------------------------------
# Settings and records
# ---------------------------------------------------------------------------------------------


@dataclass
class Settings:
    framework: str
    quick: bool = False
    thorough: bool = False  # also measure cold compiles that run an external compiler (seconds to a minute)
    threads: int = 1
    accelerators: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    started: float = field(default_factory=time.perf_counter)  # when the worker started

    @property
    def budget_s(self) -> float:
        return 0.1 if self.quick else 0.3

    @property
    def min_total_s(self) -> float:
        return 0.05 if self.quick else 0.1

    @property
    def slow_call_s(self) -> float:
        """A framework predicted to take longer than this per call at the standard size is measured below it."""
        return 0.25 if self.quick else 0.5

    @property
    def reduced_call_s(self) -> float:
        """... at the largest ladder size predicted to take at most this long per call. Far from where fast
        libraries are (so they always reach the standard) and from where mlx[cpu] is (0.07 s at n=512, 0.6 s at
        1024), so that a reduced size is the same from run to run."""
        return 0.05 if self.quick else 0.3

    @property
    def compile_deadline_s(self) -> float:
        """How long a cold compile may run before it is abandoned.

        torch.compile takes 15-35 s cold on a 2-core machine. The cap keeps the whole worker inside the
        runner's default timeouts (60 s full, 30 s quick): at most 40 s, and never past WORKER_BUDGET_S
        from the worker's start, but at least 5 s.
        """
        if self.thorough:
            left = THOROUGH_WORKER_BUDGET_S - (time.perf_counter() - self.started)
            return round(max(5.0, min(120.0, left)), 1)
        left = WORKER_BUDGET_S[self.quick] - (time.perf_counter() - self.started)
        return round(max(5.0, min(40.0 if not self.quick else 15.0, left)), 1)

    @property
    def bandwidth_cap_bytes(self) -> int:
        """Per array (three arrays move per call). Building and copying them dominates the benchmark's cost."""
        return (16 if self.quick else 32) * MiB

    def measure(self, run: Callable[[], Any], sync: Callable[[Any], Any], sized: Sized | None = None) -> Timing:
        """Time ``run``; ``sized``: the ladder already made the first call and some warm-up calls at this size."""
        if sized is not None:
            # Long calls (matmul 2048: ~60 ms) get a budget for 5 blocks after one warm-up call, so that the
            # stopping rule can be met at all; at most twice the usual budget.
            budget = min(max(self.budget_s, 6 * sized.per_call_s), 2 * self.budget_s)
            return measure(run, sync, budget_s=budget, min_total_s=self.min_total_s,
                           first_call_s=sized.first_call_s, prior_calls=sized.prior_calls, prior_s=sized.prior_s)
        return measure(run, sync, budget_s=self.budget_s, min_total_s=self.min_total_s)


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
    predicted_standard_s: float | None = None  # set when the size was reduced
    reduced_because: str = ""

    @property
    def reduced(self) -> bool:
        return self.size != self.standard

    def params(self, key: str) -> dict[str, Any]:
        """What to record with the figure about the size."""
        if not self.reduced:
            return {}
        return {f"standard_{key}": self.standard,
                "size_note": (f"measured at {key}={self.size}, below the standard {key}={self.standard} that the "
                              f"other frameworks use on this device: {self.reduced_because}; one call at the "
                              f"standard size would take about {self.predicted_standard_s:.2g} s")}


def _sig(value: float, digits: int = 4) -> float:
    return float(f"{value:.{digits}g}")


def rate_record(name: str, device: str, *, params: dict[str, Any], precision: str, unit: str, timing: Timing,
                work: float, scale: float = 1e9) -> dict[str, Any]:
    """A higher-is-better record: work per call (FLOP, bytes, steps) / time, from the median and the min."""
    return {"name": name, "device": device, "params": params, "precision": precision, "unit": unit,
            "value": _sig(work / timing.median_s / scale), "best": _sig(work / timing.min_s / scale),
            "timing": timing.to_json(), "checked": True}


def latency_record(name: str, device: str, *, params: dict[str, Any], precision: str,
                   timing: Timing) -> dict[str, Any]:
    """A lower-is-better record in microseconds."""
    return {"name": name, "device": device, "params": params, "precision": precision, "unit": "us",
            "value": _sig(timing.median_s * 1e6), "best": _sig(timing.min_s * 1e6), "lower_is_better": True,
            "timing": timing.to_json(), "checked": True}


# ---------------------------------------------------------------------------------------------
# Checks against NumPy references
# ---------------------------------------------------------------------------------------------


def check_close(actual: Any, expected: Any, *, rtol: float, atol: float, what: str) -> bool:
    """Raise CheckError unless ``actual`` is finite and allclose to ``expected``."""
    np = _np()
    if actual is None:
        raise CheckError(f"{what}: no output")
    got = np.asarray(actual, dtype=np.float64)
    want = np.asarray(expected, dtype=np.float64)
    if got.shape != want.shape:
        raise CheckError(f"{what}: shape {got.shape}, expected {want.shape}")
    finite = np.isfinite(got)
    if not finite.all():
        raise CheckError(f"{what}: {int((~finite).sum())} of {got.size} values are not finite")
    excess = np.abs(got - want) - (atol + rtol * np.abs(want))
    if (excess > 0).any():
        worst = np.unravel_index(int(np.argmax(excess)), excess.shape)
        raise CheckError(f"{what}: {int((excess > 0).sum())} of {got.size} values differ from the NumPy "
                         f"reference; worst at {tuple(int(i) for i in worst)}: {got[worst]:.6g} vs "
                         f"{want[worst]:.6g} (rtol {rtol:g}, atol {atol:.3g})")
    return True


def round_to_bf16(array: Any) -> Any:
    """float32 values rounded (to nearest even) to ones bfloat16 represents exactly; still float32."""
    np = _np()
    bits = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return rounded.view(np.float32)


# Relative tolerance by arithmetic precision; an absolute tolerance scales with the reduction length.
TOLERANCE = {"fp32": 1e-3, "tf32": 1e-2, "bf16": 3e-2, "fp16": 1e-2}


def tolerance(precision: str) -> float:
    return TOLERANCE.get(precision.split()[0], 3e-2)


def conv_reference_at(x: Any, w: Any, positions: Sequence[tuple[int, int, int]]) -> Any:
    """3x3 stride-1 SAME cross-correlation (NHWC x HWIO) at (image, row, column) positions, in float64."""
    np = _np()
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    w64 = w.astype(np.float64)
    patches = np.stack([padded[b, i:i + 3, j:j + 3, :] for b, i, j in positions]).astype(np.float64)
    return np.einsum("phwc,hwco->po", patches, w64)


def mlp_problem(seed: int = 0) -> tuple[list[Any], Any, Any]:
    """Initial parameters [W1, b1, W2, b2, W3, b3] (float32, He init), a batch x (128x784) and labels y (int32)."""
    np = _np()
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(MLP_SIZES[:-1], MLP_SIZES[1:]):
        params.append((rng.standard_normal((fan_in, fan_out), dtype=np.float32) * np.float32(math.sqrt(2 / fan_in))))
        params.append(np.zeros(fan_out, dtype=np.float32))
    x = rng.standard_normal((MLP_BATCH, MLP_SIZES[0]), dtype=np.float32)
    y = rng.integers(0, MLP_SIZES[-1], size=MLP_BATCH).astype(np.int32)
    return params, x, y


def mlp_numpy_step(params: list[Any], x: Any, y: Any, lr: float) -> Any:
    """One SGD step with a hand-written backward pass; updates ``params`` in place; returns the loss.

    Forward: relu(x W1 + b1) -> relu(. W2 + b2) -> . W3 + b3 -> mean softmax cross-entropy.
    """
    np = _np()
    w1, b1, w2, b2, w3, b3 = params
    z1 = x @ w1 + b1
    h1 = np.maximum(z1, 0)
    z2 = h1 @ w2 + b2
    h2 = np.maximum(z2, 0)
    logits = h2 @ w3 + b3
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = float(np.mean(np.log(total[:, 0]) - shifted[rows, y]))
    dlogits = exp / total
    dlogits[rows, y] -= 1
    dlogits /= len(y)
    grads = [None] * 6
    grads[4] = h2.T @ dlogits
    grads[5] = dlogits.sum(axis=0)
    dz2 = (dlogits @ w3.T) * (z2 > 0)
    grads[2] = h1.T @ dz2
    grads[3] = dz2.sum(axis=0)
    dz1 = (dz2 @ w2.T) * (z1 > 0)
    grads[0] = x.T @ dz1
    grads[1] = dz1.sum(axis=0)
    for param, grad in zip(params, grads):
        param -= lr * grad
    return loss


def mlp_reference(params: list[Any], x: Any, y: Any, lr: float) -> tuple[float, list[Any]]:
    """The loss and the parameters after one step, in float64 (the reference every framework is held to)."""
    np = _np()
    digest = hashlib.sha1()
    for array in (*params, x, y):
        digest.update(np.ascontiguousarray(array).tobytes())
    key = (lr, digest.hexdigest())
    cached = _MLP_REFERENCES.get(key)
    if cached is not None:  # the eager and the compiled step check against the same reference
        return cached[0], [p.copy() for p in cached[1]]
    updated = [p.astype(np.float64) for p in params]
    loss = mlp_numpy_step(updated, x.astype(np.float64), y, lr)
    _MLP_REFERENCES[key] = (loss, [p.copy() for p in updated])
    return loss, updated


_MLP_REFERENCES: dict[tuple, tuple[float, list[Any]]] = {}


def check_mlp_step(before: list[Any], after: list[Any], loss: float, ref_loss: float, ref_after: list[Any],
                   what: str, precision: str = "fp32") -> None:
    """Compare one framework step with the reference: the loss, and each parameter's update (after - before).

    Tolerances widen with the matmul precision (TF32, bf16 passes) by the ratio of ``tolerance``s.
    """
    np = _np()
    widen = min(10.0, tolerance(precision) / TOLERANCE["fp32"])
    check_close(np.float64(loss), ref_loss, rtol=1e-3 * widen, atol=1e-4 * widen, what=f"{what} loss")
    names = ("W1", "b1", "W2", "b2", "W3", "b3")
    for name, old, new, ref in zip(names, before, after, ref_after):
        delta = np.asarray(new, dtype=np.float64) - old.astype(np.float64)
        ref_delta = ref - old.astype(np.float64)
        scale = float(np.abs(ref_delta).max()) or 1e-12
        check_close(delta, ref_delta, rtol=2e-2 * widen, atol=2e-3 * scale * widen, what=f"{what} update of {name}")


# ---------------------------------------------------------------------------------------------
# The adapter a framework module implements
# ---------------------------------------------------------------------------------------------


@dataclass
class MlpStep:
    """A training step bound to its state: ``step()`` runs one step and returns what ``sync`` waits on."""

    step: Callable[[], Any]
    sync: Callable[[Any], Any]
    params: Callable[[], list[Any]]  # the current parameters as NumPy arrays
    loss: Callable[[Any], float]  # the loss from a step's output
    api: str = ""


class Adapter:
    """The per-framework operations. Subclasses override what their framework has."""

    framework = ""
    has_conv = True
    has_autograd = True
    compiler: str | None = None  # e.g. "torch.compile (inductor)"; None: no mlp_step_compiled
    no_bf16_reason: str | None = None  # set where the framework itself has no bfloat16

    def __init__(self, lib: Any, settings: Settings):
        self.lib = lib
        self.settings = settings

    # --- identity and devices
    def version(self) -> str:
        return str(getattr(self.lib, "__version__", "unknown"))

    def first_result(self) -> None:
        raise NotImplementedError

    def build(self) -> dict[str, Any]:
        return {}

    def devices(self) -> list[dict[str, Any]]:
        return [{"device": "cpu", "name": "cpu", "usable": True}]

    def slow_compile(self, device: str) -> str | None:
        """Why a cold compile on ``device`` takes seconds or more (it runs an external compiler), or None.

        Such compiles are measured only in a thorough probe; in-process JIT compilers (XLA) stay in the default.
        """
        return None

    def unused_accelerators(self, usable_kinds: set[str]) -> list[dict[str, Any]]:
        return []

    def bf16_ok(self, device: str) -> bool:
        if device == "cpu":
            return bool(self.settings.flags & {"avx512_bf16", "amx_bf16", "bf16"})
        return device in ("cuda", "rocm", "tpu", "intel-xpu")

    # --- data
    def array(self, host: Any, device: str, dtype: str = "fp32") -> Any:
        raise NotImplementedError

    def to_numpy(self, value: Any) -> Any:
        return _np().asarray(value, dtype=_np().float32)

    def sync_for(self, device: str) -> Callable[[Any], Any]:
        return lambda output: None

    # --- operations
    def matmul(self, device: str, dtype: str) -> Callable[[Any, Any], Any]:
        raise NotImplementedError

    def matmul_precision(self, device: str, dtype: str) -> tuple[str, dict[str, Any]]:
        """The arithmetic precision a matmul of ``dtype`` really uses on ``device``, and settings to record."""
        return dtype, {}

    def conv_precision(self, device: str) -> tuple[str, dict[str, Any]]:
        """The arithmetic precision an fp32 convolution really uses on ``device``."""
        return self.matmul_precision(device, "fp32")

    def conv2d(self, device: str, x: Any, w: Any) -> tuple[Callable[[], Any], Callable[[Any], Any], str]:
        """(run, output -> NHWC NumPy array, layout label) for a 3x3 SAME conv of NHWC x by HWIO w."""
        raise NotImplementedError

    def add(self, device: str, b: Any, c: Any) -> tuple[Callable[[], Any], bool]:
        """(run computing b + c, whether the output is preallocated)."""
        raise NotImplementedError

    def small_add(self, device: str, x: Any, y: Any) -> Callable[[], Any]:
        raise NotImplementedError

    def mlp_eager(self, device: str, params: list[Any], x: Any, y: Any, lr: float) -> MlpStep:
        raise NotImplementedError

    def mlp_compiled(self, device: str, params: list[Any], x: Any, y: Any, lr: float) -> MlpStep:
        raise NotImplementedError

    def h2d(self, device: str, host: Any) -> Callable[[], Any] | None:
        """A host-to-device copy of ``host``, or None where memory is unified / no copy exists."""
        return None


# ---------------------------------------------------------------------------------------------
# The benchmarks
# ---------------------------------------------------------------------------------------------


def pick_size(sizes: Sequence[int], build: Callable[[int], Callable[[], Any]], work: Callable[[int], float],
              sync: Callable[[Any], Any], settings: Settings, standard: int,
              peak_flops: float | None = None) -> Sized:
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


# A framework whose rate below the standard size is under this fraction of the CPU's computed peak is measured
# below the standard size (mlx[cpu] on Linux: ~1-2%); fast libraries reach 20-100% even on a loaded machine.
MIN_FRACTION_OF_PEAK = 0.05


def cpu_peak_flops(settings: Settings, dtype: str) -> float | None:
    """The computed peak of the threads this worker uses (FLOP/s), or None when the clock is unknown."""
    from framework_advisor.probes.peaks import cpu_peak_gflops, measured_cpu_ghz

    ghz = measured_cpu_ghz()
    if not ghz:
        return None
    peak, _ = cpu_peak_gflops(settings.threads, ghz, settings.flags, dtype)
    return peak * 1e9 if peak else None


# Standard sizes: every framework is measured at the same size on the same kind of device (a framework too
# slow for it steps down the ladder and says so). CPU fp32 matmul: 2048 (512 in quick: a quick look, below the
# sizes where BLAS reaches its peak); bf16 runs at 1024 (bf16 rates on CPUs without AMX are a fraction of
# fp32's). Accelerators: 8192 (4096 in quick).
def matmul_sizes(device: str, dtype: str, quick: bool) -> tuple[tuple[int, ...], int]:
    if device == "cpu":
        standard = 512 if quick else 2048 if dtype == "fp32" else 1024
        return (256, 512, 1024, 2048), standard
    return (1024, 2048, 4096, 8192), 4096 if quick else 8192


# conv2d 56x56x64 -> 64, 3x3: batch 8 on CPUs (4 in quick), 128 on accelerators (32 in quick).
def conv_batches(device: str, quick: bool) -> tuple[tuple[int, ...], int]:
    if device == "cpu":
        return (1, 8), 4 if quick else 8
    return (8, 32, 128), 32 if quick else 128


def bench_matmul(fw: Adapter, device: str, dtype: str) -> dict[str, Any]:
    np = _np()
    name = f"matmul_{dtype}"
    if dtype == "bf16" and not fw.bf16_ok(device):
        raise Skip("no fast bf16 on this device (needs avx512_bf16 or AMX on x86 CPUs, or an accelerator)")
    precision, settings_used = fw.matmul_precision(device, dtype)
    rng = np.random.default_rng(1)
    sizes, standard = matmul_sizes(device, dtype, fw.settings.quick)
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
    peak = cpu_peak_flops(fw.settings, dtype) if device == "cpu" else None
    sized = pick_size(sizes, build, lambda n: 2.0 * n ** 3, sync, fw.settings, standard, peak)
    n = sized.size
    timing = fw.settings.measure(sized.run, sync, sized)
    a, b = hosts[n]
    got = fw.to_numpy(timing.last_output)
    rows = rng.choice(n, size=min(n, 24), replace=False)
    cols = rng.choice(n, size=min(n, 24), replace=False)
    reference = a[rows].astype(np.float64) @ b[:, cols].astype(np.float64)
    tol = tolerance(precision)
    if got.shape != (n, n):
        raise CheckError(f"{name}: output shape {got.shape}, expected {(n, n)}")
    check_close(got[np.ix_(rows, cols)], reference, rtol=tol, atol=tol * math.sqrt(n), what=name)
    return rate_record(name, device, params={"n": n, **sized.params("n"), **settings_used}, precision=precision,
                       unit="GFLOP/s", timing=timing, work=2.0 * n ** 3)


def bench_conv2d(fw: Adapter, device: str) -> dict[str, Any]:
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
    peak = cpu_peak_flops(fw.settings, "fp32") if device == "cpu" else None
    sized = pick_size(batches, build, flops, sync, fw.settings, standard, peak)
    batch = sized.size
    timing = fw.settings.measure(sized.run, sync, sized)
    got = state["to_nhwc"](timing.last_output)
    if tuple(got.shape) != (batch, 56, 56, 64):
        raise CheckError(f"conv2d: output shape {tuple(got.shape)}, expected {(batch, 56, 56, 64)}")
    positions = [(0, 0, 0), (batch - 1, 55, 55), (0, 0, 55), (batch - 1, 55, 0)]
    positions += [(int(rng.integers(batch)), int(rng.integers(56)), int(rng.integers(56))) for _ in range(44)]
    reference = conv_reference_at(state["x"], w, positions)
    sampled = np.stack([got[b, i, j, :] for b, i, j in positions])
    tol = tolerance(precision)
    check_close(sampled, reference, rtol=tol, atol=tol * math.sqrt(576) / 24, what="conv2d")
    params = {"batch": batch, "height": 56, "width": 56, "in_channels": 64, "out_channels": 64, "kernel": 3,
              "padding": "same", "layout": state["layout"], **sized.params("batch"), **settings_used}
    return rate_record("conv2d", device, params=params, precision=precision, unit="GFLOP/s", timing=timing,
                       work=flops(batch))


def bench_bandwidth(fw: Adapter, device: str) -> dict[str, Any]:
    np = _np()
    llc, llc_source = last_level_cache_bytes()
    wanted = 4 * llc if llc else 64 * MiB
    array_bytes = max(16 * MiB, min(wanted, fw.settings.bandwidth_cap_bytes))
    if device != "cpu":
        array_bytes = max(array_bytes, (64 if fw.settings.quick else 256) * MiB)  # GPU caches are <= ~256 MiB
        wanted = array_bytes
    n = array_bytes // 4 // 1024 * 1024
    b = np.tile(np.arange(1024, dtype=np.float32), n // 1024)
    c = np.full(n, 0.5, dtype=np.float32)
    run, preallocated = fw.add(device, b, c)
    del b, c
    sync = fw.sync_for(device)
    timing = fw.settings.measure(run, sync)
    got = fw.to_numpy(timing.last_output)
    if got.shape != (n,):
        raise CheckError(f"elementwise_bandwidth: output shape {got.shape}, expected {(n,)}")
    index = np.unique(np.linspace(0, n - 1, 8193).astype(np.int64))
    expected = (index % 1024).astype(np.float64) + 0.5
    check_close(got[index], expected, rtol=0, atol=0, what="elementwise_bandwidth (sampled a = b + c)")
    checksum = float(got[index].astype(np.float64).sum())
    if checksum != float(expected.sum()):
        raise CheckError(f"elementwise_bandwidth: checksum {checksum} != {float(expected.sum())}")
    params: dict[str, Any] = {"elements": n, "array_bytes": n * 4, "arrays_counted": 3,
                              "preallocated_output": preallocated}
    if device == "cpu":
        params.update(llc_bytes=llc, llc_source=llc_source, at_least_4x_llc=bool(llc) and n * 4 >= 4 * llc)
        if llc and n * 4 < wanted:
            params["note"] = (f"arrays capped at {n * 4 // MiB} MiB to stay within the time budget; 4x the "
                              f"reported last-level cache would be {wanted // MiB} MiB")
    else:
        params["note"] = ("the device's cache size is not read; arrays this size exceed 4x the L2 of current "
                          "NVIDIA datacenter GPUs (H100: 50 MB) but not of every part (MI300X: 256 MB)")
    return rate_record("elementwise_bandwidth", device, params=params, precision="fp32", unit="GB/s",
                       timing=timing, work=3.0 * n * 4)


def bench_dispatch(fw: Adapter, device: str) -> dict[str, Any]:
    np = _np()
    x = np.arange(SMALL_ADD_ELEMENTS, dtype=np.float32)
    y = np.full(SMALL_ADD_ELEMENTS, 0.25, dtype=np.float32)
    run = fw.small_add(device, x, y)
    timing = fw.settings.measure(run, fw.sync_for(device))
    check_close(fw.to_numpy(timing.last_output), x.astype(np.float64) + 0.25, rtol=0, atol=0,
                what="dispatch_latency (64-element add)")
    return latency_record("dispatch_latency", device, params={"elements": SMALL_ADD_ELEMENTS, "synced": "each call"},
                          precision="fp32", timing=timing)


# Threads left running by an abandoned compile; the worker must exit without waiting for them.
ABANDONED: list[str] = []


def _first_step_within(step: MlpStep, deadline_s: float, what: str) -> Any:
    """Run the first (compiling) step in a daemon thread and give up after ``deadline_s`` seconds.

    A compile cannot be interrupted. An abandoned one keeps its thread, so compiled benchmarks run last and
    nothing is measured after one is abandoned (``ABANDONED`` tells the suite and the worker).
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            output = step.step()
            step.sync(output)
            outcome["output"] = output
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"compile {what}", daemon=True)
    thread.start()
    thread.join(deadline_s)
    if thread.is_alive():
        ABANDONED.append(what)
        raise TimeoutError(f"the cold compile did not finish within {deadline_s:g} s and was abandoned")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["output"]


def _bench_mlp(fw: Adapter, device: str, compiled: bool, first_compile: bool = True) -> dict[str, Any]:
    np = _np()
    name = "mlp_step_compiled" if compiled else "mlp_step_eager"
    if compiled and fw.compiler is None:
        raise Skip(f"{fw.framework} has no compiler")
    params, x, y = mlp_problem()
    ref_loss, ref_after = mlp_reference(params, x, y, MLP_LR)
    before = [p.copy() for p in params]
    started = time.perf_counter()
    step = (fw.mlp_compiled if compiled else fw.mlp_eager)(device, [p.copy() for p in params], x, y, MLP_LR)
    deadline = fw.settings.compile_deadline_s
    if compiled:
        output = _first_step_within(step, deadline, f"{name} on {device}")
    else:
        output = step.step()
        step.sync(output)
    first_s = time.perf_counter() - started
    precision, settings_used = fw.matmul_precision(device, "fp32")
    check_mlp_step(before, step.params(), step.loss(output), ref_loss, ref_after, name, precision)
    timing = fw.settings.measure(step.step, step.sync)
    final_loss = step.loss(timing.last_output)
    if not math.isfinite(final_loss):
        raise CheckError(f"{name}: the loss after {timing.samples * timing.block_size} steps is {final_loss}")
    for value in step.params():
        if not np.isfinite(value).all():
            raise CheckError(f"{name}: non-finite parameters after training")
    params_out: dict[str, Any] = {"layers": list(MLP_SIZES), "batch": MLP_BATCH, "optimizer": "sgd", "lr": MLP_LR,
                                  "api": step.api, **settings_used}
    if compiled:
        params_out.update(
            compiler=fw.compiler, compile_s=round(first_s, 4), compile="cold",
            compile_note=("cold: an empty cache directory, and this step never compiled before in this process; "
                          "compile_s is its first call (trace + compile + one step)"
                          + ("" if first_compile else "; another device's compile ran earlier in this process")),
            compile_deadline_s=deadline)
    else:
        params_out["first_step_s"] = round(first_s, 4)
    return rate_record(name, device, params=params_out, precision=precision, unit="steps/s", timing=timing,
                       work=1.0, scale=1.0)


def bench_mlp_eager(fw: Adapter, device: str) -> dict[str, Any]:
    return _bench_mlp(fw, device, compiled=False)


def bench_mlp_compiled(fw: Adapter, device: str, first_compile: bool = True) -> dict[str, Any]:
    return _bench_mlp(fw, device, compiled=True, first_compile=first_compile)


def bench_h2d(fw: Adapter, device: str) -> dict[str, Any]:
    np = _np()
    n = (64 if fw.settings.quick else 256) * MiB // 4
    host = np.tile(np.arange(1024, dtype=np.float32), n // 1024)
    run = fw.h2d(device, host)
    if run is None:
        raise Skip("unified memory: no host-to-device copy")
    timing = fw.settings.measure(run, fw.sync_for(device))
    got = fw.to_numpy(timing.last_output)
    index = np.unique(np.linspace(0, n - 1, 4097).astype(np.int64))
    check_close(got[index], host[index], rtol=0, atol=0, what="h2d_copy (sampled)")
    return rate_record("h2d_copy", device, params={"bytes": n * 4, "source": "pageable host memory"},
                       precision="fp32", unit="GB/s", timing=timing, work=n * 4.0)


# ---------------------------------------------------------------------------------------------
# The suite
# ---------------------------------------------------------------------------------------------


@dataclass
class Planned:
    name: str
    device: str
    run: Callable[[], dict[str, Any]]


def plan(fw: Adapter, devices: list[dict[str, Any]]) -> tuple[list[Planned], list[dict[str, Any]]]:
    """The benchmarks to run, accelerators first, and the ones skipped up front (with why)."""
    quick = fw.settings.quick
    kinds = []
    for entry in devices:
        if entry.get("usable") and entry["device"] not in kinds:
            kinds.append(entry["device"])
    kinds.sort(key=lambda kind: kind == "cpu")
    planned: list[Planned] = []
    skipped: list[dict[str, Any]] = []

    def add(name: str, device: str, function: Callable[[Adapter, str], dict[str, Any]]) -> None:
        planned.append(Planned(name, device, lambda: function(fw, device)))

    def skip(name: str, device: str, reason: str) -> None:
        skipped.append({"benchmark": name, "device": device, "reason": reason})

    def add_or_skip(name: str, device: str, function: Callable[[Adapter, str], dict[str, Any]]) -> None:
        if quick and name not in QUICK_BENCHMARKS:
            skip(name, device, f"not in the quick subset ({', '.join(QUICK_BENCHMARKS)}); a full probe measures it")
        else:
            add(name, device, function)

    for device in kinds:
        add("matmul_fp32", device, lambda f, d: bench_matmul(f, d, "fp32"))
        if fw.bf16_ok(device):
            add_or_skip("matmul_bf16", device, lambda f, d: bench_matmul(f, d, "bf16"))
        else:
            skip("matmul_bf16", device, fw.no_bf16_reason or "no fast bf16 here (x86 CPUs need avx512_bf16 or AMX)")
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


def run_suite(fw: Adapter, planned: list[Planned], skipped: list[dict[str, Any]]
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Run every planned benchmark; one that raises becomes an error entry and the others go on."""
    benchmarks: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    total = len(planned)
    for index, item in enumerate(planned):
        if ABANDONED:
            skipped.append({"benchmark": item.name, "device": item.device,
                            "reason": f"not run: an abandoned compile ({ABANDONED[0]}) is still using the CPU"})
            continue
        progress(item.name, index, total, device=item.device)
        started = time.perf_counter()
        try:
            record = item.run()
            record["wall_s"] = round(time.perf_counter() - started, 3)
            benchmarks.append(record)
        except Skip as reason:
            skipped.append({"benchmark": item.name, "device": item.device, "reason": str(reason)})
        except Exception as exc:  # noqa: BLE001 - any failure of one benchmark is data, not a crash
            message = f"{type(exc).__name__}: {exc}".strip()
            errors.append({"benchmark": item.name, "device": item.device, "message": message[:1000],
                           "kind": "check" if isinstance(exc, CheckError) else "exception"})
        finally:
            gc.collect()
    progress("done", total, total)
    return benchmarks, errors, skipped
