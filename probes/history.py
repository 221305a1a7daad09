"""One machine's measurements over several probes: the recent probes that agree with the newest, combined.

A single probe on a busy machine can be unlucky; several probes of the same machine with the same framework
versions measure the same thing, so their rounds are pooled: each comparison (one benchmark, device and
size, the same frameworks) gets the rounds of every agreeing probe, and its ratios' ranges rest on all of
them. A probe is left out when it measured something else (other hardware, other versions, quick against
full) or when its ratios disagree strongly with the newest probe's: then both are named, so the user sees
that the machine's figures are unstable rather than one of them silently winning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, Optional

from pydantic import Field

from framework_advisor.probes.comparisons import MAX_ROUNDS, Comparison, RoundFigures, ratio_text
from framework_advisor.probes.derived import derive
from framework_advisor.probes.hardware import Strict
from framework_advisor.probes.hardware import HardwareProfile
from framework_advisor.probes.report import DerivedFacts, ProbeReport, PythonUsed, ReusedMeasurements
from framework_advisor.probes.vocabulary import FRAMEWORK_NAMES

# How many of a machine's recent probes an answer may pool, and how old they may be.
MAX_POOLED = 5
MAX_AGE_S = 7 * 24 * 3600
# A probe reuses an earlier probe's figures when nothing they depend on changed and they are this recent.
REUSE_MAX_AGE_S = 24 * 3600
# Two probes disagree when a framework's slowdown differs by more than this factor between them and neither
# probe's range across its rounds reaches the other's median.
DISAGREEMENT_FACTOR = 1.5


@dataclass(frozen=True)
class StoredProbe:
    probe_id: str
    report: ProbeReport


class LeftOut(Strict):
    probe_id: str
    reason: Annotated[str, Field(max_length=300)]


class MeasurementsUsed(Strict):
    """Which probes an answer's measurements come from, and when they were taken."""

    probe_ids: Annotated[list[str], Field(min_length=1, max_length=MAX_POOLED, description=(
        "The probes pooled, newest first."))]
    measured_at: Annotated[str, Field(max_length=40, description="When the newest of them was measured.")]
    oldest_measured_at: Annotated[str, Field(max_length=40)]
    reused_from: Optional[str] = Field(None, description=(
        "The newest probe reused an earlier probe's measurements (nothing had changed): that probe's id."))
    left_out: Annotated[list[LeftOut], Field(max_length=MAX_POOLED)] = Field(default_factory=list, description=(
        "Recent probes of this machine not pooled, and why (other versions or hardware, or figures that "
        "disagree strongly with the newest probe's)."))


def age_text(seconds: float) -> str:
    """An age as people say it: "40 s", "12 min", "3.5 h", "2.0 days"."""
    if seconds < 90:
        return f"{max(0.0, seconds):.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def describe_measurements(used: MeasurementsUsed, now: Optional[datetime] = None) -> str:
    """The measurements an answer used, with their age, in one line (the CLI; the form writes the same)."""
    now = now or datetime.now(timezone.utc)
    newest, oldest = _age_of(used.measured_at, now), _age_of(used.oldest_measured_at, now)
    text = f"probe {used.probe_ids[0]}"
    if len(used.probe_ids) > 1:
        text += f" pooled with {', '.join(used.probe_ids[1:])}"
    if newest is not None:
        text += f", measured {age_text(newest)} ago"
        if oldest is not None and len(used.probe_ids) > 1:
            text += f" (the oldest {age_text(oldest)} ago)"
    if used.reused_from:
        text += f"; its figures are those of probe {used.reused_from} (nothing had changed)"
    for left in used.left_out:
        text += f"; left out: probe {left.probe_id} ({left.reason})"
    return text


def _age_of(timestamp: str, now: datetime) -> Optional[float]:
    try:
        when = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    return (now - (when if when.tzinfo else when.replace(tzinfo=timezone.utc))).total_seconds()


def measured_at(report: ProbeReport) -> str:
    """When a report's figures were measured (a report that reused another's says when that one was)."""
    return report.reused.measured_at if report.reused is not None else report.created_at


def _age_s(report: ProbeReport, now: datetime) -> Optional[float]:
    return _age_of(measured_at(report), now)


def _interpreter_of(python: PythonUsed) -> tuple[str, str]:
    return python.executable, python.prefix


def _interpreter(report: ProbeReport) -> Optional[tuple[str, str]]:
    """Which interpreter a report measured (None: a report from before reports said so: the advisor's own)."""
    return _interpreter_of(report.python) if report.python is not None and not report.python.own else None


def _same_measurement(newest: ProbeReport, other: ProbeReport) -> Optional[str]:
    """Why ``other`` did not measure what ``newest`` did, or None when it did."""
    if other.hardware != newest.hardware:
        return "other hardware (or another driver)"
    if _interpreter(other) != _interpreter(newest):
        return "another Python interpreter"
    if other.versions != newest.versions:
        changed = sorted(name for name in set(other.versions) | set(newest.versions)
                         if other.versions.get(name) != newest.versions.get(name))
        return "other versions: " + ", ".join(changed)
    if other.quick != newest.quick or other.thorough != newest.thorough or other.threads != newest.threads:
        return "other probe settings (quick, thorough or threads)"
    return None


