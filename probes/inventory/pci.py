"""Listings the accelerator detectors share: PCI devices of the vendors that matter, and /dev, read once per Scan."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from framework_advisor.probes.inventory.findings import Findings, to_hex
from framework_advisor.probes.system import System

PCI_DEVICES = "sys/bus/pci/devices"
NVIDIA_VENDOR, AMD_VENDOR, GOOGLE_VENDOR, INTEL_VENDOR, HABANA_VENDOR = 0x10DE, 0x1002, 0x1AE0, 0x8086, 0x1DA3
INTERESTING_VENDORS = {NVIDIA_VENDOR, AMD_VENDOR, GOOGLE_VENDOR, INTEL_VENDOR, HABANA_VENDOR}


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
