"""Evaluating what-if questions cheaply: the first place after one change to the facts, re-evaluating only the
rules that change can reach, and sharing the answers across questions whose facts cross no rule threshold.

A change to one answer (add the goal ``learning``, experience ``beginner`` instead of ``expert``) can only
change the rules with a leaf that reads that value: ``goals contains learning``, ``experience in [beginner,
...]``. Every other rule fires or not as in the question's own evaluation, so an alternative costs the
handful of rules it can reach, and a framework whose rules did not change keeps its score.

The alternatives of a question depend on its facts only through the rules that fired (with their certainties),
which frameworks have a device, and, for the rules a change of goals or experience reaches, which of their
other condition leaves hold and the numbers that scale their certainty: the *signature* of the facts. Two
questions with the same goals, experience and signature (a machine with 64 GB and one with 96 GB, when no
rule tests a threshold between them) have the same alternatives, so those are cached by signature (bounded,
least recently used first), per rule base. Another
kind of machine (rules.counterfactuals) is judged as that kind, with nothing of this machine but its OS and
architecture, so its first place is cached by the alternative, the OS, the architecture, goals and experience.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from framework_advisor.probes.vocabulary import FRAMEWORK_IDS
from framework_advisor.rules.rulebase import RuleBase, iter_leaves
from framework_advisor.rules.schema import Leaf, Rule

Predicate = Callable[[Mapping[str, Any]], bool]
# Facts the question itself sets: their values enter cache keys exactly, not through the signature.
USER_FACTS = ("goals", "experience")
CACHE_SIZE = 4096
_ORDER = {framework_id: position for position, framework_id in enumerate(FRAMEWORK_IDS)}


class BoundedCache:
    """A thread-safe mapping that keeps the ``size`` most recently used entries."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> Any:
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)


def _mentions(leaf: Leaf, value: str) -> bool:
    """Whether the truth of ``leaf`` can depend on ``value`` being in the goals or being the experience."""
    if leaf.op == "exists":
        return False
    return value in leaf.value if isinstance(leaf.value, list) else leaf.value == value


