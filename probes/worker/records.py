"""What a worker reports: its result, the benchmark records in it and their timings, as dataclasses.

These are the models of the worker's side of the process boundary, and the only ones. The worker builds
them and writes them as JSON (standard library only: it may run in an interpreter that has nothing but
the frameworks it measures); the runner (``probes.runner``) reads that JSON back through the same classes
with pydantic, so a worker that writes something malformed is a validation failure with a clear message,
not a KeyError later. ``probes.report`` holds them in the ProbeReport.

``Bound`` marks a field's limits. pydantic reads it (the limits land in the validators and in openapi.yaml);
the worker's ``fit`` cuts texts to them before writing. Free-form settings (``params``, ``build``) are bounded
in keys only: the request body's size cap bounds the rest of an uploaded report.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from typing import Any, Annotated, Literal, Optional

from ..vocabulary import AcceleratorKind, BenchmarkName, Device, FrameworkId
# Why a framework does not use an accelerator the machine has: what the worker saw, never the fix (the
# catalog, rules/base/frameworks.yaml, holds the commands that fix each one).
UNUSED_REASONS = ("cpu-only-build", "driver-mismatch", "unsupported-arch", "busy", "unsupported", "not-visible", "hidden")

UnusedReason = Literal[UNUSED_REASONS]  # type: ignore[valid-type]
# The samples a Timing keeps (>= 5 s of 1 ms blocks: beyond every budget the worker sets).
MAX_SAMPLES = 5000
# Pydantic rejects unknown keys in every record (a typo is an error, not silently stored data).
_STRICT = {"extra": "forbid"}


class Bound:
    """Limits of one field for the parent's validators: max_length (strings, lists, dicts), ge, le.

    Inert in the worker; pydantic calls ``__get_pydantic_core_schema__`` and adds the limits to the field's
    schema, so importing pydantic is never needed here.
    """

    def __init__(self, **limits: Any):
        self.limits = limits

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        schema = handler(source)
        schema.update(self.limits)
        return schema


Text = Annotated[str, Bound(max_length=1000)]
Name = Annotated[str, Bound(max_length=200)]
Seconds = Annotated[float, Bound(ge=0)]
FreeForm = Annotated[dict, Bound(max_length=64)]  # settings a framework reports, by name


@dataclasses.dataclass
class Timing:
    """Per-call times in seconds from the timing harness. ``per_call_s`` holds every sample (one per block
    of ``block_size`` calls); the rest summarise them."""

    __pydantic_config__ = _STRICT
    median_s: Seconds
    min_s: Seconds
    p10_s: Seconds
    iqr_s: Seconds
    samples: Annotated[int, Bound(ge=1)]
    block_size: Annotated[int, Bound(ge=1)]
    total_s: Seconds
    noisy: bool
    per_call_s: Annotated[list[Seconds], Bound(max_length=MAX_SAMPLES, fail_fast=True)] = dataclasses.field(
        default_factory=list)
    rel_iqr: Optional[Seconds] = None
    first_call_s: Optional[Seconds] = None
    warmup_calls: Annotated[int, Bound(ge=0)] = 0
    stop: Literal["converged", "budget", "rounds"] = "converged"  # "rounds": the parent chose the blocks


@dataclasses.dataclass
class Peak:
    """The device peak a FLOP figure is a percent of (GFLOP/s, for the threads or the one device measured)."""

    __pydantic_config__ = _STRICT
    value: Annotated[float, Bound(gt=0)]
    source: Text
    unit: Literal["GFLOP/s"] = "GFLOP/s"
    clock_ghz: Optional[Annotated[float, Bound(gt=0)]] = None  # CPU peaks: the clock they assume
    understated: bool = False  # a figure exceeded it: the assumed clock is too low, no percent is given
    note: Optional[Text] = None
    # Measured by the calibration run (an in-cache fp32 matmul by NumPy on the worker's threads, before its
    # turns): the practical peak at the clock the CPU really ran, which a figure may pass by a little.
    measured: bool = False


@dataclasses.dataclass
class BenchmarkRecord:
    """One measured, checked figure: ``value`` from the median time, ``best`` from the fastest."""

    __pydantic_config__ = _STRICT
    name: BenchmarkName
    device: Device
    unit: Literal["GFLOP/s", "GB/s", "steps/s", "us"]
    value: Annotated[float, Bound(gt=0)]
    best: Annotated[float, Bound(gt=0)]
    timing: Timing
    precision: Annotated[str, Bound(max_length=100)] = ""  # the arithmetic really used, e.g. "tf32 (...)"
    params: FreeForm = dataclasses.field(default_factory=dict)
    lower_is_better: bool = False
    checked: bool = True  # the output matched a NumPy reference (a figure that did not is never reported)
    percent_of_peak: Optional[Annotated[float, Bound(ge=0)]] = None
    peak: Optional[Peak] = None
    wall_s: Optional[Seconds] = None
    # The problem size (n, batch, elements ... as the benchmark's plan names it), and whether this is the
    # framework's own figure ("headline") or one at a smaller size every framework ran, for comparing.
    size: Optional[Annotated[int, Bound(ge=1)]] = None
    role: Literal["headline", "comparison"] = "headline"


@dataclasses.dataclass
class DeviceSeen:
    """A device as the framework lists it, and whether a test operation on it worked."""

    __pydantic_config__ = _STRICT
    device: Device
    name: Name
    usable: bool
    index: Optional[Annotated[int, Bound(ge=0)]] = None
    compute_capability: Optional[Annotated[str, Bound(max_length=32)]] = None
    error: Optional[Text] = None
    note: Optional[Text] = None


@dataclasses.dataclass
class UnusedAccelerator:
    """An accelerator the machine has that this framework does not use, and what the worker saw about why."""

    __pydantic_config__ = _STRICT
    kind: AcceleratorKind
    reason: UnusedReason
    detail: Text = ""


@dataclasses.dataclass
class BenchmarkError:
    __pydantic_config__ = _STRICT
    benchmark: Name
    device: Device
    message: Text
    kind: Literal["check", "exception"] = "exception"


@dataclasses.dataclass
class SkippedBenchmark:
    __pydantic_config__ = _STRICT
    benchmark: Name
    device: Device
    reason: Text


@dataclasses.dataclass
class WorkerResult:
    """Everything one worker measured and saw, in one fresh process of one framework."""

    __pydantic_config__ = _STRICT
    framework: FrameworkId
    version: Annotated[str, Bound(max_length=100)]
    threads: Annotated[int, Bound(ge=1, le=65536)]
    import_s: Seconds
    first_result_s: Seconds
    duration_s: Seconds
    quick: bool = False
    thorough: bool = False
    python: Annotated[str, Bound(max_length=100)] = ""
    build: FreeForm = dataclasses.field(default_factory=dict)
    # fail_fast: a list of records reports its first bad item only, so a large bad upload costs a few errors.
    devices: Annotated[list[DeviceSeen], Bound(max_length=256, fail_fast=True)] = dataclasses.field(
        default_factory=list)
    unused_accelerators: Annotated[list[UnusedAccelerator], Bound(max_length=16, fail_fast=True)] = dataclasses.field(
        default_factory=list)
    benchmarks: Annotated[list[BenchmarkRecord], Bound(max_length=64, fail_fast=True)] = dataclasses.field(
        default_factory=list)
    errors: Annotated[list[BenchmarkError], Bound(max_length=64, fail_fast=True)] = dataclasses.field(
        default_factory=list)
    skipped: Annotated[list[SkippedBenchmark], Bound(max_length=64, fail_fast=True)] = dataclasses.field(
        default_factory=list)
    thread_controls: FreeForm = dataclasses.field(default_factory=dict)


def _without_empty(items: list[tuple[str, Any]]) -> dict[str, Any]:
    return {key: value for key, value in items if value is not None}


def _finite(value: Any) -> Any:
    """JSON has no NaN or Infinity: such floats become null (and then fail the parent's validation)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _text_limit(annotation: Any) -> Optional[int]:
    """The max_length a Bound puts on a string field (through Optional[...]), else None."""
    for part in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(part) is Annotated and typing.get_args(part)[0] is str:
            return next((b.limits.get("max_length") for b in typing.get_args(part)[1:] if isinstance(b, Bound)), None)
    return None


def fit(record: Any) -> Any:
    """``record`` with every text cut to its field's limit ("..." marks the cut), nested records too: a worker
    cannot validate, and one long string (a driver's error message) must not cost the whole result."""
    if isinstance(record, list):
        return [fit(item) for item in record]
    if not dataclasses.is_dataclass(record) or isinstance(record, type):
        return record
    hints = typing.get_type_hints(type(record), include_extras=True)
    changes = {}
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        limit = _text_limit(hints[field.name])
        if isinstance(value, str) and limit is not None and len(value) > limit:
            changes[field.name] = value[:limit - 3] + "..."
        elif isinstance(value, list) or dataclasses.is_dataclass(value):
            changes[field.name] = fit(value)
    return dataclasses.replace(record, **changes)


def to_json(record: Any) -> str:
    """A record (or a dataclass holding records) as JSON, fitted to its limits, leaving out fields that are None."""
    return json.dumps(_finite(dataclasses.asdict(fit(record), dict_factory=_without_empty)), allow_nan=False)
