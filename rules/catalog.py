"""What the catalog (rules/base/frameworks.yaml) says about one framework on one machine: the device it would
use, the install command there, the knock-out when it has no build there, and its starter program."""

from __future__ import annotations

from collections.abc import Sequence

from framework_advisor.probes.hardware import HardwareProfile
from framework_advisor.probes.vocabulary import DEVICES, FRAMEWORK_IDS, GOALS, OS_LABELS
from framework_advisor.rules.recommendation import Reason, Starter
from framework_advisor.rules.rulebase import STARTER_DEVICE_ASSIGNMENT, RuleBase
from framework_advisor.rules.schema import GOAL_FAMILIES, Addon, FrameworkEntry, InstallCommand, Platform


def platform_for(entry: FrameworkEntry, os_name: str, arch: str) -> Platform | None:
    return next((p for p in entry.platforms if os_name in p.os and arch in p.arch), None)


def best_device(entry: FrameworkEntry, hardware: HardwareProfile) -> str | None:
    """The device the framework would use on this hardware; None when it has no build there."""
    platform = platform_for(entry, hardware.os, hardware.arch)
    if platform is None:
        return None
    present = hardware.accelerator_kinds()
    return next((d for d in platform.devices if d == "cpu" or d in present), platform.devices[-1])


def install_row(entry: FrameworkEntry, device: str, os_name: str, arch: str,
                with_addons: bool = False) -> InstallCommand | Addon | None:
    """The catalog's row that installs the framework for ``device`` on this OS and architecture: its own
    install rows first (the ones the install advice shows), then, ``with_addons``, an add-on."""
    rows = (*entry.install, *entry.addons) if with_addons else entry.install
    return next((row for row in rows if row.device == device and os_name in row.os and arch in row.arch), None)


def install_command(entry: FrameworkEntry, hardware: HardwareProfile, device: str | None) -> str:
    if device is None:
        return f"# {entry.name} has no build for {OS_LABELS[hardware.os]} {hardware.arch}"
    row = install_row(entry, device, hardware.os, hardware.arch) or install_row(entry, "cpu", hardware.os,
                                                                                 hardware.arch)
    if row is None:
        return f"# no install command recorded for {entry.name} on {OS_LABELS[hardware.os]} {hardware.arch}"
    return row.command


def platform_knockout(framework_id: str, entry: FrameworkEntry, hardware: HardwareProfile) -> Reason:
    where = ", ".join(f"{'/'.join(OS_LABELS[o] for o in p.os)} {'/'.join(p.arch)}" for p in entry.platforms)
    return Reason(
        rule=f"platform-{framework_id}",
        message=f"{entry.name} has no build for {OS_LABELS[hardware.os]} {hardware.arch}; it runs on {where}.",
        points=0.0, certainty=1.0, group=None, counted=True, knockout=True,
        matched={"os": hardware.os, "arch": hardware.arch}, refs=tuple(entry.refs))


def render_starter(rulebase: RuleBase, framework_id: str, device: str, goal: str | None = None) -> Starter:
    """The framework's starter for ``goal``'s family (GOAL_FAMILIES; "basics" without a goal), with
    its DEVICE line set to the framework's own name for ``device``."""
    spec = rulebase.frameworks[framework_id].starter
    device_name = spec.device_names.get(device, spec.device_names["cpu"])
    family = GOAL_FAMILIES[goal] if goal is not None else "basics"
    code = STARTER_DEVICE_ASSIGNMENT.sub(f'DEVICE = "{device_name}"', rulebase.starters[framework_id, family], count=1)
    return Starter(filename=spec.filename, code=code, run=f"python {spec.filename}", device=device, goal=goal)


class StarterError(ValueError):
    """A starter that cannot be handed out, said in one line. ``missing``: there is no such starter (an unknown
    framework, or a device the framework has none for; HTTP 404); else a goal or device outside the vocabulary
    (HTTP 422). ``field`` names the parameter at fault (None for the framework) and ``field_message`` says how."""

    def __init__(self, message: str, *, missing: bool, field: str | None = None, field_message: str = ""):
        super().__init__(message)
        self.missing = missing
        self.field = field
        self.field_message = field_message


def find_starter(rulebase: RuleBase, framework_id: str, device: str = "cpu", goal: str | None = None) -> Starter:
    """The starter of ``GET /v1/starters/{framework}`` and ``framework-advisor starter``: the arguments checked
    against the vocabulary and the catalog (raises StarterError), then ``render_starter``."""
    if framework_id not in FRAMEWORK_IDS:
        raise StarterError(f"no framework {framework_id!r}; one of: {', '.join(FRAMEWORK_IDS)}", missing=True)
    if goal is not None and goal not in GOALS:
        raise StarterError(f"unknown goal {goal!r}; one of: {', '.join(GOALS)}", missing=False, field="goal",
                           field_message="not a goal")
    if device not in DEVICES:
        raise StarterError(f"unknown device {device!r}; one of: {', '.join(DEVICES)}", missing=False, field="device",
                           field_message="not a device")
    entry = rulebase.frameworks[framework_id]
    if device not in entry.starter.device_names:
        # A valid device this framework has no starter for: that starter does not exist (404), the request
        # itself is well-formed (a 422 would tell a client to fix what it sent).
        raise StarterError(f"{entry.name} has no starter for device {device!r}; devices: "
                           f"{', '.join(entry.starter.device_names)}", missing=True, field="device",
                           field_message="unsupported")
    return render_starter(rulebase, framework_id, device, goal)


def starter_goal(goals: Sequence[str]) -> str | None:
    """The goal whose starter a recommendation hands out: the first goal (in the request's order) whose
    family is not "basics", since it asks for a specific program (deploy, scale, ...); else the first
    goal, whose family is basics; None without goals."""
    return next((goal for goal in goals if GOAL_FAMILIES[goal] != "basics"), goals[0] if goals else None)
