"""Installed memory, in GiB, from the first source that answers."""

from __future__ import annotations

import re

from framework_advisor.probes.inventory.findings import Findings, gib
from framework_advisor.probes.inventory.host import MacFacts
from framework_advisor.probes.system import System


def meminfo_total_bytes(system: System) -> int | None:
    match = re.search(r"^MemTotal:\s+(\d+)\s*kB", system.read_text("proc/meminfo") or "", re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def detect_memory(system: System, os_name: str, mac: MacFacts | None, findings: Findings) -> float | None:
    candidates = (
        ("psutil.virtual_memory()", system.psutil_memory_bytes),
        ("/proc/meminfo", lambda: meminfo_total_bytes(system) if os_name == "linux" else None),
        ("sysctl hw.memsize", lambda: mac.memory_bytes if mac else None),
    )
    for how, read in candidates:
        total = read()
        if total:
            findings.source("memory_gb", how)
            return gib(total)
    findings.source("memory_gb", "unknown: no source answered")
    return None
