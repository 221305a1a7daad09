"""``framework-advisor doctor``: a verdict per framework and device, with the cause and the fix.

Every accelerator case here is SYNTHESIZED (no such hardware is attached to this machine): each one starts
from a fixture machine of tests/fixtures/hardware and changes only the lowest seam the doctor reads: files
of the machine's tree (device nodes, /proc/driver/nvidia, /.dockerenv, WSL's library folder, a loader
path's libraries), environment variables, the package metadata of the measured interpreter, and the set-up
results the framework workers write (replayed by tests/fixtures/workers/replay_worker.py). The golden
outputs in tests/fixtures/doctor/ are the doctor's lines for each machine (UPDATE_GOLDEN=1 rewrites them;
read the diff before committing one).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from framework_advisor.doctor import examine, print_diagnosis
from framework_advisor.probes.installed import distributions, installed_versions
from framework_advisor.probes.system import System
from framework_advisor.probes.target import resolve_python
from framework_advisor.probes.vocabulary import FRAMEWORK_IDS, framework_name
from framework_advisor.rules.doctor import verdict_line
from framework_advisor.rules.rulebase import load_rulebase
from tests.conftest import REPO_ROOT
from tests.hardware_fixtures import FIXTURES, FailingNvml, RecordedNvml, copy_root, fixture_machine

WORKERS = Path(__file__).resolve().parent / "fixtures" / "workers"
GOLDEN = Path(__file__).resolve().parent / "fixtures" / "doctor"


@pytest.fixture(scope="module")
def rulebase():
    return load_rulebase()


# --- the seams: a worker's set-up result, an interpreter's packages, a machine's tree ---------------------


def setup_result(framework: str, version: str, devices: list[tuple], unused: list[tuple] = ()) -> dict:
    """A set-up-only WorkerResult (what the worker writes with benchmarks off), SYNTHESIZED."""
    return {"framework": framework, "version": version, "threads": 1, "import_s": 0.5, "first_result_s": 0.1,
            "duration_s": 1.0, "python": "", "build": {},
            "devices": [{"device": device, "name": name, "usable": usable, **({"error": error} if error else {})}
                        for device, name, usable, error in [(*d, None)[:4] for d in devices]],
            "unused_accelerators": [{"kind": kind, "reason": reason, "detail": detail} for kind, reason, detail in unused],
            "benchmarks": [], "errors": [], "skipped": [], "thread_controls": {}}


CPU = ("cpu", "cpu", True)


def interpreter(tmp_path: Path, packages: dict[str, str]) -> Path:
    """An interpreter whose only installed distributions are ``packages`` (dist-info metadata, nothing else):
    this Python with its site-packages off and a folder of SYNTHESIZED metadata on its path."""
    site = tmp_path / "site"
    for name, version in packages.items():
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    site.mkdir(exist_ok=True)
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\nPYTHONPATH='{site}' exec '{sys.executable}' -S \"$@\"\n")
    python.chmod(0o755)
    return python


def machine_tree(name: str, tmp_path: Path, remove: tuple[str, ...] = (), add: dict[str, str] | None = None) -> Path:
    """A copy of fixture machine ``name``'s tree with paths removed (globs) and files added ("-> target" makes a
    symbolic link)."""
    root = copy_root(name, tmp_path) if (FIXTURES / name / "root").exists() else tmp_path / name
    root.mkdir(exist_ok=True)
    for pattern in remove:
        matches = list(root.glob(pattern))
        assert matches, f"{pattern} is not in {name}'s tree"
        for path in matches:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    for relative, content in (add or {}).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if content.startswith("-> "):
            path.symlink_to(content[3:])
        else:
            path.write_text(content)
    return root


def doctor(tmp_path: Path, rulebase, system: System, results: dict[str, dict], packages: dict[str, str] | None = None,
           checked: list[str] | None = None):
    """The real doctor over ``system`` for the ``checked`` frameworks (default: those of ``results``), its workers
    replaying ``results`` (framework -> WorkerResult); the others are not installed."""
    checked = checked or list(results)
    tmp_path.mkdir(parents=True, exist_ok=True)
    recording = tmp_path / "recording.json"
    recording.write_text(json.dumps(results))
    # Each recorded framework is installed in the interpreter, at the recorded version (its first distribution).
    # (A worker recorded as crashing has no version: any will do.)
    frameworks = {distributions()[framework][0]: result.get("version", "1.0").split("+")[0]
                  for framework, result in results.items()}
    python = resolve_python(str(interpreter(tmp_path, {**frameworks, **(packages or {})})))
    return examine(rulebase, python, frameworks=checked, system=system,
                   worker_argv=lambda fw, out, fd: [sys.executable, str(WORKERS / "replay_worker.py"),
                                                    str(recording), fw, str(out), str(fd)])


def verdict(diagnosis, framework: str, device: str):
    [found] = [v for v in diagnosis.verdicts if v.framework == framework and v.device == device]
    return found


# --- golden outputs on each fixture machine ----------------------------------------------------------------

MI300X_RESULTS = {
    "pytorch": setup_result("pytorch", "2.13.0+rocm7.2", [CPU, ("rocm", "AMD Instinct MI300X", True)]),
    "jax": setup_result("jax", "0.10.2", [CPU], [("rocm", "cpu-only-build", "jax 0.10.2 without a jax-rocm plugin: CPU only")]),
    "numpy": setup_result("numpy", "2.4.6", [CPU]),
}
ROSETTA_RESULTS = {
    "pytorch": setup_result("pytorch", "2.2.2", [CPU], [("apple-gpu", "unsupported", "MPS is built but not available "
                                                         "(needs macOS 12.3+ on Apple silicon, native arm64)")]),
    "numpy": setup_result("numpy", "1.26.4", [CPU]),
}


def recorded(machine: str) -> dict[str, dict]:
    return json.loads((WORKERS / f"{machine}.json").read_text())


@pytest.mark.parametrize("machine", ["h100-sxm-8x", "tpu-v4-8", "apple-m2-max", "apple-m2-max-rosetta",
                                     "mi300x-8x", "arm-neoverse-v2"])
def test_the_doctor_on_each_fixture_machine_prints_its_golden_verdicts(machine, tmp_path, rulebase, capsys):
    installed = {"mi300x-8x": MI300X_RESULTS, "apple-m2-max-rosetta": ROSETTA_RESULTS}.get(machine) or recorded(machine)
    diagnosis = doctor(tmp_path, rulebase, fixture_machine(machine), installed, checked=list(FRAMEWORK_IDS))
    lines = [verdict_line(v) for v in diagnosis.verdicts]
    golden = GOLDEN / f"{machine}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text("\n".join(lines) + "\n")
    assert lines == golden.read_text().splitlines(), "\n".join(lines)
    kinds = sorted(diagnosis.hardware.accelerator_kinds()) or ["cpu"]
    assert [(v.framework, v.device) for v in diagnosis.verdicts] == [(f, k) for f in FRAMEWORK_IDS for k in kinds]
    assert {v.framework for v in diagnosis.verdicts if v.status == "not-installed"} <= set(FRAMEWORK_IDS) - set(installed)


# --- each cause, at its seam ---------------------------------------------------------------------------------


H100_PYTORCH_NOT_VISIBLE = setup_result("pytorch", "2.13.0+cu130", [CPU], [
    ("cuda", "not-visible", "RuntimeError: Found no NVIDIA driver on your system.")])


def test_a_cpu_only_build(tmp_path, rulebase):
    found = verdict(doctor(tmp_path, rulebase, fixture_machine("h100-sxm-8x"), {"jax": recorded("h100-sxm-8x")["jax"]}),
                    "jax", "cuda")
    assert (found.works, found.cause) == (False, "cpu-only-build")
    # The fixture's driver is 560: jax[cuda13] needs >= 580, so the fix is the CUDA 12 wheel.
    assert "pip install -U 'jax[cuda12]' flax optax  # a driver older than 580" in found.fix


def test_a_driver_older_than_the_wheels_cuda(tmp_path, rulebase):
    result = setup_result("pytorch", "2.13.0+cu130", [CPU], [("cuda", "driver-mismatch", (
        "RuntimeError: The NVIDIA driver on your system is too old (found version 12020)."))])
    found = verdict(doctor(tmp_path, rulebase, fixture_machine("h100-sxm-8x"), {"pytorch": result}), "pytorch", "cuda")
    assert found.cause == "driver-mismatch" and "580 or newer" in found.fix and "found version 12020" in found.why


def test_a_gpu_architecture_missing_from_the_wheel(tmp_path, rulebase):
    error = "AcceleratorError: CUDA error: no kernel image is available for execution on the device"
    result = setup_result("pytorch", "2.13.0+cu130", [CPU, ("cuda", "Tesla P100-PCIE-16GB", False, error)],
                          [("cuda", "unsupported-arch", error)])
    found = verdict(doctor(tmp_path, rulebase, fixture_machine("h100-sxm-8x"), {"pytorch": result}), "pytorch", "cuda")
    assert found.cause == "unsupported-arch" and "cu126" in found.fix


@pytest.mark.parametrize("message", [
    "CUDA error: no kernel image is available for execution on the device",
    "NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch installation.",
    "HIP error: hipErrorNoBinaryForGpu: Unable to find code object for all current devices!",
])
def test_the_worker_reads_an_architecture_missing_from_the_frameworks_own_words(message):
    from framework_advisor.probes.worker.adapter import classify_device_error

    assert classify_device_error(message) == "unsupported-arch"


def test_an_nvidia_card_without_its_kernel_driver(tmp_path, rulebase):
    root = machine_tree("h100-sxm-8x", tmp_path, remove=("proc/driver/nvidia", "dev/nvidia*"))
    system = fixture_machine("h100-sxm-8x", root=root, nvml=FailingNvml())
    found = verdict(doctor(tmp_path, rulebase, system, {"pytorch": H100_PYTORCH_NOT_VISIBLE}), "pytorch", "cuda")
    assert found.cause == "driver-not-loaded" and found.causes == ["driver-not-loaded", "not-visible"]
    assert "8 NVIDIA GPU(s) on the PCI bus" in found.why and "DKMS" in found.fix


AMD_PCI = {"sys/bus/pci/devices/0000:05:00.0/vendor": "0x1002\n", "sys/bus/pci/devices/0000:05:00.0/device": "0x74a1\n",
           "sys/bus/pci/devices/0000:05:00.0/class": "0x120000\n"}
MI300X_PYTORCH_NOT_VISIBLE = setup_result("pytorch", "2.13.0+rocm7.2", [CPU])


def test_an_amd_card_without_its_kernel_driver_is_still_checked(tmp_path, rulebase):
    """No KFD topology: the inventory lists no ROCm device at all, yet the card is on the PCI bus."""
    root = machine_tree("mi300x-8x", tmp_path, remove=("sys/class/kfd", "dev/kfd"), add=AMD_PCI)
    diagnosis = doctor(tmp_path, rulebase, fixture_machine("mi300x-8x", root=root), {"pytorch": MI300X_PYTORCH_NOT_VISIBLE})
    assert diagnosis.hardware.accelerators == []
    found = verdict(diagnosis, "pytorch", "rocm")
    assert found.cause == "driver-not-loaded" and "modprobe amdgpu" in found.fix


def test_a_container_started_without_the_gpus(tmp_path, rulebase):
    root = machine_tree("h100-sxm-8x", tmp_path, remove=("dev/nvidia*",), add={".dockerenv": ""})
    system = fixture_machine("h100-sxm-8x", root=root, nvml=FailingNvml())
    found = verdict(doctor(tmp_path, rulebase, system, {"pytorch": H100_PYTORCH_NOT_VISIBLE}), "pytorch", "cuda")
    assert found.cause == "device-not-in-container" and "--gpus all" in found.fix and "/.dockerenv" in found.why


def test_a_container_started_without_dev_kfd(tmp_path, rulebase):
    root = machine_tree("mi300x-8x", tmp_path, remove=("dev/kfd",), add={"proc/1/cgroup": "0::/kubepods/besteffort/pod1\n"})
    found = verdict(doctor(tmp_path, rulebase, fixture_machine("mi300x-8x", root=root),
                           {"pytorch": MI300X_PYTORCH_NOT_VISIBLE}), "pytorch", "rocm")
    assert found.cause == "device-not-in-container" and "--device=/dev/kfd" in found.fix and "kubepods" in found.why


def test_jax_parts_at_different_versions(tmp_path, rulebase):
    result = setup_result("jax", "0.10.2", [CPU], [("cuda", "not-visible", (
        "Unable to initialize backend 'cuda': jax-cuda13-plugin 0.9.1 is not compatible with jaxlib 0.10.2"))])
    packages = {"jax": "0.10.2", "jaxlib": "0.10.2", "jax-cuda13-plugin": "0.9.1", "jax-cuda13-pjrt": "0.9.1"}
    found = verdict(doctor(tmp_path, rulebase, fixture_machine("h100-sxm-8x"), {"jax": result}, packages), "jax", "cuda")
    assert found.cause == "jax-versions-disagree" and "jax-cuda13-plugin 0.9.1" in found.why
    assert "pip install -U 'jax[cuda12]' flax optax" in found.fix
    # The same worker output with matching versions: JAX sees no device, and nothing says the versions disagree.
    agreeing = {**packages, "jax-cuda13-plugin": "0.10.2", "jax-cuda13-pjrt": "0.10.2"}
    found = verdict(doctor(tmp_path / "agree", rulebase, fixture_machine("h100-sxm-8x"), {"jax": result}, agreeing),
                    "jax", "cuda")
    assert found.cause == "not-visible"


def test_ld_library_path_hiding_pips_cuda_libraries(tmp_path, rulebase):
    root = machine_tree("h100-sxm-8x", tmp_path, add={"usr/local/cuda-12.4/lib64/libcudnn.so.9": ""})
    system = fixture_machine("h100-sxm-8x", root=root, environ={"LD_LIBRARY_PATH": "/usr/local/cuda-12.4/lib64"})
    result = setup_result("jax", "0.10.2", [CPU], [("cuda", "not-visible", "DNN library initialization failed")])
    packages = {"jax": "0.10.2", "jaxlib": "0.10.2", "jax-cuda13-plugin": "0.10.2", "nvidia-cudnn-cu13": "9.14.0"}
    found = verdict(doctor(tmp_path, rulebase, system, {"jax": result}, packages), "jax", "cuda")
    assert found.cause == "library-path-shadows" and "/usr/local/cuda-12.4/lib64" in found.why
    assert "Unset LD_LIBRARY_PATH" in found.fix


def test_a_platform_without_a_gpu_build(tmp_path, rulebase):
    """TensorFlow on native Windows has no CUDA build after 2.10: the catalog says so, whatever the worker saw."""
    gpu = {"driver_version": "581.42", "nvml_version": "13.581.42", "binding": "fake",
           "devices": [{"name": "NVIDIA GeForce RTX 4090", "memory_bytes": 25757220864, "compute_capability": [8, 9]}]}
    system = System(root=tmp_path / "empty", commands=lambda argv, timeout: None, environ={}, platform_system="Windows",
                    machine="AMD64", nvml=RecordedNvml(gpu), use_psutil=False)
    result = setup_result("tensorflow", "2.21.0", [CPU], [("cuda", "cpu-only-build", "tensorflow 2.21.0 was built without CUDA")])
    found = verdict(doctor(tmp_path, rulebase, system, {"tensorflow": result}), "tensorflow", "cuda")
    assert (found.status, found.cause) == ("no-build", "no-build")
    assert found.fix == ("TensorFlow (Keras) reaches the NVIDIA CUDA here only through an add-on: pip install "
                         "'tensorflow[and-cuda]'  # inside WSL2: no native GPU support on Windows after TensorFlow 2.10")


def test_x86_python_under_rosetta(tmp_path, rulebase):
    diagnosis = doctor(tmp_path, rulebase, fixture_machine("apple-m2-max-rosetta"),
                       {"pytorch": ROSETTA_RESULTS["pytorch"]})
    found = verdict(diagnosis, "pytorch", "apple-gpu")
    assert found.cause == "rosetta" and "native arm64 Python" in found.fix and diagnosis.access.rosetta


WSL_TREE = {"proc/sys/kernel/osrelease": "5.15.167.4-microsoft-standard-WSL2\n", "dev/dxg": "",
            "usr/lib/wsl/lib/libcuda.so.1": ""}


def test_wsl_without_its_libcuda_path(tmp_path, rulebase):
    root = machine_tree("arm-neoverse-v2", tmp_path, add=WSL_TREE)
    system = fixture_machine("arm-neoverse-v2", root=root, nvml=FailingNvml())
    result = setup_result("pytorch", "2.13.0+cu130", [CPU], [("cuda", "not-visible", "libcuda.so.1: cannot open shared object file")])
    found = verdict(doctor(tmp_path, rulebase, system, {"pytorch": result}), "pytorch", "cuda")
    assert found.cause == "wsl-library-path" and "/usr/lib/wsl/lib" in found.fix
    # With WSL's folder configured for the loader, that cause is gone.
    root = machine_tree("arm-neoverse-v2", tmp_path / "configured",
                        add={**WSL_TREE, "etc/ld.so.conf.d/ld.wsl.conf": "/usr/lib/wsl/lib\n"})
    system = fixture_machine("arm-neoverse-v2", root=root, nvml=FailingNvml())
    found = verdict(doctor(tmp_path / "configured", rulebase, system, {"pytorch": result}), "pytorch", "cuda")
    assert found.cause == "not-visible"


def test_gpus_hidden_by_cuda_visible_devices(tmp_path, rulebase):
    system = fixture_machine("h100-sxm-8x", environ={"CUDA_VISIBLE_DEVICES": ""})
    result = setup_result("pytorch", "2.13.0+cu130", [CPU], [("cuda", "hidden", "CUDA_VISIBLE_DEVICES='' hides every GPU")])
    found = verdict(doctor(tmp_path, rulebase, system, {"pytorch": result}), "pytorch", "cuda")
    assert found.cause == "hidden" and "CUDA_VISIBLE_DEVICES=''" in found.why and "Unset CUDA_VISIBLE_DEVICES" in found.fix


def test_a_tpu_held_by_another_process(tmp_path, rulebase):
    root = machine_tree("tpu-v4-8", tmp_path, add={"proc/1/fd/7": "-> /dev/accel0"})
    result = setup_result("jax", "0.10.2", [CPU], [("tpu", "busy", "TPU initialization failed: open(/dev/accel0): Device or resource busy")])
    found = verdict(doctor(tmp_path, rulebase, fixture_machine("tpu-v4-8", root=root), {"jax": result}), "jax", "tpu")
    assert found.cause == "busy" and found.why.startswith("another process holds the device (held by PID 1")
    assert "lsof" in found.fix


def test_a_user_outside_the_render_group(tmp_path, rulebase):
    class NoAccess(System):
        def can_read_write(self, relative: str) -> bool:
            return relative != "dev/kfd"

    system = fixture_machine("mi300x-8x", system_class=NoAccess)
    found = verdict(doctor(tmp_path, rulebase, system, {"pytorch": MI300X_PYTORCH_NOT_VISIBLE}), "pytorch", "rocm")
    assert found.cause == "device-permission" and "usermod -aG render,video" in found.fix


# --- this machine, the CLI and its JSON ----------------------------------------------------------------------


def run_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "framework_advisor", "doctor", *argv], capture_output=True,
                          text=True, timeout=300, cwd=REPO_ROOT)


def test_the_doctor_on_this_machine_says_every_installed_framework_works_on_the_cpu(tmp_path):
    """This machine has no accelerator: one CPU line per framework, each installed one working, at the version
    its metadata gives."""
    done = run_cli("--json", str(tmp_path / "doctor.json"))
    assert done.returncode == 0, done.stderr
    versions = installed_versions(FRAMEWORK_IDS)
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"Python {sys.version.split()[0]} at ")
    expected = [f"ok    {framework_name(f)} {versions[f]} on CPU: works" if versions[f] else
                f"--    {framework_name(f)} on CPU: not installed in this Python. Fix: Install it: "
                for f in FRAMEWORK_IDS]
    for line, start in zip(lines[1:], expected):
        assert line.startswith(start), (line, start)
    assert lines[-1] == "No problems found."
    document = json.loads((tmp_path / "doctor.json").read_text())
    assert [(v["framework"], v["device"], v["works"]) for v in document["verdicts"]] == [
        (f, "cpu", bool(versions[f])) for f in FRAMEWORK_IDS]
    assert document["python"]["executable"] == sys.executable and document["access"]["os"] == "linux"


def test_the_doctor_checks_another_interpreter_and_prints_json_to_stdout(tmp_path):
    python = interpreter(tmp_path, {})
    done = run_cli("--python", str(python), "--frameworks", "numpy", "--json", "-")
    assert done.returncode == 0, done.stderr
    [numpy] = json.loads(done.stdout)["verdicts"]
    assert (numpy["status"], numpy["cause"]) == ("not-installed", "not-installed")
    assert numpy["fix"] == "Install it: pip install numpy"


def test_a_bad_interpreter_is_a_one_line_usage_error(tmp_path):
    done = run_cli("--python", str(tmp_path / "missing"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"framework-advisor: error: --python {tmp_path / 'missing'}: no such file"


def test_a_problem_is_exit_status_one_and_is_counted(tmp_path, rulebase, capsys):
    diagnosis = doctor(tmp_path, rulebase, fixture_machine("h100-sxm-8x"), {"jax": recorded("h100-sxm-8x")["jax"]})
    assert not diagnosis.all_work
    print_diagnosis(diagnosis)
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "1 problem(s), in JAX: fix the first line of each first."


def test_the_documentation_explains_every_cause_in_the_order_the_doctor_uses():
    from framework_advisor.probes.access import CAUSES
    from framework_advisor.rules.doctor import PRECEDENCE

    text = (REPO_ROOT / "docs" / "doctor.md").read_text()
    table = {line.split("`")[1] for line in text.splitlines() if line.startswith("| `")}
    assert table == set(CAUSES) == set(PRECEDENCE)
    order = text.split("the first of this order is shown first:")[1].split("(what makes")[0]
    assert [part.strip().strip("`") for part in order.replace("\n", " ").split(",")] == list(PRECEDENCE)
