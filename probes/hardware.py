"""The HardwareProfile: what a machine has, as the inventory finds it or a user describes it.

One model for the API (requests and answers), the CLI's ``--hardware FILE``, the form, the probe report
and the rule engine; openapi.yaml's schemas are generated from it. The limits below are the contract's:
the inventory clips what a machine hands it to them (``probes.inventory.hardware_profile``).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Optional

from pydantic import BaseModel, ConfigDict, Field, model_serializer

from framework_advisor.probes.vocabulary import AcceleratorKind, Arch, Os

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
    compute_capability: Annotated[str, Field(pattern=r"^[0-9]{1,2}\.[0-9]{1,2}$")] = absent()
    driver: Annotated[str, Field(max_length=MAX_DRIVER_CHARS)] = absent()
    source: Annotated[str, Field(max_length=MAX_NAME_CHARS)] = absent("How the device was found.")


class HardwareProfile(Strict):
    """A machine. An empty ``accelerators`` list means CPU only."""

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

    def accelerator_kinds(self) -> set[str]:
        return {accelerator.kind for accelerator in self.accelerators}

    def first_accelerator(self, kind: str) -> Optional[Accelerator]:
        return next((accelerator for accelerator in self.accelerators if accelerator.kind == kind), None)
