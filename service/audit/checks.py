"""Checking requirements against a ProbeReport: each becomes passed, failed, skipped or inconclusive, with
a reason.

"Skipped" means the report cannot say (the figure was not measured, no peak is known for the
device): shown as such, and a failure under --strict. "Inconclusive" means the figure a threshold is
checked against was flagged noisy (unsettled): it neither meets nor misses the threshold, and the audit
re-measures it (``audit.run``). Anything the machine demonstrably lacks is "failed" and the message says
what was found instead.
"""

from __future__ import annotations

from typing import Any, Literal

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel

from framework_advisor.audit.policy import (AcceleratorRequirement, BenchmarkRequirement, FrameworkRequirement,
                                            Requirement)
from framework_advisor.probes.report import FailedFramework, FrameworkRun, ProbeReport
from framework_advisor.probes.vocabulary import device_label, framework_name
from framework_advisor.rules.remedies import fix_for
from framework_advisor.rules.rulebase import RuleBase

Status = Literal["passed", "failed", "skipped", "inconclusive"]


class RequirementResult(BaseModel):
    """One requirement's verdict (part of the audit's `--json` output)."""

    id: str
    kind: Literal["accelerator", "framework", "benchmark", "no_failures"]
    status: Status
    message: str
    observed: Any = None
    requirement: dict[str, Any]


def _result(requirement: Requirement, status: Status, message: str, observed: Any = None) -> RequirementResult:
    return RequirementResult(id=requirement.label, kind=requirement.kind, status=status, message=message,
                             observed=observed,
                             requirement=requirement.model_dump(exclude_none=True, exclude={"id"}))


def _check_accelerator(req: Requirement, need: AcceleratorRequirement, report: ProbeReport) -> RequirementResult:
    hardware = report.hardware
    groups = [a for a in hardware.accelerators if a.kind == need.kind]
    total = sum(a.count for a in groups)
    found = ", ".join(f"{a.count}x {a.name}" for a in groups)
    if total == 0:
        others = ", ".join(f"{a.count}x {a.name}" for a in hardware.accelerators)
        warnings = "; ".join(hardware.warnings)
        detail = f"no {device_label(need.kind)} device was found" + (f" (found: {others})" if others else "")
        return _result(req, "failed", detail + (f"; inventory notes: {warnings}" if warnings else ""), 0)
    if need.min_memory_gb is None:
        ok = total >= need.min_count
        return _result(req, "passed" if ok else "failed",
                       f"found {found}" + ("" if ok else f": fewer than the {need.min_count} required"), total)
    unknown = [a for a in groups if a.memory_gb is None]
    big_enough = sum(a.count for a in groups if (a.memory_gb or 0) >= need.min_memory_gb)
    if big_enough >= need.min_count:
        return _result(req, "passed", f"found {found}, {big_enough} with >= {need.min_memory_gb:g} GB", big_enough)
    if unknown:
        return _result(req, "skipped", f"found {found}, but the memory of some is unknown", big_enough)
    return _result(req, "failed", f"found {found}: {big_enough} with >= {need.min_memory_gb:g} GB, "
                                  f"{need.min_count} required", big_enough)


def _framework_that_ran(req: Requirement, name: str,
                        report: ProbeReport) -> tuple[FrameworkRun | None, RequirementResult | None]:
    """The framework's result in the report, or the verdict when it has none (not installed, not
    probed) or it failed in the probe."""
    entry, shown = report.result(name), framework_name(name)
    if entry is None:
        skipped = next((s for s in report.skipped if s.framework == name), None)
        why = skipped.reason if skipped is not None else "not probed"
        if why == "not probed":
            return None, _result(req, "skipped", f"{shown} was not part of this probe")
        return None, _result(req, "failed", f"{shown} is {why}" if why == "not installed" else f"{shown}: {why}")
    if isinstance(entry, FailedFramework):
        failure = entry.failure
        return None, _result(req, "failed", f"{shown} failed in the probe ({failure.kind}): {failure.message}")
    return entry, None


