"""Checking requirements against a ProbeReport: each becomes passed, failed or skipped, with a reason.

"Skipped" means the report cannot say (the figure was not measured, no peak is known for the
device): shown as such, and a failure under --strict. Anything the machine demonstrably lacks is
"failed" and the message says what was found instead.
"""

from __future__ import annotations

from typing import Any, Literal

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel

from framework_advisor.audit.policy import (AcceleratorRequirement, BenchmarkRequirement, FrameworkRequirement,
                                  Requirement)

Status = Literal["passed", "failed", "skipped"]

ACCELERATOR_NAMES = {"cuda": "NVIDIA", "rocm": "AMD ROCm", "tpu": "Google TPU", "apple-gpu": "Apple GPU",
                     "intel-xpu": "Intel XPU"}


class RequirementResult(BaseModel):
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


def _device_word(kind: str) -> str:
    return ACCELERATOR_NAMES.get(kind, kind)


def _check_accelerator(req: Requirement, need: AcceleratorRequirement, report: dict[str, Any]) -> RequirementResult:
    hardware = report.get("hardware", {})
    groups = [a for a in hardware.get("accelerators", []) if a.get("kind") == need.kind]
    total = sum(a.get("count", 1) for a in groups)
    found = ", ".join(f"{a.get('count', 1)}x {a['name']}" for a in groups)
    if total == 0:
        others = ", ".join(f"{a.get('count', 1)}x {a['name']}" for a in hardware.get("accelerators", []))
        warnings = "; ".join(hardware.get("warnings", []))
        detail = f"no {_device_word(need.kind)} device was found" + (f" (found: {others})" if others else "")
        return _result(req, "failed", detail + (f"; inventory notes: {warnings}" if warnings else ""), 0)
    if need.min_memory_gb is None:
        ok = total >= need.min_count
        return _result(req, "passed" if ok else "failed",
                       f"found {found}" + ("" if ok else f": fewer than the {need.min_count} required"), total)
    unknown = [a for a in groups if a.get("memory_gb") is None]
    big_enough = sum(a.get("count", 1) for a in groups if (a.get("memory_gb") or 0) >= need.min_memory_gb)
    if big_enough >= need.min_count:
        return _result(req, "passed", f"found {found}, {big_enough} with >= {need.min_memory_gb:g} GB", big_enough)
    if unknown:
        return _result(req, "skipped", f"found {found}, but the memory of some is unknown", big_enough)
    return _result(req, "failed", f"found {found}: {big_enough} with >= {need.min_memory_gb:g} GB, "
                                  f"{need.min_count} required", big_enough)


def _framework_that_ran(req: Requirement, name: str,
                        report: dict[str, Any]) -> tuple[dict[str, Any] | None, RequirementResult | None]:
    """The framework's result in the report, or the verdict when it has none (not installed, not
    probed) or it failed in the probe."""
    entry = next((f for f in report.get("frameworks", []) if f.get("framework") == name), None)
    if entry is None:
        skipped = next((s for s in report.get("skipped", []) if s.get("framework") == name), None)
        why = (skipped or {}).get("reason", "not probed")
        if why == "not probed":
            return None, _result(req, "skipped", f"{name} was not part of this probe")
        return None, _result(req, "failed", f"{name} is {why}" if why == "not installed" else f"{name}: {why}")
    if "failure" in entry:
        failure = entry["failure"]
        return None, _result(req, "failed", f"{name} failed in the probe ({failure['kind']}): {failure['message']}")
    return entry, None


def _sees(entry: dict[str, Any], device: str) -> tuple[bool, str]:
    usable = {d["device"] for d in entry.get("devices", []) if d.get("usable", True)}
    if device in usable:
        return True, ""
    why = next((u for u in entry.get("unused_accelerators", []) if u.get("kind") == device), None)
    sees = ", ".join(sorted(usable)) or "no device"
    if why is None:
        return False, f"{entry['framework']} does not see a {_device_word(device)} device (it sees: {sees})"
    fix = f"; fix: {why['fix']}" if why.get("fix") else ""
    detail = f" ({why['detail']})" if why.get("detail") else ""
    return False, f"{entry['framework']} does not use the {_device_word(device)} device: {why['reason']}{detail}{fix}"


