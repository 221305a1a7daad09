"""The doctor's verdicts: for each framework and each accelerator, whether it works and, if not, why and the fix.

A verdict weighs three sources, none of which imports a framework in this process:
- what the framework's worker saw (``ProbeReport`` of a benchmark-free probe: devices, unused accelerators
  with their reason, or the worker's failure),
- the host's access facts (``probes.access.HostAccess``: driver, device nodes, container, WSL, variables),
- the interpreter's packages (jax, jaxlib and plugin versions, pip's CUDA libraries) and the catalog
  (which devices the framework has builds for here).
Every cause found is kept (``causes``); the first by ``PRECEDENCE`` is the one to fix first. Titles and
fixes come from the catalog (rules/base/causes.yaml), never from here.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Optional

from pydantic import Field

from framework_advisor.probes.access import Cause, HostAccess
from framework_advisor.probes.hardware import HardwareProfile, Strict
from framework_advisor.probes.report import FailedFramework, ProbeReport, PythonUsed
from framework_advisor.probes.vocabulary import (ACCELERATOR_KINDS, FRAMEWORK_IDS, Device, FrameworkId,
                                                 device_label, framework_name)
from framework_advisor.rules.catalog import install_row, platform_for
from framework_advisor.rules.remedies import fill, remedy_text
from framework_advisor.rules.rulebase import RuleBase

# What to fix first when several causes hold: what makes the question moot (nothing installed, no build),
# then what blocks every framework on the host, then what is wrong with this framework's installation.
PRECEDENCE: tuple[str, ...] = (
    "rosetta", "not-installed", "no-build", "jax-versions-disagree", "import-failed", "hidden",
    "device-not-in-container", "driver-not-loaded", "device-permission", "wsl-library-path", "cpu-only-build",
    "library-path-shadows", "driver-mismatch", "unsupported-arch", "busy", "unsupported", "not-visible")
JAX_PLUGINS = {"cuda": ("jax-cuda12-plugin", "jax-cuda12-pjrt", "jax-cuda13-plugin", "jax-cuda13-pjrt"),
               "rocm": ("jax-rocm7-plugin", "jax-rocm7-pjrt", "jax-rocm60-plugin", "jax-rocm60-pjrt")}
PIP_CUDA_LIBRARIES = re.compile(r"nvidia-(cudnn|cublas|cuda-runtime)(-cu\d+)?")
Text = Annotated[str, Field(max_length=2000)]


class Verdict(Strict):
    framework: FrameworkId
    device: Device
    works: bool
    status: Literal["works", "does-not-work", "not-installed", "no-build"]
    version: Optional[str] = None
    cause: Optional[Cause] = Field(None, description="The cause to fix first (None when it works).")
    why: Text = ""
    fix: Text = ""
    causes: Annotated[list[Cause], Field(max_length=32)] = Field(default_factory=list, description="Every cause found.")
    refs: Annotated[list[Annotated[str, Field(max_length=300)]], Field(max_length=16)] = Field(default_factory=list)


class Diagnosis(Strict):
    """``framework-advisor doctor``'s answer: one verdict per framework and device, and the facts behind them."""

    python: Optional[PythonUsed] = None
    hardware: HardwareProfile
    access: HostAccess
    verdicts: Annotated[list[Verdict], Field(max_length=64)]

    @property
    def all_work(self) -> bool:
        return all(verdict.works or verdict.status in ("not-installed", "no-build") for verdict in self.verdicts)


def devices_to_check(hardware: HardwareProfile, access: HostAccess) -> list[str]:
    """The accelerators the inventory found, plus those only the host's signs show (an AMD card on the PCI bus
    without its driver is in no inventory); the CPU when there is none."""
    kinds = set(hardware.accelerator_kinds())
    if access.amd_on_pci and not access.amd_driver_loaded:
        kinds.add("rocm")
    if access.nvidia_on_pci or access.wsl_libcuda:  # WSL has no PCI listing, only /dev/dxg and the driver's libcuda
        kinds.add("cuda")
    return [kind for kind in ACCELERATOR_KINDS if kind in kinds] or ["cpu"]


