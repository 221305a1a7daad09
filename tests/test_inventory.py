"""Phase-A inventory: fixture machines give the expected accelerators and warnings, every profile
meets openapi.yaml's HardwareProfile, and the real machine's inventory imports no framework.

The fixture machines are SYNTHESIZED (tests/fixtures/hardware/README.md says where each value comes
from); they reach the inventory only through the `System` seam: a root directory, recorded command
answers, an environment, platform names and a fake NVML.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from framework_advisor.probes import system as probe_system
from framework_advisor.probes.inventory import ROSETTA_WARNING, gfx_arch, take_inventory
from hardware_fixtures import FIXTURES, FailingNvml, RecordedCommands, RecordedNvml, copy_root, fixture_machine
from framework_advisor.probes.system import NvmlSnapshot, NvmlUnavailable, PynvmlAdapter, System, run_subprocess
from tests import openapi_schemas
from tests.conftest import HEAVY_MODULES

REPO_ROOT = Path(__file__).resolve().parent.parent
FRAMEWORK_MODULES = HEAVY_MODULES


# --- the contract ---------------------------------------------------------------------------------


def hardware_profile_validator():
    return openapi_schemas.validator("HardwareProfile")


def assert_valid(profile: dict[str, Any]) -> None:
    openapi_schemas.validate("HardwareProfile", profile)


def inventory(system: System) -> dict[str, Any]:
    """take_inventory, held to openapi.yaml's HardwareProfile on every call."""
    profile = take_inventory(system).model_dump(mode="json", exclude_none=True)
    assert_valid(profile)
    return profile


ALL_FIXTURES = sorted(path.name for path in FIXTURES.iterdir() if (path / "machine.json").is_file())


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_fixture_profile_meets_the_contract(name):
    assert_valid(take_inventory(fixture_machine(name)).model_dump(mode="json", exclude_none=True))


def test_the_contract_check_is_not_vacuous():
    validator = hardware_profile_validator()
    assert not validator.is_valid({"os": "linux", "arch": "aarch64"})  # must be normalised to arm64
    assert not validator.is_valid({"os": "linux", "arch": "arm64", "gpu": []})  # no keys the schema lacks
    assert validator.is_valid({"os": "linux", "arch": "arm64"})


def test_fixture_set_is_the_documented_one():
    assert ALL_FIXTURES == ["apple-m2-max", "apple-m2-max-rosetta", "arm-neoverse-v2", "gaudi3-8x", "h100-sxm-8x",
                            "jetson-agx-orin", "mi300x-8x", "tpu-v4-8"]


# --- NVIDIA -----------------------------------------------------------------------------------------