@dataclass
class RuleIndex:
    """A rule base's rules indexed for alternatives: who reads what, who scores whom (built once per rule base)."""

    rules: list[Rule]
    priors: dict[str, float]
    by_goal: dict[str, tuple[int, ...]]
    by_level: dict[str, tuple[int, ...]]
    # (framework, group key) -> (position, points, rule id, points x certainty when the certainty is the rule's own)
    members: dict[tuple[str, str], tuple[tuple[int, float, str, float], ...]]
    # every distinct leaf, over a fact the question does not set, of a rule that a change of goals or experience
    # reaches; and the facts that scale such a rule's certainty
    leaves: tuple[Predicate, ...]
    certainty_facts: tuple[str, ...]
    positions: dict[str, int]  # rule id -> position
    probe_facts: tuple[tuple[str, str], ...]  # machine facts a condition reads: (fact, description)
    reads: dict[str, tuple[str, ...]]  # rule id -> the facts it reads (its leaves', then certainty_from), in order
    plan: tuple[tuple[Predicate, float, str | None], ...]  # by position: (condition, certainty, certainty_from)
    memo: dict[Hashable, Any] = field(default_factory=dict)  # pure functions of the rule base, memoised (starters)
    user_changes: BoundedCache = field(default_factory=BoundedCache)
    other_machines: BoundedCache = field(default_factory=BoundedCache)
    reasons: BoundedCache = field(default_factory=lambda: BoundedCache(2 * CACHE_SIZE))  # the engine's, by inputs

    @classmethod
    def build(cls, rulebase: RuleBase, compiled: list[tuple[Rule, Predicate]], compile_leaf: Callable[[Leaf], Predicate]
              ) -> RuleIndex:
        rules = [rule for rule, _ in compiled]
        goals = rulebase.facts["goals"].values or []
        levels = rulebase.facts["experience"].values or []
        by_goal: dict[str, list[int]] = {goal: [] for goal in goals}
        by_level: dict[str, list[int]] = {level: [] for level in levels}
        scoring: dict[str, list[tuple[int, float, str]]] = {framework_id: [] for framework_id in FRAMEWORK_IDS}
        leaves: dict[tuple[str, str, str], Predicate] = {}
        certainty_facts: list[str] = []
        for position, rule in enumerate(rules):
            reached = False
            for leaf in iter_leaves(rule.when):
                if leaf.fact == "goals":
                    for goal in goals:
                        if _mentions(leaf, goal):
                            by_goal[goal].append(position)
                            reached = True
                elif leaf.fact == "experience":
                    for level in levels:
                        if _mentions(leaf, level):
                            by_level[level].append(position)
                            reached = True
            if reached:
                for leaf in iter_leaves(rule.when):
                    if leaf.fact not in USER_FACTS:
                        leaves.setdefault((leaf.fact, leaf.op, repr(leaf.value)), compile_leaf(leaf))
                if rule.certainty_from is not None and rule.certainty_from not in certainty_facts:
                    certainty_facts.append(rule.certainty_from)
            for framework_id, points in (rule.then.points or {}).items():
                scoring[framework_id].append((position, points, rule.group or f"rule:{rule.id}"))
        members: dict[tuple[str, str], list[tuple[int, float, str, float]]] = {}
        for framework_id, rows in scoring.items():
            for position, points, group in rows:
                rule = rules[position]
                members.setdefault((framework_id, group), []).append(
                    (position, points, rule.id, round(points * rule.certainty, 6)))
        tested = sorted({leaf.fact for rule in rules for leaf in iter_leaves(rule.when)})
        probe_facts = tuple((fact, spec.description) for fact in tested
                            if (spec := rulebase.fact_spec(fact)) is not None and spec.source == "probe"
                            and not spec.per_framework)
        return cls(rules=rules,
                   plan=tuple((predicate, rule.certainty, rule.certainty_from) for rule, predicate in compiled),
                   probe_facts=probe_facts,
                   reads={rule.id: tuple([leaf.fact for leaf in iter_leaves(rule.when)]
                                         + ([rule.certainty_from] if rule.certainty_from else [])) for rule in rules},
                   members={key: tuple(rows) for key, rows in members.items()},
                   priors={f: rulebase.frameworks[f].prior for f in FRAMEWORK_IDS},
                   by_goal={goal: tuple(dict.fromkeys(p)) for goal, p in by_goal.items()},
                   by_level={level: tuple(dict.fromkeys(p)) for level, p in by_level.items()},
                   leaves=tuple(leaves.values()), certainty_facts=tuple(certainty_facts),
                   positions={rule.id: position for position, rule in enumerate(rules)})

    def signature(self, facts: Mapping[str, Any], fired: Mapping[str, float]) -> tuple:
        """What the user's alternatives of a question depend on besides its goals and experience: the rules that
        fired (with their certainties: so the scores), which frameworks have a build (a device) here, and for
        the rules a change of goals or experience reaches, which of their other leaves hold and the numbers
        that scale their certainty. ``fired``: rule id -> certainty, the question's own evaluation."""
        return (frozenset(fired.items()),
                tuple(f"{framework_id}.device" in facts for framework_id in FRAMEWORK_IDS),
                tuple(leaf(facts) for leaf in self.leaves),
                tuple(facts.get(name) for name in self.certainty_facts))

    def first_place(self, facts: Mapping[str, Any]) -> str:
        """The first place for a whole set of facts (every rule evaluated; the engine's model, without the
        explanations)."""
        fired = self.fired_in(facts)
        knocked_out = {f for f in FRAMEWORK_IDS if f"{f}.device" not in facts}
        groups: set[tuple[str, str]] = set()
        for position in fired:
            rule = self.rules[position]
            if rule.then.knockout:
                knocked_out.update(rule.then.knockout)
            for framework_id in rule.then.points or ():
                groups.add((framework_id, rule.group or f"rule:{rule.id}"))
        scores = dict(self.priors)
        for framework_id, group in groups:
            scores[framework_id] += _group_points(self, framework_id, group, fired)
        return min(FRAMEWORK_IDS, key=lambda f: (f in knocked_out, -round(scores[f], 3), _ORDER[f]))

    def certainty_if_fires(self, position: int, facts: Mapping[str, Any]) -> float | None:
        """The rule's certainty in these facts when it fires, else None (as the engine's Evaluation computes it)."""
        predicate, certainty, scaled_by = self.plan[position]
        if not predicate(facts):
            return None
        if scaled_by is None:
            return certainty
        scale = facts.get(scaled_by)
        return None if scale is None else round(certainty * scale, 6)

    def fired_in(self, facts: Mapping[str, Any], positions: Iterable[int] | None = None) -> dict[int, float]:
        """The certainty of each rule (of ``positions``, else all) that fires in these facts, by position."""
        plan = self.plan
        fired: dict[int, float] = {}
        for position in range(len(plan)) if positions is None else positions:
            predicate, certainty, scaled_by = plan[position]
            if predicate(facts):
                if scaled_by is None:
                    fired[position] = certainty
                elif (scale := facts.get(scaled_by)) is not None:
                    fired[position] = round(certainty * scale, 6)
        return fired


