"""Intel XPU: discrete-looking Intel GPUs on the PCI bus (the integrated one is noted, not listed)."""

from __future__ import annotations

from typing import Any

from framework_advisor.probes.inventory.findings import accelerator, group_identical
from framework_advisor.probes.inventory.pci import INTEL_VENDOR, PCI_DEVICES, Scan
from framework_advisor.probes.system import System

INTEGRATED_GPU_ADDRESS = "0000:00:02.0"  # where Intel has always put its integrated graphics


def pci_driver_name(system: System, address: str) -> str | None:
    target = system.readlink(f"{PCI_DEVICES}/{address}/driver")
    return target.rsplit("/", 1)[-1] if target else None


def detect_intel_xpu(scan: Scan) -> list[dict[str, Any]]:
    """Discrete-looking Intel GPUs only; an integrated one is noted in provenance, not listed."""
    gpus = [d for d in scan.pci if d.vendor == INTEL_VENDOR and d.is_display]
    integrated = [d for d in gpus if d.address == INTEGRATED_GPU_ADDRESS]
    discrete = [d for d in gpus if d.address != INTEGRATED_GPU_ADDRESS]
    if integrated:
        scan.findings.source("accelerators.intel-xpu.integrated",
                             f"integrated Intel GPU (device 0x{integrated[0].device:04x}) at {INTEGRATED_GPU_ADDRESS} "
                             "left out; PyTorch XPU may still run on it")
    if not discrete:
        return []
    scan.findings.source("accelerators.intel-xpu", "PCI vendor 0x8086, display class, not at 0000:00:02.0; "
                         "driver from the PCI driver link")
    return group_identical(
        accelerator("intel-xpu", f"Intel GPU (device 0x{d.device:04x})",
                    driver=pci_driver_name(scan.system, d.address), source="PCI vendor 0x8086")
        for d in discrete
    )
