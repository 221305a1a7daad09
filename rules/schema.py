"""The shape of rule files, as pydantic models (``extra="forbid"`` catches typos in keys).

A rule directory holds YAML files; each file is a mapping with any of the top-level keys
``rulebase``, ``facts``, ``frameworks`` and ``rules``. The format is documented in rules/README.md;
``framework-advisor rules schema`` prints the JSON Schema of a file for editors.
"""

from __future__ import annotations

import datetime
import re
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, Tag, model_validator

from framework_advisor.probes.vocabulary import (ARCHITECTURES, GOALS, VOCABULARIES, AcceleratorKind, Arch, Device,
                                               FrameworkId, Goal, Os, framework_name)
from framework_advisor.probes.access import Cause

# Starter programs come in goal families: goals that call for the same program share one.
STARTER_FAMILIES = ("basics", "scientific", "deploy", "scale", "pretrained")
Family = Literal[STARTER_FAMILIES]  # type: ignore[valid-type]
VocabularyName = Literal[tuple(VOCABULARIES)]  # type: ignore[valid-type]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,79}$")]
Reference = Annotated[str, Field(min_length=3, max_length=300)]

# The starter family that answers each goal, keyed by the vocabulary's goals.
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
if set(GOAL_FAMILIES) != set(GOALS) or not set(GOAL_FAMILIES.values()) <= set(STARTER_FAMILIES):
    raise ImportError("GOAL_FAMILIES must map every goal of the vocabulary to a starter family")

# Word operators: `op: >=` would be a YAML syntax error, and words read well in messages.
Operator = Literal["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains", "contains_any", "exists"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class FactSpec(_Strict):
    """One fact rules may test. ``per_framework`` facts are named ``<framework>.<fact>`` in rules.

    An enum or set fact lists its ``values``, or names a list of the project's vocabulary
    (``vocabulary: goals``), whose members then fill ``values`` when the file is loaded."""

    type: Literal["enum", "set", "number", "bool", "text"]
    source: Literal["user", "probe", "benchmark", "derived"]
    description: str = Field(min_length=3)
    vocabulary: VocabularyName | None = Field(
        default=None, description="Take the values from this list of the vocabulary (probes/vocabulary.py).")
    values: list[str] | None = None
    range: tuple[float, float] | None = None
    per_framework: bool = False

    @model_validator(mode="after")
    def _values_fit_type(self) -> FactSpec:
        if self.vocabulary is not None:
            if self.values is not None:
                raise ValueError("give 'values' or 'vocabulary', not both")
            # Frozen model: the loader's one write, before anyone can see the object.
            object.__setattr__(self, "values", list(VOCABULARIES[self.vocabulary]))
        if self.type in ("enum", "set") and not self.values:
            raise ValueError(f"a fact of type {self.type} needs 'values' or 'vocabulary'")
        if self.type not in ("enum", "set") and self.values is not None:
            what = "'vocabulary'" if self.vocabulary is not None else "'values'"
            raise ValueError(f"{what} only applies to enum and set facts, not {self.type}")
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
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


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


class _RuleBody(_Strict):
    """What a rule and a rule template share: when it fires, how sure it is, what it says and its sources
    (``id`` and ``then`` are narrowed by each; declared here so that every rule lists its keys in one order)."""

    id: str
    when: Condition
    then: Any
    certainty: float = Field(default=1.0, gt=0, le=1)
    certainty_from: str | None = Field(default=None, pattern=r"^[a-z$][a-z0-9_.$]{0,79}$", description=(
        "A number fact in [0, 1] the certainty is multiplied by when the rule fires: how sure the evidence "
        "behind it is (a measured speed's spread, a quick probe). Unknown: the rule does not fire."))
    group: Slug | None = None
    message: Annotated[str, Field(min_length=10)] | None = Field(default=None, description=(
        "The reason shown under each framework the rule scores (or knocks out) that has no text of its own in "
        "'messages'. {framework} names the framework it is shown under; {fact} quotes a fact."))
    messages: dict[str, Annotated[str, Field(min_length=10)]] | None = Field(default=None, description=(
        "The reason shown under one framework, by framework id, where it differs from 'message': a rule that "
        "scores several frameworks says what it means for each."))
    refs: list[Reference] = Field(min_length=1)
    reviewed: datetime.date


class Rule(_RuleBody):
    id: Slug
    then: Then

    @property
    def frameworks(self) -> tuple[str, ...]:
        """The frameworks the rule speaks about: those it scores or knocks out."""
        return tuple(self.then.points or self.then.knockout or ())

    def message_for(self, framework_id: str) -> str:
        """The message template shown under ``framework_id``."""
        return (self.messages or {}).get(framework_id) or self.message or ""

    def texts(self) -> list[str]:
        """Every message template of the rule."""
        return [text for text in (self.message, *(self.messages or {}).values()) if text]

    @model_validator(mode="after")
    def _a_message_for_each_framework(self) -> Rule:
        named = self.frameworks
        stray = sorted(set(self.messages or {}) - set(named))
        if stray:
            raise ValueError(f"'messages' names {stray}, which the rule neither scores nor knocks out "
                             f"(it speaks about {list(named)})")
        silent = [f for f in named if not (self.messages or {}).get(f) and not self.message]
        if silent:
            raise ValueError(f"no message for {silent}: give 'message' (with {{framework}} for the framework's "
                             f"name) or one in 'messages' for each framework")
        return self


# --- rule templates: one rule stated once for several frameworks (expanded when loading, rules/templates.py)

TemplateVariable = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,30}$")]


