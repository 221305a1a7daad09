"""What stands between an accelerator and the frameworks on this host, read without importing a framework:
the kernel driver, the device nodes (and whether this user may open them), a container started without the
device, WSL's driver library path, variables that hide devices, a loader path that shadows pip's CUDA
libraries, Rosetta, and processes holding TPU chips.

``framework-advisor doctor`` weighs these facts with what each framework's worker saw (``rules.doctor``).
Everything is read through the ``System`` seam, so each cause is testable on a fixture tree.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Optional

from pydantic import Field

from framework_advisor.probes.hardware import Strict
from framework_advisor.probes.inventory.findings import Findings
from framework_advisor.probes.inventory.host import read_mac_facts
from framework_advisor.probes.inventory.nvidia import NVIDIA_DEVICE_FILE
from framework_advisor.probes.inventory.pci import AMD_VENDOR, NVIDIA_VENDOR, Scan
from framework_advisor.probes.inventory.rocm import KFD_NODES
from framework_advisor.probes.inventory.tpu import tpu_device_holders
from framework_advisor.probes.system import System
from framework_advisor.probes.worker.records import UNUSED_REASONS

# Why a framework does not use a device, beyond what its worker reports (UNUSED_REASONS): found on the host
# (this module), in the interpreter's packages, or in the catalog. rules/base/causes.yaml has each one's fix.
HOST_CAUSES = ("driver-not-loaded", "device-not-in-container", "device-permission", "wsl-library-path", "rosetta",
               "jax-versions-disagree", "library-path-shadows", "no-build", "not-installed", "import-failed")
CAUSES: tuple[str, ...] = UNUSED_REASONS + HOST_CAUSES
Cause = Literal[CAUSES]  # type: ignore[valid-type]

VISIBLE_DEVICES_VARIABLES = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES")
WSL_LIBRARY_DIR = "/usr/lib/wsl/lib"
# Libraries pip's nvidia-* wheels bring; a system copy earlier on LD_LIBRARY_PATH is loaded instead.
CUDA_LIBRARY = re.compile(r"lib(cudnn|cublas|cudart|cusparse|cufft|nccl)[^/]*\.so(\.\d+)*")
CONTAINER_CGROUP = re.compile(r"docker|kubepods|containerd|libpod|lxc|crio")
Paths = Annotated[list[Annotated[str, Field(max_length=500)]], Field(max_length=64)]


class HostAccess(Strict):
    """Facts about this host's access to its accelerators (SYNTHESIZED fixtures test each one)."""

    os: str
    container: Optional[str] = Field(default=None, description="How a container was recognised, if this is one.")
    wsl: bool = False
    wsl_libcuda: bool = Field(default=False, description=(
        f"{WSL_LIBRARY_DIR} holds libcuda: the Windows NVIDIA driver, as WSL passes it in."))
    wsl_library_on_loader_path: bool = False
    nvidia_on_pci: int = 0
    nvidia_driver_loaded: bool = False
    nvidia_device_nodes: Paths = Field(default_factory=list)
    amd_on_pci: int = 0
    amd_driver_loaded: bool = Field(default=False, description="The KFD topology lists GPUs (amdgpu loaded).")
    kfd_node: bool = False
    blocked_device_nodes: Paths = Field(default_factory=list, description="Device nodes this user may not open.")
    hiding_variables: dict[str, Annotated[str, Field(max_length=500)]] = Field(
        default_factory=dict, description="Visible-devices variables set to hide every device.")
    library_path_cuda_dirs: Paths = Field(
        default_factory=list, description="LD_LIBRARY_PATH folders holding CUDA or cuDNN libraries.")
    rosetta: bool = False
    tpu_holders: Paths = Field(default_factory=list, description="Processes holding TPU chips: 'PID n (name)'.")


