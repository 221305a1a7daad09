"""The Apple silicon GPU: unified memory, Metal's recommended working set, GPU cores, macOS version."""

from __future__ import annotations

import re
from typing import Any

from framework_advisor.probes.inventory.findings import Findings, accelerator, gib, to_int
from framework_advisor.probes.inventory.host import MacFacts
from framework_advisor.probes.inventory.pci import Scan
from framework_advisor.probes.system import System

LARGE_UNIFIED_MEMORY_GB = 36


def recommended_working_set_gb(unified_gb: float) -> float:
    """Metal's recommended GPU working set: about 75% of unified memory on large Macs, about 2/3 otherwise."""
    share = 0.75 if unified_gb > LARGE_UNIFIED_MEMORY_GB else 2 / 3
    return round(unified_gb * share, 1)


def apple_gpu_core_count(system: System) -> int | None:
    """GPU cores from the IOAccelerator registry entry; fast, unlike system_profiler."""
    registry = system.run(["ioreg", "-rd1", "-c", "IOAccelerator"]) or ""
    match = re.search(r'"gpu-core-count"\s*=\s*(\d+)', registry)
    return int(match.group(1)) if match else None


def warn_about_old_macos(version: str | None, findings: Findings) -> None:
    major = to_int((version or "").split(".")[0])
    if major is not None and major < 14:
        findings.warn(f"macOS {version}: current MLX releases need macOS 14 or newer")


def detect_apple_gpu(scan: Scan, mac: MacFacts | None) -> list[dict[str, Any]]:
    if mac is None or not mac.apple_silicon:
        return []
    unified_gb = gib(mac.memory_bytes)
    cores = apple_gpu_core_count(scan.system)
    scan.findings.source("accelerators.apple-gpu", "sysctl machdep.cpu.brand_string; memory_gb = hw.memsize (unified)")
    if unified_gb:
        scan.findings.source("accelerators.apple-gpu.usable_memory_gb",
                             "estimate: 75% of unified memory above 36 GB, else 2/3 (Metal's recommended working "
                             "set; mx.device_info() or torch.mps.recommended_max_memory() give the exact value)")
    if cores:
        scan.findings.source("accelerators.apple-gpu.cores", "ioreg IOAccelerator gpu-core-count")
    warn_about_old_macos(mac.macos_version, scan.findings)
    return [accelerator(
        "apple-gpu", f"{mac.brand} GPU" if mac.brand else "Apple GPU",
        memory_gb=unified_gb,
        usable_memory_gb=recommended_working_set_gb(unified_gb) if unified_gb else None,
        cores=cores,
        driver=f"macOS {mac.macos_version}" if mac.macos_version else None,
        source="sysctl",
    )]