class TemplateThen(_Strict):
    """A template's ``then``: framework ids or ``$framework`` as keys."""

    points: dict[str, float] | None = None
    knockout: list[str] | None = None


class RuleTemplate(_RuleBody):
    """A rule written once with ``for_each``: one rule per framework listed, each with ``$framework`` (the
    id) and ``$name`` (its display name) replaced in every string and key, plus the framework's own
    variables when ``for_each`` is a mapping (framework id -> {variable: text})."""

    for_each: Union[Literal["all"], list[FrameworkId], dict[FrameworkId, dict[TemplateVariable, str]]] = Field(
        description="all (every framework), a list of framework ids, or framework id -> its own variables.")
    id: Annotated[str, Field(pattern=r"^[a-z0-9$][a-z0-9$_-]{1,79}$",
                             description="Must contain $framework, so each expanded rule has its own id.")]
    then: TemplateThen


def _rule_kind(value: Any) -> str:
    if isinstance(value, RuleTemplate) or (isinstance(value, dict) and "for_each" in value):
        return "template"
    return "rule"


RuleOrTemplate = Annotated[
    Union[Annotated[Rule, Tag("rule")], Annotated[RuleTemplate, Tag("template")]],
    Discriminator(_rule_kind),
]


class Platform(_Strict):
    """Where a framework runs; ``devices`` in order of preference, ``cpu`` last."""

    os: list[Os] = Field(min_length=1)
    arch: list[Arch] = Field(min_length=1)
    devices: list[Device] = Field(min_length=1)
    note: str | None = None
    refs: list[Reference] = Field(default_factory=list, description="Where the note's claim comes from.")
    reviewed: datetime.date | None = Field(default=None, description="When the note was last checked.")

    @model_validator(mode="after")
    def _dated(self) -> Platform:
        if bool(self.refs) != (self.reviewed is not None):
            raise ValueError("'refs' and 'reviewed' go together: give both or neither")
        return self


VersionText = Annotated[str, Field(pattern=r"^[0-9]{1,4}(\.[0-9]{1,4}){0,3}$")]
VERSION_PARTS = 4


def version_key(text: str | None) -> tuple[int, ...] | None:
    """A version as numbers to compare, padded to VERSION_PARTS ("580" == "580.0"); the leading dotted number of a
    driver string ("560.35.03", "7.2.0-56"); None when there is none ("i915", "macOS 14.5")."""
    match = re.match(r"\s*v?([0-9]+(?:\.[0-9]+)*)", text or "")
    if match is None:
        return None
    parts = tuple(int(part) for part in match.group(1).split(".")[:VERSION_PARTS])
    return parts + (0,) * (VERSION_PARTS - len(parts))


# The conditions an install row may set, by the fact of the machine's accelerators they test: (lower, upper) bounds.
INSTALL_BOUNDS = {"compute_capability": ("min_compute_capability", "below_compute_capability"),
                  "driver": ("min_driver", "below_driver")}


