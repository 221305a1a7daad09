"""A small symbolic evaluator: every fact assignment ("world") the engine can produce, restricted to
the facts some conditions mention, and the truth of conditions over those worlds."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from framework_advisor.probes.comparisons import Interval
from framework_advisor.probes.hardware import Accelerator, Cpu, HardwareProfile, impossible_accelerator
from framework_advisor.probes.report import DerivedFacts
from framework_advisor.probes.vocabulary import ACCELERATOR_KINDS, ARCHITECTURES, FRAMEWORK_IDS, OPERATING_SYSTEMS
from framework_advisor.probes.worker.records import UnusedAccelerator
from framework_advisor.rules.engine import derive_facts, holds, measured_facts
from framework_advisor.rules.rulebase import RuleBase, iter_leaves
from framework_advisor.rules.schema import FactSpec

MISSING = object()  # only used as a domain marker: a missing fact is left out of the world
# Hardware facts that follow the accelerators' count, or their memory (by name; per-framework facts without
# their framework): the worlds put count and memory at these facts' thresholds too.
COUNT_FACTS = ("accelerator_count", "idle_accelerators", "device_count")
MEMORY_FACTS = ("accelerator_memory_gb",)


def _cuts(wanted: Iterable[str], thresholds: Mapping[str, set[float]], names: Sequence[str]) -> set[float] | None:
    """The thresholds of the wanted facts among ``names``; None when none of them is wanted."""
    chosen = [fact for fact in wanted if fact.rpartition(".")[2] in names]
    return set().union(*(thresholds.get(fact, set()) for fact in chosen)) if chosen else None


def number_points(thresholds: Iterable[float], spec: FactSpec | None, floor: float | None = None) -> list[float]:
    """Points that decide every comparison against the thresholds: each one, between, below, above."""
    cuts = sorted(set(thresholds))
    points: set[float] = set(cuts)
    if cuts:
        points |= {cuts[0] - 1, cuts[-1] + 1}
        points |= {(low + high) / 2 for low, high in zip(cuts, cuts[1:])}
    else:
        points.add(0.0)
    low, high = (spec.range if spec is not None and spec.range else (float("-inf"), float("inf")))
    if spec is not None and spec.range:
        points |= {low, high}
    if floor is not None:
        low = max(low, floor)
        points.add(low)
    return sorted(p for p in points if low <= p <= high)


class WorldModel:
    """Enumerates the fact assignments (worlds) the engine can produce, restricted to given facts.

    Components, combined as a product:
      hardware   every plausible (os, arch, accelerator kinds) machine, through ``derive_facts``, with
                 accelerator count and memory at each threshold point the rules use;
      optional   hardware figures the user may leave out (memory, cores): each point, or missing;
      user       goals (every subset of the goal values the rules name; never empty) and experience;
      benchmark  ``probed`` false (no measured facts), or true with each measured fact at each value
                 or missing;
      other      a declared fact the engine never supplies is always missing.
    """

    def __init__(self, rulebase: RuleBase):
        self.rulebase = rulebase
        self.machines = [
            (os_name, arch, kinds)
            for os_name in OPERATING_SYSTEMS
            for arch in ARCHITECTURES
            for size in range(len(ACCELERATOR_KINDS) + 1)
            for kinds in itertools.combinations(ACCELERATOR_KINDS, size)
            if self._plausible(os_name, arch, kinds)
        ]
        minimal_keys: set[str] = set()
        full_keys: set[str] = set()
        for os_name, arch, kinds in self.machines:
            minimal_keys |= set(derive_facts(rulebase, self._hardware(os_name, arch, kinds), [], "beginner"))
            full = self._hardware(os_name, arch, kinds, memory=1, cpu=True)  # memory: the capacity facts
            full_keys |= set(derive_facts(rulebase, full, [], "beginner"))
        self.user_facts = {"goals", "experience"}
        self.hardware_facts = minimal_keys - self.user_facts
        self.optional_facts = full_keys - minimal_keys
        issue = UnusedAccelerator(kind="cuda", reason="cpu-only-build", detail="d")
        spread = Interval(median=2.0, low=1.8, high=2.2, rounds=5)
        sample = {framework_id: DerivedFacts(slowdown=2.0, slowdown_range=spread, speed_certainty=0.8,
                                             speed_basis="b", clearly_fastest=True, fastest=framework_id,
                                             reached_accelerator=False, accelerator_issue=issue, failed=True,
                                             failure_kind="error", failure_message="m")
                  for framework_id in FRAMEWORK_IDS}
        self.benchmark_facts = set(measured_facts(sample)) | {"probed"}
        self.produced = self.hardware_facts | self.optional_facts | self.user_facts | self.benchmark_facts
        self._cache: dict[tuple, list[dict[str, Any]]] = {}
        self._machine_facts: dict[tuple, dict[str, Any]] = {}

    @staticmethod
    def _plausible(os_name: str, arch: str, kinds: tuple[str, ...]) -> bool:
        # Machines that can exist, as the HardwareProfile validator says (Apple GPUs only in arm64 Macs, nothing
        # else in a Mac; TPU hosts run Linux; Gaudi servers are Linux x86_64).
        return all(impossible_accelerator(os_name, arch, kind) is None for kind in kinds)

    @staticmethod
    def _hardware(os_name: str, arch: str, kinds: Sequence[str], count: float | None = None,
                  memory: float = 0, cpu: bool = False) -> HardwareProfile:
        # Constructed, not validated: a world at a rule's threshold may have a count no real machine has.
        first_count = (count if count is not None else len(kinds)) - (len(kinds) - 1)
        accelerators = tuple(Accelerator.model_construct(kind=kind, name=kind, count=first_count if i == 0 else 1,
                                                         memory_gb=memory if i == 0 else 0)
                             for i, kind in enumerate(kinds))
        extra = {"memory_gb": 1, "cpu": Cpu.model_construct(model="x", cores=1)} if cpu else {}
        return HardwareProfile.model_construct(os=os_name, arch=arch, accelerators=accelerators, **extra)

    def _derived(self, os_name: str, arch: str, kinds: tuple[str, ...], count: float | None,
                 memory: float) -> dict[str, Any]:
        """The engine's hardware facts of one machine, derived once (every check asks for the same machines)."""
        key = (os_name, arch, kinds, count, memory)
        if key not in self._machine_facts:
            self._machine_facts[key] = derive_facts(self.rulebase, self._hardware(os_name, arch, kinds, count, memory),
                                                    [], "beginner")
        return self._machine_facts[key]

    def spec(self, fact: str) -> FactSpec | None:
        return self.rulebase.fact_spec(fact)

    def _domain(self, fact: str, thresholds: Mapping[str, set[float]], members: Mapping[str, set[str]]) -> list[Any]:
        spec = self.spec(fact)
        if spec is None:
            return [MISSING]
        if spec.type == "enum":
            return list(spec.values or [])
        if spec.type == "bool":
            return [True, False]
        if spec.type == "number":
            return number_points(thresholds.get(fact, ()), spec)
        if spec.type == "set":
            named = sorted(members.get(fact, ()))
            return [frozenset(c) for size in range(len(named) + 1) for c in itertools.combinations(named, size)]
        return ["some text"]

    def worlds(self, facts: set[str], thresholds: Mapping[str, set[float]],
               members: Mapping[str, set[str]]) -> list[dict[str, Any]]:
        key = (frozenset(facts), tuple(sorted((f, tuple(sorted(v))) for f, v in thresholds.items() if f in facts)),
               tuple(sorted((f, tuple(sorted(v))) for f, v in members.items() if f in facts)))
        if key not in self._cache:
            parts = [self._hardware_part(facts, thresholds), self._user_part(facts, members),
                     self._benchmark_part(facts, thresholds, members)]
            for fact in sorted(facts & self.optional_facts):
                parts.append([{}] + [{fact: value} for value in self._domain(fact, thresholds, members)])
            worlds = []
            for combination in itertools.product(*parts):
                world: dict[str, Any] = {}
                for piece in combination:
                    world.update(piece)
                worlds.append(world)
            self._cache[key] = worlds
        return self._cache[key]

    def _hardware_part(self, facts: set[str], thresholds: Mapping[str, set[float]]) -> list[dict[str, Any]]:
        wanted = facts & self.hardware_facts
        if not wanted:
            return [{}]
        count_spec, memory_spec = self.spec("accelerator_count"), self.spec("accelerator_memory_gb")
        # Facts that follow the accelerators' count or memory (idle devices, devices used) sweep them too, at
        # their own thresholds.
        count_cuts = _cuts(wanted, thresholds, COUNT_FACTS)
        memory_cuts = _cuts(wanted, thresholds, MEMORY_FACTS)
        seen: dict[frozenset, dict[str, Any]] = {}
        for os_name, arch, kinds in self.machines:
            counts: list[float | None] = [None]
            memories: list[float] = [0]
            if kinds and count_cuts is not None:
                counts = list(number_points(count_cuts, count_spec, floor=len(kinds)))
            if kinds and memory_cuts is not None:
                memories = list(number_points(memory_cuts, memory_spec, floor=0))
            for count in counts:
                for memory in memories:
                    derived = self._derived(os_name, arch, kinds, count, memory)
                    piece = {fact: derived[fact] for fact in wanted if fact in derived}
                    seen.setdefault(frozenset(piece.items()), piece)
        return list(seen.values())

    def _user_part(self, facts: set[str], members: Mapping[str, set[str]]) -> list[dict[str, Any]]:
        parts: list[list[dict[str, Any]]] = []
        if "experience" in facts:
            parts.append([{"experience": value} for value in (self.spec("experience").values or [])])
        if "goals" in facts:
            named = members.get("goals", set())
            everything = set(self.spec("goals").values or [])
            subsets = self._domain("goals", {}, members)
            # At least one goal is always chosen: the empty set stands for "only goals not named here".
            parts.append([{"goals": s} for s in subsets if s or named < everything])
        return [dict(pair for piece in combo for pair in piece.items()) for combo in itertools.product(*parts)]

    def _benchmark_part(self, facts: set[str], thresholds: Mapping[str, set[float]],
                        members: Mapping[str, set[str]]) -> list[dict[str, Any]]:
        wanted = facts & self.benchmark_facts
        if not wanted:
            return [{}]
        measured = sorted(wanted - {"probed"})
        pieces = [{"probed": False}]
        domains = [[MISSING, *self._domain(fact, thresholds, members)] for fact in measured]
        for values in itertools.product(*domains):
            piece = {"probed": True}
            piece.update({fact: value for fact, value in zip(measured, values) if value is not MISSING})
            pieces.append(piece)
        return pieces


