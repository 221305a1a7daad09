"""The conversation between the parent and a worker that measures in turns.

All workers of a probe start together, so that their imports overlap; then each waits for commands, and the
parent sends them to one worker at a time (holding the "token"), so that no two frameworks are timed at once.
The parent measures each benchmark in rounds across the frameworks (A B C D, A B C D, ...), so that figures
compared with each other share the same minutes of a busy machine.

Commands go to the worker's stdin, one JSON object per line: ``{"cmd": ..., ...}``. Replies come back on the
file descriptor the worker was given (``--reply-fd``), one JSON object per line, ``{"type": ..., ...}``: the
dataclasses below, written with ``records.to_json``. Progress stays on stderr (``protocol.progress``).

    worker                                      parent
    (imports, first result, devices, plan) ──► Ready
                          {"cmd": "calibrate"} ◄── ... ──► Calibration
    {"cmd": "prepare", benchmark, device, size} ◄── ... ──► Prepared | Failed
    {"cmd": "sample", benchmark, device, size, blocks} ◄── ... ──► Samples | Failed
    {"cmd": "finish", benchmark, device, size} ◄── ... ──► Finished (the record) | Failed
                               {"cmd": "exit"} ◄── writes the WorkerResult to --out, exit status 0

``size`` is the problem size (``PlanEntry.size_key``: n, batch, elements ...); ``None`` asks for the size the
worker's own ladder picks (the standard size, or below it for a framework far too slow for it). A benchmark
prepared at several sizes (a comparison at a smaller size every framework ran) is several sessions.

Standard library only, like the rest of the worker.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal, Optional

from .records import (Bound, BenchmarkError, BenchmarkRecord, DeviceSeen, FreeForm, Name, Seconds, SkippedBenchmark,
                      Text, UnusedAccelerator)
from ..vocabulary import BenchmarkName, Device, FrameworkId

_STRICT = {"extra": "forbid"}


@dataclasses.dataclass
class PlanEntry:
    """A benchmark the worker can run on a device, at its standard size unless it has to step down."""

    __pydantic_config__ = _STRICT
    benchmark: BenchmarkName
    device: Device
    standard_size: Annotated[int, Bound(ge=1)]
    size_key: Literal["n", "batch", "elements", "bytes", "steps"]


@dataclasses.dataclass
class Ready:
    """Set-up done: the framework imported, its devices listed; the worker waits for commands."""

    __pydantic_config__ = _STRICT
    type: Literal["ready"]
    framework: FrameworkId
    version: Annotated[str, Bound(max_length=100)]
    threads: Annotated[int, Bound(ge=1)]
    import_s: Seconds
    first_result_s: Seconds
    plan: Annotated[list[PlanEntry], Bound(max_length=64)] = dataclasses.field(default_factory=list)
    devices: Annotated[list[DeviceSeen], Bound(max_length=256)] = dataclasses.field(default_factory=list)
    unused_accelerators: Annotated[list[UnusedAccelerator], Bound(max_length=16)] = dataclasses.field(
        default_factory=list)
    skipped: Annotated[list[SkippedBenchmark], Bound(max_length=64)] = dataclasses.field(default_factory=list)
    errors: Annotated[list[BenchmarkError], Bound(max_length=64)] = dataclasses.field(default_factory=list)
    build: FreeForm = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Calibration:
    """The best rate of a short in-cache fp32 matrix multiply by NumPy on the worker's threads: the practical
    CPU peak right now (it moves with the machine's clock, so calibrations across a probe show its drift)."""

    __pydantic_config__ = _STRICT
    type: Literal["calibration"]
    gflops: Annotated[float, Bound(gt=0)]
    threads: Annotated[int, Bound(ge=1)]
    seconds: Seconds
    method: Text


@dataclasses.dataclass
class Prepared:
    """A benchmark built, sized, warmed up and checked once; the block size its samples will use."""

    __pydantic_config__ = _STRICT
    type: Literal["prepared"]
    benchmark: BenchmarkName
    device: Device
    size: Annotated[int, Bound(ge=1)]
    standard_size: Annotated[int, Bound(ge=1)]
    block_size: Annotated[int, Bound(ge=1)]
    per_call_s: Seconds  # the warm-up's estimate
    first_call_s: Optional[Seconds] = None
    reduced_because: Optional[Text] = None  # set when the worker's ladder stopped below the standard size


@dataclasses.dataclass
class Samples:
    """``blocks`` more timed blocks of a prepared benchmark: one per-call time per block."""

    __pydantic_config__ = _STRICT
    type: Literal["samples"]
    benchmark: BenchmarkName
    device: Device
    size: Annotated[int, Bound(ge=1)]
    per_call_s: Annotated[list[Seconds], Bound(max_length=1000)]
    wall_s: Seconds


@dataclasses.dataclass
class Finished:
    """The benchmark's record over every sample taken, its output checked against the NumPy reference."""

    __pydantic_config__ = _STRICT
    type: Literal["finished"]
    record: BenchmarkRecord


@dataclasses.dataclass
class Failed:
    """A command that could not be carried out: ``skip`` (does not apply here), ``check`` (a wrong output) or
    ``exception``; the worker goes on with the next command."""

    __pydantic_config__ = _STRICT
    type: Literal["failed"]
    benchmark: Name
    device: Device
    kind: Literal["skip", "check", "exception"]
    message: Text


REPLIES = {"ready": Ready, "calibration": Calibration, "prepared": Prepared, "samples": Samples,
           "finished": Finished, "failed": Failed}