class InstallCommand(_Strict):
    """How to install the framework for one device on some operating systems and architectures.

    Rows for the same device, OS and architecture are told apart by optional conditions on the machine's
    accelerators of that kind: a compute capability range and a driver range, each [min, below) (inclusive lower,
    exclusive upper bound), and integrated or discrete. The linter requires such rows to cover every combination
    exactly once. A value the machine does not state is taken to be current (above every bound; discrete when
    ``integrated`` is not given), and the command then says what it assumed. ``no_build: true`` says the framework
    has no build for such a device at all: the engine uses the next device of the platform (the CPU) and the CPU
    command is shown with this row's ``note``."""

    device: Device
    os: list[Os] = Field(min_length=1)
    arch: list[Arch] = Field(default_factory=lambda: list(ARCHITECTURES), min_length=1)
    min_compute_capability: VersionText | None = Field(default=None, description=(
        "cuda rows only: the row holds for GPUs of this compute capability or newer (7.5: Turing)."))
    below_compute_capability: VersionText | None = Field(default=None, description=(
        "cuda rows only: the row holds for GPUs older than this compute capability (7.5: Pascal and Volta)."))
    min_driver: VersionText | None = Field(default=None, description=(
        "The row holds from this driver version on: the accelerator's 'driver' (the NVIDIA driver for cuda, the "
        "ROCm release for rocm)."))
    below_driver: VersionText | None = Field(default=None, description="The row holds below this driver version.")
    integrated: bool | None = Field(default=None, description=(
        "true: only integrated GPUs (NVIDIA Jetson); false: only discrete ones; absent: either."))
    no_build: bool = Field(default=False, description=(
        "No build of the framework uses such a device: the engine takes the platform's next device (the CPU) and "
        "shows the CPU command with this row's note, which says why and what would change it. No 'command' then."))
    command: str | None = Field(default=None, min_length=5, description="Required unless no_build.")
    note: str | None = Field(default=None, min_length=3, description=(
        "A caveat that goes with the command (shown after it as a shell comment)."))
    refs: list[Reference] = Field(default_factory=list, description=(
        "Where the row's facts come from; required for rows with conditions or no_build."))
    reviewed: datetime.date | None = Field(default=None, description=(
        "When the row was last checked; required with refs (the linter warns after 365 days)."))

    @model_validator(mode="after")
    def _conditions_fit(self) -> InstallCommand:
        if (self.conditional or self.no_build) and not self.refs:
            raise ValueError("a row with conditions or no_build needs 'refs' (where its facts come from)")
        if bool(self.refs) != (self.reviewed is not None):
            raise ValueError("'refs' and 'reviewed' go together: give both or neither")
        if self.no_build:
            if self.command is not None:
                raise ValueError("a no_build row has no 'command' (the CPU row's is shown, with this row's note)")
            if self.note is None:
                raise ValueError("a no_build row needs a 'note' that says why there is no build and what to do")
        elif self.command is None:
            raise ValueError("an install row needs a 'command' (or no_build: true)")
        if self.device != "cuda" and (self.min_compute_capability or self.below_compute_capability):
            raise ValueError("compute capability conditions apply to cuda rows only")
        if self.device == "cpu" and (self.min_driver or self.below_driver or self.integrated is not None
                                     or self.no_build):
            raise ValueError("driver, integrated and no_build apply to accelerator rows, not to cpu rows")
        for low_name, high_name in INSTALL_BOUNDS.values():
            low, high = getattr(self, low_name), getattr(self, high_name)
            if low is not None and high is not None and version_key(low) >= version_key(high):
                raise ValueError(f"{low_name} ({low}) must be below {high_name} ({high})")
        return self

    @property
    def conditional(self) -> bool:
        return self.integrated is not None or any(getattr(self, name) is not None
                                                  for bounds in INSTALL_BOUNDS.values() for name in bounds)


class Addon(_Strict):
    """A device the framework reaches only through an add-on (a plugin, another vendor's build, WSL2), not
    through its own builds: how to install it there, and where that comes from. The engine never picks the
    framework's device from add-ons (platforms decide); fixes for an unused accelerator use them."""

    device: AcceleratorKind
    os: list[Os] = Field(min_length=1)
    arch: list[Arch] = Field(default_factory=lambda: list(ARCHITECTURES), min_length=1)
    addon: str = Field(min_length=2, max_length=80, description="What provides the device: a package or a layer.")
    command: str = Field(min_length=5)
    note: str | None = Field(default=None, min_length=3)
    refs: list[Reference] = Field(min_length=1)


REMEDY_PLACEHOLDERS = ("framework", "device", "install")