def _check_framework(req: Requirement, need: FrameworkRequirement, report: dict[str, Any]) -> RequirementResult:
    entry, verdict = _framework_that_ran(req, need.name, report)
    if entry is None:
        return verdict
    version = entry.get("version")
    if need.version:
        try:
            matches = SpecifierSet(need.version).contains(Version(version or ""), prereleases=True)
        except InvalidVersion:
            return _result(req, "skipped", f"{need.name} reports version {version!r}, which cannot be compared")
        if not matches:
            return _result(req, "failed", f"{need.name} {version} is not {need.version}", version)
    if need.device:
        ok, reason = _sees(entry, need.device)
        if not ok:
            return _result(req, "failed", reason, version)
    where = f" and sees {need.device}" if need.device else ""
    return _result(req, "passed", f"{need.name} {version} ran{where}", version)


def _check_benchmark(req: Requirement, need: BenchmarkRequirement, report: dict[str, Any]) -> RequirementResult:
    entry, verdict = _framework_that_ran(req, need.framework, report)
    if entry is None:
        return verdict
    figure = next((b for b in entry.get("benchmarks", [])
                   if b.get("name") == need.name and b.get("device") == need.device), None)
    if figure is None:
        ok, reason = _sees(entry, need.device)
        if not ok:
            return _result(req, "failed", reason)
        skipped = next((s for s in entry.get("skipped", [])
                        if s.get("benchmark") == need.name and s.get("device") == need.device), None)
        error = next((e for e in entry.get("errors", [])
                      if e.get("benchmark") == need.name and e.get("device", need.device) == need.device), None)
        if error is not None:
            return _result(req, "failed", f"{need.name} on {need.device} failed: {error['message']}")
        reason = skipped["reason"] if skipped else "it was not measured in this probe"
        return _result(req, "skipped", f"no {need.name} figure for {need.framework} on {need.device}: {reason}")
    unit = figure.get("unit", "")
    if need.min_percent_of_peak is not None:
        percent = figure.get("percent_of_peak")
        if percent is None:
            return _result(req, "skipped", f"{figure['value']:g} {unit}, but no peak is known for this "
                                           f"{need.device} device", figure["value"])
        ok = percent >= need.min_percent_of_peak
        return _result(req, "passed" if ok else "failed",
                       f"{figure['value']:g} {unit} = {percent:g}% of peak (need >= {need.min_percent_of_peak:g}%)",
                       percent)
    if need.min is not None:
        ok, bound = figure["value"] >= need.min, f">= {need.min:g}"
    else:
        ok, bound = figure["value"] <= need.max, f"<= {need.max:g}"
    return _result(req, "passed" if ok else "failed", f"{figure['value']:g} {unit} (need {bound} {unit})",
                   figure["value"])


def _check_no_failures(req: Requirement, report: dict[str, Any]) -> RequirementResult:
    problems = [f"{f['framework']}: {f['kind']}: {f['message']}" for f in report.get("failures", [])]
    for entry in report.get("frameworks", []):
        problems += [f"{entry['framework']}: {error.get('benchmark', '?')}: {error['message']}"
                     for error in entry.get("errors", [])]
    if not problems:
        return _result(req, "passed", "nothing in the probe failed", 0)
    shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
    return _result(req, "failed", f"{len(problems)} failure(s): {shown}", len(problems))


def check(requirement: Requirement, report: dict[str, Any]) -> RequirementResult:
    if requirement.accelerator:
        return _check_accelerator(requirement, requirement.accelerator, report)
    if requirement.framework:
        return _check_framework(requirement, requirement.framework, report)
    if requirement.benchmark:
        return _check_benchmark(requirement, requirement.benchmark, report)
    return _check_no_failures(requirement, report)