def container_sign(system: System) -> Optional[str]:
    for marker in (".dockerenv", "run/.containerenv"):
        if system.exists(marker):
            return f"/{marker}"
    if system.environ.get("container"):
        return f"container={system.environ['container']}"
    if system.environ.get("KUBERNETES_SERVICE_HOST"):
        return "KUBERNETES_SERVICE_HOST"
    cgroup = system.read_text("proc/1/cgroup", limit=65536) or ""
    match = CONTAINER_CGROUP.search(cgroup)
    return f"/proc/1/cgroup ({match.group(0)})" if match else None


def is_wsl(system: System) -> bool:
    release = (system.read_text("proc/sys/kernel/osrelease", limit=256) or "").lower()
    return "microsoft" in release or "wsl" in release or bool(system.environ.get("WSL_DISTRO_NAME"))


def loader_dirs(system: System) -> list[str]:
    """The dynamic loader's configured folders (/etc/ld.so.conf.d/*.conf), without following includes."""
    folders = []
    for name in system.list_dir("etc/ld.so.conf.d", quiet=True) or []:
        if name.endswith(".conf"):
            text = system.read_text(f"etc/ld.so.conf.d/{name}", limit=65536) or ""
            folders += [line.strip() for line in text.splitlines() if line.strip().startswith("/")]
    return folders


def library_path(system: System) -> list[str]:
    return [part for part in system.environ.get("LD_LIBRARY_PATH", "").split(":") if part]


def cuda_library_dirs(system: System) -> list[str]:
    return [folder for folder in library_path(system)
            if any(CUDA_LIBRARY.fullmatch(name) for name in system.list_dir(folder, quiet=True) or [])]


def hiding_variables(system: System) -> dict[str, str]:
    return {name: system.environ[name] for name in VISIBLE_DEVICES_VARIABLES
            if name in system.environ and system.environ[name].strip() in ("", "-1")}


def read_host_access(system: System, os_name: str) -> HostAccess:
    """This host's access facts (``os_name`` as the inventory found it)."""
    if os_name == "darwin":
        return HostAccess(os=os_name, rosetta=read_mac_facts(system).translated)
    if os_name != "linux":
        return HostAccess(os=os_name, hiding_variables=hiding_variables(system))
    scan = Scan(system, os_name, Findings())
    nodes = [f"/dev/{name}" for name in scan.dev_matching(NVIDIA_DEVICE_FILE)]
    gpu_nodes = nodes + [f"/dev/{name}" for name in ("kfd",) if system.exists("dev/kfd")] + [
        f"/dev/dri/{name}" for name in system.list_dir("dev/dri", quiet=True) or [] if name.startswith("renderD")] + [
        f"/dev/{name}" for name in scan.dev_matching(r"accel\d+")]
    holders = []
    for pid, _devices in sorted(tpu_device_holders(system).items()):
        holders.append(f"PID {pid} ({(system.read_text(f'proc/{pid}/comm', limit=256) or '').strip() or 'unknown'})")
    wsl = is_wsl(system)
    on_loader_path = WSL_LIBRARY_DIR in library_path(system) + loader_dirs(system)
    return HostAccess(
        os=os_name,
        container=container_sign(system),
        wsl=wsl,
        wsl_libcuda=wsl and any(name.startswith("libcuda.so") for name in system.list_dir(WSL_LIBRARY_DIR, quiet=True) or []),
        wsl_library_on_loader_path=on_loader_path,
        nvidia_on_pci=sum(1 for d in scan.pci if d.vendor == NVIDIA_VENDOR and d.is_display),
        nvidia_driver_loaded=system.exists("proc/driver/nvidia") or system.exists("sys/module/nvidia"),
        nvidia_device_nodes=[node for node in nodes if node != "/dev/dxg"],
        amd_on_pci=sum(1 for d in scan.pci if d.vendor == AMD_VENDOR and (d.is_display or d.is_processing_accelerator)),
        amd_driver_loaded=bool(system.list_dir(KFD_NODES, quiet=True)),
        kfd_node=system.exists("dev/kfd"),
        blocked_device_nodes=[node for node in gpu_nodes if not system.can_read_write(node.lstrip("/"))],
        hiding_variables=hiding_variables(system),
        library_path_cuda_dirs=cuda_library_dirs(system),
        tpu_holders=holders,
    )
