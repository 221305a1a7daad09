"""Evaluates the rule base for one question: goals, experience and a HardwareProfile.

Order-independent by construction: knock-outs first; then each framework's score is its prior
plus, for every group of correlated rules, the strongest ``points x certainty`` that fired (an
ungrouped rule is a group of its own). Ties are never decided silently: a gap below the rule base's
``low`` threshold is answered as "not-enough-evidence".
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from framework_advisor.probes.hardware import HardwareProfile
from framework_advisor.probes.report import DerivedFacts
from framework_advisor.probes.vocabulary import FRAMEWORK_IDS, FRAMEWORK_NAMES
from framework_advisor.rules.capacity import capacity_facts
from framework_advisor.rules.catalog import (best_device, install_command, platform_knockout, render_starter,
                                             starter_goal)
from framework_advisor.rules.alternatives import index_for
from framework_advisor.rules.counterfactuals import unknown_facts, what_would_change
from framework_advisor.probes.worker.records import UnusedAccelerator
from framework_advisor.rules.recommendation import (Confidence, RankedFramework, Reason, Recommendation, RulebaseVersion,
                                                    Starter)
from framework_advisor.rules.remedies import fix_for
from framework_advisor.rules.rulebase import FRAMEWORK_PLACEHOLDER, MESSAGE_PLACEHOLDER, RuleBase
from framework_advisor.rules.schema import AllOf, AnyOf, Leaf, NotOf, Rule
from framework_advisor.rules.summary import device_words, summarize

Measurements = Mapping[str, DerivedFacts]


def derive_facts(rulebase: RuleBase, hardware: HardwareProfile, goals: Sequence[str], experience: str
                 ) -> dict[str, Any]:
    accelerators = hardware.accelerators
    facts: dict[str, Any] = {
        "goals": frozenset(goals),
        "experience": experience,
        "os": hardware.os,
        "arch": hardware.arch,
        "apple_silicon": hardware.os == "darwin" and hardware.arch == "arm64",
        "accelerators": frozenset(a.kind for a in accelerators),
        "accelerator_count": sum(a.count for a in accelerators),
        "accelerator_memory_gb": max((a.memory_gb or 0 for a in accelerators), default=0),
    }
    if hardware.memory_gb is not None:
        facts["memory_gb"] = hardware.memory_gb
    if hardware.cpu is not None:
        facts["cpu_cores"] = hardware.cpu.cores
    for framework_id, entry in rulebase.frameworks.items():
        device = best_device(entry, hardware)
        if device is not None:
            facts[f"{framework_id}.device"] = device
            facts[f"{framework_id}.uses_accelerator"] = device != "cpu"
            facts.update(capacity_facts(framework_id, entry, device, hardware))
    return facts


def measured_facts(measurements: Measurements,
                   describe_fix: Callable[[str, UnusedAccelerator], str] | None = None) -> dict[str, Any]:
    """Facts from a probe's derived figures (probes.derived): speed, accelerator reached, failures.

    ``describe_fix(framework, issue)`` gives the catalog's fix for an accelerator a framework did not use."""
    facts: dict[str, Any] = {"probed": True}
    for framework_id, derived in measurements.items():  # the models hold only framework ids, slowdowns >= 1
        if derived.slowdown is not None:
            facts[f"{framework_id}.slowdown"] = derived.slowdown
        if derived.slowdown_range is not None:
            facts[f"{framework_id}.slowdown_low"] = derived.slowdown_range.low
            facts[f"{framework_id}.slowdown_text"] = derived.slowdown_range.text()
        if derived.speed_certainty is not None:
            facts[f"{framework_id}.speed_certainty"] = derived.speed_certainty
        if derived.speed_basis is not None:
            facts[f"{framework_id}.speed_basis"] = derived.speed_basis
        if derived.clearly_fastest is not None:
            facts[f"{framework_id}.clearly_fastest"] = derived.clearly_fastest
        if derived.fastest is not None:
            facts["fastest_framework"] = derived.fastest
        if derived.reached_accelerator is not None:
            facts[f"{framework_id}.reached_accelerator"] = derived.reached_accelerator
        issue = derived.accelerator_issue
        if issue is not None:
            fix = describe_fix(framework_id, issue) if describe_fix is not None else ""
            saw = (issue.detail or issue.reason).rstrip(".")
            facts[f"{framework_id}.accelerator_fix"] = f"{saw}." + (f" Fix: {fix}" if fix else "")
        facts[f"{framework_id}.probe_failed"] = derived.failed
        if derived.failed:
            facts[f"{framework_id}.probe_failure"] = (
                f"{derived.failure_kind or 'failure'}: {derived.failure_message or ''}".strip())
    return facts