def host_causes(kind: str, access: HostAccess) -> list[tuple[str, str]]:
    """(cause, what was seen) that keep every framework off ``kind`` on this host."""
    found = []
    hidden = {name: value for name, value in access.hiding_variables.items()
              if kind == "cuda" and name == "CUDA_VISIBLE_DEVICES" or kind == "rocm"}
    if kind in ("cuda", "rocm") and hidden:
        found.append(("hidden", ", ".join(f"{name}={value!r}" for name, value in hidden.items())))
    if kind == "cuda":
        if access.container and not access.nvidia_device_nodes and not access.wsl:
            found.append(("device-not-in-container", f"a container ({access.container}) with no /dev/nvidia* nodes"))
        elif access.nvidia_on_pci and not access.nvidia_driver_loaded and not access.wsl:
            found.append(("driver-not-loaded", f"{access.nvidia_on_pci} NVIDIA GPU(s) on the PCI bus, no "
                                               "/proc/driver/nvidia or /sys/module/nvidia"))
        if access.wsl_libcuda and not access.wsl_library_on_loader_path:
            found.append(("wsl-library-path", "WSL with /usr/lib/wsl/lib, which is neither on LD_LIBRARY_PATH nor "
                                              "in /etc/ld.so.conf.d"))
    if kind == "rocm":
        if access.container and (access.amd_driver_loaded or access.amd_on_pci) and not access.kfd_node:
            found.append(("device-not-in-container", f"a container ({access.container}) with no /dev/kfd"))
        elif access.amd_on_pci and not access.amd_driver_loaded:
            found.append(("driver-not-loaded", f"{access.amd_on_pci} AMD GPU(s) on the PCI bus, no KFD topology"))
    if kind == "tpu" and access.tpu_holders:
        found.append(("busy", "held by " + ", ".join(access.tpu_holders)))
    if kind == "apple-gpu" and access.rosetta:
        found.append(("rosetta", "sysctl.proc_translated = 1"))
    nodes = {"cuda": "/dev/nvidia", "rocm": ("/dev/kfd", "/dev/dri/"), "tpu": "/dev/accel",
             "intel-xpu": "/dev/dri/"}.get(kind)
    blocked = [node for node in access.blocked_device_nodes if nodes and node.startswith(nodes)]
    if blocked:
        found.append(("device-permission", f"{', '.join(blocked[:4])} not readable and writable by this user"))
    return found


def package_causes(framework_id: str, kind: str, packages: dict[str, str], access: HostAccess) -> list[tuple[str, str]]:
    """(cause, what was seen) in the interpreter's packages: JAX's parts at different versions, and system CUDA
    libraries on LD_LIBRARY_PATH ahead of the ones pip installed."""
    found = []
    if framework_id == "jax":
        parts = {name: packages[name] for name in ("jax", "jaxlib", *JAX_PLUGINS.get(kind, ())) if name in packages}
        jaxlib = parts.get("jaxlib")
        plugins = {name: version for name, version in parts.items() if name not in ("jax", "jaxlib")}
        if jaxlib and (any(version != jaxlib for version in plugins.values()) or
                       ("jax" in parts and _release(jaxlib) > _release(parts["jax"]))):
            found.append(("jax-versions-disagree", ", ".join(f"{name} {version}" for name, version in parts.items())))
    if framework_id in ("jax", "pytorch") and kind == "cuda" and access.library_path_cuda_dirs and any(
            PIP_CUDA_LIBRARIES.fullmatch(name) for name in packages):
        found.append(("library-path-shadows", "LD_LIBRARY_PATH has CUDA libraries in "
                      + ", ".join(access.library_path_cuda_dirs[:3]) + "; pip installed its own"))
    return found


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])


def _verdict(rulebase: RuleBase, hardware: HardwareProfile, framework_id: str, kind: str,
             causes: list[tuple[str, str]], status: str, version: Optional[str], works: bool = False) -> Verdict:
    if works:
        return Verdict(framework=framework_id, device=kind, works=True, status="works", version=version,
                       why=causes[0][1] if causes else "")
    first_seen: dict[str, str] = {}
    for name, seen in causes:  # the first source to see a cause describes it (the host before the worker)
        first_seen.setdefault(name, seen)
    ordered = sorted(first_seen.items(), key=lambda item: PRECEDENCE.index(item[0]))
    cause, seen = ordered[0]
    remedy = rulebase.remedies[cause]
    title = fill(remedy.title, framework_id, kind)
    return Verdict(framework=framework_id, device=kind, works=False, status=status, version=version, cause=cause,
                   why=f"{title} ({seen})" if seen else title,
                   fix=remedy_text(rulebase, framework_id, kind, cause, hardware),
                   causes=[name for name, _ in ordered], refs=list(remedy.refs))


