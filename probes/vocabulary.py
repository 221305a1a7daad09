"""The project's vocabulary, defined once: framework ids and display names, goals, experience levels,
device kinds, operating systems, architectures and the probe's benchmarks.

Everything else reads these: the models (and so openapi.yaml, generated from them), the rule schema and
facts.yaml, the catalog, the form (through ``GET /v1/vocabulary``), the CLI and the audit.
tests/test_vocabulary.py fails when a full copy of a list appears anywhere else.

It sits in ``probes`` because that is the lowest layer: the worker, the rules and the service all import
it. Standard library only, like the worker that may run in another interpreter.
"""

from __future__ import annotations

from typing import Literal

# Display names are what every front end shows: the ranking, the chart, the audit and the CLI.
FRAMEWORK_NAMES: dict[str, str] = {
    "pytorch": "PyTorch",
    "jax": "JAX",
    "mlx": "MLX",
    "tensorflow": "TensorFlow (Keras)",
    "numpy": "NumPy",
}
GOAL_LABELS: dict[str, str] = {
    "learning": "Learning deep learning",
    "research": "Research",
    "production": "Production serving",
    "mobile-edge": "Mobile / edge",
    "apple-on-device": "On-device on Apple",
    "scientific-computing": "Scientific computing",
    "large-scale-training": "Large-scale training",
    "pretrained-models": "Using pretrained models",
}
EXPERIENCE_LABELS: dict[str, str] = {"beginner": "Beginner", "intermediate": "Intermediate", "expert": "Expert"}
# In the order a user would want them used: the first one a machine has is its best accelerator.
ACCELERATOR_LABELS: dict[str, str] = {
    "cuda": "NVIDIA CUDA",
    "rocm": "AMD ROCm",
    "tpu": "Google TPU",
    "apple-gpu": "Apple GPU",
    "gaudi": "Intel Gaudi",
    "intel-xpu": "Intel XPU",
}
DEVICE_LABELS: dict[str, str] = {"cpu": "CPU", **ACCELERATOR_LABELS}
OS_LABELS: dict[str, str] = {"linux": "Linux", "darwin": "macOS", "windows": "Windows"}
ARCH_LABELS: dict[str, str] = {"x86_64": "x86_64", "arm64": "arm64"}
# The probe's benchmarks (the worker's records name them; the chart and the audit show these labels).
BENCHMARK_LABELS: dict[str, str] = {
    "matmul_fp32": "Matrix multiply (fp32)",
    "matmul_bf16": "Matrix multiply (bf16)",
    "conv2d": "2-D convolution",
    "elementwise_bandwidth": "Element-wise bandwidth",
    "dispatch_latency": "Dispatch latency",
    "mlp_step_eager": "MLP training step (eager)",
    "mlp_step_compiled": "MLP training step (compiled)",
    "h2d_copy": "Host-to-device copy",
}

FRAMEWORK_IDS: tuple[str, ...] = tuple(FRAMEWORK_NAMES)
GOALS: tuple[str, ...] = tuple(GOAL_LABELS)
EXPERIENCE_LEVELS: tuple[str, ...] = tuple(EXPERIENCE_LABELS)
ACCELERATOR_KINDS: tuple[str, ...] = tuple(ACCELERATOR_LABELS)
DEVICES: tuple[str, ...] = tuple(DEVICE_LABELS)
OPERATING_SYSTEMS: tuple[str, ...] = tuple(OS_LABELS)
ARCHITECTURES: tuple[str, ...] = tuple(ARCH_LABELS)
BENCHMARK_NAMES: tuple[str, ...] = tuple(BENCHMARK_LABELS)

# Literal[tuple] unpacks to the tuple's members, so the types follow the tuples above.
FrameworkId = Literal[FRAMEWORK_IDS]  # type: ignore[valid-type]
Goal = Literal[GOALS]  # type: ignore[valid-type]
Experience = Literal[EXPERIENCE_LEVELS]  # type: ignore[valid-type]
AcceleratorKind = Literal[ACCELERATOR_KINDS]  # type: ignore[valid-type]
Device = Literal[DEVICES]  # type: ignore[valid-type]
Os = Literal[OPERATING_SYSTEMS]  # type: ignore[valid-type]
Arch = Literal[ARCHITECTURES]  # type: ignore[valid-type]
BenchmarkName = Literal[BENCHMARK_NAMES]  # type: ignore[valid-type]

# The lists a rule file's facts may take their values from (facts.yaml: `vocabulary: goals`).
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "frameworks": FRAMEWORK_IDS,
    "goals": GOALS,
    "experience": EXPERIENCE_LEVELS,
    "accelerators": ACCELERATOR_KINDS,
    "devices": DEVICES,
    "os": OPERATING_SYSTEMS,
    "arch": ARCHITECTURES,
}


def framework_name(framework_id: str) -> str:
    return FRAMEWORK_NAMES.get(framework_id, framework_id)


def device_label(device: str) -> str:
    return DEVICE_LABELS.get(device, device)