def facts_of(conditions: Iterable[Any]) -> tuple[set[str], dict[str, set[float]], dict[str, set[str]]]:
    facts: set[str] = set()
    thresholds: dict[str, set[float]] = defaultdict(set)
    members: dict[str, set[str]] = defaultdict(set)
    for condition in conditions:
        for leaf in iter_leaves(condition):
            facts.add(leaf.fact)
            if leaf.op in ("lt", "lte", "gt", "gte", "eq", "ne") and isinstance(leaf.value, (int, float)) \
                    and not isinstance(leaf.value, bool):
                thresholds[leaf.fact].add(float(leaf.value))
            if leaf.op == "contains":
                members[leaf.fact].add(leaf.value)
            elif leaf.op == "contains_any":
                members[leaf.fact].update(leaf.value)
    return facts, thresholds, members


class Truth:
    """Truth of conditions over the worlds of a set of conditions."""

    def __init__(self, model: WorldModel, conditions: Sequence[Any], extra_facts: Iterable[str] = ()):
        facts, thresholds, members = facts_of(conditions)
        self.worlds = model.worlds(facts | set(extra_facts), thresholds, members)

    def vector(self, condition: Any) -> tuple[bool, ...]:
        return tuple(holds(condition, world) for world in self.worlds)

    def kind(self, condition: Any) -> str:
        vector = self.vector(condition)
        return "never" if not any(vector) else "always" if all(vector) else "sometimes"


