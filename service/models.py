"""The service's own models: probe jobs as stored and listed, the catalog and rule listings, health,
problems and the vocabulary. The core ideas (HardwareProfile, ProbeReport, Recommendation) live with the
code that makes them; openapi.yaml is generated from all of them (``framework_advisor.contract``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import Field

from framework_advisor.probes import vocabulary
from framework_advisor.probes.hardware import Strict
from framework_advisor.probes.progress import ProbeProgress
from framework_advisor.probes.report import ProbeParams, ProbeReport
from framework_advisor.probes.vocabulary import FrameworkId, Goal
from framework_advisor.rules.recommendation import RulebaseVersion
from framework_advisor.rules.schema import Platform

ProbeStatus = Literal["queued", "running", "finished", "failed", "interrupted"]


class ProbeSummary(Strict):
    """A probe as listed: its state and how it was asked for, without its report."""

    id: str
    status: ProbeStatus
    host: str
    created_at: str
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    params: ProbeParams = Field(default_factory=ProbeParams)
    progress: ProbeProgress = Field(default_factory=ProbeProgress)
    error: Optional[str] = None
    frameworks: list[FrameworkId] = Field(default_factory=list, description=(
        "The frameworks its report holds, ran or failed (read by the store without parsing the report); empty "
        "until it has one."))


class ProbeJob(ProbeSummary):
    """A probe with its report once finished."""

    report: Optional[ProbeReport] = None


class ProbeList(Strict):
    probes: tuple[ProbeSummary, ...]


class FrameworkInfo(Strict):
    kept_nulls = ("installed_version",)
    id: FrameworkId
    name: str
    summary: str
    good_for: tuple[Goal, ...] = ()
    platforms: tuple[Platform, ...]
    install: str = Field(description="The install command for this machine.")
    installed_version: Optional[str] = Field(
        description="From package metadata; the framework is not imported. Null: not installed here.")
    docs: Optional[str] = None


class FrameworkList(Strict):
    frameworks: tuple[FrameworkInfo, ...]


class RuleInfo(Strict):
    kept_nulls = ("group",)
    id: str
    when: dict[str, Any] = Field(description="An all/any/not tree of {fact, op, value} leaves.")
    then: dict[str, Any]
    certainty: float
    certainty_from: Optional[str] = Field(None, description=(
        "The number fact (0 to 1) the certainty is multiplied by when the rule fires: how sure its evidence is."))
    group: Optional[str] = None
    message: str = Field(description=(
        "The rule's shared message template ({framework}: the framework it is shown under); for a rule with only "
        "per-framework texts, the first framework's."))
    messages: dict[FrameworkId, str] = Field(default_factory=dict, description=(
        "The message template shown under each framework the rule scores or knocks out."))
    refs: tuple[str, ...]
    reviewed: str
    source: str = Field(description="file:line:column where the rule is defined.")


class RuleList(Strict):
    rulebase: RulebaseVersion
    rules: tuple[RuleInfo, ...]


class StoreHealth(Strict):
    """The store as /healthz reads it (nothing written): a store that cannot be written answers 503 instead."""

    readable: bool
    writable: bool = Field(description="The file and its directory may be written, the file system is not "
                                       "read-only and free_bytes holds at least the largest report accepted.")
    size_bytes: Annotated[int, Field(ge=0)]
    max_bytes: Optional[Annotated[int, Field(ge=0)]] = Field(None, description="The size cap; absent: only the disk.")
    free_bytes: Annotated[int, Field(ge=0)] = Field(
        description="Room left: the disk's free space or the room under the cap, whichever is less.")


class Health(Strict):
    status: Literal["ok"]
    version: str
    rulebase: RulebaseVersion
    store: Optional[StoreHealth] = None


class FieldError(Strict):
    pointer: str = Field(description="A JSON Pointer into the request body ('' is the whole body).")
    message: str


class Problem(Strict):
    """An RFC 9457 problem; every error the service returns is one."""

    type: str = "about:blank"
    title: str
    status: Annotated[int, Field(ge=400, le=599)]
    detail: Optional[str] = None
    instance: Optional[str] = None
    errors: Optional[tuple[FieldError, ...]] = Field(
        None, description="One entry per invalid field; `pointer` is a JSON Pointer into the request body.")


class Term(Strict):
    id: str
    label: str


class Vocabulary(Strict):
    """The ids every request and answer uses, with the names to show for them (the form builds itself
    from this)."""

    frameworks: tuple[Term, ...]
    goals: tuple[Term, ...]
    experience: tuple[Term, ...]
    devices: tuple[Term, ...]
    os: tuple[Term, ...]
    arch: tuple[Term, ...]
    benchmarks: tuple[Term, ...]

    @classmethod
    def current(cls) -> Vocabulary:
        def terms(labels: dict[str, str]) -> tuple[Term, ...]:
            return tuple(Term(id=key, label=label) for key, label in labels.items())

        return cls(frameworks=terms(vocabulary.FRAMEWORK_NAMES), goals=terms(vocabulary.GOAL_LABELS),
                   experience=terms(vocabulary.EXPERIENCE_LABELS), devices=terms(vocabulary.DEVICE_LABELS),
                   os=terms(vocabulary.OS_LABELS), arch=terms(vocabulary.ARCH_LABELS),
                   benchmarks=terms(vocabulary.BENCHMARK_LABELS))
