"""Phase A: what hardware this machine has, learned without importing any deep-learning framework.

The web process calls this, so it must stay fast (well under a second) and import no torch, jax,
mlx, tensorflow or numpy: it sniffs procfs, sysfs, PCI ids, sysctl and NVML instead, through the
`System` seam so that every path can be tested on fixture machines. It returns a HardwareProfile
(openapi.yaml) that also says how each fact was obtained (`provenance`) and what the user should
know (`warnings`): a device that is present but unusable must not look the same as no device.

Memory is reported in GiB (2**30 bytes), the unit the contract calls "GB", as nvidia-smi and most
tools do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from probes.system import NvmlDevice, NvmlSnapshot, NvmlUnavailable, System

GIB = 1024**3

# Limits from openapi.yaml's HardwareProfile; the inventory never emits a profile that breaks them.
MAX_LIST_ITEMS = 64
MAX_WARNING_CHARS = 500
MAX_PROVENANCE_CHARS = 300
MAX_NAME_CHARS = 200
MAX_DRIVER_CHARS = 100

ROSETTA_WARNING = (
    "Python runs under Rosetta 2 (x86_64 translation): install a native arm64 Python, "
    "MLX and PyTorch MPS need it"
)

# ---------------------------------------------------------------------------------------------
# Collected findings
# ---------------------------------------------------------------------------------------------


@dataclass
class Findings:
    """What the user should know (warnings) and how each fact was obtained (provenance)."""

    warnings: list[str] = field(default_factory=list)
    provenance: dict[str, str] = field(default_factory=dict)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def source(self, fact: str, how: str) -> None:
        self.provenance[fact] = how


def gib(byte_count: int | None) -> float | None:
    return None if not byte_count else round(byte_count / GIB, 1)


def accelerator(kind: str, name: str, **optional: Any) -> dict[str, Any]:
    """An Accelerator entry with the contract's key order; optional facts that are unknown are left out."""
    entry: dict[str, Any] = {"kind": kind, "name": name, "count": 1}
    entry.update({key: value for key, value in optional.items() if value is not None})
    return entry


