"""Google TPUs: chips from PCI ids (or /dev/accel* with TPU_ACCELERATOR_TYPE), permissions and device holders."""

from __future__ import annotations

import re
from typing import Any

from framework_advisor.probes.inventory.findings import accelerator
from framework_advisor.probes.inventory.pci import GOOGLE_VENDOR, PCI_DEVICES, PciDevice, Scan, natural_key, read_hex_file
from framework_advisor.probes.system import System

# PCI device id -> (generation, HBM GiB per chip), best-known, as Google's tpu-info tool maps them.
TPU_GENERATIONS = {
    0x005E: ("v4", 32), 0x0063: ("v5e", 16), 0x0062: ("v5p", 95), 0x006F: ("v6e", 32), 0x0076: ("7x", None),
}
TPU_V2_V3_DEVICE = 0x0027  # v2 and v3 share it; the subsystem id tells them apart
TPU_V2_V3_SUBSYSTEMS = {0x004E: "v2", 0x004F: "v3"}
TPU_DEVICE_LINK = re.compile(r"/dev/(?:accel\d+|vfio/\d+)")
TPU_LOCKFILE = "tmp/libtpu_lockfile"


def tpu_generation(system: System, device: PciDevice) -> tuple[str, int | None] | None:
    if device.device == TPU_V2_V3_DEVICE:
        subsystem = read_hex_file(system, f"{PCI_DEVICES}/{device.address}/subsystem_device")
        generation = TPU_V2_V3_SUBSYSTEMS.get(subsystem or -1)
        return (generation, None) if generation else None
    return TPU_GENERATIONS.get(device.device)


def tpu_chips(scan: Scan) -> list[tuple[str, int | None]]:
    """Generations of the TPU chips on the PCI bus; Google's other devices (gVNIC) are not TPUs."""
    chips = []
    for device in scan.pci:
        if device.vendor != GOOGLE_VENDOR:
            continue
        generation = tpu_generation(scan.system, device)
        if generation:
            chips.append(generation)
        elif device.is_processing_accelerator:
            chips.append((f"(device 0x{device.device:04x})", None))
    return chips


def tpu_name(generation: str | None, accelerator_type: str | None) -> str:
    if accelerator_type:
        return f"TPU {accelerator_type}"
    if generation is None:
        return "Google TPU"
    return f"TPU{generation}" if generation[0].isdigit() else f"TPU {generation}"


def tpu_device_holders(system: System) -> dict[int, list[str]]:
    """PIDs holding /dev/accel* or /dev/vfio/<n> open: libtpu allows one process per chip."""
    holders: dict[int, list[str]] = {}
    for pid in system.list_dir("proc") or []:
        if not pid.isdigit():
            continue
        for fd in system.list_dir(f"proc/{pid}/fd", quiet=True) or []:  # others' fds: not permitted, expected
            target = system.readlink(f"proc/{pid}/fd/{fd}")
            if target and TPU_DEVICE_LINK.fullmatch(target) and target not in holders.get(int(pid), []):
                holders.setdefault(int(pid), []).append(target)
    return holders


def warn_about_tpu_holders(scan: Scan) -> None:
    holders = tpu_device_holders(scan.system)
    for pid, devices in sorted(holders.items()):
        command = (scan.system.read_text(f"proc/{pid}/comm", limit=256) or "").strip() or "unknown"
        verb, pronoun = ("is", "it") if len(devices) == 1 else ("are", "them")
        scan.findings.warn(f"TPU {', '.join(sorted(devices, key=natural_key))} {verb} held by PID {pid} ({command}): "
                           f"another process cannot use {pronoun} until that one exits")
    if not holders and scan.system.exists(TPU_LOCKFILE):
        scan.findings.warn("stale /tmp/libtpu_lockfile: no process holds the TPU devices; if JAX reports the TPU "
                           "in use or falls back to CPU, remove it (rm /tmp/libtpu_lockfile)")


def warn_about_tpu_permissions(scan: Scan, device_files: list[str]) -> None:
    blocked = [f"/dev/{name}" for name in device_files if not scan.system.can_read_write(f"dev/{name}")]
    if blocked:
        scan.findings.warn(f"TPU device {', '.join(blocked[:4])} is not readable and writable by this user: "
                           "run as a user with access to the TPU devices")


def detect_tpu(scan: Scan) -> list[dict[str, Any]]:
    if scan.os_name != "linux":
        return []
    chips = tpu_chips(scan)
    accel_files = scan.dev_matching(r"accel\d+")
    accelerator_type = scan.system.environ.get("TPU_ACCELERATOR_TYPE") or None
    # Without PCI ids, /dev/accel<n> alone is also what other accelerators use: need the TPU env to agree.
    if not chips and not (accel_files and accelerator_type):
        return []
    generation, memory = chips[0] if chips else (None, None)
    name = tpu_name(generation, accelerator_type)
    count = len(chips) or len(accel_files)
    source = f"PCI vendor 0x1ae0 ({generation})" if chips else "/dev/accel*"
    scan.findings.source("accelerators.tpu", (
        "PCI vendor 0x1ae0, generation and HBM per chip from a best-known device-id table (as tpu-info)"
        if chips else "/dev/accel* count with TPU_ACCELERATOR_TYPE set") + "; count = chips on this host")
    if accelerator_type:
        scan.findings.source("accelerators.tpu.name", "env TPU_ACCELERATOR_TYPE (the whole slice)")
    warn_about_tpu_permissions(scan, accel_files + [f"vfio/{n}" for n in scan.system.list_dir("dev/vfio") or []
                                                    if n.isdigit()])
    warn_about_tpu_holders(scan)
    return [accelerator("tpu", name, count=count, memory_gb=float(memory) if memory else None, source=source)]
