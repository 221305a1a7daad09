"""Fixes for an unused accelerator come from the catalog only: a remedy per reason, the device's install
command (an install row, else an add-on), over the recorded fixture machines and every reason."""

from __future__ import annotations

import itertools

import pytest

from framework_advisor.probes.hardware import HardwareProfile
from framework_advisor.probes.inventory import take_inventory
from framework_advisor.probes.vocabulary import FRAMEWORK_IDS, device_label, framework_name
from framework_advisor.probes.access import CAUSES
from framework_advisor.probes.worker.records import UNUSED_REASONS, UnusedAccelerator
from framework_advisor.rules.catalog import install_row, matching_row
from framework_advisor.rules.remedies import fix_for, install_text
from hardware_fixtures import FIXTURES, fixture_machine

MACHINES = sorted(path.name for path in FIXTURES.iterdir() if (path / "machine.json").is_file())


def _profile(name: str) -> HardwareProfile:
    profile = take_inventory(fixture_machine(name))
    return profile if isinstance(profile, HardwareProfile) else HardwareProfile.model_validate(profile)


@pytest.fixture(scope="module")
def profiles():
    return {name: _profile(name) for name in MACHINES}


WINDOWS_RTX = HardwareProfile.model_validate({
    "os": "windows", "arch": "x86_64", "cpu": {"model": "AMD Ryzen 7 7800X3D", "cores": 8},
    "accelerators": [{"kind": "cuda", "name": "NVIDIA GeForce RTX 4070", "count": 1}]})
LINUX_ARC = HardwareProfile.model_validate({
    "os": "linux", "arch": "x86_64", "accelerators": [{"kind": "intel-xpu", "name": "Intel Arc A770"}]})


def _unused(kind: str, reason: str) -> UnusedAccelerator:
    return UnusedAccelerator(kind=kind, reason=reason, detail="what the worker saw")


def test_every_cause_has_a_remedy(rulebase):
    assert set(rulebase.remedies) == set(CAUSES) and set(UNUSED_REASONS) < set(CAUSES)


def test_every_machine_framework_and_reason_gets_a_fix_composed_from_the_catalog(rulebase, profiles):
    machines = [*profiles.values(), WINDOWS_RTX, LINUX_ARC]
    seen_kinds = set()
    for hardware, framework_id, reason in itertools.product(machines, FRAMEWORK_IDS, UNUSED_REASONS):
        for kind in sorted(hardware.accelerator_kinds()):
            seen_kinds.add(kind)
            fix = fix_for(rulebase, framework_id, _unused(kind, reason), hardware)
            context = (hardware.os, hardware.arch, framework_id, kind, reason, fix)
            assert fix and "{" not in fix and "}" not in fix, context
            assert framework_name(framework_id) in fix or device_label(kind) in fix, context
            row = install_row(rulebase.frameworks[framework_id], kind, hardware, with_addons=True)
            if row is not None and "{install}" in rulebase.remedies[reason].fix_for(kind, True):
                assert install_text(row) in fix, context
            assert "what the worker saw" not in fix, "the fix is catalog data; the detail is the worker's"
    assert seen_kinds == {"apple-gpu", "cuda", "rocm", "tpu", "gaudi", "intel-xpu"}


def test_the_command_in_a_fix_is_the_install_command_shown_for_that_device(rulebase, profiles):
    """One answer never shows two commands for one thing: an install row wins over an add-on (and a no_build row
    leaves the device without a command, add-ons included)."""
    for hardware in (*profiles.values(), WINDOWS_RTX, LINUX_ARC):
        for framework_id, kind in itertools.product(FRAMEWORK_IDS, hardware.accelerator_kinds()):
            entry = rulebase.frameworks[framework_id]
            own = matching_row(entry, kind, hardware)
            row = install_row(entry, kind, hardware, with_addons=True)
            if own is not None:
                assert row is (None if own.no_build else own)


