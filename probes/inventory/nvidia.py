"""NVIDIA CUDA GPUs: NVML where NVIDIA signs exist, else the driver's /proc files, PCI ids or device nodes."""

from __future__ import annotations

import re
from typing import Any

from framework_advisor.probes.inventory.findings import Findings, accelerator, gib, group_identical
from framework_advisor.probes.inventory.pci import NVIDIA_VENDOR, Scan
from framework_advisor.probes.system import NvmlDevice, NvmlSnapshot, NvmlUnavailable, System

# CUDA cores per SM by compute capability: NVML counts cores, the contract wants SMs.
CUDA_CORES_PER_SM = {
    (6, 0): 64, (6, 1): 128, (6, 2): 128, (7, 0): 64, (7, 2): 64, (7, 5): 64, (8, 0): 64,
    (8, 6): 128, (8, 7): 128, (8, 9): 128, (9, 0): 128, (10, 0): 128, (10, 3): 128, (12, 0): 128, (12, 1): 128,
}
NVIDIA_DEVICE_FILE = r"nvidia\d+|nvidiactl|dxg"


def nvidia_presence(scan: Scan) -> list[str]:
    """Cheap signs of an NVIDIA GPU, checked before NVML is loaded at all."""
    signals = [f"/dev/{name}" for name in scan.dev_matching(NVIDIA_DEVICE_FILE)]
    if any(device.vendor == NVIDIA_VENDOR and device.is_display for device in scan.pci):
        signals.append("PCI vendor 0x10de")
    if scan.system.exists("proc/driver/nvidia"):
        signals.append("/proc/driver/nvidia")
    return signals


def sm_count(device: NvmlDevice) -> int | None:
    per_sm = CUDA_CORES_PER_SM.get(device.compute_capability) if device.compute_capability else None
    if not device.cuda_cores or not per_sm or device.cuda_cores % per_sm:
        return None
    return device.cuda_cores // per_sm


def nvidia_from_nvml(snapshot: NvmlSnapshot, findings: Findings) -> list[dict[str, Any]]:
    entries = [
        accelerator(
            "cuda", device.name,
            memory_gb=gib(device.memory_bytes),
            cores=sm_count(device),
            compute_capability="{}.{}".format(*device.compute_capability) if device.compute_capability else None,
            driver=snapshot.driver_version,
            source="NVML",
        )
        for device in snapshot.devices
    ]
    findings.source("accelerators.cuda", f"NVML {snapshot.nvml_version or '(version unknown)'} via {snapshot.binding}")
    if any("cores" in entry for entry in entries):
        findings.source("accelerators.cuda.cores",
                        "SMs = nvmlDeviceGetNumGpuCores / CUDA cores per SM for the compute capability (fixed table)")
    return group_identical(entries)


def nvidia_driver_version(system: System) -> tuple[str | None, str | None]:
    module_version = (system.read_text("sys/module/nvidia/version", limit=256) or "").strip()
    if module_version:
        return module_version, "/sys/module/nvidia/version"
    banner = system.read_text("proc/driver/nvidia/version", limit=4096) or ""
    match = re.search(r"Kernel Module(?: for \S+)?\s+(\d+(?:\.\d+)+)", banner)
    return (match.group(1), "/proc/driver/nvidia/version") if match else (None, None)


def nvidia_models_from_proc(system: System) -> list[str]:
    models = []
    for bus in system.list_dir("proc/driver/nvidia/gpus") or []:
        information = system.read_text(f"proc/driver/nvidia/gpus/{bus}/information", limit=16384) or ""
        match = re.search(r"^Model:\s*(.+?)\s*$", information, re.MULTILINE)
        if match:
            models.append(match.group(1))
    return models


def nvidia_from_driver_files(scan: Scan) -> list[dict[str, Any]]:
    """Without NVML: names from the driver's /proc files, else PCI ids, else the device nodes."""
    driver, driver_source = nvidia_driver_version(scan.system)
    names = nvidia_models_from_proc(scan.system)
    source = "/proc/driver/nvidia/gpus"
    if not names:
        gpus = [device for device in scan.pci if device.vendor == NVIDIA_VENDOR and device.is_display]
        names = [f"NVIDIA GPU (device 0x{device.device:04x})" for device in gpus]
        source = "PCI vendor 0x10de"
    if not names:
        names = ["NVIDIA GPU"] * len(scan.dev_matching(r"nvidia\d+"))
        source = "/dev/nvidia*"
    if not names:
        return []
    scan.findings.source("accelerators.cuda", f"{source}, NVML unavailable" +
                         (f"; driver from {driver_source}" if driver_source else ""))
    return group_identical(accelerator("cuda", name, driver=driver, source=source) for name in names)


def nvml_failure_warning(signals: list[str], error: NvmlUnavailable) -> str:
    if any(signal.startswith("/dev/") for signal in signals):
        return f"NVIDIA device files present but NVML failed: {error}"
    return f"NVIDIA GPU on the PCI bus but NVML failed: {error} (is the NVIDIA driver loaded?)"


def detect_nvidia(scan: Scan) -> list[dict[str, Any]]:
    if scan.os_name == "darwin":
        return []
    signals = nvidia_presence(scan)
    if not signals and scan.os_name != "windows":  # Windows has no /dev or sysfs to sniff first
        return []
    try:
        snapshot = scan.system.nvml_snapshot()
    except NvmlUnavailable as error:
        if signals:
            scan.findings.warn(nvml_failure_warning(signals, error))
        return nvidia_from_driver_files(scan)
    if not snapshot.devices:
        if signals:
            scan.findings.warn(f"NVIDIA devices present ({', '.join(signals[:3])}) but NVML reports no GPU")
        return []
    return nvidia_from_nvml(snapshot, scan.findings)
