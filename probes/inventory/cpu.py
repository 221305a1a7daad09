"""The CPU: model, physical and logical cores, and the ISA flags that decide numeric peak."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from framework_advisor.probes.inventory.findings import Findings, to_hex
from framework_advisor.probes.inventory.host import MacFacts, sysctl
from framework_advisor.probes.system import System

# ISA extensions that decide numeric peak; the names are Linux's, with NEON for Arm's Advanced SIMD.
RELEVANT_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16", "neon", "sve",
                  "bf16")  # Arm's BFloat16 instructions (Linux "bf16"; macOS hw.optional.arm.FEAT_BF16)
FLAG_ALIASES = {
    "asimd": "neon",  # Linux calls NEON "asimd"
    "avx1.0": "avx",  # macOS machdep.cpu.features spellings
    "avx512vnni": "avx512_vnni",
    "avx512bf16": "avx512_bf16",
}

# (CPU implementer, CPU part) from arm64 /proc/cpuinfo, which has no "model name" line. Best-known values.
ARM_CPU_PARTS = {
    (0x41, 0xD0C): "Arm Neoverse-N1",
    (0x41, 0xD42): "Arm Cortex-A78AE",
    (0x41, 0xD40): "Arm Neoverse-V1",
    (0x41, 0xD49): "Arm Neoverse-N2",
    (0x41, 0xD4F): "Arm Neoverse-V2",
    (0x41, 0xD84): "Arm Neoverse-V3",
    (0x41, 0xD8E): "Arm Neoverse-N3",
    (0x41, 0xD08): "Arm Cortex-A72",
    (0x41, 0xD0B): "Arm Cortex-A76",
    (0x48, 0xD01): "HiSilicon Kunpeng-920",
    (0xC0, 0xAC3): "AmpereOne",
}
ARM_IMPLEMENTERS = {0x41: "Arm", 0x48: "HiSilicon", 0x4E: "NVIDIA", 0x51: "Qualcomm", 0x61: "Apple", 0xC0: "Ampere"}


def relevant_flags(tokens: Iterable[str]) -> list[str]:
    present = {FLAG_ALIASES.get(token.lower(), token.lower()) for token in tokens}
    return [flag for flag in RELEVANT_FLAGS if flag in present]


def parse_cpuinfo(text: str) -> list[dict[str, str]]:
    """/proc/cpuinfo as one dict per logical CPU (blocks that carry a "processor" line)."""
    blocks = []
    for chunk in text.split("\n\n"):
        block = {}
        for line in chunk.splitlines():
            key, separator, value = line.partition(":")
            if separator:
                block[key.strip()] = value.strip()
        if "processor" in block:
            blocks.append(block)
    return blocks


def arm_model_name(block: dict[str, str]) -> str | None:
    implementer, part = to_hex(block.get("CPU implementer")), to_hex(block.get("CPU part"))
    if implementer is None or part is None:
        return None
    known = ARM_CPU_PARTS.get((implementer, part))
    if known:
        return known
    vendor = ARM_IMPLEMENTERS.get(implementer, f"implementer 0x{implementer:02x}")
    return f"{vendor} CPU (part 0x{part:03x})"


def cpuinfo_physical_cores(blocks: list[dict[str, str]]) -> tuple[int, str]:
    """Physical cores from cpuinfo: distinct (physical id, core id) pairs where the kernel gives them."""
    pairs = {(block.get("physical id"), block.get("core id")) for block in blocks}
    if all(None not in pair for pair in pairs):
        return len(pairs), "/proc/cpuinfo (distinct physical id, core id)"
    return len(blocks), "/proc/cpuinfo (processor count; no SMT information there)"


def linux_cpu(system: System, findings: Findings) -> dict[str, Any] | None:
    text = system.read_text("proc/cpuinfo")
    blocks = parse_cpuinfo(text) if text else []
    if not blocks:
        findings.source("cpu", "/proc/cpuinfo unreadable or empty")
        return None
    first = blocks[0]
    model = first.get("model name") or arm_model_name(first) or first.get("Hardware") or "unknown CPU"
    findings.source("cpu.model", "/proc/cpuinfo" if "model name" in first else
                    "/proc/cpuinfo CPU implementer/part (best-known table)")
    physical, logical = system.psutil_core_counts()
    if physical:
        findings.source("cpu.cores", "psutil.cpu_count(logical=False)")
    else:
        physical, how = cpuinfo_physical_cores(blocks)
        findings.source("cpu.cores", how)
    flags = relevant_flags((first.get("flags") or first.get("Features") or "").split())
    findings.source("cpu.flags", "/proc/cpuinfo " + ("flags" if "flags" in first else "Features"))
    return {"model": model, "cores": physical, "logical_cores": logical or len(blocks), "flags": flags}


def mac_flags(system: System, mac: MacFacts, findings: Findings) -> list[str]:
    if mac.apple_silicon:
        flags = ["neon"]
        how = "arm64: Advanced SIMD (NEON) is part of the base ISA"
        if sysctl(system, "hw.optional.arm.FEAT_BF16") == "1":  # M2 and later
            flags.append("bf16")
            how += "; sysctl hw.optional.arm.FEAT_BF16"
        findings.source("cpu.flags", how)
        return flags
    tokens = " ".join(filter(None, (sysctl(system, "machdep.cpu.features"),
                                    sysctl(system, "machdep.cpu.leaf7_features")))).split()
    findings.source("cpu.flags", "sysctl machdep.cpu.features, machdep.cpu.leaf7_features")
    return relevant_flags(tokens)


def mac_cpu(system: System, mac: MacFacts, findings: Findings) -> dict[str, Any] | None:
    if not mac.physical_cpus:
        findings.source("cpu", "sysctl hw.physicalcpu gave no answer")
        return None
    findings.source("cpu.model", "sysctl machdep.cpu.brand_string")
    findings.source("cpu.cores", "sysctl hw.physicalcpu, hw.logicalcpu")
    cpu = {"model": mac.brand or "unknown CPU", "cores": mac.physical_cpus, "flags": mac_flags(system, mac, findings)}
    if mac.logical_cpus:
        cpu["logical_cores"] = mac.logical_cpus
    return cpu


def windows_cpu(system: System, findings: Findings) -> dict[str, Any] | None:
    """Best effort: platform.processor() is vague on Windows ("Intel64 Family 6 Model 85 ...")."""
    physical, logical = system.psutil_core_counts()
    if not physical:
        findings.source("cpu", "psutil unavailable: core count unknown")
        return None
    findings.source("cpu.model", "platform.processor()")
    findings.source("cpu.cores", "psutil.cpu_count(logical=False)")
    cpu: dict[str, Any] = {"model": system.processor or "unknown CPU", "cores": physical}
    if logical:
        cpu["logical_cores"] = logical
    return cpu


def detect_cpu(system: System, os_name: str, mac: MacFacts | None, findings: Findings) -> dict[str, Any] | None:
    if mac is not None:
        return mac_cpu(system, mac, findings)
    if os_name == "linux":
        return linux_cpu(system, findings)
    return windows_cpu(system, findings)
