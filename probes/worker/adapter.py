"""What a framework adapter implements, and the settings every benchmark reads.

A framework's adapter (``adapters/<framework>.py``) puts an array on a device, runs a matmul, takes an SGD
step ...; ``benchmarks`` turns those operations into measured, checked records. ``Settings`` derives the
budgets of this run from the worker's options: how long to measure, when a size is too slow, how long a
cold compile may take before the deadline the parent set.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from .machine import MiB
from .options import WorkerOptions
from .records import DeviceSeen, Name, Peak, Text, UnusedAccelerator

if TYPE_CHECKING:
    from .sizes import Sized

# The records' length limits (their ``Bound``s): texts a worker builds from exception messages are cut to them.
TEXT_CHARS: int = Text.__metadata__[0].limits["max_length"]
NAME_CHARS: int = Name.__metadata__[0].limits["max_length"]
# Compiles are measured last; after one, the worker still measures the compiled step, checks it and writes
# its result: that much of the deadline is kept free.
AFTER_COMPILE_S = 3.0
MIN_COMPILE_DEADLINE_S = 5.0
MAX_COMPILE_DEADLINE_S = {"quick": 15.0, "full": 40.0, "thorough": 120.0}
# CPU flags (Linux spelling, as the parent's inventory reports them) that give a CPU fast bfloat16.
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})
# Variables that hide GPUs from CUDA and ROCm runtimes; a value of "" or "-1" hides every one.
VISIBLE_DEVICES_VARS = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES")


class Skip(Exception):
    """A benchmark that does not apply here (recorded under ``skipped``, not under ``errors``)."""


@dataclass
class Settings:
    """One run's options and the budgets derived from them."""

    options: WorkerOptions
    started: float = field(default_factory=time.perf_counter)  # when the worker started

    @property
    def framework(self) -> str:
        return self.options.framework

    @property
    def quick(self) -> bool:
        return self.options.quick

    @property
    def thorough(self) -> bool:
        return self.options.thorough

    @property
    def threads(self) -> int:
        return self.options.threads

    @property
    def accelerators(self) -> tuple[str, ...]:
        return self.options.accelerators

    @property
    def flags(self) -> frozenset[str]:
        return frozenset(self.options.cpu_flags)

    def peak(self, device: str, precision: str) -> Peak | None:
        """The peak the parent computed for ``device`` at ``precision`` (GFLOP/s), or None."""
        return self.options.peaks.get(device, {}).get(precision)

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

        torch.compile takes 15-35 s cold on a 2-core machine. The compile must end ``AFTER_COMPILE_S`` before
        the worker's deadline (``--deadline-s``, counted from its start), and is capped at 40 s (15 s quick,
        120 s thorough); it gets at least 5 s.
        """
        mode = "thorough" if self.thorough else "quick" if self.quick else "full"
        left = self.options.deadline_s - AFTER_COMPILE_S - (time.perf_counter() - self.started)
        return round(max(MIN_COMPILE_DEADLINE_S, min(MAX_COMPILE_DEADLINE_S[mode], left)), 1)

    @property
    def bandwidth_cap_bytes(self) -> int:
        """Per array (three arrays move per call). Building and copying them dominates the benchmark's cost."""
        return (16 if self.quick else 32) * MiB

    def budget_for(self, sized: Optional[Sized] = None) -> float:
        """How long a self-driven measurement may take after its first call (``timing.Sampler.until_settled``);
        ``sized``: the ladder already made the first call and some warm-up calls at this size."""
        if sized is None:
            return self.budget_s
        # Long calls (matmul 2048: ~60 ms) get a budget for 5 blocks after one warm-up call, so that the
        # stopping rule can be met at all; at most twice the usual budget.
        return min(max(self.budget_s, 6 * sized.per_call_s), 2 * self.budget_s)


@dataclass
class MlpStep:
    """A training step bound to its state: ``step()`` runs one step and returns what ``sync`` waits on."""

    step: Callable[[], Any]
    sync: Callable[[Any], Any]
    params: Callable[[], list[Any]]  # the current parameters as NumPy arrays
    loss: Callable[[Any], float]  # the loss from a step's output
    api: str = ""


