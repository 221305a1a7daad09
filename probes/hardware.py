"""The HardwareProfile: what a machine has, as the inventory finds it or a user describes it.

One model for the API (requests and answers), the CLI's ``--hardware FILE``, the form, the probe report
and the rule engine; openapi.yaml's schemas are generated from it. The limits below are the contract's:
the inventory clips what a machine hands it to them (``probes.inventory.hardware_profile``).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_serializer, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from framework_advisor.probes.vocabulary import (ACCELERATOR_LABELS, ARCHITECTURES, OPERATING_SYSTEMS, OS_LABELS,
                                               AcceleratorKind, Arch, Os)

MAX_LIST_ITEMS = 64
MAX_NAME_CHARS = 200
MAX_WARNING_CHARS = 500
MAX_PROVENANCE_CHARS = 300
MAX_DRIVER_CHARS = 100


def absent(description: str | None = None, **schema: Any) -> Any:
    """A field a document may leave out but not send as null: its type has no None (so an explicit null is an
    error, as it was before the models), its value is None when absent, and its schema shows no default.
    ``schema`` adds JSON Schema keywords pydantic has no argument for (uniqueItems)."""
    def extra(field_schema: dict) -> None:
        field_schema.pop("default", None)
        field_schema.update(schema)

    return Field(None, description=description, json_schema_extra=extra)


class Strict(BaseModel):
    """Unknown keys are errors; models are immutable values once validated.

    Collections a request can carry are lists, not tuples: pydantic checks a list's length before its items,
    a tuple's only after validating every item (a 1 MiB body of empty objects would cost 100,000 errors).
    Documents are written without the fields that have no value (``exclude_none``), except those a model
    names in ``kept_nulls``, where null says something ("not installed here", "no probe entered")."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kept_nulls: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _with_kept_nulls(self, handler: Any) -> Any:
        data = handler(self)
        if self is None:  # an absent field (its type has no None) written out as null
            return data
        for name in self.kept_nulls:
            if isinstance(data, dict) and name not in data and getattr(self, name) is None:
                data[name] = None
        return data


class Cpu(Strict):
    model: Annotated[str, Field(max_length=MAX_NAME_CHARS)]
    cores: Annotated[int, Field(ge=1, le=4096, description="Physical cores.")]
    logical_cores: Annotated[int, Field(ge=1, le=8192)] = absent()
    flags: Annotated[list[Annotated[str, Field(max_length=32)]], Field(
        max_length=MAX_LIST_ITEMS,
        description="ISA extensions that matter for numeric work (avx2, avx512f, amx_tile, neon, sve...).")] = Field(
        default_factory=list)


class Accelerator(Strict):
    kind: AcceleratorKind
    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]
    count: Annotated[int, Field(ge=1, le=65536)] = 1
    memory_gb: Annotated[float, Field(ge=0, le=1_000_000)] = absent()
    usable_memory_gb: Annotated[float, Field(ge=0, le=1_000_000)] = absent(
        "Memory the accelerator can use (on unified-memory parts, less than the total).")
    cores: Annotated[int, Field(ge=0, le=1_000_000)] = absent("SMs, CUs, Xe cores or GPU cores.")
    compute_capability: Annotated[str, Field(pattern=r"^[0-9]{1,2}\.[0-9]{1,2}$")] = absent(
        "NVIDIA only: the GPU generation (6.1 Pascal, 7.0 Volta, 7.5 Turing, 8.x Ampere/Ada, 9.0 Hopper, 10.x/12.x "
        "Blackwell); with the driver it decides which CUDA build runs.")
    driver: Annotated[str, Field(max_length=MAX_DRIVER_CHARS)] = absent(
        "The version of the software stack that decides which builds run, by kind: cuda: the NVIDIA driver "
        "(580.95.05; NVML, else /sys/module/nvidia/version or /proc/driver/nvidia/version); rocm: the ROCm release "
        "(7.2.0; /opt/rocm/.info/version); gaudi: the habanalabs driver; apple-gpu: the macOS version; "
        "intel-xpu: the kernel driver's name (i915, xe).")
    integrated: bool = absent(
        "true: a GPU built into the system-on-chip that shares the host's memory (NVIDIA Jetson, DGX Spark's GB10); "
        "absent or false: a discrete card. The inventory sets it for Jetson (/etc/nv_tegra_release, the device tree).")
    source: Annotated[str, Field(max_length=MAX_NAME_CHARS)] = absent("How the device was found.")


# Where each kind of accelerator can exist: its operating systems and architectures (None: any). The validator
# below, the JSON Schema of a HardwareProfile (so openapi.yaml says it too) and the linter's worlds read this.
ACCELERATOR_HOSTS: dict[str, tuple[tuple[str, ...], tuple[str, ...] | None]] = {
    "cuda": (("linux", "windows"), None),  # CUDA for macOS ended with 10.2 (2019)
    "rocm": (("linux", "windows"), None),
    "tpu": (("linux",), None),  # Cloud TPU VMs
    "apple-gpu": (("darwin",), ("arm64",)),  # Apple silicon only
    "gaudi": (("linux",), ("x86_64",)),  # Intel Gaudi servers
    "intel-xpu": (("linux", "windows"), None),
}
# The architectures an integrated accelerator of a kind exists on (a kind not listed: any). NVIDIA's integrated GPUs
# are on Arm SoCs (Jetson, GB10); TPUs and Gaudi cards are never integrated.
INTEGRATED_ARCHS: dict[str, tuple[str, ...]] = {"cuda": ("arm64",), "tpu": (), "gaudi": ()}


