"""``framework-advisor doctor``: does each framework use each accelerator here, and if not, why and the fix.

It takes the inventory, runs every framework's worker without benchmarks (versions and devices only: a few
seconds, no probe lock, nothing stored) in the interpreter asked for, reads the host's access facts and that
interpreter's packages, and hands them to ``rules.doctor``.
"""

from __future__ import annotations

import json
import sys
from typing import Optional, TextIO

from framework_advisor.probes.access import read_host_access
from framework_advisor.probes.probe import run_probe
from framework_advisor.probes.report import ProbeOptions
from framework_advisor.probes.system import System
from framework_advisor.probes.target import TargetPython
from framework_advisor.probes.vocabulary import FRAMEWORK_IDS, framework_name
from framework_advisor.rules.doctor import Diagnosis, diagnose, verdict_line
from framework_advisor.rules.rulebase import RuleBase


def examine(rulebase: RuleBase, python: TargetPython, frameworks: Optional[list[str]] = None,
            system: Optional[System] = None, worker_argv=None, progress=None) -> Diagnosis:
    """The doctor's diagnosis of this machine (or of the fixture machine ``system``, whose workers
    ``worker_argv`` replays) for the frameworks of ``python``."""
    wanted = frameworks or list(FRAMEWORK_IDS)
    installed = [framework for framework, version in python.installed_versions(wanted).items() if version]
    # Only installed frameworks get a worker; an empty list takes the inventory alone.
    report = run_probe(ProbeOptions(benchmarks=False, frameworks=installed), progress=progress, system=system,
                       worker_argv=worker_argv, python=python)
    access = read_host_access(system or System(), report.hardware.os)
    return diagnose(rulebase, report, access, python.packages(), frameworks)


def print_diagnosis(diagnosis: Diagnosis, out: Optional[TextIO] = None) -> None:
    """The verdicts, one line each, after the interpreter they are about."""
    out = out or sys.stdout
    if diagnosis.python is not None:
        print(f"Python {diagnosis.python.version} at {diagnosis.python.executable} ({diagnosis.python.prefix})", file=out)
    for verdict in diagnosis.verdicts:
        print(verdict_line(verdict), file=out)
    broken = [v for v in diagnosis.verdicts if v.status == "does-not-work"]
    if broken:
        names = sorted({framework_name(v.framework) for v in broken})
        print(f"{len(broken)} problem(s), in {', '.join(names)}: fix the first line of each first.", file=out)
    else:
        print("No problems found.", file=out)


def diagnosis_json(diagnosis: Diagnosis) -> str:
    return json.dumps(diagnosis.model_dump(mode="json", exclude_none=True), indent=2) + "\n"
