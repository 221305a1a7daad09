"""What a framework can make of this machine's accelerators and memory, as facts for the rules
(rules/base/rules-capacity.yaml): the accelerator devices it would leave idle, and the model sizes that
fit the memory of the device it would use.

Only arithmetic lives here; which framework has which route (a 4-bit loader, a multi-host launcher) is
said by the rules, which test ``<framework>.device``. The sizing assumptions, also in rules/README.md:

- inference holds the weights: 2 bytes a parameter in 16-bit (bf16/fp16), about 4.5 bits (0.5625 bytes) in
  4-bit formats with their per-group scales (NF4, MLX's q4), plus 20% headroom for activations, the KV cache
  and the framework's own buffers;
- training with Adam in mixed precision holds 16 bytes a parameter (16-bit weights and gradients, fp32
  master weights and two fp32 moments: the ZeRO paper's count), plus the same 20%, before activations;
- a model is split across all devices of one kind in the machine (tensor or pipeline parallel, FSDP), so
  the machine's pool is their memory added up; the CPU and an Apple GPU are one device;
- an Apple GPU addresses only Metal's recommended working set of the unified memory (the accelerator's
  ``usable_memory_gb``; for a described Mac the inventory's own estimate, see ``apple_gpu_working_set_gb``).
"""

from __future__ import annotations

import math
from typing import Any

from framework_advisor.probes.hardware import Accelerator, HardwareProfile
from framework_advisor.rules.catalog import platform_for
from framework_advisor.rules.schema import FrameworkEntry

HEADROOM = 1.2
BYTES_16BIT = 2.0
BYTES_4BIT = 0.5625
BYTES_TRAINING = 16.0
# Reference models the reasons measure a machine against (parameters, in billions).
REFERENCE_MODEL_B = 70
LARGEST_OPEN_MODEL_B = 405
# Apple GPUs: their memory is the machine's unified memory, of which Metal lets them address a working set.
UNIFIED_MEMORY_KINDS = frozenset({"apple-gpu"})
# As probes/inventory/apple.py: Metal's recommended working set is about 75% of unified memory on large Macs,
# about 2/3 on others (tests/test_capacity.py holds the two to the same figures).
LARGE_UNIFIED_MEMORY_GB = 36


def apple_gpu_working_set_gb(unified_gb: float) -> float:
    share = 0.75 if unified_gb > LARGE_UNIFIED_MEMORY_GB else 2 / 3
    return round(unified_gb * share, 1)


def _gb_per_billion(bytes_per_parameter: float) -> float:
    return bytes_per_parameter * HEADROOM


def _shares_memory(accelerator: Accelerator) -> bool:
    """An Apple GPU, or an integrated GPU (a Jetson's): its memory is the machine's, shared with the CPU."""
    return accelerator.kind in UNIFIED_MEMORY_KINDS or bool(getattr(accelerator, "integrated", None))


def _device_memory(accelerator: Accelerator, hardware: HardwareProfile) -> float | None:
    """The memory one device of this accelerator gives a framework for a model, or None when unknown."""
    if accelerator.usable_memory_gb:
        return accelerator.usable_memory_gb
    if _shares_memory(accelerator):
        shared = accelerator.memory_gb or hardware.memory_gb
        if accelerator.kind in UNIFIED_MEMORY_KINDS and shared:
            return apple_gpu_working_set_gb(shared)
        return shared or None
    return accelerator.memory_gb or None


def _memory(device: str, hardware: HardwareProfile) -> tuple[int, float | None, float | None]:
    """(devices, one device's memory, all of them together) for the device a framework uses."""
    if device == "cpu":
        memory = hardware.memory_gb or None
        return 1, memory, memory
    same = [a for a in hardware.accelerators if a.kind == device]
    count = sum(a.count for a in same)
    sizes = [(a.count, _device_memory(a, hardware)) for a in same]
    known = [size for _, size in sizes if size]
    if any(_shares_memory(a) for a in same):
        one = max(known, default=None)
        return 1, one, one
    if len(known) < len(sizes):  # a device of unknown memory: the pool is unknown too
        return count, max(known, default=None), None
    return count, max(known, default=None), sum(n * size for n, size in sizes) or None


def _idle(entry: FrameworkEntry, device: str, hardware: HardwareProfile) -> int:
    """The accelerator devices of kinds the framework has no build for here."""
    platform = platform_for(entry, hardware.os, hardware.arch)
    usable = set(platform.devices) if platform is not None else {device}
    return sum(a.count for a in hardware.accelerators if a.kind not in usable)


def _how_many(needed_gb: float, each_gb: float) -> int:
    """Devices (or hosts) of ``each_gb`` that hold ``needed_gb``; a described memory of a few bytes (5e-324 GB)
    would make it infinite, so it stops at a billion."""
    return min(math.ceil(min(needed_gb / each_gb, 1e9)), 10**9)


def capacity_facts(framework_id: str, entry: FrameworkEntry, device: str, hardware: HardwareProfile
                   ) -> dict[str, Any]:
    """The per-framework capacity facts (declared in rules/base/facts.yaml) for a framework that runs here on
    ``device``. Sizes are in billions of parameters; a fact whose memory is unknown is left out."""
    facts: dict[str, Any] = {}
    facts[f"{framework_id}.idle_accelerators"] = _idle(entry, device, hardware)
    count, one, pool = _memory(device, hardware)
    facts[f"{framework_id}.device_count"] = count
    if one:
        facts[f"{framework_id}.device_memory_gb"] = round(one, 1)
        facts[f"{framework_id}.fit_16bit_b"] = round(one / _gb_per_billion(BYTES_16BIT), 1)
        facts[f"{framework_id}.devices_for_70b"] = _how_many(REFERENCE_MODEL_B * _gb_per_billion(BYTES_16BIT), one)
    if pool:
        facts[f"{framework_id}.pool_memory_gb"] = round(pool, 1)
        facts[f"{framework_id}.fit_16bit_all_b"] = round(pool / _gb_per_billion(BYTES_16BIT), 1)
        facts[f"{framework_id}.fit_4bit_b"] = round(pool / _gb_per_billion(BYTES_4BIT), 1)
        facts[f"{framework_id}.train_fit_b"] = round(pool / _gb_per_billion(BYTES_TRAINING), 1)
        facts[f"{framework_id}.hosts_for_405b"] = _how_many(LARGEST_OPEN_MODEL_B * _gb_per_billion(BYTES_16BIT), pool)
        facts[f"{framework_id}.hosts_for_70b_training"] = _how_many(
            REFERENCE_MODEL_B * _gb_per_billion(BYTES_TRAINING), pool)
    return facts
