"""What the catalog (rules/base/frameworks.yaml) says about one framework on one machine: the device it would
use, the install command there, the knock-out when it has no build there, and its starter program."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from framework_advisor.probes.hardware import HardwareProfile
from framework_advisor.probes.vocabulary import DEVICES, FRAMEWORK_IDS, GOALS, OS_LABELS
from framework_advisor.rules.recommendation import Reason, Starter
from framework_advisor.rules.rulebase import STARTER_DEVICE_ASSIGNMENT, RuleBase
from framework_advisor.rules.schema import (GOAL_FAMILIES, VERSION_PARTS, Addon, FrameworkEntry, InstallCommand,
                                            Platform, version_key)

# A compute capability or driver the machine does not state is taken to be current: above every bound.
CURRENT = (10**6,) * VERSION_PARTS
# How a command says what it assumed, by condition.
_DRIVER_WORDS = {"cuda": "NVIDIA driver", "rocm": "ROCm"}


@dataclass(frozen=True)
class DeviceFacts:
    """What install conditions test about the machine's accelerators of one kind (None: not stated). With several
    accelerators of the kind, the oldest decides: the build must run on each."""

    compute_capability: tuple[int, ...] | None = None
    driver: tuple[int, ...] | None = None
    integrated: bool | None = None

    @classmethod
    def of(cls, hardware: HardwareProfile, device: str) -> DeviceFacts:
        accelerators = [a for a in hardware.accelerators if a.kind == device]
        capabilities = [key for a in accelerators if (key := version_key(a.compute_capability)) is not None]
        drivers = [key for a in accelerators if (key := version_key(a.driver)) is not None]
        stated = [a.integrated for a in accelerators if a.integrated is not None]
        return cls(min(capabilities, default=None), min(drivers, default=None), any(stated) if stated else None)


def _within(value: tuple[int, ...] | None, low: str | None, high: str | None) -> bool:
    value = CURRENT if value is None else value
    return (low is None or value >= version_key(low)) and (high is None or value < version_key(high))


def row_holds(row: InstallCommand, facts: DeviceFacts) -> bool:
    """Whether the row's conditions hold for these facts (an unstated value is current; unstated integrated is
    discrete)."""
    return (_within(facts.compute_capability, row.min_compute_capability, row.below_compute_capability)
            and _within(facts.driver, row.min_driver, row.below_driver)
            and (row.integrated is None or row.integrated == bool(facts.integrated)))


def assumptions(row: InstallCommand, facts: DeviceFacts) -> list[str]:
    """The row's lower bounds that hold only because the machine does not state the value."""
    assumed = []
    if facts.compute_capability is None and row.min_compute_capability is not None:
        assumed.append(f"compute capability >= {row.min_compute_capability}")
    if facts.driver is None and row.min_driver is not None:
        assumed.append(f"{_DRIVER_WORDS.get(row.device, 'driver')} >= {row.min_driver}")
    return assumed


def platform_for(entry: FrameworkEntry, os_name: str, arch: str) -> Platform | None:
    return next((p for p in entry.platforms if os_name in p.os and arch in p.arch), None)


def matching_row(entry: FrameworkEntry, device: str, hardware: HardwareProfile) -> InstallCommand | None:
    """The framework's install row for ``device`` on this machine (a no_build row included), by OS, architecture
    and the conditions on the machine's accelerators of that kind."""
    facts = DeviceFacts.of(hardware, device)
    return next((row for row in entry.install if row.device == device and hardware.os in row.os
                 and hardware.arch in row.arch and row_holds(row, facts)), None)


def best_device(entry: FrameworkEntry, hardware: HardwareProfile) -> str | None:
    """The device the framework would use on this hardware; None when it has no build there. A device whose install
    row says no_build (a GPU too old for every current build, a driver too old) is passed over for the next one."""
    platform = platform_for(entry, hardware.os, hardware.arch)
    if platform is None:
        return None
    present = hardware.accelerator_kinds()
    for device in platform.devices:
        if device == "cpu":
            return device
        if device in present:
            row = matching_row(entry, device, hardware)
            if row is None or not row.no_build:
                return device
    return platform.devices[-1]


def passed_over(entry: FrameworkEntry, hardware: HardwareProfile) -> list[InstallCommand]:
    """The no_build rows of the machine's accelerators that best_device passed over, in platform order."""
    platform = platform_for(entry, hardware.os, hardware.arch)
    present = hardware.accelerator_kinds()
    rows = [matching_row(entry, device, hardware) for device in (platform.devices if platform else ())
            if device in present]
    return [row for row in rows if row is not None and row.no_build]


def install_row(entry: FrameworkEntry, device: str, hardware: HardwareProfile,
                with_addons: bool = False) -> InstallCommand | Addon | None:
    """The catalog's row that installs the framework for ``device`` on this machine: its own install rows first
    (the ones the install advice shows), then, ``with_addons``, an add-on. None where a row says no_build."""
    row = matching_row(entry, device, hardware)
    if row is not None:
        return None if row.no_build else row
    if with_addons:
        return next((addon for addon in entry.addons if addon.device == device and hardware.os in addon.os
                     and hardware.arch in addon.arch), None)
    return None


def install_command(entry: FrameworkEntry, hardware: HardwareProfile, device: str | None) -> str:
    """The command for ``device`` (the CPU's where the catalog has none for it), followed, as a shell comment, by
    why an accelerator was passed over (its no_build note), the row's own note and what the row assumed that the
    machine did not state."""
    if device is None:
        return f"# {entry.name} has no build for {OS_LABELS[hardware.os]} {hardware.arch}"
    row = install_row(entry, device, hardware) or install_row(entry, "cpu", hardware)
    if row is None:
        return f"# no install command recorded for {entry.name} on {OS_LABELS[hardware.os]} {hardware.arch}"
    comments = [skipped.note for skipped in passed_over(entry, hardware) if skipped.note]
    if row.note:
        comments.append(row.note)
    if isinstance(row, InstallCommand) and row.device == device:
        assumed = assumptions(row, DeviceFacts.of(hardware, device))
        if assumed:
            comments.append(f"assumes {' and '.join(assumed)} (not stated)")
    return row.command + (f"  # {'; '.join(comments)}" if comments else "")


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