def _disagreement(newest: dict[str, DerivedFacts], other: dict[str, DerivedFacts]) -> Optional[str]:
    """The first framework whose slowdown the two probes disagree on, said with both figures."""
    for framework, mine in newest.items():
        theirs = other.get(framework)
        if mine.slowdown_range is None or theirs is None or theirs.slowdown_range is None:
            continue
        a, b = mine.slowdown_range, theirs.slowdown_range
        apart = max(a.median, b.median) / min(a.median, b.median) > DISAGREEMENT_FACTOR
        if apart and not (b.low <= a.median <= b.high or a.low <= b.median <= a.high):
            return (f"figures disagree with the newest probe: {FRAMEWORK_NAMES[framework]} "
                    f"{ratio_text(b.median)} slower there, {ratio_text(a.median)} in the newest")
    return None


def _derived(report: ProbeReport, comparisons: Sequence[Comparison]) -> dict[str, DerivedFacts]:
    return derive(report.frameworks, report.hardware, comparisons, quick=report.quick)


def derive_report(report: ProbeReport) -> dict[str, DerivedFacts]:
    """The facts the rule base uses, from one report as today's rules weigh them (a report stored earlier
    carries the facts its own version derived)."""
    return _derived(report, report.comparisons)


def pool_comparisons(reports: Sequence[ProbeReport]) -> list[Comparison]:
    """The newest report's comparisons, each with the rounds of the same comparison (benchmark, device,
    size and frameworks) in the other reports added, newest rounds first, at most MAX_ROUNDS."""
    pooled = []
    for comparison in reports[0].comparisons:
        frameworks = [entry.framework for entry in comparison.frameworks]
        rounds = {framework: list(comparison.figures(framework).per_call_s) for framework in frameworks}
        for report in reports[1:]:
            match = next((c for c in report.comparisons if (c.benchmark, c.device, c.size) ==
                          (comparison.benchmark, comparison.device, comparison.size)
                          and sorted(e.framework for e in c.frameworks) == sorted(frameworks)), None)
            if match is None:
                continue
            count = min(len(entry.per_call_s) for entry in match.frameworks)
            for framework in frameworks:
                rounds[framework].extend(match.figures(framework).per_call_s[:count])
        pooled.append(comparison.model_copy(update={"frameworks": [
            RoundFigures(framework=framework, per_call_s=rounds[framework][:MAX_ROUNDS]) for framework in frameworks]}))
    return pooled


def pooled_measurements(probes: Sequence[StoredProbe], now: Optional[datetime] = None
                        ) -> tuple[dict[str, DerivedFacts], MeasurementsUsed]:
    """The derived facts of this machine from its recent probes (newest first), and which were pooled."""
    now = now or datetime.now(timezone.utc)
    newest = probes[0]
    used, left_out = [newest], []
    newest_facts = derive_report(newest.report)
    seen_measurements = {measured_at(newest.report)}
    for probe in probes[1:MAX_POOLED]:
        when = measured_at(probe.report)
        if when in seen_measurements:  # a probe that reused another's figures: the same rounds, counted once
            continue
        age = _age_s(probe.report, now)
        reason = ("measured more than 7 days ago" if age is None or age > MAX_AGE_S
                  else _same_measurement(newest.report, probe.report)
                  or _disagreement(newest_facts, derive_report(probe.report)))
        if reason:
            left_out.append(LeftOut(probe_id=probe.probe_id, reason=reason))
            continue
        used.append(probe)
        seen_measurements.add(when)
    reports = [probe.report for probe in used]
    facts = _derived(newest.report, pool_comparisons(reports)) if len(used) > 1 else newest_facts
    summary = MeasurementsUsed(
        probe_ids=[probe.probe_id for probe in used], measured_at=measured_at(newest.report),
        oldest_measured_at=min(measured_at(report) for report in reports),
        reused_from=newest.report.reused.probe_id if newest.report.reused is not None else None,
        left_out=left_out)
    return facts, summary




def reusable(previous: StoredProbe, frameworks: Sequence[str], hardware: HardwareProfile,
             versions: dict[str, str], quick: bool, thorough: bool, threads: int,
             python: Optional[PythonUsed] = None,
             now: Optional[datetime] = None) -> tuple[Optional[ReusedMeasurements], str]:
    """Whether ``previous`` measured what a probe asked for now would (same frameworks and versions, hardware,
    settings; recent; on a quiet machine, without a failure), so that its measurements stand: the reuse, or
    None and why not."""
    report = previous.report
    age = _age_s(report, now or datetime.now(timezone.utc))
    ran = sorted(entry.framework for entry in report.frameworks)
    if age is None or age > REUSE_MAX_AGE_S:
        return None, "the last probe is more than a day old"
    if ran != sorted(frameworks):
        return None, "the last probe measured other frameworks"
    if report.hardware != hardware:
        return None, "the hardware (or a driver) changed since the last probe"
    if python is not None and _interpreter(report) != (None if python.own else _interpreter_of(python)):
        return None, "the last probe measured another Python interpreter"
    changed = sorted(name for name in set(report.versions) | set(versions)
                     if report.versions.get(name) != versions.get(name))
    if changed:
        return None, "versions changed since the last probe: " + ", ".join(changed)
    if (report.quick, report.thorough, report.threads) != (quick, thorough, threads):
        return None, "the last probe used other settings (quick, thorough or threads)"
    if report.failures:
        return None, "a framework failed in the last probe"
    if not any(run.benchmarks for run in report.runs()):
        return None, "the last probe ran no benchmarks"
    if report.conditions is None or report.conditions.unreliable:
        return None, "the last probe's figures were disturbed by a busy machine"
    source = report.reused.probe_id if report.reused is not None else previous.probe_id
    why = (f"probe {source}, {age_text(age)} ago, measured the same framework versions on the same hardware "
           f"with the same settings; probe --fresh to measure again")
    return ReusedMeasurements(probe_id=source, measured_at=measured_at(report), why=why), why
