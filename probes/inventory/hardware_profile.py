"""The HardwareProfile: every detector run once over a Scan, then clipped to the model's limits."""

from __future__ import annotations

from typing import Any

from framework_advisor.probes.hardware import (MAX_DRIVER_CHARS, MAX_LIST_ITEMS, MAX_NAME_CHARS,
                                               MAX_PROVENANCE_CHARS, MAX_WARNING_CHARS, HardwareProfile)
from framework_advisor.probes.inventory.apple import detect_apple_gpu
from framework_advisor.probes.inventory.cpu import detect_cpu
from framework_advisor.probes.inventory.findings import Findings, clip
from framework_advisor.probes.inventory.gaudi import detect_gaudi
from framework_advisor.probes.inventory.host import MacFacts, detect_arch, detect_os, read_mac_facts
from framework_advisor.probes.inventory.intel import detect_intel_xpu
from framework_advisor.probes.inventory.jetson import detect_jetson
from framework_advisor.probes.inventory.memory import detect_memory
from framework_advisor.probes.inventory.nvidia import detect_nvidia
from framework_advisor.probes.inventory.pci import Scan
from framework_advisor.probes.inventory.rocm import detect_rocm
from framework_advisor.probes.inventory.tpu import detect_tpu
from framework_advisor.probes.system import System



def detect_accelerators(scan: Scan, mac: MacFacts | None) -> list[dict[str, Any]]:
    accelerators = [
        *detect_jetson(scan, detect_nvidia(scan)), *detect_rocm(scan), *detect_tpu(scan), *detect_gaudi(scan),
        *detect_apple_gpu(scan, mac), *detect_intel_xpu(scan),
    ]
    if not accelerators:
        scan.findings.source("accelerators", "none found: /dev, PCI ids, /proc/driver/nvidia, NVML where "
                             "NVIDIA signs exist, the Tegra device tree, KFD topology, sysctl on macOS")
    return accelerators


def record_probe_failures(system: System, findings: Findings) -> None:
    if system.failures:
        findings.source("probe_failures", f"{len(system.failures)}: " + "; ".join(system.failures))


def fit_accelerator(entry: dict[str, Any]) -> dict[str, Any]:
    fitted = {**entry, "name": clip(entry["name"], MAX_NAME_CHARS), "count": max(1, entry["count"])}
    for key, limit in (("driver", MAX_DRIVER_CHARS), ("source", MAX_NAME_CHARS)):
        if key in fitted:
            fitted[key] = clip(str(fitted[key]), limit)
    return fitted


def fit_to_schema(profile: dict[str, Any]) -> dict[str, Any]:
    """Clip what the machine handed us (long model strings, many warnings) to the contract's limits."""
    if "cpu" in profile:
        profile["cpu"]["model"] = clip(profile["cpu"]["model"], MAX_NAME_CHARS)
    profile["accelerators"] = [fit_accelerator(entry) for entry in profile["accelerators"][:MAX_LIST_ITEMS]]
    profile["warnings"] = [clip(warning, MAX_WARNING_CHARS) for warning in profile["warnings"][:MAX_LIST_ITEMS]]
    provenance = list(profile["provenance"].items())[:MAX_LIST_ITEMS]
    profile["provenance"] = {fact: clip(how, MAX_PROVENANCE_CHARS) for fact, how in provenance}
    return profile


def take_inventory(system: System | None = None) -> HardwareProfile:
    """This machine's HardwareProfile (or the fixture machine's, given a System over a fixture tree)."""
    system = system if system is not None else System()
    findings = Findings()
    os_name = detect_os(system, findings)
    mac = read_mac_facts(system) if os_name == "darwin" else None
    profile: dict[str, Any] = {"os": os_name, "arch": detect_arch(system, mac, findings)}
    cpu = detect_cpu(system, os_name, mac, findings)
    if cpu:
        profile["cpu"] = cpu
    memory_gb = detect_memory(system, os_name, mac, findings)
    if memory_gb is not None:
        profile["memory_gb"] = memory_gb
    profile["accelerators"] = detect_accelerators(Scan(system, os_name, findings), mac)
    record_probe_failures(system, findings)
    profile["warnings"] = findings.warnings
    profile["provenance"] = findings.provenance
    return HardwareProfile.model_validate(fit_to_schema(profile))