def sample_worlds(model: WorldModel, facts: set[str], thresholds: Mapping[str, set[float]],
                   members: Mapping[str, set[str]], size: int = 256) -> list[dict[str, Any]]:
    """Random valid worlds over every fact the rules mention: a whole machine, the user's answers,
    and, when probed, each measured fact drawn on its own (enumerating them all would not fit)."""
    rng = random.Random(0)
    hardware = model.worlds(facts & model.hardware_facts, thresholds, members)
    user = model.worlds(facts & model.user_facts, thresholds, members)
    singles = {fact: model.worlds({fact}, thresholds, members)
               for fact in facts - model.hardware_facts - model.user_facts}
    measured = sorted(fact for fact in singles if fact in model.benchmark_facts and fact != "probed")
    rest = sorted(fact for fact in singles if fact not in model.benchmark_facts)
    sample = []
    for _ in range(size):
        world: dict[str, Any] = {**rng.choice(hardware), **rng.choice(user)}
        for fact in rest:
            world.update(rng.choice(singles[fact]))
        if facts & model.benchmark_facts:
            world["probed"] = rng.random() < 0.75
            if world["probed"]:
                for fact in measured:
                    world.update(rng.choice([piece for piece in singles[fact] if piece.get("probed")]))
        sample.append(world)
    return sample
