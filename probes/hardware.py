"""The HardwareProfile: what a machine has, as the inventory finds it or a user describes it.

One model for the API (requests and answers), the CLI's ``--hardware FILE``, the form, the probe report
and the rule engine; openapi.yaml's schemas are generated from it. The limits below are the contract's:
the inventory clips what a machine hands it to them (``probes.inventory.hardware_profile``).
"""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import BaseModel, ConfigDict, Field

from framework_advisor.probes.vocabulary import AcceleratorKind, Arch, Os

MAX_LIST_ITEMS = 64
MAX_NAME_CHARS = 200
MAX_WARNING_CHARS = 500
MAX_PROVENANCE_CHARS = 300
MAX_DRIVER_CHARS = 100


class Strict(BaseModel):
    """Unknown keys are errors; models are immutable values once validated.

    Collections a request can carry are lists, not tuples: pydantic checks a list's length before its items,
    a tuple's only after validating every item (a 1 MiB body of empty objects would cost 100,000 errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Cpu(Strict):
    model: Annotated[str, Field(max_length=MAX_NAME_CHARS)]
    cores: Annotated[int, Field(ge=1, le=4096, description="Physical cores.")]
    logical_cores: Optional[Annotated[int, Field(ge=1, le=8192)]] = None
    flags: Annotated[list[Annotated[str, Field(max_length=32)]], Field(
        max_length=MAX_LIST_ITEMS,
        description="ISA extensions that matter for numeric work (avx2, avx512f, amx_tile, neon, sve...).")] = Field(
        default_factory=list)


class Accelerator(Strict):
    kind: AcceleratorKind
    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]
    count: Annotated[int, Field(ge=1, le=65536)] = 1
    memory_gb: Optional[Annotated[float, Field(ge=0, le=1_000_000)]] = None
    usable_memory_gb: Optional[Annotated[float, Field(
        ge=0, le=1_000_000,
        description="Memory the accelerator can use (on unified-memory parts, less than the total).")]] = None
    cores: Optional[Annotated[int, Field(ge=0, le=1_000_000, description="SMs, CUs, Xe cores or GPU cores.")]] = None
    compute_capability: Optional[Annotated[str, Field(pattern=r"^[0-9]{1,2}\.[0-9]{1,2}$")]] = None
    driver: Optional[Annotated[str, Field(max_length=MAX_DRIVER_CHARS)]] = None
    source: Optional[Annotated[str, Field(max_length=MAX_NAME_CHARS, description="How the device was found.")]] = None


class HardwareProfile(Strict):
    """A machine. An empty ``accelerators`` list means CPU only."""

    os: Os
    arch: Arch
    cpu: Optional[Cpu] = None
    memory_gb: Optional[Annotated[float, Field(ge=0, le=1_000_000)]] = None
    accelerators: Annotated[list[Accelerator], Field(max_length=MAX_LIST_ITEMS, description="Empty means CPU only.")] = Field(
        default_factory=list)
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