class BaseState:
    """One question's evaluation as the alternatives need it: the certainty of each rule that fired (by
    position), the scores, the frameworks without a build, and the first place."""

    def __init__(self, index: RuleIndex, facts: Mapping[str, Any], fired: Mapping[str, float],
                 scores: Mapping[str, float], knocked_out: Iterable[str], first: str):
        positions = index.positions
        self.index = index
        self.facts = facts
        self.fired = {positions[rule_id]: certainty for rule_id, certainty in fired.items()}
        self.scores = scores
        self.knocked_out = frozenset(knocked_out)
        self.first = first
        self.builds = tuple(f"{f}.device" in facts for f in FRAMEWORK_IDS)
        self._groups: dict[tuple[str, str], float] = {}  # (framework, group) -> its counted points here

    def first_after(self, facts: Mapping[str, Any], affected: Iterable[int], same_builds: bool = False) -> str:
        """The first place with ``facts`` instead of the question's, re-evaluating only the ``affected`` rules
        (every rule whose outcome can differ between the two sets of facts). ``same_builds``: the frameworks
        with a build are known to be the same (the machine did not change)."""
        index = self.index
        fired = self.fired
        now = index.fired_in(facts, affected)
        changed: dict[int, float | None] = {p: now.get(p) for p in affected if now.get(p) != fired.get(p)}
        builds = self.builds if same_builds else tuple(f"{f}.device" in facts for f in FRAMEWORK_IDS)
        same_builds = builds == self.builds
        if not changed and same_builds:
            return self.first
        state = {**fired, **changed}
        rules = index.rules
        if same_builds and not any(rules[p].then.knockout for p in changed):
            knocked_out: Iterable[str] = self.knocked_out
        else:
            knocked_out = {f for f, has_build in zip(FRAMEWORK_IDS, builds) if not has_build}
            for position, certainty in state.items():
                if certainty is not None and rules[position].then.knockout:
                    knocked_out.update(rules[position].then.knockout)
        scores = self.scores
        touched = {(f, rules[p].group or f"rule:{rules[p].id}") for p in changed for f in (rules[p].then.points or ())}
        if touched:
            scores = dict(scores)
            for framework_id, group in touched:  # a group's points change from its base value to its new one
                scores[framework_id] += _group_points(index, framework_id, group, state) - self._base(framework_id, group)
        return min(FRAMEWORK_IDS, key=lambda f: (f in knocked_out, -round(scores[f], 3), _ORDER[f]))

    def _base(self, framework_id: str, group: str) -> float:
        value = self._groups.get((framework_id, group))
        if value is None:
            value = self._groups[framework_id, group] = _group_points(self.index, framework_id, group, self.fired)
        return value


def _group_points(index: RuleIndex, framework_id: str, group: str, state: Mapping[int, float | None]) -> float:
    """The points a group gives a framework (the engine's model: the strongest rule of the group that fires)."""
    best: tuple[float, str] | None = None
    value = 0.0
    plan = index.plan
    for position, points, rule_id, own in index.members[framework_id, group]:
        certainty = state.get(position)
        if certainty is None:
            continue
        scored = own if certainty == plan[position][1] else round(points * certainty, 6)
        candidate = (abs(scored), rule_id)
        if best is None or candidate > best:
            best, value = candidate, scored
    return value


# Each loaded rule base's index, made once (keyed by identity like the engine's compiled rules; the entry goes
# when its rule base does).
_INDEXES: dict[int, RuleIndex] = {}
_INDEX_LOCK = threading.Lock()


def index_for(rulebase: RuleBase) -> RuleIndex:
    index = _INDEXES.get(id(rulebase))
    if index is None:
        import weakref

        from framework_advisor.rules import engine  # the engine imports this module: compile with its own code

        with _INDEX_LOCK:
            index = _INDEXES.get(id(rulebase))
            if index is None:
                index = _INDEXES[id(rulebase)] = RuleIndex.build(rulebase, engine._compiled(rulebase),
                                                                 engine.compile_condition)
                weakref.finalize(rulebase, _INDEXES.pop, id(rulebase), None)
    return index
