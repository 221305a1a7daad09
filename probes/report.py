"""The ProbeReport and what it holds: how the probe was asked for, each framework's run or failure, and the
facts derived from them.

A worker's own records (``WorkerResult``, ``BenchmarkRecord``, ``Timing`` ...) are the dataclasses of
``probes.worker.records``; pydantic validates them here, in the parent. JSON is made from these models only
at the edges: the HTTP API, the CLI's ``--json``, the store and the worker's stdout file.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from framework_advisor.probes.comparisons import Comparison, Interval
from framework_advisor.probes.conditions import Conditions
from framework_advisor.probes.hardware import HardwareProfile, Strict, absent
from framework_advisor.probes.vocabulary import BenchmarkName, FrameworkId
from framework_advisor.probes.worker.records import UnusedAccelerator, WorkerResult

REPORT_SCHEMA_VERSION = 2
FAILURE_KINDS = ("timeout", "crash", "import-error", "out-of-memory", "error", "bad-output")
Seconds = Annotated[float, Field(ge=0)]
Message = Annotated[str, Field(max_length=2000)]


class ProbeOptions(Strict):
    """How a probe was asked for: from the HTTP body (ProbeRequest) or the CLI, down to each worker's argv.

    Normalised on the way in, so that identical requests compare equal (a queued probe is joined, not
    repeated): frameworks are sorted (each may be named once), and ``thorough`` is dropped with ``quick``.
    """

    quick: bool = Field(False, description="Shorter budgets; skips the slowest benchmarks.")
    thorough: bool = Field(False, description=(
        "Also time cold compiles that run an external compiler (torch.compile, mx.compile on a CPU): seconds "
        "to a minute each. Ignored with quick."))
    frameworks: Annotated[list[FrameworkId], Field(max_length=5)] = absent(
        "Probe only these (default: every installed framework; an empty list: the inventory only).", uniqueItems=True)
    threads: Annotated[int, Field(ge=1, le=4096)] = absent(
        "CPU threads for every framework (default, and at most: every CPU the probe may use).")
    benchmarks: bool = Field(True, description=(
        "Run the benchmarks; false: each framework's set-up only (version, devices, why an accelerator goes "
        "unused), which needs no machine-wide lock."))
    fresh: bool = Field(False, description=(
        "Measure even when a recent probe of this machine measured the same framework versions on the same "
        "hardware with the same settings (by default its measurements are reused, and the report says so)."))

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if data.get("quick") is True:
                data["thorough"] = False
            frameworks = data.get("frameworks")
            if isinstance(frameworks, (list, tuple)) and all(isinstance(f, str) for f in frameworks):
                data["frameworks"] = sorted(frameworks)
        return data

    @field_validator("frameworks")
    @classmethod
    def _unique(cls, frameworks: list[str]) -> list[str]:
        if frameworks is not None and len(set(frameworks)) != len(frameworks):
            raise ValueError("each framework may be given once")
        return frameworks

    @property
    def worker_timeout_s(self) -> float:
        """The hard limit on one worker: enough for the slowest framework on a loaded 2-core machine."""
        return 30.0 if self.quick else 150.0 if self.thorough else 60.0


class ProbeParams(ProbeOptions):
    """ProbeOptions as stored with a probe; ``uploaded`` marks a report sent from another machine."""

    uploaded: bool = False

    @classmethod
    def asked(cls, options: ProbeOptions) -> ProbeParams:
        """The parameters of a probe this machine runs as ``options`` ask."""
        return cls(**options.model_dump(exclude_none=True))

    def options(self) -> ProbeOptions:
        return ProbeOptions(**self.model_dump(exclude={"uploaded"}, exclude_none=True))


class Failure(Strict):
    kind: Literal[FAILURE_KINDS]  # type: ignore[valid-type]
    message: Message
    stderr_tail: Annotated[str, Field(max_length=4000)] = ""
    exit_code: Optional[int] = None


@dataclasses.dataclass
class FrameworkRun(WorkerResult):
    """A worker's result as the parent received it, with the wall time the parent measured around it."""

    wall_s: Optional[Annotated[float, Field(ge=0)]] = None


class FailedFramework(Strict):
    """A worker that produced no result: timed out, crashed, failed to import, ran out of memory ..."""

    framework: FrameworkId
    failure: Failure
    wall_s: Optional[Seconds] = None


def _run_or_failure(value: Any) -> str:
    if isinstance(value, dict):
        return "FailedFramework" if "failure" in value else "FrameworkRun"
    return type(value).__name__