@pytest.mark.parametrize("machine,framework_id,kind,reason,expected", [
    # The workers' old fix strings, now catalog data.
    ("tpu-v4-8", "pytorch", "tpu", "unsupported", "pip install torch 'torch_xla[tpu]'  # PyTorch reaches TPUs only through PyTorch/XLA"),
    ("tpu-v4-8", "jax", "tpu", "cpu-only-build", "pip install -U 'jax[tpu]' flax optax"),
    ("mi300x-8x", "tensorflow", "rocm", "cpu-only-build",
     "pip install tensorflow-rocm  # AMD's build; upstream TensorFlow has no ROCm wheels"),
    ("mi300x-8x", "pytorch", "rocm", "driver-mismatch", "pip install torch --index-url https://download.pytorch.org/whl/rocm7.2"),
    ("mi300x-8x", "jax", "rocm", "not-visible",
     "pip install -U 'jax[rocm7-local]' flax optax  # the plugin for the ROCm 7.x installed on the host"),
    # The H100 fixture's driver is 560: CUDA 12 builds (PyTorch's cu126, mlx[cuda12]), not CUDA 13.
    ("h100-sxm-8x", "pytorch", "cuda", "cpu-only-build",
     ": pip install 'torch==2.14.*' --index-url https://download.pytorch.org/whl/cu126  # a driver older than 580"),
    ("h100-sxm-8x", "tensorflow", "cuda", "not-visible", "pip install 'tensorflow[and-cuda]'"),
    ("h100-sxm-8x", "mlx", "cuda", "cpu-only-build", "pip install 'mlx[cuda12]'  # a driver older than 580"),
    ("h100-sxm-8x", "jax", "cuda", "cpu-only-build", "pip install -U 'jax[cuda12]' flax optax"),
    ("jetson-agx-orin", "pytorch", "cuda", "cpu-only-build", "pip install torch --index-url https://pypi.jetson-ai-lab.io/jp6/cu126"),
    ("gaudi3-8x", "pytorch", "gaudi", "cpu-only-build", "habanalabs-installer.sh install --type pytorch"),
    ("h100-sxm-8x", "pytorch", "cuda", "hidden", "Unset CUDA_VISIBLE_DEVICES"),
    ("h100-sxm-8x", "jax", "cuda", "busy", "Another process holds the NVIDIA CUDA device"),
    ("apple-m2-max", "pytorch", "apple-gpu", "cpu-only-build", "pip install torch  # with a native arm64 Python on macOS 14+"),
    ("apple-m2-max", "tensorflow", "apple-gpu", "cpu-only-build", "pip install keras torch  # then set KERAS_BACKEND=torch"),
    ("apple-m2-max", "mlx", "apple-gpu", "unsupported", "pip install mlx  # with a native arm64 Python on macOS 14+"),
    ("apple-m2-max", "jax", "apple-gpu", "unsupported", "JAX has no Apple GPU support: use a framework with a backend"),
    ("h100-sxm-8x", "numpy", "cuda", "unsupported", "NumPy has no NVIDIA CUDA support: use a framework with a backend"),
])
def test_fixes_on_the_fixture_machines(rulebase, profiles, machine, framework_id, kind, reason, expected):
    fix = fix_for(rulebase, framework_id, _unused(kind, reason), profiles[machine])
    assert expected in fix, fix


def test_add_ons_the_workers_knew_are_catalog_rows(rulebase):
    assert "WSL2" in install_text(install_row(rulebase.frameworks["tensorflow"], "cuda", WINDOWS_RTX, with_addons=True))
    fix = fix_for(rulebase, "tensorflow", _unused("cuda", "unsupported"), WINDOWS_RTX)
    assert "pip install 'tensorflow[and-cuda]'  # inside WSL2" in fix, fix
    fix = fix_for(rulebase, "tensorflow", _unused("intel-xpu", "cpu-only-build"), LINUX_ARC)
    assert "pip install 'intel-extension-for-tensorflow[xpu]'" in fix, fix
    for framework_id, device in (("pytorch", "tpu"), ("tensorflow", "rocm"), ("tensorflow", "intel-xpu"),
                                 ("tensorflow", "apple-gpu")):
        addon = next(a for a in rulebase.frameworks[framework_id].addons if a.device == device)
        assert addon.refs and all(ref.startswith("https://") for ref in addon.refs)


def test_add_ons_never_become_the_engines_device_or_install_rows(rulebase):
    """Add-ons are for fixes: the platforms alone decide a framework's device, as before."""
    for entry in rulebase.frameworks.values():
        install_keys = {(row.device, o, a) for row in entry.install for o in row.os for a in row.arch}
        for addon in entry.addons:
            assert not {(addon.device, o, a) for o in addon.os for a in addon.arch} & install_keys