def verdict_for(rulebase: RuleBase, report: ProbeReport, access: HostAccess, packages: dict[str, str],
                framework_id: str, kind: str) -> Verdict:
    hardware = report.hardware
    entry = rulebase.frameworks[framework_id]
    result = report.result(framework_id)
    version = None if result is None or isinstance(result, FailedFramework) else result.version
    platform = platform_for(entry, hardware.os, hardware.arch)
    # The framework's own builds decide (an add-on such as PyTorch/XLA or WSL2 is the fix, not a build).
    has_build = platform is not None and kind in platform.devices
    no_build = [("no-build", "")]
    if result is None:
        if not has_build or install_row(entry, kind, hardware) is None:
            return _verdict(rulebase, hardware, framework_id, kind, no_build, "no-build", None)
        # Under Rosetta the install would bring x86_64 wheels: the interpreter is the first thing to fix.
        rosetta = [cause for cause in host_causes(kind, access) if cause[0] == "rosetta"]
        return _verdict(rulebase, hardware, framework_id, kind, [*rosetta, ("not-installed", "")], "not-installed", None)
    if isinstance(result, FailedFramework):
        message = result.failure.message.splitlines()[0] if result.failure.message else result.failure.kind
        causes = package_causes(framework_id, kind, packages, access)
        return _verdict(rulebase, hardware, framework_id, kind,
                        [*causes, ("import-failed", f"{result.failure.kind}: {message[:300]}")], "does-not-work", None)
    seen = [device for device in result.devices if device.device == kind]
    if kind == "cpu" or any(device.usable for device in seen):
        usable = [device for device in seen if device.usable]
        names = sorted({device.name for device in usable})
        listed = ", ".join(names) if len(usable) == len(names) else f"{len(usable)} × {', '.join(names)}"
        return _verdict(rulebase, hardware, framework_id, kind, [("", listed if kind != "cpu" else "")], "works",
                        version, works=True)
    if not has_build:
        return _verdict(rulebase, hardware, framework_id, kind, no_build, "no-build", version)
    causes = host_causes(kind, access) + package_causes(framework_id, kind, packages, access)
    for unused in result.unused_accelerators:
        if unused.kind == kind:
            causes.append((unused.reason, unused.detail[:300]))
    for device in seen:  # listed but failing a test operation, with the framework's own words
        if device.error:
            causes.append(("not-visible", device.error[:300]))
    if not causes:
        causes.append(("not-visible", f"{framework_name(framework_id)} reported no {device_label(kind)} device"))
    return _verdict(rulebase, hardware, framework_id, kind, causes, "does-not-work", version)


def diagnose(rulebase: RuleBase, report: ProbeReport, access: HostAccess, packages: dict[str, str],
             frameworks: Optional[list[str]] = None) -> Diagnosis:
    """One verdict per framework (all of them, or ``frameworks``) and per device ``devices_to_check`` finds."""
    kinds = devices_to_check(report.hardware, access)
    verdicts = [verdict_for(rulebase, report, access, packages, framework_id, kind)
                for framework_id in FRAMEWORK_IDS if not frameworks or framework_id in frameworks for kind in kinds]
    return Diagnosis(python=report.python, hardware=report.hardware, access=access, verdicts=verdicts)


def verdict_line(verdict: Verdict) -> str:
    """One line a person reads: framework (and version), device, works or not and why, and the fix."""
    head = framework_name(verdict.framework) + (f" {verdict.version}" if verdict.version else "")
    head += f" on {device_label(verdict.device)}"
    if verdict.works:
        return f"ok    {head}: works" + (f" ({verdict.why})" if verdict.why else "")
    mark = "FAIL  " if verdict.status == "does-not-work" else "--    "
    also = f" [also: {', '.join(verdict.causes[1:])}]" if len(verdict.causes) > 1 else ""
    return f"{mark}{head}: {verdict.why}{also}. Fix: {verdict.fix}"


__all__ = ["Diagnosis", "Verdict", "diagnose", "verdict_line"]