# Tagged by class name: the tag shows in pydantic's error locations, where no field of a report is named so.
FrameworkProbe = Annotated[
    Union[Annotated[FrameworkRun, Tag("FrameworkRun")], Annotated[FailedFramework, Tag("FailedFramework")]],
    Discriminator(_run_or_failure, custom_error_type="framework_probe", custom_error_message=(
        "a framework's entry is an object: a worker's result, or {framework, failure}"))]


class SkippedFramework(Strict):
    framework: FrameworkId
    reason: Annotated[str, Field(max_length=500)]


class FrameworkFailure(Failure):
    framework: FrameworkId


class DerivedFacts(Strict):
    """Per framework, the facts the rule base uses (``probes.derived``)."""

    failed: bool = False
    failure_kind: Optional[Literal[FAILURE_KINDS]] = None  # type: ignore[valid-type]
    failure_message: Optional[Message] = None
    relative_speed: Optional[Annotated[float, Field(ge=0, le=1)]] = None
    slowdown: Optional[Annotated[float, Field(ge=1)]] = None
    slowdown_range: Optional[Interval] = Field(None, description=(
        "The slowdown round by round: its median and its range across the rounds (a low end below 1: faster "
        "in some rounds). Evidence only where the whole range says so."))
    speed_certainty: Optional[Annotated[float, Field(ge=0, le=1)]] = Field(None, description=(
        "How much the speed comparison can be trusted: 1 for rounds that agreed in a full probe, less for a "
        "wide spread, few rounds, figures without rounds or a quick probe."))
    speed_basis: Optional[Message] = Field(None, description="What the speed comparison measured, in words.")
    compared: Annotated[list[BenchmarkName], Field(max_length=16)] = Field(
        default_factory=list, description="The benchmarks the speed comparison rests on.")
    tied_with_fastest: Optional[bool] = None
    clearly_fastest: Optional[bool] = Field(None, description=(
        "The fastest, and every other framework's slowdown stayed above the tie ratio (1.10) in every round."))
    fastest: Optional[FrameworkId] = None
    reached_accelerator: Optional[bool] = None
    accelerator_issue: Optional[UnusedAccelerator] = None


class UnderstatedPeak(Strict):
    """A CPU figure above the CPU peak the probe computed: that peak assumed too low a clock (turbo under a
    hypervisor that reports the nominal one), so no CPU figure of the report is a trustworthy percent of it."""

    framework: FrameworkId
    benchmark: Annotated[str, Field(max_length=40)]
    figure_gflops: Annotated[float, Field(gt=0)]
    peak_gflops: Annotated[float, Field(gt=0)]
    assumed_clock_ghz: Optional[Annotated[float, Field(gt=0)]] = None
    clock_ghz_at_least: Optional[Annotated[float, Field(gt=0)]] = Field(
        None, description="The clock the figure implies: a lower bound on the real one.")


class CalibrationRun(Strict):
    """A framework's CPU calibration (an in-cache fp32 matmul by NumPy on its threads) before and after its
    turns: the practical peak of those threads, and how much it moved while the probe ran."""

    framework: FrameworkId
    before_gflops: Annotated[float, Field(gt=0)]
    after_gflops: Optional[Annotated[float, Field(gt=0)]] = None

    @property
    def drift(self) -> Optional[float]:
        return self.after_gflops / self.before_gflops if self.after_gflops else None


class PythonUsed(Strict):
    """The interpreter a probe measured."""

    executable: Annotated[str, Field(max_length=4096)]
    version: Annotated[str, Field(max_length=40)]
    prefix: Annotated[str, Field(max_length=4096, description="Its environment (sys.prefix): a venv or conda env.")]
    own: bool = Field(True, description="The advisor's own interpreter (false: one given with --python).")


class ReusedMeasurements(Strict):
    """The earlier probe whose measurements a report carries: nothing they depend on had changed."""

    probe_id: Annotated[str, Field(min_length=1, max_length=64)]
    measured_at: Annotated[str, Field(max_length=40)]
    why: Annotated[str, Field(max_length=300)] = ""


