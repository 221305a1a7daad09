"""The host itself: operating system, architecture, and the macOS facts read once from sysctl."""

from __future__ import annotations

from dataclasses import dataclass

from framework_advisor.probes.inventory.findings import Findings, to_int
from framework_advisor.probes.system import System

ROSETTA_WARNING = (
    "Python runs under Rosetta 2 (x86_64 translation): install a native arm64 Python, "
    "MLX and PyTorch MPS need it"
)

OS_NAMES = {"linux": "linux", "darwin": "darwin", "windows": "windows"}
ARCH_NAMES = {"x86_64": "x86_64", "amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


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