class Remedy(_Strict):
    """One cause of "the accelerator is there but the framework does not use it" and its fix: short templates
    over {framework} (its name), {device} (the accelerator's name) and {install} (the catalog's command for
    that device on this OS and architecture: an install row, else an add-on)."""

    title: str = Field(min_length=5, max_length=80, description="What the cause is, in a few words.")
    fix: str = Field(min_length=10, description="The fix; may use {install}.")
    no_install: str | None = Field(default=None, min_length=10, description=(
        "Used instead when the catalog has no command for the device here; may not use {install}. "
        "Required when 'fix' uses {install}."))
    by_device: dict[AcceleratorKind, Annotated[str, Field(min_length=10)]] = Field(default_factory=dict, description=(
        "The fix for one kind of accelerator, instead of 'fix'."))
    refs: list[Reference] = Field(min_length=1, description="Public sources a user can read.")

    def fix_for(self, device: str, has_install: bool) -> str:
        """The template for ``device`` (by_device, else fix, else no_install where the catalog has no command)."""
        template = self.by_device.get(device, self.fix)
        return template if has_install or "{install}" not in template else self.no_install or ""

    @model_validator(mode="after")
    def _placeholders(self) -> Remedy:
        texts = [("title", self.title, REMEDY_PLACEHOLDERS[:2]), ("fix", self.fix, REMEDY_PLACEHOLDERS),
                 ("no_install", self.no_install, REMEDY_PLACEHOLDERS[:2]),
                 *((f"by_device.{kind}", text, REMEDY_PLACEHOLDERS) for kind, text in self.by_device.items())]
        for field_name, text, allowed in texts:
            if text is None:
                continue
            names = re.findall(r"\{([^{}]*)\}", text)
            unknown = [name for name in names if name not in allowed]
            if unknown or re.sub(r"\{[^{}]*\}", "", text).count("{") or re.sub(r"\{[^{}]*\}", "", text).count("}"):
                raise ValueError(f"{field_name}: placeholders are {', '.join('{' + a + '}' for a in allowed)} "
                                 f"(found {', '.join('{' + n + '}' for n in unknown) or 'a stray brace'})")
        if any("{install}" in text for text in (self.fix, *self.by_device.values())) and self.no_install is None:
            raise ValueError("a fix that uses {install} needs 'no_install' for machines where the catalog has none")
        return self


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
    """A framework of the catalog. Its display name comes from the vocabulary (``name``)."""

    summary: str = Field(min_length=10)
    docs: str
    good_for: list[Goal] = Field(default_factory=list)
    prior: float = 0.0
    platforms: list[Platform] = Field(min_length=1)
    install: list[InstallCommand] = Field(min_length=1)
    addons: list[Addon] = Field(default_factory=list)
    starter: StarterSpec
    refs: list[Reference] = Field(min_length=1)
    reviewed: datetime.date
    _framework_id: str = PrivateAttr(default="")

    @property
    def framework_id(self) -> str:
        return self._framework_id

    @property
    def name(self) -> str:
        return framework_name(self._framework_id)


class ConfidenceThresholds(_Strict):
    high: float = Field(gt=0)
    medium: float = Field(gt=0)
    low: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> ConfidenceThresholds:
        if not self.high > self.medium > self.low:
            raise ValueError("confidence thresholds must satisfy high > medium > low")
        return self


class DefaultReason(_Strict):
    """The reason a supported framework gets when no rule speaks about it, so that no score is silent: a
    template over {framework} (its name), {framework.<fact>} (its own per-framework facts, e.g. its device)
    and any fact. Its refs are shown with the framework's own docs."""

    id: Slug = Field(description="The rule id the reason carries.")
    message: str = Field(min_length=10)
    refs: list[Reference] = Field(default_factory=list)
    reviewed: datetime.date


class RulebaseMeta(_Strict):
    version: str = Field(pattern=r"^[0-9A-Za-z.+-]{1,40}$")
    description: str | None = None
    confidence: ConfidenceThresholds
    default_reason: DefaultReason | None = Field(default=None, description=(
        "The reason shown under a supported framework that no rule scored. A later rulebase block without "
        "one keeps the earlier one."))


class RuleFile(_Strict):
    rulebase: RulebaseMeta | None = None
    facts: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], FactSpec] | None = None
    frameworks: dict[FrameworkId, FrameworkEntry] | None = None
    remedies: dict[Cause, Remedy] | None = Field(default=None, description=(
        "Each cause of a framework not using an accelerator the machine has, and its fix."))
    rules: list[RuleOrTemplate] | None = None

    @model_validator(mode="after")
    def _entries_know_their_id(self) -> RuleFile:
        for framework_id, entry in (self.frameworks or {}).items():
            entry._framework_id = framework_id
        return self


def rule_file_json_schema() -> dict[str, Any]:
    schema = RuleFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "framework-advisor rule file"
    return schema
