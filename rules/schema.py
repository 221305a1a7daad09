"""The shape of rule files, as pydantic models (``extra="forbid"`` catches typos in keys).

A rule directory holds YAML files; each file is a mapping with any of the top-level keys
``rulebase``, ``facts``, ``frameworks`` and ``rules``. The format is documented in rules/README.md;
``framework-advisor rules schema`` prints the JSON Schema of a file for editors.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

FRAMEWORK_IDS = ("pytorch", "jax", "mlx", "tensorflow", "numpy")
GOALS = (
    "learning",
    "research",
    "production",
    "mobile-edge",
    "apple-on-device",
    "scientific-computing",
    "large-scale-training",
    "pretrained-models",
)
EXPERIENCE_LEVELS = ("beginner", "intermediate", "expert")
OPERATING_SYSTEMS = ("linux", "darwin", "windows")
ARCHITECTURES = ("x86_64", "arm64")
ACCELERATOR_KINDS = ("cuda", "rocm", "tpu", "apple-gpu", "intel-xpu")
DEVICES = ("cpu",) + ACCELERATOR_KINDS
# Starter programs come in goal families: goals that call for the same program share one.
STARTER_FAMILIES = ("basics", "scientific", "deploy", "scale", "pretrained")

# Literal[tuple] unpacks, so each id list above is written once.
FrameworkId = Literal[FRAMEWORK_IDS]  # type: ignore[valid-type]
Goal = Literal[GOALS]  # type: ignore[valid-type]
Os = Literal[OPERATING_SYSTEMS]  # type: ignore[valid-type]
Arch = Literal[ARCHITECTURES]  # type: ignore[valid-type]
Device = Literal[DEVICES]  # type: ignore[valid-type]
Family = Literal[STARTER_FAMILIES]  # type: ignore[valid-type]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,79}$")]
Reference = Annotated[str, Field(min_length=3, max_length=300)]

# The starter family that answers each goal.
GOAL_FAMILIES: dict[str, str] = {
    "learning": "basics",
    "research": "basics",
    "production": "deploy",
    "mobile-edge": "deploy",
    "apple-on-device": "deploy",
    "scientific-computing": "scientific",
    "large-scale-training": "scale",
    "pretrained-models": "pretrained",
}

# Word operators: `op: >=` would be a YAML syntax error, and words read well in messages.
Operator = Literal["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains", "contains_any", "exists"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FactSpec(_Strict):
    """One fact rules may test. ``per_framework`` facts are named ``<framework>.<fact>`` in rules."""

    type: Literal["enum", "set", "number", "bool", "text"]
    source: Literal["user", "probe", "benchmark", "derived"]
    description: str = Field(min_length=3)
    values: list[str] | None = None
    range: tuple[float, float] | None = None
    per_framework: bool = False

    @model_validator(mode="after")
    def _values_fit_type(self) -> FactSpec:
        if self.type in ("enum", "set") and not self.values:
            raise ValueError(f"a fact of type {self.type} needs 'values'")
        if self.type not in ("enum", "set") and self.values is not None:
            raise ValueError(f"'values' only applies to enum and set facts, not {self.type}")
        if self.range is not None and self.type != "number":
            raise ValueError("'range' only applies to number facts")
        if self.range is not None and self.range[0] > self.range[1]:
            raise ValueError("'range' must be [low, high] with low <= high")
        return self


class Leaf(_Strict):
    fact: str = Field(min_length=1)
    op: Operator
    value: Any = None


class AllOf(_Strict):
    all: list[Condition] = Field(min_length=1)


class AnyOf(_Strict):
    any: list[Condition] = Field(min_length=1)


class NotOf(_Strict):
    not_: Condition = Field(alias="not")
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _condition_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("all", "any", "not"):
            if key in value:
                return key
        return "leaf"
    if isinstance(value, BaseModel):
        return {AllOf: "all", AnyOf: "any", NotOf: "not", Leaf: "leaf"}.get(type(value))
    return None


Condition = Annotated[
    Union[
        Annotated[AllOf, Tag("all")],
        Annotated[AnyOf, Tag("any")],
        Annotated[NotOf, Tag("not")],
        Annotated[Leaf, Tag("leaf")],
    ],
    Discriminator(_condition_kind, custom_error_type="condition", custom_error_message=(
        "a condition is a mapping: {all: [...]}, {any: [...]}, {not: ...} or {fact, op, value}")),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


class Then(_Strict):
    """What a rule does when it fires: points per framework, or knock-outs (cannot run there)."""

    points: dict[FrameworkId, float] | None = None
    knockout: list[FrameworkId] | None = None

    @model_validator(mode="after")
    def _one_effect(self) -> Then:
        if (self.points is None) == (self.knockout is None):
            raise ValueError("'then' needs exactly one of 'points' or 'knockout'")
        if self.points is not None and not self.points:
            raise ValueError("'points' must name at least one framework")
        if self.knockout is not None and not self.knockout:
            raise ValueError("'knockout' must name at least one framework")
        return self


class Rule(_Strict):
    id: Slug
    when: Condition
    then: Then
    certainty: float = Field(default=1.0, gt=0, le=1)
    group: Slug | None = None
    message: str = Field(min_length=10)
    refs: list[Reference] = Field(min_length=1)
    reviewed: datetime.date


class Platform(_Strict):
    """Where a framework runs; ``devices`` in order of preference, ``cpu`` last."""

    os: list[Os] = Field(min_length=1)
    arch: list[Arch] = Field(min_length=1)
    devices: list[Device] = Field(min_length=1)
    note: str | None = None


class InstallCommand(_Strict):
    device: Device
    os: list[Os] = Field(min_length=1)
    arch: list[Arch] = Field(default_factory=lambda: list(ARCHITECTURES), min_length=1)
    command: str = Field(min_length=5)


class StarterSpec(_Strict):
    files: dict[Family, Annotated[str, Field(pattern=r"^[a-z]+/[a-z0-9_]+\.py\.tmpl$")]] = Field(
        description="One starter per goal family: a template under rules/starters/, e.g. deploy/pytorch.py.tmpl (text the service reads, never imports).")
    filename: str = Field(pattern=r"^[a-z0-9_]+\.py$", description="Name the user saves it as.")
    device_names: dict[Device, str] = Field(description="How the framework's own API names each device.")

    @model_validator(mode="after")
    def _every_family(self) -> StarterSpec:
        missing = [family for family in STARTER_FAMILIES if family not in self.files]
        if missing:
            raise ValueError(f"'files' lacks a starter for {missing}")
        return self


class FrameworkEntry(_Strict):
    name: str
    summary: str = Field(min_length=10)
    docs: str
    distributions: list[str] = Field(min_length=1, description="Package names whose version is reported.")
    good_for: list[Goal] = Field(default_factory=list)
    prior: float = 0.0
    platforms: list[Platform] = Field(min_length=1)
    install: list[InstallCommand] = Field(min_length=1)
    starter: StarterSpec
    refs: list[Reference] = Field(min_length=1)
    reviewed: datetime.date


class ConfidenceThresholds(_Strict):
    high: float = Field(gt=0)
    medium: float = Field(gt=0)
    low: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> ConfidenceThresholds:
        if not self.high > self.medium > self.low:
            raise ValueError("confidence thresholds must satisfy high > medium > low")
        return self


class RulebaseMeta(_Strict):
    version: str = Field(pattern=r"^[0-9A-Za-z.+-]{1,40}$")
    description: str | None = None
    confidence: ConfidenceThresholds


class RuleFile(_Strict):
    rulebase: RulebaseMeta | None = None
    facts: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], FactSpec] | None = None
    frameworks: dict[FrameworkId, FrameworkEntry] | None = None
    rules: list[Rule] | None = None


def rule_file_json_schema() -> dict[str, Any]:
    schema = RuleFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "framework-advisor rule file"
    return schema