def hidden_gpus(kind: str) -> UnusedAccelerator | None:
    """An ``hidden`` entry when an environment variable hides every GPU of ``kind`` (cuda, rocm), else None."""
    if kind not in ("cuda", "rocm"):
        return None
    for name in VISIBLE_DEVICES_VARS:
        value = os.environ.get(name)
        if value is not None and value.strip() in ("", "-1"):
            return UnusedAccelerator(kind=kind, reason="hidden", detail=f"{name}={value!r} hides every GPU")
    return None


def clip(text: str, limit: int = TEXT_CHARS) -> str:
    """``text`` cut to ``limit`` characters (an exception message can be longer than a record holds)."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def classify_device_error(message: str) -> str:
    """The reason a framework's error about a device it cannot use points to (its wording, per framework)."""
    text = message.lower()
    # PyTorch: "no kernel image is available", "sm_120 is not compatible"; ROCm: hipErrorNoBinaryForGpu.
    if any(words in text for words in ("no kernel image", "is not compatible with the current pytorch",
                                        "nobinaryforgpu", "no binary for gpu")):
        return "unsupported-arch"
    if "driver" in text and any(word in text for word in ("too old", "insufficient", "version", "mismatch")):
        return "driver-mismatch"
    if any(word in text for word in ("busy", "in use", "exclusive", "lockfile", "already")):
        return "busy"
    return "not-visible"


def unused(kind: str, reason: str, detail: str) -> UnusedAccelerator:
    return UnusedAccelerator(kind=kind, reason=reason, detail=clip(detail))


def seen(device: str, name: str, usable: bool, **extra: Any) -> DeviceSeen:
    """A DeviceSeen with its texts clipped to the record's limits (an error message can be long)."""
    for key in ("error", "note"):
        if extra.get(key) is not None:
            extra[key] = clip(str(extra[key]))
    return DeviceSeen(device=device, name=clip(str(name), NAME_CHARS), usable=usable, **extra)


def exception_text(exc: BaseException) -> str:
    return clip(f"{type(exc).__name__}: {exc}".strip())


class Adapter:
    """The per-framework operations. Subclasses override what their framework has."""

    framework = ""
    has_conv = True
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

    def devices(self) -> list[DeviceSeen]:
        return [seen("cpu", "cpu", True)]

    def slow_compile(self, device: str) -> str | None:
        """Why a cold compile on ``device`` takes seconds or more (it runs an external compiler), or None.

        Such compiles are measured only in a thorough probe; in-process JIT compilers (XLA) stay in the default.
        """
        return None

    def unused_accelerators(self, usable_kinds: set[str]) -> list[UnusedAccelerator]:
        return []

    def bf16_ok(self, device: str) -> bool:
        if device == "cpu":
            return bool(self.settings.flags & BF16_CPU_FLAGS)
        return device in ("cuda", "rocm", "tpu", "intel-xpu")

    # --- data
    def array(self, host: Any, device: str, dtype: str = "fp32") -> Any:
        raise NotImplementedError

    def to_numpy(self, value: Any) -> Any:
        import numpy

        return numpy.asarray(value, dtype=numpy.float32)

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

    def mlp(self, device: str, params: list[Any], x: Any, y: Any, lr: float, compiled: bool) -> MlpStep:
        """One SGD step of the benchmark MLP, eager or under the framework's compiler (``compiler``)."""
        raise NotImplementedError

    def mlp_eager(self, device: str, params: list[Any], x: Any, y: Any, lr: float) -> MlpStep:
        return self.mlp(device, params, x, y, lr, compiled=False)

    def mlp_compiled(self, device: str, params: list[Any], x: Any, y: Any, lr: float) -> MlpStep:
        return self.mlp(device, params, x, y, lr, compiled=True)

    def h2d(self, device: str, host: Any) -> Callable[[], Any] | None:
        """A host-to-device copy of ``host``, or None where memory is unified / no copy exists."""
        return None
