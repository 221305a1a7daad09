"""The fix for an accelerator a framework does not use, composed from the catalog only.

A probe worker reports what it saw (the accelerator kind, a reason from UNUSED_REASONS and a detail),
never a command. The catalog (rules/base/frameworks.yaml) holds the rest: a remedy template per reason,
and the install command for each device (an install row of the framework, else an add-on such as
PyTorch/XLA for TPUs). So one answer can never show two different commands for the same thing: the
command in a fix is the one the install advice for that device shows.
"""

from __future__ import annotations

from framework_advisor.probes.hardware import HardwareProfile
from framework_advisor.probes.vocabulary import device_label, framework_name
from framework_advisor.probes.worker.records import UnusedAccelerator
from framework_advisor.rules.catalog import install_row
from framework_advisor.rules.rulebase import RuleBase
from framework_advisor.rules.schema import Addon, InstallCommand


def install_text(row: InstallCommand | Addon) -> str:
    """The command, with its note as a shell comment (still one line to paste)."""
    return f"{row.command}  # {row.note}" if row.note else row.command


def fix_for(rulebase: RuleBase, framework_id: str, unused: UnusedAccelerator, hardware: HardwareProfile) -> str:
    """How to make ``framework_id`` use the accelerator ``unused`` on ``hardware`` (``remedy_text``)."""
    return remedy_text(rulebase, framework_id, unused.kind, unused.reason, hardware)


def remedy_text(rulebase: RuleBase, framework_id: str, kind: str, cause: str, hardware: HardwareProfile) -> str:
    """The catalog's remedy for ``cause``, filled with the framework's and the device's names and the catalog's
    install command for the device there. Without a remedy for the cause (the linter reports that) it is the
    bare install command; it is empty only when neither exists."""
    entry = rulebase.frameworks[framework_id]
    row = install_row(entry, kind, hardware, with_addons=True)
    remedy = rulebase.remedies.get(cause)
    if remedy is None:
        return install_text(row) if row is not None else ""
    return fill(remedy.fix_for(kind, row is not None), framework_id, kind, install_text(row) if row is not None else "")


def fill(template: str, framework_id: str, kind: str, install: str = "") -> str:
    return (template.replace("{framework}", framework_name(framework_id))
            .replace("{device}", device_label(kind))
            .replace("{install}", install))