def group_identical(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fold identical devices into one entry with a count: 8 H100s are one line, not eight."""
    groups: dict[tuple, dict[str, Any]] = {}
    for entry in entries:
        key = tuple(sorted((k, v) for k, v in entry.items() if k != "count"))
        if key in groups:
            groups[key]["count"] += entry["count"]
        else:
            groups[key] = dict(entry)
    return list(groups.values())


# ---------------------------------------------------------------------------------------------
# OS and architecture
# ---------------------------------------------------------------------------------------------

OS_NAMES = {"linux": "linux", "darwin": "darwin", "windows": "windows"}
ARCH_NAMES = {"x86_64": "x86_64", "amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


def detect_os(system: System, findings: Findings) -> str:
    reported = system.platform_system
    name = OS_NAMES.get(reported.lower())
    if name is None and reported.lower().startswith(("cygwin", "msys", "mingw")):
        name = "windows"
    if name is None:
        findings.warn(f"operating system {reported!r} is not one the advisor knows (linux, darwin, windows); "
                      "it is reported as linux and recommendations may not fit")
        name = "linux"
    findings.source("os", f"platform.system() = {reported}")
    return name


def detect_arch(system: System, mac: MacFacts | None, findings: Findings) -> str:
    """The hardware's architecture, which under Rosetta 2 is not the one Python reports."""
    if mac is not None and mac.translated:
        findings.warn(ROSETTA_WARNING)
        findings.source("arch", f"sysctl sysctl.proc_translated = 1: arm64 hardware, this Python is "
                                f"{system.machine} under Rosetta 2")
        return "arm64"
    arch = ARCH_NAMES.get(system.machine.lower())
    if arch is None:
        findings.warn(f"CPU architecture {system.machine!r} is not one the advisor knows (x86_64, arm64); "
                      "it is reported as x86_64 and recommendations may not fit")
        arch = "x86_64"
    findings.source("arch", f"platform.machine() = {system.machine}")
    return arch


# ---------------------------------------------------------------------------------------------
# macOS facts (sysctl)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MacFacts:
    brand: str | None
    physical_cpus: int | None
    logical_cpus: int | None
    memory_bytes: int | None
    apple_silicon: bool
    translated: bool  # this process runs under Rosetta 2
    macos_version: str | None


def sysctl(system: System, key: str) -> str | None:
    answer = system.run(["sysctl", "-n", key])
    return answer.strip() if answer and answer.strip() else None


def to_int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def read_mac_facts(system: System) -> MacFacts:
    """The sysctl answers the Mac paths need; brand_string names the real chip even under Rosetta."""
    brand = sysctl(system, "machdep.cpu.brand_string")
    apple_silicon = (brand or "").startswith("Apple") or system.machine.lower() == "arm64"
    # Rosetta exists only on Apple silicon; asking an Intel Mac would just record an unknown-OID error.
    translated = apple_silicon and sysctl(system, "sysctl.proc_translated") == "1"
    version = system.run(["sw_vers", "-productVersion"])
    return MacFacts(
        brand=brand,
        physical_cpus=to_int(sysctl(system, "hw.physicalcpu")),
        logical_cpus=to_int(sysctl(system, "hw.logicalcpu")),
        memory_bytes=to_int(sysctl(system, "hw.memsize")),
        apple_silicon=apple_silicon,
        translated=translated,
        macos_version=version.strip() if version and version.strip() else None,
    )


# ---------------------------------------------------------------------------------------------
# CPU
# ---------------------------------------------------------------------------------------------

# ISA extensions that decide numeric peak; the names are Linux's, with NEON for Arm's Advanced SIMD.
RELEVANT_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16", "neon", "sve")
FLAG_ALIASES = {
    "asimd": "neon",  # Linux calls NEON "asimd"
    "avx1.0": "avx",  # macOS machdep.cpu.features spellings
    "avx512vnni": "avx512_vnni",
    "avx512bf16": "avx512_bf16",
}

# (CPU implementer, CPU part) from arm64 /proc/cpuinfo, which has no "model name" line. Best-known values.
ARM_CPU_PARTS = {
    (0x41, 0xD0C): "Arm Neoverse-N1",
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


def to_hex(text: str | None) -> int | None:
    try:
        return int(text, 16) if text else None
    except ValueError:
        return None


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
        findings.source("cpu.flags", "arm64: Advanced SIMD (NEON) is part of the base ISA")
        return ["neon"]
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


# ---------------------------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Shared listings: PCI devices and /dev
# ---------------------------------------------------------------------------------------------

PCI_DEVICES = "sys/bus/pci/devices"
NVIDIA_VENDOR, AMD_VENDOR, GOOGLE_VENDOR, INTEL_VENDOR = 0x10DE, 0x1002, 0x1AE0, 0x8086
INTERESTING_VENDORS = {NVIDIA_VENDOR, AMD_VENDOR, GOOGLE_VENDOR, INTEL_VENDOR}


@dataclass(frozen=True)
class PciDevice:
    address: str
    vendor: int
    device: int
    class_code: int  # 0xCCSSPP: base class, subclass, programming interface

    @property
    def is_display(self) -> bool:
        return self.class_code >> 16 == 0x03

    @property
    def is_processing_accelerator(self) -> bool:
        return self.class_code >> 16 == 0x12


def read_hex_file(system: System, relative: str) -> int | None:
    return to_hex((system.read_text(relative, limit=64) or "").strip())


def read_pci_devices(system: System) -> list[PciDevice]:
    """PCI functions of the vendors the inventory cares about (others are skipped after one read)."""
    devices = []
    for address in system.list_dir(PCI_DEVICES) or []:
        vendor = read_hex_file(system, f"{PCI_DEVICES}/{address}/vendor")
        if vendor not in INTERESTING_VENDORS:
            continue
        device = read_hex_file(system, f"{PCI_DEVICES}/{address}/device")
        class_code = read_hex_file(system, f"{PCI_DEVICES}/{address}/class")
        if device is not None and class_code is not None:
            devices.append(PciDevice(address, vendor, device, class_code))
    return devices


class Scan:
    """One pass over a machine: the System, the findings so far, and listings read once, when needed."""

    def __init__(self, system: System, os_name: str, findings: Findings) -> None:
        self.system = system
        self.os_name = os_name
        self.findings = findings

    @cached_property
    def pci(self) -> list[PciDevice]:
        return read_pci_devices(self.system) if self.os_name == "linux" else []

    @cached_property
    def dev(self) -> list[str]:
        return (self.system.list_dir("dev") or []) if self.os_name == "linux" else []

    def dev_matching(self, pattern: str) -> list[str]:
        compiled = re.compile(pattern)
        return sorted((name for name in self.dev if compiled.fullmatch(name)), key=natural_key)


def natural_key(name: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


# ---------------------------------------------------------------------------------------------
# NVIDIA CUDA
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# AMD ROCm
# ---------------------------------------------------------------------------------------------

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
    driver = (scan.system.read_text("sys/module/amdgpu/version", limit=256) or "").strip() or None
    if driver:
        gpus = [{**gpu, "driver": driver} for gpu in gpus]
    scan.findings.source("accelerators.rocm", "KFD topology nodes with simd_count > 0; cores = simd_count / "
                         "simd_per_cu (CUs); memory from mem_banks; names from PCI device ids (best-known)")
    return group_identical(gpus)


# ---------------------------------------------------------------------------------------------
# Google TPU
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Apple silicon GPU
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Intel XPU
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# The profile
# ---------------------------------------------------------------------------------------------


def detect_accelerators(scan: Scan, mac: MacFacts | None) -> list[dict[str, Any]]:
    accelerators = [
        *detect_nvidia(scan), *detect_rocm(scan), *detect_tpu(scan),
        *detect_apple_gpu(scan, mac), *detect_intel_xpu(scan),
    ]
    if not accelerators:
        scan.findings.source("accelerators", "none found: /dev, PCI ids, /proc/driver/nvidia, NVML where "
                             "NVIDIA signs exist, KFD topology, sysctl on macOS")
    return accelerators


def record_probe_failures(system: System, findings: Findings) -> None:
    if system.failures:
        findings.source("probe_failures", f"{len(system.failures)}: " + "; ".join(system.failures))


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


def take_inventory(system: System | None = None) -> dict[str, Any]:
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
    return fit_to_schema(profile)