H100 = {"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "count": 8}


def test_h100_server_through_nvml():
    profile = inventory(fixture_machine("h100-sxm-8x"))

    assert profile["os"] == "linux" and profile["arch"] == "x86_64"
    assert profile["cpu"] == {"model": "Intel(R) Xeon(R) Platinum 8480+", "cores": 2, "logical_cores": 4,
                              "flags": ["avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni",
                                        "amx_tile", "amx_bf16"]}
    assert profile["memory_gb"] == 2015.5
    assert profile["accelerators"] == [{**H100, "memory_gb": 79.6, "cores": 132, "compute_capability": "9.0",
                                        "driver": "560.35.03", "source": "NVML"}]
    assert profile["warnings"] == []
    assert profile["provenance"]["accelerators.cuda"] == "NVML 12.560.35.03 via nvidia-ml-py 13.615.71"
    assert "fixed table" in profile["provenance"]["accelerators.cuda.cores"]
    assert profile["provenance"]["memory_gb"] == "/proc/meminfo"


def test_h100_server_with_failing_nvml_falls_back_to_the_driver_files():
    nvml = FailingNvml("Driver/library version mismatch")
    profile = inventory(fixture_machine("h100-sxm-8x", nvml=nvml))

    assert nvml.calls == 1
    assert profile["accelerators"] == [{**H100, "driver": "560.35.03", "source": "/proc/driver/nvidia/gpus"}]
    assert profile["warnings"] == ["NVIDIA device files present but NVML failed: Driver/library version mismatch"]
    assert profile["provenance"]["accelerators.cuda"].startswith("/proc/driver/nvidia/gpus, NVML unavailable")
    assert "NVML: Driver/library version mismatch" in profile["provenance"]["probe_failures"]


def test_without_driver_files_pci_ids_still_count_the_gpus_but_not_the_nvswitch(tmp_path):
    root = copy_root("h100-sxm-8x", tmp_path)
    shutil.rmtree(root / "proc" / "driver")
    profile = inventory(fixture_machine("h100-sxm-8x", root=root, nvml=FailingNvml()))

    assert profile["accelerators"] == [{"kind": "cuda", "name": "NVIDIA GPU (device 0x2330)", "count": 8,
                                        "source": "PCI vendor 0x10de"}]


def test_nvml_is_not_loaded_without_nvidia_signs():
    for name in ("tpu-v4-8", "mi300x-8x", "arm-neoverse-v2", "apple-m2-max"):
        nvml = FailingNvml()
        inventory(fixture_machine(name, nvml=nvml))
        assert nvml.calls == 0, name


def test_a_hanging_nvml_is_abandoned_at_its_deadline(monkeypatch):
    release = threading.Event()

    class HangingNvml:
        def snapshot(self) -> NvmlSnapshot:
            release.wait(10)
            raise NvmlUnavailable("released")

    monkeypatch.setattr(probe_system, "NVML_DEADLINE_S", 0.2)
    try:
        profile = inventory(fixture_machine("h100-sxm-8x", nvml=HangingNvml()))
    finally:
        release.set()
    assert profile["warnings"] == ["NVIDIA device files present but NVML failed: NVML did not answer within 0.2 s"]
    assert profile["accelerators"][0]["count"] == 8


def test_a_crashing_nvml_binding_becomes_a_warning():
    class BrokenNvml:
        def snapshot(self) -> NvmlSnapshot:
            raise OSError("libnvidia-ml.so.1: cannot open shared object file")

    profile = inventory(fixture_machine("h100-sxm-8x", nvml=BrokenNvml()))
    assert profile["warnings"] == ["NVIDIA device files present but NVML failed: "
                                   "OSError: libnvidia-ml.so.1: cannot open shared object file"]


# --- Google TPU -------------------------------------------------------------------------------------


TPU_V4_8 = {"kind": "tpu", "name": "TPU v4-8", "count": 4, "memory_gb": 32.0, "source": "PCI vendor 0x1ae0 (v4)"}


def test_tpu_v4_host():
    profile = inventory(fixture_machine("tpu-v4-8"))

    assert profile["accelerators"] == [TPU_V4_8]  # the gVNIC (also vendor 0x1ae0) is not a TPU
    assert profile["warnings"] == []
    assert "best-known" in profile["provenance"]["accelerators.tpu"]
    assert profile["provenance"]["accelerators.tpu.name"].startswith("env TPU_ACCELERATOR_TYPE")
    assert profile["cpu"]["flags"] == ["avx", "avx2", "fma"]


def test_tpu_name_falls_back_to_the_generation_table():
    profile = inventory(fixture_machine("tpu-v4-8", environ={}))
    assert profile["accelerators"] == [{**TPU_V4_8, "name": "TPU v4"}]


def test_tpu_held_by_a_process_is_reported_with_its_pid(tmp_path):
    root = copy_root("tpu-v4-8", tmp_path)
    (root / "proc/4242/fd").mkdir(parents=True)
    (root / "proc/4242/fd/3").symlink_to("/dev/accel0")
    (root / "proc/4242/fd/4").symlink_to("/dev/null")
    (root / "proc/4242/comm").write_text("python3\n")
    (root / "tmp").mkdir()
    (root / "tmp/libtpu_lockfile").write_text("")  # held by a live process: not stale

    profile = inventory(fixture_machine("tpu-v4-8", root=root))

    assert profile["accelerators"] == [TPU_V4_8]
    assert profile["warnings"] == ["TPU /dev/accel0 is held by PID 4242 (python3): another process cannot use it "
                                   "until that one exits"]


def test_stale_libtpu_lockfile_is_reported(tmp_path):
    root = copy_root("tpu-v4-8", tmp_path)
    (root / "tmp").mkdir()
    (root / "tmp/libtpu_lockfile").write_text("")

    profile = inventory(fixture_machine("tpu-v4-8", root=root))

    assert len(profile["warnings"]) == 1
    assert profile["warnings"][0].startswith("stale /tmp/libtpu_lockfile: no process holds the TPU devices")


# --- Apple silicon -------------------------------------------------------------------------------------


M2_MAX_GPU = {"kind": "apple-gpu", "name": "Apple M2 Max GPU", "count": 1, "memory_gb": 64.0,
              "usable_memory_gb": 48.0, "cores": 38, "driver": "macOS 14.5", "source": "sysctl"}


def test_apple_m2_max():
    profile = inventory(fixture_machine("apple-m2-max"))

    assert (profile["os"], profile["arch"]) == ("darwin", "arm64")
    assert profile["cpu"] == {"model": "Apple M2 Max", "cores": 12, "logical_cores": 12, "flags": ["neon", "bf16"]}
    assert profile["memory_gb"] == 64.0
    assert profile["accelerators"] == [M2_MAX_GPU]
    assert profile["warnings"] == []
    assert profile["provenance"]["accelerators.apple-gpu.usable_memory_gb"].startswith("estimate")


def test_apple_m2_max_under_rosetta_reports_the_hardware_and_warns():
    profile = inventory(fixture_machine("apple-m2-max-rosetta"))

    assert profile["arch"] == "arm64"
    assert "Rosetta 2" in profile["provenance"]["arch"] and "x86_64" in profile["provenance"]["arch"]
    assert profile["warnings"] == [ROSETTA_WARNING]
    assert profile["accelerators"] == [M2_MAX_GPU]


def test_a_small_mac_gets_two_thirds_of_its_memory_as_gpu_working_set():
    spec = json.loads((FIXTURES / "apple-m2-max" / "machine.json").read_text())
    commands = {**spec["commands"], "sysctl -n hw.memsize": str(16 * 1024**3), "sw_vers -productVersion": "13.6.1"}
    profile = inventory(fixture_machine("apple-m2-max", commands=RecordedCommands(commands)))

    assert profile["accelerators"][0]["usable_memory_gb"] == 10.7
    assert profile["warnings"] == ["macOS 13.6.1: current MLX releases need macOS 14 or newer"]


# --- AMD ROCm ---------------------------------------------------------------------------------------------


MI300X = {"kind": "rocm", "name": "AMD Instinct MI300X (gfx942)", "count": 8, "memory_gb": 192.0, "cores": 304,
          "source": "KFD topology"}


def test_mi300x_host():
    profile = inventory(fixture_machine("mi300x-8x"))

    assert profile["accelerators"] == [MI300X]  # the CPU node (simd_count 0) is not a GPU
    assert profile["warnings"] == []
    assert profile["cpu"]["model"] == "AMD EPYC 9654 96-Core Processor"


def test_mi300x_with_an_inaccessible_kfd_says_which_groups_to_join():
    class NoDeviceAccess(System):
        def can_read_write(self, relative: str) -> bool:
            return False

    profile = inventory(fixture_machine("mi300x-8x", system_class=NoDeviceAccess))

    assert profile["accelerators"] == [MI300X]
    assert profile["warnings"] == ["/dev/kfd exists but is not readable by this user: add the user to the render "
                                   "and video groups"]


def test_kfd_topology_without_dev_kfd_points_at_container_flags(tmp_path):
    root = copy_root("mi300x-8x", tmp_path)
    (root / "dev/kfd").unlink()
    profile = inventory(fixture_machine("mi300x-8x", root=root))
    assert profile["warnings"] == ["AMD GPUs are in the KFD topology but /dev/kfd is missing: in a container, "
                                   "pass --device=/dev/kfd --device=/dev/dri"]


def test_the_rocm_release_is_the_driver_the_catalog_compares(tmp_path):
    # The ROCm release (/opt/rocm/.info/version, "version-build") decides the JAX plugin; the amdgpu kernel
    # module's own version numbers something else and is only provenance.
    root = copy_root("mi300x-8x", tmp_path)
    (root / "opt/rocm/.info").mkdir(parents=True)
    (root / "opt/rocm/.info/version").write_text("7.2.0-56\n")
    (root / "sys/module/amdgpu").mkdir(parents=True)
    (root / "sys/module/amdgpu/version").write_text("6.16.6\n")
    profile = inventory(fixture_machine("mi300x-8x", root=root))

    assert profile["accelerators"] == [{**MI300X, "driver": "7.2.0"}]
    assert profile["provenance"]["accelerators.rocm.driver"] == "ROCm release from /opt/rocm/.info/version"
    assert "6.16.6" in profile["provenance"]["accelerators.rocm.amdgpu"]


def test_rocm_path_names_the_rocm_release_to_read(tmp_path):
    root = copy_root("mi300x-8x", tmp_path)
    (root / "opt/rocm-6.4.1/.info").mkdir(parents=True)
    (root / "opt/rocm-6.4.1/.info/version").write_text("6.4.1-120\n")
    profile = inventory(fixture_machine("mi300x-8x", root=root, environ={"ROCM_PATH": "/opt/rocm-6.4.1"}))
    assert profile["accelerators"][0]["driver"] == "6.4.1"


def test_without_a_system_rocm_the_release_is_not_stated():
    assert "driver" not in inventory(fixture_machine("mi300x-8x"))["accelerators"][0]


@pytest.mark.parametrize(("target_version", "arch"), [(90402, "gfx942"), (90010, "gfx90a"), (110000, "gfx1100"),
                                                      (90008, "gfx908"), (0, None), (None, None)])
def test_gfx_target_version_decodes_to_the_gfx_arch(target_version, arch):
    assert gfx_arch(target_version) == arch


# --- NVIDIA Jetson (SYNTHESIZED: jetson-agx-orin) -----------------------------------------------------------


ORIN = {"kind": "cuda", "name": "NVIDIA Jetson AGX Orin Developer Kit", "count": 1, "compute_capability": "8.7",
        "integrated": True, "source": "/proc/device-tree/compatible"}


def test_jetson_orin_is_an_integrated_gpu_found_in_the_device_tree():
    nvml = FailingNvml()
    profile = inventory(fixture_machine("jetson-agx-orin", nvml=nvml))

    assert nvml.calls == 0  # no /dev/nvidia*, no PCI GPU: NVML is not loaded
    assert profile["os"] == "linux" and profile["arch"] == "arm64"
    assert profile["accelerators"] == [ORIN]
    assert profile["warnings"] == []
    assert profile["provenance"]["accelerators.cuda.integrated"] == (
        "Jetson: SoC nvidia,tegra234 from /proc/device-tree/compatible; L4T R36.4.3 from /etc/nv_tegra_release; "
        "compute capability from the SoC (fixed table)")
    assert profile["cpu"]["model"] == "Arm Cortex-A78AE"


def test_a_jetson_without_its_device_tree_still_counts_from_the_l4t_release(tmp_path):
    root = copy_root("jetson-agx-orin", tmp_path)
    shutil.rmtree(root / "proc/device-tree")
    profile = inventory(fixture_machine("jetson-agx-orin", root=root))
    assert profile["accelerators"] == [{"kind": "cuda", "name": "NVIDIA Jetson", "count": 1, "integrated": True,
                                        "source": "/etc/nv_tegra_release"}]


def test_a_jetson_that_nvml_sees_keeps_its_nvml_entry_and_is_marked_integrated(tmp_path):
    # JetPack 7 (Thor) has NVML and /dev/nvidia*: the NVML entry stays, the device tree adds integrated.
    root = copy_root("jetson-agx-orin", tmp_path)
    (root / "proc/device-tree/compatible").write_bytes(b"nvidia,p3834-0008\0nvidia,tegra264\0")
    (root / "dev").mkdir()
    (root / "dev/nvidia0").write_text("")
    nvml = RecordedNvml({"driver_version": "580.00", "nvml_version": "13.580.00", "binding": "fake",
                         "devices": [{"name": "NVIDIA Thor", "memory_bytes": None, "compute_capability": [11, 0]}]})
    profile = inventory(fixture_machine("jetson-agx-orin", root=root, nvml=nvml))
    assert profile["accelerators"] == [{"kind": "cuda", "name": "NVIDIA Thor", "count": 1, "compute_capability": "11.0",
                                        "driver": "580.00", "integrated": True, "source": "NVML"}]


# --- Intel Gaudi (SYNTHESIZED: gaudi3-8x) --------------------------------------------------------------------


GAUDI3 = {"kind": "gaudi", "name": "Intel Gaudi 3", "count": 8, "memory_gb": 128.0, "driver": "1.23.0-695119e",
          "source": "PCI vendor 0x1da3"}


def test_gaudi3_server_from_pci_ids_and_the_habanalabs_driver():
    profile = inventory(fixture_machine("gaudi3-8x"))

    assert profile["accelerators"] == [GAUDI3]
    assert profile["warnings"] == []
    assert "/sys/module/habanalabs/version" in profile["provenance"]["accelerators.gaudi"]


def test_gaudi_on_the_pci_bus_without_device_nodes_says_the_driver_is_not_loaded(tmp_path):
    root = copy_root("gaudi3-8x", tmp_path)
    shutil.rmtree(root / "dev/accel")
    shutil.rmtree(root / "sys/module")
    profile = inventory(fixture_machine("gaudi3-8x", root=root))

    assert profile["accelerators"] == [{key: value for key, value in GAUDI3.items() if key != "driver"}]
    assert profile["warnings"] == ["Intel Gaudi on the PCI bus but no /dev/accel/accel* or /dev/hl* device: the "
                                   "habanalabs driver is not loaded (install habanalabs-dkms), or a container lacks "
                                   "the devices"]


def test_gaudi_device_nodes_this_user_cannot_open_are_named():
    class NoDeviceAccess(System):
        def can_read_write(self, relative: str) -> bool:
            return False

    profile = inventory(fixture_machine("gaudi3-8x", system_class=NoDeviceAccess))
    assert profile["warnings"] == ["Gaudi device /dev/accel/accel0, /dev/accel/accel1, /dev/accel/accel2, "
                                   "/dev/accel/accel3 is not readable and writable by this user"]


# --- CPU-only Arm server, Intel XPU, Windows, odd platforms -----------------------------------------------


def test_cpu_only_arm_server():
    profile = inventory(fixture_machine("arm-neoverse-v2"))

    assert (profile["os"], profile["arch"]) == ("linux", "arm64")  # aarch64 normalised
    assert profile["cpu"] == {"model": "Arm Neoverse-V2", "cores": 8, "logical_cores": 8, "flags": ["neon", "sve", "bf16"]}
    assert profile["memory_gb"] == 15.1
    assert profile["accelerators"] == []
    assert profile["warnings"] == []
    assert profile["provenance"]["accelerators"].startswith("none found")


def write_pci_device(root: Path, address: str, vendor: str, device: str, class_code: str) -> None:
    directory = root / "sys/bus/pci/devices" / address
    directory.mkdir(parents=True)
    for attribute, value in (("vendor", vendor), ("device", device), ("class", class_code)):
        (directory / attribute).write_text(value + "\n")


def test_intel_discrete_gpu_is_listed_and_the_integrated_one_is_noted(tmp_path):
    write_pci_device(tmp_path, "0000:00:02.0", "0x8086", "0xa780", "0x030000")  # Raptor Lake iGPU
    write_pci_device(tmp_path, "0000:03:00.0", "0x8086", "0x56a0", "0x030000")  # Arc A770
    (tmp_path / "sys/bus/pci/drivers/i915").mkdir(parents=True)
    (tmp_path / "sys/bus/pci/devices/0000:03:00.0/driver").symlink_to("../../../bus/pci/drivers/i915")
    system = System(root=tmp_path, commands=RecordedCommands({}), environ={}, platform_system="Linux",
                    machine="x86_64", nvml=FailingNvml(), use_psutil=False)

    profile = inventory(system)

    assert profile["accelerators"] == [{"kind": "intel-xpu", "name": "Intel GPU (device 0x56a0)", "count": 1,
                                        "driver": "i915", "source": "PCI vendor 0x8086"}]
    assert "0xa780" in profile["provenance"]["accelerators.intel-xpu.integrated"]


def test_windows_without_psutil_still_gives_a_valid_profile(tmp_path):
    nvml = FailingNvml()
    system = System(root=tmp_path, commands=RecordedCommands({}), environ={}, platform_system="Windows",
                    machine="AMD64", nvml=nvml, processor="Intel64 Family 6 Model 85 Stepping 7, GenuineIntel",
                    use_psutil=False)

    profile = inventory(system)

    assert (profile["os"], profile["arch"]) == ("windows", "x86_64")
    assert nvml.calls == 1  # no /dev or sysfs to sniff on Windows: NVML is asked directly
    assert profile["accelerators"] == [] and profile["warnings"] == []


def test_unknown_platform_names_are_reported_not_raised(tmp_path):
    system = System(root=tmp_path, commands=RecordedCommands({}), environ={}, platform_system="FreeBSD",
                    machine="riscv64", nvml=FailingNvml(), use_psutil=False)
    profile = inventory(system)
    assert len(profile["warnings"]) == 2 and "'FreeBSD'" in profile["warnings"][0]


# --- the seam itself: failures are recorded, never raised -------------------------------------------------


def test_reads_are_capped_and_failures_recorded(tmp_path):
    (tmp_path / "big").write_text("x" * 100)
    (tmp_path / "a-directory").mkdir()
    system = System(root=tmp_path, nvml=FailingNvml(), use_psutil=False)

    assert system.read_text("big", limit=10) == "x" * 10
    assert system.read_text("a-directory") is None
    assert system.read_text("missing") is None
    assert system.list_dir("missing") == []
    assert len(system.failures) == 2  # the oversized file and the directory; a missing file is normal


def test_the_default_command_runner_never_raises():
    failures: list[str] = []
    assert run_subprocess(["definitely-not-a-command-xyz"], 1.0, failures) is None
    assert run_subprocess([sys.executable, "-c", "import time; time.sleep(5)"], 0.2, failures) is None
    assert run_subprocess([sys.executable, "-c", "raise SystemExit(3)"], 2.0, failures) is None
    assert run_subprocess([sys.executable, "-c", "print('ok')"], 5.0, failures) == "ok\n"
    assert [f.split(": ", 1)[1] for f in failures] == ["not found", "no answer within 0.2 s", "exit status 3"]


def test_the_real_nvml_adapter_answers_or_says_why_not():
    """On a GPU machine this reads the real GPUs; elsewhere it must fail with a reason, not crash."""
    try:
        snapshot = PynvmlAdapter().snapshot()
    except NvmlUnavailable as unavailable:
        assert str(unavailable)
    else:
        assert all(device.name for device in snapshot.devices)
        assert snapshot.binding.startswith(("nvidia-ml-py", "pynvml"))


# --- the real machine ----------------------------------------------------------------------------------------

REAL_MACHINE_SCRIPT = f"""
import json, sys, time
started = time.perf_counter()
from framework_advisor.probes.inventory import take_inventory
profile = take_inventory().model_dump(mode="json", exclude_none=True)
elapsed = time.perf_counter() - started
loaded = sorted(name for name in sys.modules if name.split(".")[0] in {FRAMEWORK_MODULES!r})
print(json.dumps({{"profile": profile, "loaded": loaded, "seconds": elapsed}}))
"""


def test_real_machine_inventory_is_valid_fast_and_imports_no_framework():
    completed = subprocess.run([sys.executable, "-c", REAL_MACHINE_SCRIPT], cwd=REPO_ROOT, capture_output=True,
                               text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, check=False)
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)

    assert result["loaded"] == []
    assert_valid(result["profile"])
    assert result["seconds"] < 3.0, f"take_inventory() took {result['seconds']:.2f} s; it should take well under 1 s"


INSTALLED_SCRIPT = """
import json, sys
from framework_advisor.probes import installed
installed.DISTRIBUTIONS_FILE = installed.Path(sys.argv[1])
versions = installed.installed_versions()
print(json.dumps({"versions": versions, "imported": "rich" in sys.modules}))
"""


def test_installed_versions_reads_metadata_without_importing(tmp_path):
    # rich stands in for a framework: installed here, and never imported by the probe's own modules.
    table = tmp_path / "distributions.json"
    table.write_text(json.dumps({"frameworks": {"rich": ["rich"], "missing": ["no-such-distribution-xyz"],
                                                "second": ["no-such-distribution-xyz", "Rich"]}}))
    completed = subprocess.run([sys.executable, "-c", INSTALLED_SCRIPT, str(table)], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)

    version = importlib.metadata.version("rich")
    assert result["versions"] == {"rich": version, "missing": None, "second": version}
    assert result["imported"] is False