class ProbeReport(Strict):
    """What a probe found: the machine, each framework's results or failure, and the derived facts."""

    schema_version: Literal[REPORT_SCHEMA_VERSION]  # type: ignore[valid-type]
    host: Annotated[str, Field(min_length=1, max_length=255)]
    created_at: Annotated[str, Field(max_length=40)]
    hardware: HardwareProfile
    # fail_fast: a list of records reports its first bad item only, so a large bad upload costs a few errors.
    frameworks: Annotated[list[FrameworkProbe], Field(max_length=5, fail_fast=True)]
    failures: Annotated[list[FrameworkFailure], Field(max_length=5, fail_fast=True)] = Field(default_factory=list)
    derived: Annotated[dict[FrameworkId, DerivedFacts], Field(max_length=5)] = Field(default_factory=dict)
    duration_s: Seconds = 0.0
    quick: bool = False
    thorough: bool = Field(False, description="Cold compiles that run an external compiler were timed too.")
    inventory_s: Optional[Seconds] = None
    skipped: Annotated[list[SkippedFramework], Field(max_length=5, fail_fast=True)] = Field(default_factory=list)
    versions: Annotated[dict[Annotated[str, Field(max_length=40)], Annotated[str, Field(max_length=100)]],
                        Field(max_length=16)] = Field(default_factory=dict)
    understated_cpu_peak: Optional[UnderstatedPeak] = Field(None, description=(
        "Set when a CPU figure exceeded the computed CPU peak: then no CPU percent of peak in this report holds."))
    comparisons: Annotated[list[Comparison], Field(max_length=64, fail_fast=True)] = Field(
        default_factory=list, description="Each benchmark at a size every framework that ran it ran, round by round.")
    calibrations: Annotated[list[CalibrationRun], Field(max_length=5)] = Field(default_factory=list)
    conditions: Optional[Conditions] = None
    threads: Optional[Annotated[int, Field(ge=1)]] = Field(None, description="CPU threads every framework used.")
    threads_note: Annotated[str, Field(max_length=300)] = ""
    python: Optional[PythonUsed] = Field(None, description="The interpreter whose frameworks were measured.")
    reused: Optional[ReusedMeasurements] = Field(None, description=(
        "Set when this probe measured nothing itself: an earlier probe's figures still held (same hardware, "
        "framework versions and settings, recent, on a quiet machine). Probe with fresh to measure anyway."))
    workers_peak_rss_mb: Optional[Annotated[float, Field(ge=0)]] = Field(
        None, description=("The peaks of the workers' resident memory added up (MB): all are alive at once, so "
                           "this bounds what the probe needed from above."))

    def cpu_percents_hold(self) -> bool:
        return self.understated_cpu_peak is None

    def result(self, framework: str) -> FrameworkRun | FailedFramework | None:
        return next((entry for entry in self.frameworks if entry.framework == framework), None)

    def runs(self) -> list[FrameworkRun]:
        """The frameworks whose worker produced a result."""
        return [entry for entry in self.frameworks if isinstance(entry, FrameworkRun)]

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def upgrade_report(document: Any) -> Any:
    """A report of an earlier schema version in today's shape; anything else is returned as it is.

    Version 1 (stores and uploads made before the typed core) carried an install command (`fix`) on each
    unused accelerator and extra keys on an understated CPU peak; the catalog now holds the commands.
    """
    if not isinstance(document, dict) or document.get("schema_version") != 1:
        return document
    # Only what has the expected shape is rewritten; anything else passes through for validation to name.
    upgraded = {**document, "schema_version": REPORT_SCHEMA_VERSION}
    if isinstance(document.get("frameworks"), list):
        upgraded["frameworks"] = [_upgrade_framework(entry) for entry in document["frameworks"]]
    if isinstance(document.get("derived"), dict):
        upgraded["derived"] = {framework: _upgrade_facts(facts) for framework, facts in document["derived"].items()}
    return upgraded


def _upgrade_framework(entry: Any) -> Any:
    if not isinstance(entry, dict) or "failure" in entry:
        return entry
    entry = dict(entry)
    if isinstance(entry.get("unused_accelerators"), list):
        entry["unused_accelerators"] = [_without(unused, "fix") for unused in entry["unused_accelerators"]]
    if isinstance(entry.get("benchmarks"), list):
        entry["benchmarks"] = [_upgrade_benchmark(bench) for bench in entry["benchmarks"]]
    return entry


def _upgrade_facts(facts: Any) -> Any:
    if isinstance(facts, dict) and isinstance(facts.get("accelerator_issue"), dict):
        return {**facts, "accelerator_issue": _without(facts["accelerator_issue"], "fix")}
    return facts


def _without(entry: Any, key: str) -> Any:
    return {k: v for k, v in entry.items() if k != key} if isinstance(entry, dict) else entry


def _upgrade_benchmark(bench: Any) -> Any:
    if not isinstance(bench, dict) or not isinstance(bench.get("peak"), dict):
        return bench
    peak = dict(bench["peak"])
    assumed = peak.pop("assumed_ghz", None)
    peak.pop("effective_ghz_at_least", None)
    peak.pop("percent_at_assumed_clock", None)
    if assumed is not None:
        peak["clock_ghz"] = assumed
    return {**bench, "peak": peak}
