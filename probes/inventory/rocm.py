"""AMD ROCm GPUs from the KFD topology, with access checks on /dev/kfd."""

from __future__ import annotations

import re
from typing import Any

from framework_advisor.probes.inventory.findings import accelerator, gib, group_identical
from framework_advisor.probes.inventory.pci import AMD_VENDOR, Scan
from framework_advisor.probes.system import System

KFD_NODES = "sys/class/kfd/kfd/topology/nodes"
# PCI device ids of Instinct parts (best-known), for a name people recognise; the gfx arch decides wheels.
AMD_DEVICE_NAMES = {
    0x738C: "AMD Instinct MI100", 0x740C: "AMD Instinct MI250X/MI250", 0x740F: "AMD Instinct MI210",
    0x74A0: "AMD Instinct MI300A", 0x74A1: "AMD Instinct MI300X", 0x74A5: "AMD Instinct MI325X",
}
FRAMEBUFFER_HEAP_TYPES = {1, 2}  # KFD mem bank heap_type: 0 system memory, 1 public and 2 private VRAM


def parse_properties(text: str | None) -> dict[str, int]:
    """KFD "name value" lines; the values the inventory uses are non-negative decimal integers."""
    properties = {}
    for line in (text or "").splitlines():
        name, _, value = line.strip().partition(" ")
        if value.strip().isdigit():
            properties[name] = int(value)
    return properties


def gfx_arch(target_version: int | None) -> str | None:
    """90402 -> gfx942, 90010 -> gfx90a: major in decimal, then minor and stepping as hex digits."""
    if not target_version:
        return None
    major, minor, stepping = target_version // 10000, (target_version // 100) % 100, target_version % 100
    return f"gfx{major}{minor:x}{stepping:x}"


def kfd_vram_bytes(system: System, node: str, properties: dict[str, int]) -> int | None:
    total = 0
    for bank in system.list_dir(f"{KFD_NODES}/{node}/mem_banks") or []:
        bank_properties = parse_properties(system.read_text(f"{KFD_NODES}/{node}/mem_banks/{bank}/properties"))
        if bank_properties.get("heap_type") in FRAMEBUFFER_HEAP_TYPES:
            total += bank_properties.get("size_in_bytes", 0)
    return total or properties.get("local_mem_size") or None


def amd_gpu_name(system: System, node: str, properties: dict[str, int], arch: str | None) -> str:
    """Marketing name when the device id is known, else the node's name file, else the gfx arch."""
    suffix = f" ({arch})" if arch else ""
    known = AMD_DEVICE_NAMES.get(properties.get("device_id", -1))
    if known:
        return known + suffix
    node_name = (system.read_text(f"{KFD_NODES}/{node}/name", limit=256) or "").strip()
    if node_name and node_name != "ip discovery":  # newer kernels write "ip discovery" for every GPU
        return f"AMD GPU {node_name}{suffix}"
    return f"AMD GPU{suffix}" if arch else "AMD GPU"


def read_kfd_gpu(system: System, node: str) -> dict[str, Any] | None:
    """One KFD topology node as an accelerator, or None for CPU nodes (simd_count 0)."""
    properties = parse_properties(system.read_text(f"{KFD_NODES}/{node}/properties"))
    simd_count = properties.get("simd_count", 0)
    if simd_count <= 0:
        return None
    arch = gfx_arch(properties.get("gfx_target_version"))
    simd_per_cu = properties.get("simd_per_cu")
    return accelerator(
        "rocm", amd_gpu_name(system, node, properties, arch),
        memory_gb=gib(kfd_vram_bytes(system, node, properties)),
        cores=simd_count // simd_per_cu if simd_per_cu else None,
        source="KFD topology",
    )


def check_kfd_access(scan: Scan) -> None:
    if not scan.system.exists("dev/kfd"):
        scan.findings.warn("AMD GPUs are in the KFD topology but /dev/kfd is missing: in a container, "
                           "pass --device=/dev/kfd --device=/dev/dri")
    elif not scan.system.can_read_write("dev/kfd"):
        scan.findings.warn("/dev/kfd exists but is not readable by this user: add the user to the render "
                           "and video groups")


def detect_rocm(scan: Scan) -> list[dict[str, Any]]:
    if scan.os_name != "linux":
        return []
    gpus = [gpu for node in scan.system.list_dir(KFD_NODES) or [] if (gpu := read_kfd_gpu(scan.system, node))]
    if not gpus:
        if any(d.vendor == AMD_VENDOR and (d.is_display or d.is_processing_accelerator) for d in scan.pci):
            scan.findings.warn("AMD GPU on the PCI bus but no KFD topology: the amdgpu driver is not loaded, "
                               "so ROCm cannot see it")
        return []
    check_kfd_access(scan)
    release, where = rocm_release(scan.system)
    if release:
        gpus = [{**gpu, "driver": release} for gpu in gpus]
        scan.findings.source("accelerators.rocm.driver", f"ROCm release from {where}")
    module = (scan.system.read_text("sys/module/amdgpu/version", limit=256) or "").strip()
    if module:  # the kernel driver's own version is not the ROCm release the catalog's rows compare
        scan.findings.source("accelerators.rocm.amdgpu", f"amdgpu kernel module {module} (/sys/module/amdgpu/version)")
    scan.findings.source("accelerators.rocm", "KFD topology nodes with simd_count > 0; cores = simd_count / "
                         "simd_per_cu (CUs); memory from mem_banks; names from PCI device ids (best-known)")
    return group_identical(gpus)


def rocm_release(system: System) -> tuple[str | None, str | None]:
    """The ROCm release installed on the host ("7.2.0" from "7.2.0-56") and the file it came from: $ROCM_PATH's
    .info/version, else /opt/rocm's. None without a system ROCm (pip-installed ROCm wheels bring their own)."""
    roots = [root for root in (system.environ.get("ROCM_PATH"), "/opt/rocm") if root]
    for root in roots:
        relative = f"{root.strip('/')}/.info/version"
        match = re.match(r"\s*([0-9]+\.[0-9]+(?:\.[0-9]+)?)", system.read_text(relative, limit=256) or "")
        if match:
            return match.group(1), f"/{relative}"
    return None, None