def facts_for(rulebase: RuleBase, hardware: HardwareProfile, goals: Sequence[str], experience: str,
              measurements: Measurements | None) -> dict[str, Any]:
    facts = derive_facts(rulebase, hardware, goals, experience)
    if measurements:
        facts.update(measured_facts(measurements,
                                    lambda framework, issue: fix_for(rulebase, framework, issue, hardware)))
    else:
        facts["probed"] = False
    return facts


def render_message(template: str, facts: Mapping[str, Any], framework_id: str | None = None) -> str:
    """Fill ``{fact}`` or ``{fact:.Nf}`` placeholders from facts only (no attribute access, no code).

    ``{framework}`` is the name of ``framework_id`` (the framework the reason is shown under) and
    ``{framework.<fact>}`` its own per-framework fact. A device renders as words ("the NVIDIA CUDA GPU")."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        head, _, rest = name.partition(".")
        if head == FRAMEWORK_PLACEHOLDER and framework_id is not None:
            if not rest:
                return FRAMEWORK_NAMES.get(framework_id, framework_id)
            name = f"{framework_id}.{rest}"
        value = facts.get(name)
        if value is None:
            return "unknown"
        if match.group(2) is not None and isinstance(value, (int, float)):
            return f"{value:.{int(match.group(2))}f}"
        if name.endswith(".device") and isinstance(value, str):
            return device_words(value)
        return FRAMEWORK_NAMES.get(value, value) if isinstance(value, str) else str(_json_value(value))

    return MESSAGE_PLACEHOLDER.sub(fill, template)


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda actual, expected: actual == expected,
    "ne": lambda actual, expected: actual != expected,
    "lt": lambda actual, expected: actual < expected,
    "lte": lambda actual, expected: actual <= expected,
    "gt": lambda actual, expected: actual > expected,
    "gte": lambda actual, expected: actual >= expected,
    "in": lambda actual, expected: actual in expected,
    "not_in": lambda actual, expected: actual not in expected,
    "contains": lambda actual, expected: expected in actual,
    "contains_any": lambda actual, expected: not actual.isdisjoint(expected),
}
Predicate = Callable[[Mapping[str, Any]], bool]


_UNKNOWN = object()  # what a missing fact reads as inside a compiled leaf


def _compile_leaf(fact: str, op: str, expected: Any) -> Predicate:
    """One leaf as one function: the comparison written out (as _COMPARISONS states it), no call per leaf.
    An unknown fact satisfies no comparison."""
    missing = _UNKNOWN
    if op == "eq":
        return lambda facts: (value := facts.get(fact, missing)) is not missing and value == expected
    if op == "ne":
        return lambda facts: (value := facts.get(fact, missing)) is not missing and value != expected
    if op == "lt":
        return lambda facts: (value := facts.get(fact, missing)) is not missing and value < expected
    if op == "lte":
        return lambda facts: (value := facts.get(fact, missing)) is not missing and value <= expected
    if op == "gt":
        return lambda facts: (value := facts.get(fact, missing)) is not missing and value > expected
    if op == "gte":
        return lambda facts: (value := facts.get(fact, missing)) is not missing and value >= expected
    if op == "in":
        return lambda facts: (value := facts.get(fact, missing)) is not missing and value in expected
    if op == "not_in":
        return lambda facts: (value := facts.get(fact, missing)) is not missing and value not in expected
    if op == "contains":
        return lambda facts: (value := facts.get(fact, missing)) is not missing and expected in value
    if op == "contains_any":
        return lambda facts: (value := facts.get(fact, missing)) is not missing and not value.isdisjoint(expected)
    compare = _COMPARISONS[op]  # the schema allows no other operator
    return lambda facts: fact in facts and compare(facts[fact], expected)


def _all(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda facts: first(facts) and second(facts)
    if len(parts) == 3:
        first, second, third = parts
        return lambda facts: first(facts) and second(facts) and third(facts)

    def every(facts: Mapping[str, Any]) -> bool:
        for part in parts:
            if not part(facts):
                return False
        return True

    return every


def _any(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda facts: first(facts) or second(facts)

    def some(facts: Mapping[str, Any]) -> bool:
        for part in parts:
            if part(facts):
                return True
        return False

    return some


def compile_condition(condition: Any) -> Predicate:
    """A condition tree as one function of the facts (each leaf's comparison chosen once, not per call)."""
    if isinstance(condition, Leaf):
        fact, expected = condition.fact, condition.value
        if condition.op == "exists":
            present = expected is not False
            return lambda facts: (fact in facts) == present
        return _compile_leaf(fact, condition.op, expected)
    if isinstance(condition, AllOf):
        return _all([compile_condition(child) for child in condition.all])
    if isinstance(condition, AnyOf):
        return _any([compile_condition(child) for child in condition.any])
    if isinstance(condition, NotOf):
        inner = compile_condition(condition.not_)
        return lambda facts: not inner(facts)
    raise TypeError(f"not a condition: {condition!r}")


def holds(condition: Any, facts: Mapping[str, Any]) -> bool:
    return compile_condition(condition)(facts)


# Each loaded rule base's rules with their compiled conditions, made once (a rule base never changes). Keyed by
# identity (a RuleBase holds dicts, so it has no hash); the entry goes when its rule base does.
_COMPILED: dict[int, list[tuple[Rule, Predicate]]] = {}


def _compiled(rulebase: RuleBase) -> list[tuple[Rule, Predicate]]:
    compiled = _COMPILED.get(id(rulebase))
    if compiled is None:
        compiled = _COMPILED[id(rulebase)] = [(rule, compile_condition(rule.when)) for rule in rulebase.rules]
        weakref.finalize(rulebase, _COMPILED.pop, id(rulebase), None)
    return compiled


def _json_value(value: Any) -> Any:
    return sorted(value) if isinstance(value, frozenset) else value


def _matched_facts(rulebase: RuleBase, rule: Rule, facts: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _json_value(facts[name]) for name in index_for(rulebase).reads[rule.id] if name in facts}


def _reason_inputs(index: Any, rule: Rule, framework_id: str) -> tuple[str, ...]:
    """The facts a rule's reason under a framework is made from: those its conditions read and those its
    message quotes (``{framework.x}`` as that framework's own)."""
    key = ("reason-inputs", rule.id, framework_id)
    names = index.memo.get(key)
    if names is None:
        quoted = []
        for match in MESSAGE_PLACEHOLDER.finditer(rule.message_for(framework_id)):
            head, _, rest = match.group(1).partition(".")
            quoted.append(f"{framework_id}.{rest}" if head == FRAMEWORK_PLACEHOLDER and rest else match.group(1))
        names = index.memo[key] = tuple(dict.fromkeys([*index.reads[rule.id], *quoted]))
    return names


def _starter(rulebase: RuleBase, framework_id: str, device: str, goal: str | None) -> Starter:
    """render_starter, made once per rule base, framework, device and goal (a pure function of those)."""
    memo = index_for(rulebase).memo
    key = ("starter", framework_id, device, goal)
    starter = memo.get(key)
    if starter is None:
        starter = memo[key] = render_starter(rulebase, framework_id, device, goal)
    return starter


def _counted(fired: list[tuple[Rule, float]]) -> set[int]:
    """Which of the fired (rule, points) pairs count: the strongest of each group (an ungrouped rule is its
    own group); the positions of those in ``fired``."""
    strongest: dict[str, int] = {}
    for position, (rule, points) in enumerate(fired):
        key = rule.group or f"rule:{rule.id}"
        best = strongest.get(key)
        if best is None or (abs(points), rule.id) > (abs(fired[best][1]), fired[best][0].id):
            strongest[key] = position
    return set(strongest.values())


class Evaluation:
    """The rules that fired for one set of facts: per framework, its knock-outs, scored rules and score."""

    def __init__(self, rulebase: RuleBase, facts: Mapping[str, Any]):
        self.facts = facts
        self.knocked_out: set[str] = {f for f in FRAMEWORK_IDS if f"{f}.device" not in facts}
        self.knockouts: dict[str, list[Rule]] = {f: [] for f in FRAMEWORK_IDS}
        self.fired: dict[str, list[tuple[Rule, float]]] = {f: [] for f in FRAMEWORK_IDS}
        self.certainty: dict[str, float] = {}
        for rule, condition in _compiled(rulebase):
            if not condition(facts):
                continue
            certainty = rule.certainty
            if rule.certainty_from is not None:
                scale = facts.get(rule.certainty_from)
                if scale is None:  # evidence of unknown quality is no evidence
                    continue
                certainty = round(certainty * scale, 6)
            self.certainty[rule.id] = certainty
            if rule.then.knockout is not None:
                for framework_id in rule.then.knockout:
                    self.knocked_out.add(framework_id)
                    self.knockouts[framework_id].append(rule)
            else:
                for framework_id, points in rule.then.points.items():
                    self.fired[framework_id].append((rule, round(points * certainty, 6)))
        self.counted = {f: _counted(self.fired[f]) for f in FRAMEWORK_IDS}
        self.scores = {f: rulebase.frameworks[f].prior + sum(self.fired[f][i][1] for i in self.counted[f])
                       for f in FRAMEWORK_IDS}

    def ranked(self) -> list[str]:
        order = {framework_id: index for index, framework_id in enumerate(FRAMEWORK_IDS)}
        return sorted(FRAMEWORK_IDS, key=lambda f: (f in self.knocked_out, -round(self.scores[f], 3), order[f]))

    def reasons(self, rulebase: RuleBase, framework_id: str, hardware: HardwareProfile) -> tuple[Reason, ...]:
        """Knock-outs first, then counted rules, strongest first."""
        reasons: list[Reason] = []
        if f"{framework_id}.device" not in self.facts:
            reasons.append(platform_knockout(framework_id, rulebase.frameworks[framework_id], hardware))
        for rule in self.knockouts[framework_id]:
            reasons.append(self._reason(rulebase, rule, framework_id, 0.0, counted=True, knockout=True))
        scored = [self._reason(rulebase, rule, framework_id, points, counted=i in self.counted[framework_id],
                               knockout=False)
                  for i, (rule, points) in enumerate(self.fired[framework_id])]
        scored.sort(key=lambda r: (not r.counted, -abs(r.points), r.rule))
        if not reasons and not scored:
            default = self._default_reason(rulebase, framework_id)
            if default is not None:
                scored.append(default)
        return tuple(sorted(reasons, key=lambda r: r.rule)) + tuple(scored)

    def _default_reason(self, rulebase: RuleBase, framework_id: str) -> Reason | None:
        """The rule base's reason for a supported framework that no rule spoke about: no score is silent."""
        default = rulebase.meta.default_reason
        if default is None:
            return None
        entry = rulebase.frameworks[framework_id]
        return Reason(rule=default.id, message=render_message(default.message, self.facts, framework_id),
                      points=0.0, certainty=1.0, counted=True,
                      matched={"goals": _json_value(self.facts["goals"]), "experience": self.facts["experience"]},
                      refs=tuple(dict.fromkeys([*default.refs, entry.docs])))

    def _reason(self, rulebase: RuleBase, rule: Rule, framework_id: str, points: float, counted: bool,
                knockout: bool) -> Reason:
        # A reason is a pure function of its rule, framework, points and the facts its conditions and message read:
        # made once for each of those (Reasons are immutable, so answers share them).
        index = index_for(rulebase)
        certainty = self.certainty.get(rule.id, rule.certainty)
        facts = self.facts
        key = (rule.id, framework_id, points, certainty, counted, knockout,
               tuple(facts.get(name) for name in _reason_inputs(index, rule, framework_id)))
        try:
            reason = index.reasons.get(key)
        except TypeError:  # a fact value that cannot be a key (none does today): made each time
            reason, key = None, None
        if reason is None:
            reason = Reason(
                rule=rule.id, message=render_message(rule.message_for(framework_id), facts, framework_id),
                points=points, certainty=certainty, group=rule.group, counted=counted, knockout=knockout,
                matched=_matched_facts(rulebase, rule, facts), refs=tuple(rule.refs))
            if key is not None:
                index.reasons.put(key, reason)
        return reason


def first_place(rulebase: RuleBase, hardware: HardwareProfile, goals: Sequence[str], experience: str,
                measurements: Measurements | None) -> str:
    return Evaluation(rulebase, facts_for(rulebase, hardware, goals, experience, measurements)).ranked()[0]


def _confidence(rulebase: RuleBase, ranking: list[RankedFramework]) -> Confidence:
    supported = [item for item in ranking if item.supported]
    thresholds = rulebase.meta.confidence
    if not supported:
        return Confidence(label="not-enough-evidence", gap=0.0, message="No framework runs on this hardware.")
    first = supported[0]
    if len(supported) == 1:
        return Confidence(label="high", gap=0.0, message=f"{first.name} is the only framework that runs here.")
    second = supported[1]
    gap = round(first.score - second.score, 6)
    if gap < thresholds.low:
        return Confidence(label="not-enough-evidence", gap=gap, message=(
            f"{first.name} and {second.name} are {gap:g} points apart: the rule base does not separate "
            f"them for these answers (listed in catalog order). Add a goal, or run the probe to measure both here."))
    label = "high" if gap >= thresholds.high else "medium" if gap >= thresholds.medium else "low"
    points = "point" if gap == 1 else "points"
    return Confidence(label=label, gap=gap,
                      message=f"{first.name} leads {second.name} by {gap:g} {points} ({label} confidence).")


def recommend(rulebase: RuleBase, goals: Sequence[str], experience: str, hardware: HardwareProfile,
              installed_versions: Mapping[str, str | None] | None = None,
              measurements: Measurements | None = None, *, hardware_described: bool = True) -> Recommendation:
    """Rank all frameworks on ``hardware``; ``measurements`` are a probe's derived facts for it, if any.
    ``hardware_described``: the user described the hardware (else it is this machine or a probe's), so other
    hardware may be suggested among the changes that would put another framework first.

    Each framework's starter is the one for ``starter_goal(goals)``: the first goal with a family other
    than "basics" (research + production gets the deploy starter), else the basics starter."""
    facts = facts_for(rulebase, hardware, goals, experience, measurements)
    evaluation = Evaluation(rulebase, facts)
    goal = starter_goal(goals)
    ranking = []
    for rank, framework_id in enumerate(evaluation.ranked(), start=1):
        entry = rulebase.frameworks[framework_id]
        device = facts.get(f"{framework_id}.device")
        ranking.append(RankedFramework(
            framework=framework_id, name=entry.name, rank=rank, score=round(evaluation.scores[framework_id], 3),
            supported=framework_id not in evaluation.knocked_out, device=device or "cpu",
            reasons=evaluation.reasons(rulebase, framework_id, hardware),
            install=install_command(entry, hardware, device),
            installed_version=(installed_versions or {}).get(framework_id),
            starter=_starter(rulebase, framework_id, device or "cpu", goal)))
    return Recommendation(
        ranking=tuple(ranking), hardware=hardware, goals=tuple(goals), experience=experience,
        confidence=_confidence(rulebase, ranking),
        summary=summarize(ranking, hardware, rulebase.meta.confidence.low),
        what_would_change=what_would_change(
            rulebase, goals, experience, hardware, facts, evaluation, ranking[0].framework,
            hardware_described=hardware_described,
            machine_facts=lambda other: facts_for(rulebase, other, goals, experience, None)),
        unknown=unknown_facts(rulebase, facts),
        rulebase=RulebaseVersion(version=rulebase.version, sha256=rulebase.sha256))
