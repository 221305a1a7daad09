"""Intel Gaudi (Habana Labs) accelerators: PCI vendor 0x1da3, the habanalabs driver's device nodes and version."""

from __future__ import annotations

from typing import Any

from framework_advisor.probes.inventory.findings import accelerator, group_identical
from framework_advisor.probes.inventory.pci import HABANA_VENDOR, Scan

# PCI device id -> (name, HBM in GB per card), best-known: ids from the habanalabs driver's pci_ids.h and Intel's
# hl-thunk, memory from Intel's spec sheets.
GAUDI_MODELS = {
    0x1000: ("Intel Gaudi", 32), 0x1010: ("Intel Gaudi", 32),
    0x1020: ("Intel Gaudi 2", 96), 0x1021: ("Intel Gaudi 2 (HL-288)", 96), 0x1030: ("Intel Gaudi 2", 96),
    0x1060: ("Intel Gaudi 3", 128), 0x1063: ("Intel Gaudi 3 (HL-338)", 128),
}
DRIVER_VERSION = "sys/module/habanalabs/version"


def gaudi_device_nodes(scan: Scan) -> list[str]:
    """The driver's device nodes: /dev/accel/accel<n> (the kernel's accel subsystem) or /dev/hl<n> (older drivers)."""
    nodes = [f"accel/{name}" for name in scan.system.list_dir("dev/accel") or [] if name.startswith("accel")
             and name[5:].isdigit()]
    return nodes or scan.dev_matching(r"hl\d+")


def detect_gaudi(scan: Scan) -> list[dict[str, Any]]:
    if scan.os_name != "linux":
        return []
    cards = [device for device in scan.pci if device.vendor == HABANA_VENDOR]
    if not cards:
        return []
    nodes = gaudi_device_nodes(scan)
    driver = (scan.system.read_text(DRIVER_VERSION, limit=256) or "").strip() or None
    if not nodes:
        scan.findings.warn("Intel Gaudi on the PCI bus but no /dev/accel/accel* or /dev/hl* device: the habanalabs "
                           "driver is not loaded (install habanalabs-dkms), or a container lacks the devices")
    blocked = [f"/dev/{node}" for node in nodes if not scan.system.can_read_write(f"dev/{node}")]
    if blocked:
        scan.findings.warn(f"Gaudi device {', '.join(blocked[:4])} is not readable and writable by this user")
    scan.findings.source("accelerators.gaudi", "PCI vendor 0x1da3; names and HBM from a best-known device-id table"
                         + (f"; driver from /{DRIVER_VERSION}" if driver else ""))
    entries = []
    for card in cards:
        name, memory = GAUDI_MODELS.get(card.device, (f"Intel Gaudi (device 0x{card.device:04x})", None))
        entries.append(accelerator("gaudi", name, memory_gb=float(memory) if memory else None, driver=driver,
                                   source="PCI vendor 0x1da3"))
    return group_identical(entries)
