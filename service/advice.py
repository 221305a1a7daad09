"""One path from a question to an answer, shared by the API and the CLI.

``resolve`` decides which hardware a RecommendationRequest is about (described in the request, a stored
probe's, or this machine's with its newest own probe) and gathers what the answer depends on;
``answer`` evaluates the rule base for it. The API caches answers by the resolved question.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Literal

from framework_advisor.machine import ThisMachine
from framework_advisor.models import ProbeJob
from framework_advisor.probes.hardware import HardwareProfile
from framework_advisor.probes.history import MAX_POOLED, StoredProbe, pooled_measurements
from framework_advisor.rules.engine import recommend
from framework_advisor.rules.recommendation import Recommendation, RecommendationRequest
from framework_advisor.rules.rulebase import RuleBase
from framework_advisor.storage import Store


class UnknownProbe(LookupError):
    """The request names a probe the store does not hold."""


class UnusableProbe(LookupError):
    """The request names a stored probe that has no report to use: not finished, or unreadable."""


@dataclass(frozen=True)
class Question:
    """Everything an answer depends on besides the rule base: a recommendation is a pure function of it."""

    goals: tuple[str, ...]
    experience: str
    hardware: HardwareProfile
    source: Literal["request", "probe", "this-machine"]
    installed: dict[str, str | None] | None
    probes: tuple[ProbeJob, ...] = ()  # newest first; this machine's recent ones are pooled

    def cache_key(self) -> tuple:
        installed = tuple(sorted((self.installed or {}).items()))
        return (self.goals, self.experience, self.hardware.model_dump_json(), self.source, installed,
                tuple(probe.id for probe in self.probes))


def resolve(request: RecommendationRequest, machine: ThisMachine, store: Store | None) -> Question:
    """Which machine the request is about, and the measurements that come with it."""
    goals, experience = tuple(request.goals), request.experience
    if request.hardware is not None:
        return Question(goals, experience, request.hardware, "request", None)
    if request.probe_id is not None:
        probe = store.get_probe(request.probe_id) if store is not None else None
        if probe is None:
            raise UnknownProbe(request.probe_id)
        if probe.report is None:
            why = f"it is {probe.status}" + (f" ({probe.error})" if probe.error else "")
            raise UnusableProbe(f"probe {probe.id!r} has no report to use: {why}")
        return Question(goals, experience, probe.report.hardware, "probe", None, (probe,))
    # This machine: its own recent measurements only (an uploaded report naming this host never counts).
    probes = store.recent_finished_probes(socket.gethostname(), MAX_POOLED) if store is not None else []
    return Question(goals, experience, machine.hardware(), "this-machine", machine.installed_versions(),
                    tuple(probes))


def answer(rulebase: RuleBase, question: Question) -> Recommendation:
    measurements, used = None, None
    if question.probes:
        measurements, used = pooled_measurements([StoredProbe(probe.id, probe.report) for probe in question.probes])
    recommendation = recommend(rulebase, question.goals, question.experience, question.hardware,
                               question.installed, measurements, hardware_described=question.source == "request")
    return recommendation.model_copy(update={"hardware_source": question.source, "measurements": used,
                                             "probe_id": question.probes[0].id if question.probes else None})
