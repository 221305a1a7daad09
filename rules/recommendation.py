"""The question and the answer: RecommendationRequest and Recommendation, with what an answer holds.

One model for the API, the CLI's ``--json``, the form and the audit; openapi.yaml's schemas are generated
from them. The engine (``rules.engine``) builds a Recommendation; JSON is made from it only at the edges.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import Field, field_validator

from framework_advisor.probes.hardware import HardwareProfile, Strict, absent
from framework_advisor.probes.history import MeasurementsUsed
from framework_advisor.probes.vocabulary import Device, Experience, FrameworkId, Goal

ProbeId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class RecommendationRequest(Strict):
    """Goals and experience, and which hardware: described, a stored probe's, or (neither) this machine."""

    goals: Annotated[list[Goal], Field(min_length=1, max_length=8, json_schema_extra={"uniqueItems": True})]
    experience: Experience
    hardware: HardwareProfile = absent("The hardware to advise for; without it (and without probe_id), this machine.")
    probe_id: ProbeId = absent("Use that stored probe's hardware and measurements.")

    @field_validator("goals")
    @classmethod
    def _unique(cls, goals: list[str]) -> list[str]:
        # Items are already valid goals (hashable strings): a set makes this linear.
        if len(set(goals)) != len(goals):
            raise ValueError("each goal may be given once")
        return goals


class Reason(Strict):
    kept_nulls = ("group",)
    rule: str = Field(description="Id of the rule that fired.")
    message: str
    points: float = Field(description=(
        "Signed points x certainty. Part of the score when `counted`; rules of one group count once, the strongest."))
    certainty: Annotated[float, Field(ge=0, le=1)] = 1.0
    group: Optional[str] = None
    counted: bool = Field(True, description="False when a stronger rule of the same group counted instead.")
    knockout: bool = Field(False, description="The rule marks the framework unsupported on this hardware.")
    matched: dict[str, Any] = Field(default_factory=dict,
                                    description="The facts the rule's conditions matched, with their values.")
    refs: tuple[str, ...] = ()


class Starter(Strict):
    filename: str
    code: str
    run: str
    device: Optional[Device] = None
    goal: Optional[Goal] = Field(None, description="The goal it was chosen for; absent: the basics starter.")


class RankedFramework(Strict):
    kept_nulls = ("installed_version",)
    framework: FrameworkId
    name: str
    rank: Annotated[int, Field(ge=1, le=5)]
    score: float
    supported: bool
    device: Device = "cpu"
    reasons: tuple[Reason, ...] = ()
    install: str
    installed_version: Optional[str] = Field(None, description="From package metadata; null: not installed here.")
    starter: Starter


class Confidence(Strict):
    label: Literal["high", "medium", "low", "not-enough-evidence"]
    gap: float = Field(description="Score of the first place minus the second.")
    message: str


class Change(Strict):
    """One change to the question that would put another framework first."""

    kind: Literal["user", "hardware"]
    change: str
    first: FrameworkId
    message: str


class Summary(Strict):
    """The answer in three lines, for the headline of every front end."""

    headline: str = Field(description=(
        'What to use: "Use PyTorch", with the device when it is not the CPU ("Use PyTorch on the NVIDIA CUDA GPU").'))
    why: str = Field(description="One line: the strongest counted reason of the first place.")
    runner_up: str = Field(description=(
        "One sentence: what separates the first place from the second, the rules that made the difference "
        "by name and points."))


class UnknownFact(Strict):
    fact: str
    message: str


class RulebaseVersion(Strict):
    version: str
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Recommendation(Strict):
    """All five frameworks ranked, rank 1 first, with the reasons, install command and starter of each."""

    kept_nulls = ("probe_id",)

    ranking: Annotated[tuple[RankedFramework, ...], Field(min_length=5, max_length=5)]
    hardware: HardwareProfile
    rulebase: RulebaseVersion
    goals: tuple[Goal, ...] = ()
    experience: Optional[Experience] = None
    confidence: Optional[Confidence] = None
    summary: Optional[Summary] = Field(None, description=(
        "The headline: what to use, one line why, and what separates the first place from the second."))
    what_would_change: tuple[Change, ...] = Field((), description=(
        "At most three single changes that would put another framework first: the user's own answers first "
        "(experience, a goal more or less), then, only for hardware the request described, other kinds of machine."))
    unknown: tuple[UnknownFact, ...] = Field((), description=(
        "Facts the rule base would use that this answer did not have, and how to supply them."))
    hardware_source: Optional[Literal["request", "this-machine", "probe"]] = None
    probe_id: Optional[str] = Field(None, description=(
        "The newest stored probe whose measurements entered the answer (null when none did)."))
    measurements: Optional[MeasurementsUsed] = Field(None, description=(
        "The probes whose measurements entered the answer (this machine's recent ones that agree, pooled), "
        "when they were measured, and those left out."))

    def to_markdown(self) -> str:
        """The answer as Markdown: the ranking, then each framework's reasons, install command and starter."""
        from framework_advisor.rules.markup import recommendation_markdown

        return recommendation_markdown(self)

    def _repr_html_(self) -> str:
        """How a notebook (IPython, Jupyter) shows the answer: an escaped HTML fragment."""
        from framework_advisor.rules.markup import recommendation_html

        return recommendation_html(self)
