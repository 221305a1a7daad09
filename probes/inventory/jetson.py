"""NVIDIA Jetson: an integrated GPU on a Tegra system-on-chip, found from the device tree and the L4T release file.

Jetson's GPU is not on the PCI bus and, before JetPack 7, has no NVML, so the NVIDIA detector finds nothing there;
on JetPack 7 (Thor) NVML answers and this only marks its GPU integrated. The compute capability comes from the SoC
(a fixed table), which is what the catalog's install rows need: Orin (8.7) takes NVIDIA's Jetson wheels.
"""

from __future__ import annotations

import re
from typing import Any

from framework_advisor.probes.inventory.findings import accelerator
from framework_advisor.probes.inventory.pci import Scan
from framework_advisor.probes.system import System

DEVICE_TREE_COMPATIBLE = "proc/device-tree/compatible"
DEVICE_TREE_MODEL = "proc/device-tree/model"
TEGRA_RELEASE = "etc/nv_tegra_release"
# Tegra SoC (the device tree's "nvidia,<soc>") -> (compute capability, family), as NVIDIA's CUDA GPU list gives them;
# Thor is 11.0 under CUDA 13 (10.1 under CUDA 12).
TEGRA_SOCS = {
    "tegra210": ("5.3", "Jetson Nano / TX1"),
    "tegra186": ("6.2", "Jetson TX2"),
    "tegra194": ("7.2", "Jetson Xavier"),
    "tegra234": ("8.7", "Jetson Orin"),
    "tegra264": ("11.0", "Jetson Thor"),
}
_RELEASE = re.compile(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*([0-9.]+)")


def tegra_soc(system: System) -> str | None:
    """The SoC named in the device tree's compatible list (NUL-separated), e.g. "tegra234"."""
    compatible = system.read_text(DEVICE_TREE_COMPATIBLE, limit=4096) or ""
    for entry in compatible.split("\x00"):
        vendor, _, soc = entry.strip().partition(",")
        if vendor == "nvidia" and soc.startswith("tegra"):
            return soc
    return None


def l4t_release(system: System) -> str | None:
    """ "# R36 (release), REVISION: 4.3, ..." -> "R36.4.3" """
    match = _RELEASE.search(system.read_text(TEGRA_RELEASE, limit=4096) or "")
    return f"R{match.group(1)}.{match.group(2)}" if match else None


def detect_jetson(scan: Scan, cuda: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The CUDA accelerators with a Jetson's marked integrated (one made from the device tree when NVML found none)."""
    if scan.os_name != "linux":
        return cuda
    soc = tegra_soc(scan.system)
    release = l4t_release(scan.system)
    if soc is None and release is None:
        return cuda
    capability, family = TEGRA_SOCS.get(soc or "", (None, "Jetson"))
    model = (scan.system.read_text(DEVICE_TREE_MODEL, limit=256) or "").strip("\x00 \n") or None
    where = [f"SoC nvidia,{soc} from /{DEVICE_TREE_COMPATIBLE}" if soc else "no SoC in the device tree",
             f"L4T {release} from /{TEGRA_RELEASE}" if release else "no /etc/nv_tegra_release"]
    if capability:
        where.append("compute capability from the SoC (fixed table)")
    scan.findings.source("accelerators.cuda.integrated", "Jetson: " + "; ".join(where))
    if cuda:
        return [{**entry, "integrated": True,
                 **({"compute_capability": capability} if capability and "compute_capability" not in entry else {})}
                for entry in cuda]
    name = model or f"NVIDIA {family}" + (f" ({soc})" if soc else "")
    source = f"/{DEVICE_TREE_COMPATIBLE}" if soc else f"/{TEGRA_RELEASE}"
    return [accelerator("cuda", name, compute_capability=capability, integrated=True, source=source)]