class Checker:
    """Checks requirements against one report; fixes for unused accelerators come from the catalog."""

    def __init__(self, rulebase: RuleBase, report: ProbeReport):
        self.rulebase = rulebase
        self.report = report

    def check(self, requirement: Requirement) -> RequirementResult:
        if requirement.accelerator:
            return _check_accelerator(requirement, requirement.accelerator, self.report)
        if requirement.framework:
            return self._check_framework(requirement, requirement.framework)
        if requirement.benchmark:
            return self._check_benchmark(requirement, requirement.benchmark)
        return self._check_no_failures(requirement)

    def _sees(self, entry: FrameworkRun, device: str) -> tuple[bool, str]:
        usable = {d.device for d in entry.devices if d.usable}
        if device in usable:
            return True, ""
        why = next((u for u in entry.unused_accelerators if u.kind == device), None)
        sees = ", ".join(sorted(usable)) or "no device"
        shown = framework_name(entry.framework)
        if why is None:
            return False, f"{shown} does not see a {device_label(device)} device (it sees: {sees})"
        fix = fix_for(self.rulebase, entry.framework, why, self.report.hardware)
        detail = f" ({why.detail})" if why.detail else ""
        return False, (f"{shown} does not use the {device_label(device)} device: {why.reason}{detail}"
                       + (f"; fix: {fix}" if fix else ""))

    def _check_framework(self, req: Requirement, need: FrameworkRequirement) -> RequirementResult:
        entry, verdict = _framework_that_ran(req, need.name, self.report)
        if entry is None:
            return verdict
        version, shown = entry.version, framework_name(need.name)
        if need.version:
            try:
                matches = SpecifierSet(need.version).contains(Version(version or ""), prereleases=True)
            except InvalidVersion:
                return _result(req, "skipped", f"{shown} reports version {version!r}, which cannot be compared")
            if not matches:
                return _result(req, "failed", f"{shown} {version} is not {need.version}", version)
        if need.device:
            ok, reason = self._sees(entry, need.device)
            if not ok:
                return _result(req, "failed", reason, version)
        where = f" and sees {need.device}" if need.device else ""
        return _result(req, "passed", f"{shown} {version} ran{where}", version)

    def _check_benchmark(self, req: Requirement, need: BenchmarkRequirement) -> RequirementResult:
        entry, verdict = _framework_that_ran(req, need.framework, self.report)
        if entry is None:
            return verdict
        figure = next((b for b in entry.benchmarks if b.name == need.name and b.device == need.device), None)
        if figure is None:
            ok, reason = self._sees(entry, need.device)
            if not ok:
                return _result(req, "failed", reason)
            skipped = next((s for s in entry.skipped if s.benchmark == need.name and s.device == need.device), None)
            error = next((e for e in entry.errors if e.benchmark == need.name and e.device == need.device), None)
            if error is not None:
                return _result(req, "failed", f"{need.name} on {need.device} failed: {error.message}")
            reason = skipped.reason if skipped else "it was not measured in this probe"
            return _result(req, "skipped", f"no {need.name} figure for {framework_name(need.framework)} on "
                                           f"{need.device}: {reason}")
        unit = figure.unit
        if figure.timing.noisy:
            timing = figure.timing
            spread = f"IQR {100 * timing.iqr_s / timing.median_s:.0f}% of the median" if timing.median_s else "unsettled"
            return _result(req, "inconclusive", (
                f"{figure.value:g} {unit} is a noisy figure ({timing.samples} samples, {spread}): it can neither "
                f"meet nor miss a threshold"), figure.value)
        if need.min_percent_of_peak is not None:
            percent = figure.percent_of_peak
            understated = self.report.understated_cpu_peak if figure.device == "cpu" else None
            if understated is not None:
                return _result(req, "skipped", (
                    f"{figure.value:g} {unit}, but the CPU peak is understated: {framework_name(understated.framework)}"
                    f" {understated.benchmark} reached {understated.figure_gflops:g} GFLOP/s, above the "
                    f"{understated.peak_gflops:g} GFLOP/s computed for its threads"), figure.value)
            if percent is None:
                why = ("its peak is understated (the figure exceeded it)" if figure.peak and figure.peak.understated
                       else f"no peak is known for this {need.device} device")
                return _result(req, "skipped", f"{figure.value:g} {unit}, but {why}", figure.value)
            ok = percent >= need.min_percent_of_peak
            return _result(req, "passed" if ok else "failed",
                           f"{figure.value:g} {unit} = {percent:g}% of peak (need >= {need.min_percent_of_peak:g}%)",
                           percent)
        if need.min is not None:
            ok, bound = figure.value >= need.min, f">= {need.min:g}"
        else:
            ok, bound = figure.value <= need.max, f"<= {need.max:g}"
        return _result(req, "passed" if ok else "failed", f"{figure.value:g} {unit} (need {bound} {unit})",
                       figure.value)

    def _check_no_failures(self, req: Requirement) -> RequirementResult:
        problems = [f"{framework_name(f.framework)}: {f.kind}: {f.message}" for f in self.report.failures]
        for entry in self.report.runs():
            problems += [f"{framework_name(entry.framework)}: {error.benchmark}: {error.message}"
                         for error in entry.errors]
        if not problems:
            return _result(req, "passed", "nothing in the probe failed", 0)
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        return _result(req, "failed", f"{len(problems)} failure(s): {shown}", len(problems))