def impossible_accelerator(os_name: str, arch: str, kind: str, integrated: bool = False) -> str | None:
    """Why no machine has a ``kind`` accelerator under ``os_name`` on ``arch`` (None: such machines exist). The
    HardwareProfile validator refuses such descriptions and the linter's worlds (rules/lint/worlds.py) leave them out.
    Only what cannot exist is refused; what merely has no build of some framework is the catalog's business."""
    oses, archs = ACCELERATOR_HOSTS.get(kind, (None, None))
    label = ACCELERATOR_LABELS.get(kind, kind)
    where = f"{OS_LABELS.get(os_name, os_name)} {arch}"
    if (oses is not None and os_name not in oses) or (archs is not None and arch not in archs):
        if kind == "apple-gpu" and os_name == "darwin":
            return ("an Apple GPU exists only in an Apple-silicon Mac (darwin arm64); an Intel Mac (darwin x86_64) "
                    "has none that a framework can use: describe it with no accelerators")
        if kind == "apple-gpu":
            return f"an Apple GPU exists only in an Apple-silicon Mac (darwin arm64), not in a {where} machine"
        if os_name == "darwin":
            return (f"macOS has no {label} support (frameworks reach only the Apple GPU there): describe a Mac with "
                    "an apple-gpu accelerator (Apple silicon) or none (Intel Macs)")
        if kind == "tpu":
            return f"Cloud TPUs are attached to Linux hosts (TPU VMs) only, not to a {where} machine"
        if kind == "gaudi":
            return f"Intel Gaudi accelerators run in Linux x86_64 servers (Intel Gaudi software), not in a {where} machine"
        return f"no {label} accelerator exists in a {where} machine"
    if integrated and kind in INTEGRATED_ARCHS and arch not in INTEGRATED_ARCHS[kind]:
        if not INTEGRATED_ARCHS[kind]:
            return f"'integrated' describes GPUs built into the processor; a {label} is a separate accelerator"
        return ("NVIDIA's integrated GPUs (Jetson, GB10) are on Arm systems (arch arm64); an x86_64 machine has none: "
                "drop 'integrated' for a discrete card")
    return None


def _no_accelerator(kinds: list[str]) -> dict[str, Any]:
    return {"properties": {"accelerators": {"items": {"properties": {"kind": {"not": {"enum": kinds}}}}}}}


def _can_exist_schema(schema: dict[str, Any]) -> None:
    """The machines that cannot exist, in JSON Schema (if/then), so the contract says what the validator refuses."""
    rules = []
    for field, values, index in (("os", OPERATING_SYSTEMS, 0), ("arch", ARCHITECTURES, 1)):
        for value in values:
            barred = [kind for kind, hosts in ACCELERATOR_HOSTS.items()
                      if hosts[index] is not None and value not in hosts[index]]
            if barred:
                rules.append({"if": {"properties": {field: {"const": value}}}, "then": _no_accelerator(barred)})
    for kind, archs in INTEGRATED_ARCHS.items():
        integrated = {"properties": {"kind": {"const": kind}, "integrated": {"const": True}},
                      "required": ["kind", "integrated"]}
        barred = {"properties": {"accelerators": {"items": {"not": integrated}}}}
        if not archs:
            rules.append(barred)
        else:
            rules.append({"if": {"properties": {"arch": {"not": {"enum": list(archs)}}}}, "then": barred})
    schema["allOf"] = rules


class HardwareProfile(Strict):
    """A machine. An empty ``accelerators`` list means CPU only. A description that cannot exist (an Apple GPU off
    an Apple-silicon Mac, a TPU on Windows ...) is refused, each accelerator at fault with its own error."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_can_exist_schema)

    os: Os
    arch: Arch
    cpu: Cpu = absent()
    memory_gb: Annotated[float, Field(ge=0, le=1_000_000)] = absent()
    accelerators: Annotated[list[Accelerator], Field(max_length=MAX_LIST_ITEMS)] = Field(
        default_factory=list, description="Empty means CPU only.")
    warnings: Annotated[list[Annotated[str, Field(max_length=MAX_WARNING_CHARS)]], Field(
        max_length=MAX_LIST_ITEMS,
        description="Things the inventory noticed that a user should know (Rosetta, inaccessible devices).")] = Field(
        default_factory=list)
    provenance: Annotated[dict[str, Annotated[str, Field(max_length=MAX_PROVENANCE_CHARS)]], Field(
        max_length=MAX_LIST_ITEMS,
        description="How each fact was obtained (file, command or library), by fact name.")] = Field(
        default_factory=dict)

    @model_validator(mode="after")
    def _can_exist(self) -> HardwareProfile:
        errors = []
        for position, accelerator in enumerate(self.accelerators):
            why = impossible_accelerator(self.os, self.arch, accelerator.kind, bool(accelerator.integrated))
            if why is not None:
                field = "kind" if impossible_accelerator(self.os, self.arch, accelerator.kind) else "integrated"
                errors.append(InitErrorDetails(type=PydanticCustomError("impossible_hardware", why),
                                               loc=("accelerators", position, field),
                                               input=getattr(accelerator, field)))
        if errors:  # raised as a ValidationError, pydantic keeps each error's location (/accelerators/0/kind)
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    def accelerator_kinds(self) -> set[str]:
        return {accelerator.kind for accelerator in self.accelerators}

    def first_accelerator(self, kind: str) -> Optional[Accelerator]:
        return next((accelerator for accelerator in self.accelerators if accelerator.kind == kind), None)
