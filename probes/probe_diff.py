"""What changed between two probes: versions, devices and figures (``ProbeDiff``, the one model of a diff that
the CLI's ``probes diff``, ``GET /v1/probes/{a}/diff/{b}`` and the form's "Compare probes" share).

Figures are matched by framework, benchmark, device, precision (the arithmetic really used: "fp32", "tf32") and
problem size (the record's shape parameters: n, batch, elements, bytes, layers ...). Figures measured at
different sizes or precisions are never compared: they are listed as not compared, with both sides' sizes; a
figure that only one probe has is listed as such. Each compared figure has its ratio B/A (of the figures as
reported: GFLOP/s, GB/s, steps/s, or microseconds for a latency) and a verdict on whether the change exceeds
the figures' noise (``noise_verdict``).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Annotated, Literal, Optional

from pydantic import Field

from framework_advisor.probes.comparisons import ratio_text
from framework_advisor.probes.derived import AGREEING_SPREAD
from framework_advisor.probes.hardware import Accelerator, HardwareProfile, Strict
from framework_advisor.probes.report import FailedFramework, FrameworkRun, ProbeReport
from framework_advisor.probes.vocabulary import (BENCHMARK_NAMES, FRAMEWORK_IDS, AcceleratorKind, BenchmarkName,
                                                 Device, FrameworkId)
from framework_advisor.probes.worker.records import BenchmarkRecord, Timing, UnusedReason
from framework_advisor.probes.worker.timing import MIN_SETTLED_SAMPLES

# The parameters that fix a benchmark's problem (its shape); the others (notes, compile times, cache sizes, the
# API used) describe how it ran. Two figures compare only when these agree.
SHAPE_PARAMS = ("n", "batch", "height", "width", "in_channels", "out_channels", "kernel", "elements", "bytes",
                "layers")
# The one parameter that names a benchmark's size in a line of text ("n=1024").
_SIZE_PARAMS = ("n", "batch", "elements", "bytes")
# Below this many samples a figure's spread says nothing (the worker's own rule for a settled figure).
MIN_SAMPLES = MIN_SETTLED_SAMPLES
# Two probes run minutes or days apart: a change within this factor is run-to-run noise on a quiet machine
# (the spread at which rounds of one probe count as agreeing, probes.derived), whatever the samples say.
NOISE_FLOOR = AGREEING_SPREAD
NOISE_RULE = (f"a change exceeds the noise when the ratio's range (from the quartiles of both figures' samples) "
              f"excludes 1 and the ratio is outside {1 / NOISE_FLOOR:.2f}x-{NOISE_FLOOR:.2f}x; with fewer than "
              f"{MIN_SAMPLES} samples in either figure it is not judged")

Side = Optional[str]
Outcome = Literal["ran", "failed", "skipped", "absent"]
Verdict = Literal["better", "worse", "within-noise", "not-judged"]


class ProbeRef(Strict):
    """One side of a diff: which probe, of which machine, measured when."""

    id: str
    host: str
    measured_at: str = Field(description="When the probe measured (its report's created_at).")
    quick: bool
    reused_from: Optional[str] = Field(None, description=(
        "The probe measured nothing itself: its figures are those of this earlier probe."))


class VersionChange(Strict):
    """The interpreter's or a framework's version on each side (null: not there)."""

    kept_nulls = ("a", "b")
    name: str = Field(description="'python' or a framework id.")
    a: Optional[str] = None
    b: Optional[str] = None
    changed: bool


class FrameworkOutcome(Strict):
    """Whether a framework ran, failed, was skipped, or was not in the probe, on each side."""

    framework: FrameworkId
    a: Outcome
    b: Outcome
    a_detail: str = ""
    b_detail: str = ""
    changed: bool


class AcceleratorChange(Strict):
    """An accelerator of the machine that one side has and the other has not, or has in another count or driver."""

    kept_nulls = ("a_count", "b_count")
    kind: AcceleratorKind
    name: str
    a_count: Optional[int] = Field(None, description="null: not in A's hardware.")
    b_count: Optional[int] = Field(None, description="null: not in B's hardware.")
    a_driver: Optional[str] = None
    b_driver: Optional[str] = None


class DeviceSeenChange(Strict):
    """A device a framework listed on one side and not the other, or that became usable or unusable."""

    kept_nulls = ("a_usable", "b_usable")
    framework: FrameworkId
    device: Device
    name: str
    index: Optional[int] = None
    a_usable: Optional[bool] = Field(None, description="null: the framework did not list it in A.")
    b_usable: Optional[bool] = Field(None, description="null: the framework did not list it in B.")


class UnusedChange(Strict):
    """An accelerator a framework left unused on one side (and why), used or absent on the other."""

    kept_nulls = ("a_reason", "b_reason")
    framework: FrameworkId
    kind: AcceleratorKind
    a_reason: Optional[UnusedReason] = Field(None, description="null: not unused in A (used, or not there).")
    b_reason: Optional[UnusedReason] = None


class FigureKey(Strict):
    """What a figure measured: the framework, benchmark, device, precision and problem size."""

    framework: FrameworkId
    benchmark: BenchmarkName
    device: Device
    precision: str = Field(description="The arithmetic really used (the first word of the record's precision).")
    size: Optional[int] = None
    size_text: str = Field("", description="The size as a parameter: 'n=1024', 'batch=8', 'elements=16777216'.")
    unit: str
    lower_is_better: bool = False


class FigureChange(FigureKey):
    """A figure both probes measured, at the same size and precision."""

    kept_nulls = ("exceeds_noise",)
    a_value: float
    b_value: float
    ratio: Annotated[float, Field(gt=0, description="B / A of the figures as reported.")]
    ratio_low: Optional[float] = Field(None, description=(
        "The ratio's range from the quartiles of both figures' samples (absent: too few samples to judge)."))
    ratio_high: Optional[float] = None
    exceeds_noise: Optional[bool] = Field(None, description="null: too few samples to judge.")
    verdict: Verdict = Field(description="better / worse (beyond the noise; which way a latency goes is "
                                         "accounted for), within-noise, or not-judged.")
    noisy: bool = Field(False, description="Either figure was flagged noisy (unsettled between rounds) by its probe.")


class FigureOnce(FigureKey):
    """A figure only one of the probes has."""

    value: float


class NotComparedFigure(Strict):
    """A benchmark both probes measured for a framework on a device, but at different sizes or precisions."""

    framework: FrameworkId
    benchmark: BenchmarkName
    device: Device
    a: list[str] = Field(description="A's figures of it: precision and size, e.g. 'fp32 n=1024'.")
    b: list[str]
    reason: str


class ProbeDiff(Strict):
    """What changed from probe A to probe B: versions, devices and figures."""

    a: ProbeRef
    b: ProbeRef
    notes: list[str] = Field(default_factory=list, description=(
        "What a reader should know first: other machines, other settings (quick, threads), a busy machine, "
        "reused figures, other CPU or memory."))
    versions: list[VersionChange] = Field(default_factory=list, description="Every version on either side.")
    frameworks: list[FrameworkOutcome] = Field(default_factory=list)
    accelerators: list[AcceleratorChange] = Field(default_factory=list, description="The hardware's changes only.")
    devices_seen: list[DeviceSeenChange] = Field(default_factory=list, description="Changes only.")
    unused_accelerators: list[UnusedChange] = Field(default_factory=list, description="Changes only.")
    figures: list[FigureChange] = Field(default_factory=list, description="Every figure present in both.")
    not_compared: list[NotComparedFigure] = Field(default_factory=list)
    only_in_a: list[FigureOnce] = Field(default_factory=list)
    only_in_b: list[FigureOnce] = Field(default_factory=list)
    noise_rule: str = NOISE_RULE

    def changed_versions(self) -> list[VersionChange]:
        return [version for version in self.versions if version.changed]

    def changed_figures(self) -> list[FigureChange]:
        return [figure for figure in self.figures if figure.verdict in ("better", "worse")]


# ---- the noise rule ----

def _spread(timing: Timing) -> Optional[tuple[float, float]]:
    """A figure's middle half relative to its median: (first quartile / median, third quartile / median) of its
    per-call times, from its samples (or, for a record that kept none, its median and IQR); None with fewer than
    MIN_SAMPLES samples."""
    samples = timing.per_call_s
    if len(samples) >= MIN_SAMPLES:
        q1, median, q3 = statistics.quantiles(samples, n=4, method="inclusive")
        return q1 / median, q3 / median
    if not samples and timing.samples >= MIN_SAMPLES and timing.median_s > timing.iqr_s / 2:
        half = timing.iqr_s / 2 / timing.median_s
        return 1 - half, 1 + half
    return None


def noise_verdict(a: BenchmarkRecord, b: BenchmarkRecord) -> tuple[float, Optional[tuple[float, float]], Verdict]:
    """The ratio B/A of two figures of one benchmark at one size, its range, and whether the change exceeds the
    noise.

    The rule: each figure's per-call samples (every timed block, across all its rounds: ``Timing.per_call_s``)
    give its middle half, the first to the third quartile of its time per call, relative to its median. The
    ratio's range takes both spreads at their extremes: for a throughput (work over time) it runs from
    ratio x (A's first quartile / B's third) to ratio x (A's third / B's first), each quartile as a fraction of
    its own median; for a latency (the time itself) the other way round. That is the range of B's time over A's
    when any time in either middle half may be the true one. The change exceeds the noise when that range
    excludes 1 (the two middle halves do not overlap) and the ratio itself is outside the run-to-run floor,
    1/1.10 to 1.10: two probes minutes or days apart move by that much on a quiet machine however tight each
    probe's samples were (the spread at which one probe's rounds count as agreeing, ``probes.derived``). With
    fewer than five samples in either figure (the worker's own minimum for a settled figure) the change is not
    judged. A record that kept no samples (an older report) uses its median and IQR.

    Returns (ratio, (low, high) or None, verdict): better or worse (beyond the noise, in the figure's direction:
    a lower latency is better), within-noise, or not-judged.
    """
    ratio = b.value / a.value
    spread_a, spread_b = _spread(a.timing), _spread(b.timing)
    if spread_a is None or spread_b is None:
        return ratio, None, "not-judged"
    (a1, a3), (b1, b3) = spread_a, spread_b
    low, high = (ratio * b1 / a3, ratio * b3 / a1) if a.lower_is_better else (ratio * a1 / b3, ratio * a3 / b1)
    if not (low > 1 or high < 1) or 1 / NOISE_FLOOR <= ratio <= NOISE_FLOOR:
        return ratio, (low, high), "within-noise"
    higher = ratio > 1
    return ratio, (low, high), "worse" if higher == a.lower_is_better else "better"


# ---- matching figures ----

def _precision(record: BenchmarkRecord) -> str:
    return record.precision.split()[0] if record.precision.strip() else ""


def _shape(record: BenchmarkRecord) -> tuple:
    shape = tuple((key, tuple(value) if isinstance(value, list) else value)
                  for key in SHAPE_PARAMS if (value := record.params.get(key)) is not None)
    return shape or (("size", record.size),)


def _size_text(record: BenchmarkRecord) -> str:
    key = next((key for key in _SIZE_PARAMS if key in record.params), None)
    if key is not None:
        return f"{key}={record.params[key]}"
    return f"size {record.size}" if record.size is not None else ""


def _key(framework: str, record: BenchmarkRecord) -> dict:
    return {"framework": framework, "benchmark": record.name, "device": record.device, "precision": _precision(record),
            "size": record.size, "size_text": _size_text(record), "unit": record.unit,
            "lower_is_better": record.lower_is_better}


def _described(record: BenchmarkRecord) -> str:
    return " ".join(filter(None, [_precision(record), _size_text(record)])) or "(no size)"


def _order(framework: str, benchmark: str) -> tuple[int, int]:
    return FRAMEWORK_IDS.index(framework), BENCHMARK_NAMES.index(benchmark)


def _figures(report: ProbeReport) -> dict[tuple[str, str, str], list[BenchmarkRecord]]:
    grouped: dict[tuple[str, str, str], list[BenchmarkRecord]] = defaultdict(list)
    for run in report.runs():
        for record in run.benchmarks:
            if record.checked:
                grouped[(run.framework, record.name, record.device)].append(record)
    return grouped


def _compare_figures(a: ProbeReport, b: ProbeReport) -> tuple[list[FigureChange], list[NotComparedFigure],
                                                               list[FigureOnce], list[FigureOnce]]:
    figures_a, figures_b = _figures(a), _figures(b)
    changes, not_compared, only_a, only_b = [], [], [], []
    for group in sorted(set(figures_a) | set(figures_b), key=lambda g: (*_order(g[0], g[1]), g[2])):
        framework = group[0]
        left, right = list(figures_a.get(group, [])), list(figures_b.get(group, []))
        for record in list(left):
            match = next((other for other in right if (_precision(other), _shape(other)) ==
                          (_precision(record), _shape(record))), None)
            if match is None:
                continue
            left.remove(record)
            right.remove(match)
            ratio, interval, verdict = noise_verdict(record, match)
            changes.append(FigureChange(
                **_key(framework, match), a_value=record.value, b_value=match.value, ratio=ratio,
                ratio_low=interval[0] if interval else None, ratio_high=interval[1] if interval else None,
                exceeds_noise=None if verdict == "not-judged" else verdict != "within-noise", verdict=verdict,
                noisy=record.timing.noisy or match.timing.noisy))
        if left and right:
            precisions = {_precision(r) for r in left} != {_precision(r) for r in right}
            not_compared.append(NotComparedFigure(
                framework=framework, benchmark=group[1], device=group[2], a=[_described(r) for r in left],
                b=[_described(r) for r in right],
                reason=("measured at another precision" if precisions else "measured at another size")
                + ": figures of different problems are not compared"))
        else:
            only_a += [FigureOnce(**_key(framework, r), value=r.value) for r in left]
            only_b += [FigureOnce(**_key(framework, r), value=r.value) for r in right]
    return changes, not_compared, only_a, only_b


# ---- versions, frameworks and devices ----

def _versions(report: ProbeReport) -> dict[str, str]:
    versions = {name: version for name, version in report.versions.items() if name in ("python", *FRAMEWORK_IDS)}
    if report.python is not None:
        versions["python"] = report.python.version
    for run in report.runs():
        versions[run.framework] = run.version
    return versions


def _ordered_names(names: Iterable[str]) -> list[str]:
    rank = {name: index for index, name in enumerate(("python", *FRAMEWORK_IDS))}
    return sorted(set(names), key=lambda name: (rank.get(name, len(rank)), name))


def _outcome(report: ProbeReport, framework: str) -> tuple[Outcome, str]:
    entry = report.result(framework)
    if isinstance(entry, FrameworkRun):
        return "ran", ""
    if isinstance(entry, FailedFramework):
        return "failed", f"{entry.failure.kind}: {entry.failure.message[:120]}"
    skipped = next((s for s in report.skipped if s.framework == framework), None)
    if skipped is not None:
        return "skipped", skipped.reason[:120]
    return "absent", ""


def _outcomes(a: ProbeReport, b: ProbeReport) -> list[FrameworkOutcome]:
    outcomes = []
    for framework in FRAMEWORK_IDS:
        (left, left_detail), (right, right_detail) = _outcome(a, framework), _outcome(b, framework)
        if left == right == "absent":
            continue
        outcomes.append(FrameworkOutcome(framework=framework, a=left, b=right, a_detail=left_detail,
                                         b_detail=right_detail, changed=left != right))
    return outcomes


def _accelerators(a: HardwareProfile, b: HardwareProfile) -> list[AcceleratorChange]:
    def by_name(profile: HardwareProfile) -> dict[tuple[str, str], Accelerator]:
        return {(acc.kind, acc.name): acc for acc in profile.accelerators}

    left, right = by_name(a), by_name(b)
    changes = []
    for key in list(left) + [key for key in right if key not in left]:
        old, new = left.get(key), right.get(key)
        if old is not None and new is not None and (old.count, old.driver) == (new.count, new.driver):
            continue
        changes.append(AcceleratorChange(kind=key[0], name=key[1], a_count=old.count if old else None,
                                         b_count=new.count if new else None, a_driver=old.driver if old else None,
                                         b_driver=new.driver if new else None))
    return changes


def _devices_seen(a: ProbeReport, b: ProbeReport) -> list[DeviceSeenChange]:
    changes = []
    for framework in FRAMEWORK_IDS:
        if not all(isinstance(report.result(framework), FrameworkRun) for report in (a, b)):
            continue  # a framework that did not run on one side listed nothing there (``frameworks`` says so)
        left = {(d.device, d.name, d.index): d.usable for d in _run_devices(a, framework)}
        right = {(d.device, d.name, d.index): d.usable for d in _run_devices(b, framework)}
        for key in list(left) + [key for key in right if key not in left]:
            if left.get(key) != right.get(key):
                changes.append(DeviceSeenChange(framework=framework, device=key[0], name=key[1], index=key[2],
                                                a_usable=left.get(key), b_usable=right.get(key)))
    return changes


def _run_devices(report: ProbeReport, framework: str) -> Sequence:
    entry = report.result(framework)
    return entry.devices if isinstance(entry, FrameworkRun) else ()


def _unused(a: ProbeReport, b: ProbeReport) -> list[UnusedChange]:
    changes = []
    for framework in FRAMEWORK_IDS:
        entries = [report.result(framework) for report in (a, b)]
        if not all(isinstance(entry, FrameworkRun) for entry in entries):
            continue  # a framework that did not run on one side says nothing about its devices there
        left, right = ({u.kind: u.reason for u in entry.unused_accelerators} for entry in entries)
        for kind in list(left) + [kind for kind in right if kind not in left]:
            if left.get(kind) != right.get(kind):
                changes.append(UnusedChange(framework=framework, kind=kind, a_reason=left.get(kind),
                                            b_reason=right.get(kind)))
    return changes


def _notes(a: ProbeReport, b: ProbeReport, a_id: str, b_id: str) -> list[str]:
    notes = []
    if a.host != b.host:
        notes.append(f"A and B are probes of different machines ({a.host}, {b.host}): their figures differ by "
                     f"machine, not only by what changed")
    if a.quick != b.quick:
        notes.append(f"A was a {'quick' if a.quick else 'full'} probe and B a {'quick' if b.quick else 'full'} one: "
                     f"budgets, sizes and sample counts differ")
    if a.threads != b.threads and a.threads is not None and b.threads is not None:
        notes.append(f"CPU threads per framework: A {a.threads}, B {b.threads}")
    for side, report in (("A", a), ("B", b)):
        conditions = report.conditions
        if conditions is not None and conditions.unreliable:
            notes.append(f"{side} was measured on a busy machine ({conditions.why}): its figures may be unreliable")
        if report.reused is not None:
            notes.append(f"{side} measured nothing itself: its figures are those of probe {report.reused.probe_id}")
    if a.python and b.python and a.python.executable != b.python.executable:
        notes.append(f"other interpreters: A {a.python.executable}, B {b.python.executable}")
    for what, left, right in (("CPU", _cpu(a.hardware), _cpu(b.hardware)),
                              ("memory", _memory(a.hardware), _memory(b.hardware)),
                              ("system", f"{a.hardware.os} {a.hardware.arch}", f"{b.hardware.os} {b.hardware.arch}")):
        if left != right:
            notes.append(f"{what}: {left} in A, {right} in B")
    if a_id == b_id:
        notes.append("A and B are the same probe")
    return notes


def _cpu(hardware: HardwareProfile) -> str:
    return f"{hardware.cpu.model}, {hardware.cpu.cores} cores" if hardware.cpu is not None else "unknown"


def _memory(hardware: HardwareProfile) -> str:
    return f"{hardware.memory_gb:g} GB" if hardware.memory_gb is not None else "unknown"


def _ref(probe_id: str, report: ProbeReport) -> ProbeRef:
    return ProbeRef(id=probe_id, host=report.host, measured_at=report.created_at, quick=report.quick,
                    reused_from=report.reused.probe_id if report.reused else None)


def diff_reports(a_id: str, a: ProbeReport, b_id: str, b: ProbeReport) -> ProbeDiff:
    """What changed from probe ``a_id`` (report ``a``) to probe ``b_id`` (report ``b``)."""
    versions_a, versions_b = _versions(a), _versions(b)
    versions = [VersionChange(name=name, a=versions_a.get(name), b=versions_b.get(name),
                              changed=versions_a.get(name) != versions_b.get(name))
                for name in _ordered_names([*versions_a, *versions_b])]
    figures, not_compared, only_a, only_b = _compare_figures(a, b)
    return ProbeDiff(a=_ref(a_id, a), b=_ref(b_id, b), notes=_notes(a, b, a_id, b_id), versions=versions,
                     frameworks=_outcomes(a, b), accelerators=_accelerators(a.hardware, b.hardware),
                     devices_seen=_devices_seen(a, b), unused_accelerators=_unused(a, b), figures=figures,
                     not_compared=not_compared, only_in_a=only_a, only_in_b=only_b)


def ratio_range_text(change: FigureChange) -> str:
    """A figure's ratio as written everywhere ("1.15x"), with its range from the samples: "1.15x (1.10-1.21)"."""
    if change.ratio_low is None or change.ratio_high is None:
        return ratio_text(change.ratio)
    return f"{ratio_text(change.ratio)} ({ratio_text(change.ratio_low)[:-1]}-{ratio_text(change.ratio_high)})"
