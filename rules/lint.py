"""A linter for the rule base: structure, logic and coverage, each finding at ``file:line:column``.

The loader (rules.rulebase) already refuses what cannot be used at all (unsafe YAML, schema errors,
unknown facts, operators that do not fit a fact's type, enum typos, numbers outside a fact's range);
a loading error becomes one error finding here. The linter then looks for what loads but is wrong:

- structure: duplicate rule ids across the files of one directory (all of them), ``seed:`` refs
  that name no file in the seeds folder, stale ``reviewed`` dates, overlapping install rows and
  platform devices with no install row of their own;
- logic: conditions that can never hold or always hold, duplicate rules, ungrouped rules that always
  fire together and push a framework the same way (double counting), two rules that always fire
  together and push a framework opposite ways (contradiction), and points for a framework that a
  knock-out always removes wherever the rule fires;
- coverage: goal and experience values no rule responds to, declared facts nothing uses, and, with
  a golden scenario file, rules no scenario fires and frameworks no scenario ranks first.

The logic checks do not compare strings: they evaluate condition trees with the engine's own
``holds`` over every *world* that matters to the facts a rule mentions (a small symbolic evaluator,
see ``_WorldModel``): each enum and bool value, each subset of the set values the rules name, and for
numbers a point at, between, below and above every threshold the rules use. Facts the engine derives
from hardware (``apple_silicon``, ``<framework>.device`` ...) are computed by the engine's own
``derive_facts`` from each possible machine, so invariants between facts hold in every world.
"""

from __future__ import annotations

import datetime
import itertools
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rules.engine import derive_facts, holds, measured_facts, recommend
from rules.rulebase import (
    BASE_DIR,
    MESSAGE_PLACEHOLDER,
    RuleBase,
    _display_name,
    _validate_file,
    _yaml_files,
    iter_leaves,
    load_rulebase,
)
from rules.safe_yaml import LocatedDict, LocatedList, Location, RuleFileError, load_rule_yaml, locate
from rules.schema import (
    ACCELERATOR_KINDS,
    ARCHITECTURES,
    FRAMEWORK_IDS,
    OPERATING_SYSTEMS,
    AllOf,
    AnyOf,
    FactSpec,
    Leaf,
    NotOf,
    Rule,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SEEDS_DIR = Path(__file__).resolve().parents[2] / "shared" / "seeds"
GOLDEN_FILE = REPO_ROOT / "tests" / "golden_scenarios.yaml"
STALE_AFTER_DAYS = 365

_MISSING = object()  # only used as a domain marker: a missing fact is left out of the world


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" | "warning"
    code: str
    location: str  # file:line:column
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.severity}[{self.code}]: {self.message}"


def _sort_key(finding: Finding) -> tuple:
    file, _, rest = finding.location.rpartition(":")
    file, _, line = file.rpartition(":")
    try:
        position = (int(line), int(rest))
    except ValueError:
        file, position = finding.location, (0, 0)
    return (file, *position, finding.severity != "error", finding.code, finding.message)


def format_report(findings: Sequence[Finding]) -> str:
    """One line per finding, then ``N errors, M warnings``."""
    errors = sum(1 for finding in findings if finding.severity == "error")
    warnings = sum(1 for finding in findings if finding.severity == "warning")
    lines = [str(finding) for finding in findings]
    lines.append(f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}")
    return "\n".join(lines)


# --- where things stand in the files -----------------------------------------------------------------


class _Index:
    """The raw, located YAML of every file, so findings can point at a key, a leaf or a list item."""

    def __init__(self) -> None:
        self.rules: dict[str, LocatedDict] = {}  # rule id -> its mapping in the winning file
        self.facts: dict[str, tuple[LocatedDict, str]] = {}  # fact -> (facts mapping, key)
        self.frameworks: dict[str, tuple[LocatedDict, str]] = {}

    def add(self, data: LocatedDict) -> None:
        for key, target in (("facts", self.facts), ("frameworks", self.frameworks)):
            mapping = data.get(key)
            if isinstance(mapping, LocatedDict):
                for name in mapping:
                    target[name] = (mapping, name)
        rules = data.get("rules")
        if isinstance(rules, LocatedList):
            for item in rules:
                if isinstance(item, LocatedDict) and isinstance(item.get("id"), str):
                    self.rules[item["id"]] = item

    def rule_at(self, rulebase: RuleBase, rule_id: str, *path: Any) -> str:
        node = self.rules.get(rule_id)
        found = locate(node, path) if node is not None else None
        return str(found or rulebase.rule_locations.get(rule_id) or f"{BASE_DIR}:1:1")

    def entry_at(self, kind: str, name: str, *path: Any) -> str:
        table = self.facts if kind == "facts" else self.frameworks
        if name not in table:
            return f"{BASE_DIR}:1:1"
        mapping, key = table[name]
        if not path:
            return str(mapping.key_locations.get(key, mapping.location))
        return str(locate(mapping, (key, *path)) or mapping.key_locations.get(key, mapping.location))


def _condition_nodes(condition: Any, raw: Any, fallback: str) -> Iterator[tuple[Any, str, Any]]:
    """Every node of a condition tree, preorder, with its location and parent."""

    def walk(node: Any, raw_node: Any, parent: Any) -> Iterator[tuple[Any, str, Any]]:
        if isinstance(node, (AllOf, AnyOf, NotOf)):
            key = "all" if isinstance(node, AllOf) else "any" if isinstance(node, AnyOf) else "not"
            raw_child = raw_node.get(key) if isinstance(raw_node, LocatedDict) else None
            where = raw_node.key_locations.get(key) if isinstance(raw_node, LocatedDict) else None
            yield node, str(where or fallback), parent
            if isinstance(node, NotOf):
                yield from walk(node.not_, raw_child, node)
            else:
                children = node.all if isinstance(node, AllOf) else node.any
                for index, child in enumerate(children):
                    raw_item = raw_child[index] if isinstance(raw_child, LocatedList) and index < len(raw_child) else None
                    yield from walk(child, raw_item, node)
        else:
            yield node, str(getattr(raw_node, "location", None) or fallback), parent

    yield from walk(condition, raw, None)


def _describe(condition: Any) -> str:
    if isinstance(condition, Leaf):
        if condition.op == "exists":
            return f"{condition.fact} {'exists' if condition.value is not False else 'is missing'}"
        return f"{condition.fact} {condition.op} {condition.value!r}"
    if isinstance(condition, NotOf):
        inner = _describe(condition.not_)
        return f"not {inner}" if inner.startswith("(") else f"not ({inner})"
    children = condition.all if isinstance(condition, AllOf) else condition.any
    joiner = " and " if isinstance(condition, AllOf) else " or "
    return "(" + joiner.join(_describe(child) for child in children) + ")"


# --- the symbolic evaluator ----------------------------------------------------------------------------


def _number_points(thresholds: Iterable[float], spec: FactSpec | None, floor: float | None = None) -> list[float]:
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


class _WorldModel:
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
            full = {**self._hardware(os_name, arch, kinds), "memory_gb": 1, "cpu": {"model": "x", "cores": 1}}
            full_keys |= set(derive_facts(rulebase, full, [], "beginner"))
        self.user_facts = {"goals", "experience"}
        self.hardware_facts = minimal_keys - self.user_facts
        self.optional_facts = full_keys - minimal_keys
        sample = {framework_id: {"slowdown": 2.0, "fastest": framework_id, "reached_accelerator": False,
                                 "accelerator_issue": {"detail": "d", "fix": "f"}, "failed": True,
                                 "failure_kind": "k", "failure_message": "m"} for framework_id in FRAMEWORK_IDS}
        self.benchmark_facts = set(measured_facts(sample)) | {"probed"}
        self.produced = self.hardware_facts | self.optional_facts | self.user_facts | self.benchmark_facts
        self._cache: dict[tuple, list[dict[str, Any]]] = {}

    @staticmethod
    def _plausible(os_name: str, arch: str, kinds: tuple[str, ...]) -> bool:
        # Apple GPUs only in arm64 Macs, nothing else in a Mac; TPU hosts run Linux.
        if os_name == "darwin":
            return set(kinds) <= ({"apple-gpu"} if arch == "arm64" else set())
        return "apple-gpu" not in kinds and ("tpu" not in kinds or os_name == "linux")

    @staticmethod
    def _hardware(os_name: str, arch: str, kinds: Sequence[str], count: float | None = None,
                  memory: float = 0) -> dict[str, Any]:
        accelerators = [{"kind": kind, "name": kind, "count": 1, "memory_gb": 0} for kind in kinds]
        if accelerators:
            accelerators[0]["count"] = (count if count is not None else len(kinds)) - (len(kinds) - 1)
            accelerators[0]["memory_gb"] = memory
        return {"os": os_name, "arch": arch, "accelerators": accelerators}

    def spec(self, fact: str) -> FactSpec | None:
        return self.rulebase.fact_spec(fact)

    def _domain(self, fact: str, thresholds: Mapping[str, set[float]], members: Mapping[str, set[str]]) -> list[Any]:
        spec = self.spec(fact)
        if spec is None:
            return [_MISSING]
        if spec.type == "enum":
            return list(spec.values or [])
        if spec.type == "bool":
            return [True, False]
        if spec.type == "number":
            return _number_points(thresholds.get(fact, ()), spec)
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
        seen: dict[frozenset, dict[str, Any]] = {}
        for os_name, arch, kinds in self.machines:
            counts: list[float | None] = [None]
            memories: list[float] = [0]
            if kinds and "accelerator_count" in wanted:
                counts = list(_number_points(thresholds.get("accelerator_count", ()), count_spec, floor=len(kinds)))
            if kinds and "accelerator_memory_gb" in wanted:
                memories = list(_number_points(thresholds.get("accelerator_memory_gb", ()), memory_spec, floor=0))
            for count in counts:
                for memory in memories:
                    derived = derive_facts(self.rulebase, self._hardware(os_name, arch, kinds, count, memory), [],
                                           "beginner")
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
        domains = [[_MISSING, *self._domain(fact, thresholds, members)] for fact in measured]
        for values in itertools.product(*domains):
            piece = {"probed": True}
            piece.update({fact: value for fact, value in zip(measured, values) if value is not _MISSING})
            pieces.append(piece)
        return pieces


def _facts_of(conditions: Iterable[Any]) -> tuple[set[str], dict[str, set[float]], dict[str, set[str]]]:
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


class _Truth:
    """Truth of conditions over the worlds of a set of conditions."""

    def __init__(self, model: _WorldModel, conditions: Sequence[Any], extra_facts: Iterable[str] = ()):
        facts, thresholds, members = _facts_of(conditions)
        self.worlds = model.worlds(facts | set(extra_facts), thresholds, members)

    def vector(self, condition: Any) -> tuple[bool, ...]:
        return tuple(holds(condition, world) for world in self.worlds)

    def kind(self, condition: Any) -> str:
        vector = self.vector(condition)
        return "never" if not any(vector) else "always" if all(vector) else "sometimes"


# --- the linter ----------------------------------------------------------------------------------------


class _Linter:
    def __init__(self, today: datetime.date, seeds_dir: Path):
        self.findings: list[Finding] = []
        self.index = _Index()
        self.today = today
        self.seeds_dir = seeds_dir

    def add(self, severity: str, code: str, location: Any, message: str) -> None:
        finding = Finding(severity, code, str(location), message)
        if finding not in self.findings:
            self.findings.append(finding)

    # --- files, one by one, and what the loader says -------------------------------------------------

    def read_files(self, directories: Sequence[Path]) -> None:
        for directory in directories:
            ids: dict[str, str] = {}
            try:
                paths = _yaml_files(Path(directory))
            except RuleFileError as exc:
                self.add("error", "load", exc.location, exc.message)
                continue
            for path in paths:
                display = _display_name(path)
                try:
                    data = load_rule_yaml(path, display)
                    parsed = _validate_file(path, data)
                except RuleFileError as exc:
                    self.add("error", "load", exc.location, exc.message)
                    continue
                self.index.add(data)
                for position, rule in enumerate(parsed.rules or []):
                    where = str(locate(data, ("rules", position)) or Location(str(path), 1, 1))
                    if rule.id in ids:
                        self.add("error", "duplicate-id", where, f"duplicate rule id {rule.id!r} (first at {ids[rule.id]})")
                    else:
                        ids[rule.id] = where

    def load(self, extra_dirs: Sequence[Path], base_dir: Path) -> RuleBase | None:
        try:
            return load_rulebase(extra_dirs, base_dir)
        except RuleFileError as exc:
            where = str(exc.location)
            # The same problem may already be reported, file by file, with the same location.
            if not any(f.severity == "error" and f.location == where for f in self.findings):
                self.add("error", "load", where, exc.message)
            return None

    # --- structure -----------------------------------------------------------------------------------

    def check_refs_and_dates(self, rulebase: RuleBase) -> None:
        owners: list[tuple[str, str, Any]] = [("rule", rule.id, rule) for rule in rulebase.rules]
        owners += [("framework", fid, entry) for fid, entry in rulebase.frameworks.items()]
        seeds_present = self.seeds_dir.is_dir()
        warned_absent = False
        for kind, name, item in owners:
            def at(*path: Any) -> str:
                if kind == "rule":
                    return self.index.rule_at(rulebase, name, *path)
                return self.index.entry_at("frameworks", name, *path)

            for position, ref in enumerate(item.refs):
                if ref.startswith("seed:"):
                    if not seeds_present:
                        if not warned_absent:
                            self.add("warning", "seeds-absent", at("refs", position),
                                     f"seed references not checked: no seeds folder at {self.seeds_dir}")
                            warned_absent = True
                        continue
                    seed = ref[len("seed:"):]
                    if not seed or "/" in seed or "\\" in seed or not (self.seeds_dir / seed).is_file():
                        self.add("error", "missing-seed", at("refs", position),
                                 f"{kind} {name!r}: reference {ref!r} names no file in {self.seeds_dir}")
                elif not (ref.startswith(("https://", "http://")) or ref == "probe:this-machine"):
                    self.add("warning", "ref-format", at("refs", position),
                             f"{kind} {name!r}: reference {ref!r} is not seed:<file>, a URL or probe:this-machine")
            age = (self.today - item.reviewed).days
            if age > STALE_AFTER_DAYS:
                self.add("warning", "stale-review", at("reviewed"),
                         f"{kind} {name!r} was last reviewed {item.reviewed} ({age} days ago): check its claims")
            elif age < 0:
                self.add("warning", "future-review", at("reviewed"),
                         f"{kind} {name!r} has a review date in the future ({item.reviewed})")

    def check_catalog(self, rulebase: RuleBase) -> None:
        for framework_id, entry in rulebase.frameworks.items():
            seen_platform: dict[tuple[str, str], int] = {}
            for position, platform in enumerate(entry.platforms):
                where = self.index.entry_at("frameworks", framework_id, "platforms", position)
                for os_name, arch in itertools.product(platform.os, platform.arch):
                    if (os_name, arch) in seen_platform:
                        self.add("error", "platform-overlap", where,
                                 f"{framework_id}: platforms {seen_platform[(os_name, arch)]} and {position} both "
                                 f"cover {os_name}/{arch}; the engine only reads the first")
                    seen_platform.setdefault((os_name, arch), position)
                devices = list(platform.devices)
                if "cpu" not in devices:
                    self.add("warning", "platform-devices", where,
                             f"{framework_id}: platform {position} lists no cpu, so {devices[-1]} is assumed even "
                             f"on machines without one")
                elif devices[-1] != "cpu":
                    self.add("warning", "platform-devices", where,
                             f"{framework_id}: platform {position} lists {devices[devices.index('cpu') + 1:]} after cpu; "
                             f"they are never chosen")
            rows: dict[tuple[str, str, str], int] = {}
            for position, row in enumerate(entry.install):
                for os_name, arch in itertools.product(row.os, row.arch):
                    key = (row.device, os_name, arch)
                    if key in rows:
                        self.add("error", "install-overlap",
                                 self.index.entry_at("frameworks", framework_id, "install", position),
                                 f"{framework_id}: install rows {rows[key]} and {position} both cover {row.device} on "
                                 f"{os_name}/{arch}; row {position} is never used there")
                    rows.setdefault(key, position)
                reachable = any(row.device in p.devices and set(p.os) & set(row.os) and set(p.arch) & set(row.arch)
                                for p in entry.platforms)
                if not reachable:
                    self.add("warning", "install-unused",
                             self.index.entry_at("frameworks", framework_id, "install", position),
                             f"{framework_id}: install row {position} ({row.device} on {'/'.join(row.os)}) matches "
                             f"no platform device")
            for position, platform in enumerate(entry.platforms):
                where = self.index.entry_at("frameworks", framework_id, "platforms", position)
                for os_name, arch in itertools.product(platform.os, platform.arch):
                    for device in platform.devices:
                        if (device, os_name, arch) in rows:
                            continue
                        if device != "cpu" and ("cpu", os_name, arch) in rows:
                            self.add("warning", "install-missing", where,
                                     f"{framework_id}: no install row for {device} on {os_name}/{arch}; "
                                     f"the CPU install command is shown instead")
                        else:
                            self.add("error", "install-missing", where,
                                     f"{framework_id}: no install command at all for {device} on {os_name}/{arch}")

    # --- logic ---------------------------------------------------------------------------------------

    def check_conditions(self, rulebase: RuleBase, model: _WorldModel) -> dict[str, str]:
        """Never/always-holding conditions; returns each rule's overall kind."""
        kinds: dict[str, str] = {}
        for rule in rulebase.rules:
            truth = _Truth(model, [rule.when])
            raw = self.index.rules[rule.id].get("when") if rule.id in self.index.rules else None
            fallback = self.index.rule_at(rulebase, rule.id, "when")
            nodes = list(_condition_nodes(rule.when, raw, fallback))
            kind_of = {id(node): truth.kind(node) for node, _, _ in nodes}
            kinds[rule.id] = kind_of[id(rule.when)]
            unsupplied = sorted({leaf.fact for leaf in iter_leaves(rule.when) if leaf.fact not in model.produced})
            note = f" (the engine never supplies {', '.join(unsupplied)})" if unsupplied else ""
            for node, where, parent in nodes:
                kind = kind_of[id(node)]
                if kind == "sometimes" or isinstance(parent, NotOf):
                    continue  # a `not`'s child is judged through the `not`
                children = (node.all if isinstance(node, AllOf) else node.any if isinstance(node, AnyOf) else
                            [node.not_] if isinstance(node, NotOf) else [])
                child_kinds = {kind_of[id(child)] for child in children}
                if kind == "never":
                    if isinstance(node, AnyOf) or (isinstance(node, AllOf) and "never" in child_kinds):
                        continue  # the children that never hold are reported themselves
                    why = " (its inner condition always holds)" if isinstance(node, NotOf) else ""
                    self.add("error", "never-holds", where,
                             f"rule {rule.id!r}: condition {_describe(node)} can never hold{why}{note}; "
                             f"{'so the rule never fires' if kinds[rule.id] == 'never' else 'a dead branch'}")
                else:
                    if isinstance(node, AllOf) or (isinstance(node, AnyOf) and "always" in child_kinds):
                        continue
                    why = " (its inner condition can never hold)" if isinstance(node, NotOf) else ""
                    what = "the rule fires for every question" if node is rule.when else "it tests nothing"
                    self.add("warning", "always-holds", where,
                             f"rule {rule.id!r}: condition {_describe(node)} always holds{why}; {what}")
        return kinds

    def check_pairs(self, rulebase: RuleBase, model: _WorldModel, kinds: Mapping[str, str]) -> None:
        """Rules that always fire together: duplicates, double counting, contradictions."""
        candidates = [rule for rule in rulebase.rules if kinds.get(rule.id) != "never"]
        order = {rule.id: _sort_key(Finding("", "", self.index.rule_at(rulebase, rule.id), ""))
                 for rule in candidates}
        # A shared random sample of worlds buckets the rules: equivalent conditions agree on every
        # world, so only rules with the same fingerprint are compared exactly.
        facts, thresholds, members = _facts_of(rule.when for rule in candidates)
        sample = _sample_worlds(model, facts, thresholds, members)
        buckets: dict[tuple[bool, ...], list[Rule]] = defaultdict(list)
        for rule in candidates:
            buckets[tuple(holds(rule.when, world) for world in sample)].append(rule)
        for bucket in buckets.values():
            for first, second in itertools.combinations(sorted(bucket, key=lambda r: order[r.id]), 2):
                truth = _Truth(model, [first.when, second.when])
                if truth.vector(first.when) != truth.vector(second.when):
                    continue
                self._compare(rulebase, first, second)

    def _compare(self, rulebase: RuleBase, first: Rule, second: Rule) -> None:
        other = f"{first.id!r} ({self.index.rule_at(rulebase, first.id)})"
        same_then = (first.then.points == second.then.points
                     and sorted(first.then.knockout or []) == sorted(second.then.knockout or []))
        if same_then:
            self.add("error", "duplicate-rule", self.index.rule_at(rulebase, second.id),
                     f"rule {second.id!r} duplicates rule {other}: same condition, same effect")
            return
        if first.then.points is None or second.then.points is None:
            return
        same_group = first.group is not None and first.group == second.group
        for framework_id in sorted(set(first.then.points) & set(second.then.points)):
            a, b = first.then.points[framework_id], second.then.points[framework_id]
            where = self.index.rule_at(rulebase, second.id, "then", "points", framework_id)
            if a * b < 0:
                self.add("error", "contradiction", where,
                         f"contradiction: rules {other} and {second.id!r} fire under the same condition and give "
                         f"{framework_id} {a:+g} and {b:+g}")
            elif a * b > 0 and not same_group:
                self.add("warning", "double-counting", where,
                         f"double counting: group them: rules {other} and {second.id!r} always fire together and "
                         f"both push {framework_id} {'up' if a > 0 else 'down'}")

    def check_knocked_out_points(self, rulebase: RuleBase, model: _WorldModel, kinds: Mapping[str, str]) -> None:
        knockouts: dict[str, list[Rule]] = defaultdict(list)
        for rule in rulebase.rules:
            for framework_id in rule.then.knockout or []:
                knockouts[framework_id].append(rule)
        for rule in rulebase.rules:
            if rule.then.points is None or kinds.get(rule.id) == "never":
                continue
            for framework_id in rule.then.points:
                removers = knockouts.get(framework_id, [])
                truth = _Truth(model, [rule.when, *(r.when for r in removers)],
                               extra_facts={"os", "arch", f"{framework_id}.device"})
                firing = [world for world in truth.worlds if holds(rule.when, world)]
                if not firing:
                    continue
                no_build = [world for world in firing if f"{framework_id}.device" not in world]
                removed_by = sorted({r.id for world in firing if f"{framework_id}.device" in world
                                     for r in removers if holds(r.when, world)})
                if all(f"{framework_id}.device" not in world or any(holds(r.when, world) for r in removers)
                       for world in firing):
                    why = []
                    if no_build:
                        machines = sorted({f"{w['os']}/{w['arch']}" for w in no_build})
                        why.append(f"it has no build for {', '.join(machines)}")
                    if removed_by:
                        why.append(f"knockout rule {', '.join(repr(r) for r in removed_by)} removes it")
                    self.add("warning", "knocked-out-points",
                             self.index.rule_at(rulebase, rule.id, "then", "points", framework_id),
                             f"rule {rule.id!r} gives {framework_id} points, but wherever it fires {framework_id} is "
                             f"knocked out ({'; '.join(why)})")

    # --- coverage ------------------------------------------------------------------------------------

    def check_coverage(self, rulebase: RuleBase, model: _WorldModel, kinds: Mapping[str, str]) -> None:
        targeted: dict[str, set[str]] = {"goals": set(), "experience": set()}
        for rule in rulebase.rules:
            if kinds.get(rule.id) == "never":
                continue
            truth = _Truth(model, [rule.when])
            for world in truth.worlds:
                fired = holds(rule.when, world)
                if "goals" in world and not fired:
                    for goal in _facts_of([rule.when])[2].get("goals", ()):
                        if goal not in world["goals"] and holds(rule.when, {**world, "goals": world["goals"] | {goal}}):
                            targeted["goals"].add(goal)
                if "experience" in world and fired:
                    for level in rulebase.facts["experience"].values or []:
                        if not holds(rule.when, {**world, "experience": level}):
                            targeted["experience"].add(world["experience"])
        for fact in ("goals", "experience"):
            spec = rulebase.facts.get(fact)
            for position, value in enumerate(spec.values or [] if spec else []):
                if value not in targeted[fact]:
                    self.add("error", f"uncovered-{'goal' if fact == 'goals' else 'experience'}",
                             self.index.entry_at("facts", fact, "values", position),
                             f"no rule targets {fact} value {value!r}: no rule starts or stops firing because of it")

        used: set[str] = set()
        for rule in rulebase.rules:
            names = [leaf.fact for leaf in iter_leaves(rule.when)]
            names += [m.group(1) for m in MESSAGE_PLACEHOLDER.finditer(rule.message)]
            used |= {name.partition(".")[2] if "." in name else name for name in names}
        produced = {name.partition(".")[2] if "." in name else name for name in model.produced}
        for fact in rulebase.facts:
            if fact not in used and fact not in produced:
                self.add("warning", "unreferenced-fact", self.index.entry_at("facts", fact),
                         f"fact {fact!r} is declared but no rule tests or quotes it and the engine never supplies it")
        registry = next(iter(self.index.facts.values()), None)
        for fact in sorted(produced - set(rulebase.facts)):
            self.add("warning", "undeclared-fact", registry[0].location if registry else f"{BASE_DIR}:1:1",
                     f"the engine supplies fact {fact!r} but no file declares it, so no rule can test it")

    def check_golden(self, rulebase: RuleBase, golden_file: Path, kinds: Mapping[str, str]) -> None:
        display = _display_name(golden_file)
        try:
            data = load_rule_yaml(golden_file, display)
        except RuleFileError as exc:
            self.add("error", "golden", exc.location, exc.message)
            return
        scenarios = data.get("scenarios") if isinstance(data, dict) else None
        if not isinstance(scenarios, list):
            self.add("error", "golden", f"{display}:1:1", "a golden file needs a 'scenarios' list")
            return
        fired: set[str] = set()
        firsts: set[str] = set()
        for position, scenario in enumerate(scenarios):
            where = str(locate(data, ("scenarios", position)) or f"{display}:1:1")
            try:
                hardware, goals, experience = scenario["hardware"], list(scenario["goals"]), scenario["experience"]
                facts = derive_facts(rulebase, hardware, goals, experience)
                facts["probed"] = False
                fired |= {rule.id for rule in rulebase.rules if holds(rule.when, facts)}
                firsts.add(recommend(rulebase, goals, experience, hardware)["ranking"][0]["framework"])
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                self.add("error", "golden", where, f"scenario {position} cannot be evaluated: {exc!r}")
        for rule in rulebase.rules:
            probe_only = any((spec := rulebase.fact_spec(leaf.fact)) is not None and spec.source == "benchmark"
                             for leaf in iter_leaves(rule.when))
            if rule.id not in fired and not probe_only and kinds.get(rule.id) != "never":
                self.add("warning", "golden-unfired", self.index.rule_at(rulebase, rule.id),
                         f"no golden scenario fires rule {rule.id} ({display})")
        for framework_id in FRAMEWORK_IDS:
            if framework_id not in firsts:
                self.add("warning", "golden-never-first", self.index.entry_at("frameworks", framework_id),
                         f"no golden scenario ranks {framework_id} first ({display})")


def _sample_worlds(model: _WorldModel, facts: set[str], thresholds: Mapping[str, set[float]],
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


def lint(extra_dirs: Sequence[Path] = (), base_dir: Path = BASE_DIR, golden_file: Path | None = None, *,
         today: datetime.date | None = None, seeds_dir: Path = SEEDS_DIR) -> list[Finding]:
    """Lint the base directory with extra directories merged over it; findings sorted by location.

    ``golden_file`` defaults to tests/golden_scenarios.yaml when that file exists.
    """
    linter = _Linter(today or datetime.date.today(), Path(seeds_dir))
    directories = [Path(base_dir), *(Path(d) for d in extra_dirs)]
    linter.read_files(directories)
    rulebase = linter.load(extra_dirs, base_dir)
    if rulebase is not None:
        model = _WorldModel(rulebase)
        linter.check_refs_and_dates(rulebase)
        linter.check_catalog(rulebase)
        kinds = linter.check_conditions(rulebase, model)
        linter.check_pairs(rulebase, model, kinds)
        linter.check_knocked_out_points(rulebase, model, kinds)
        linter.check_coverage(rulebase, model, kinds)
        if golden_file is None and GOLDEN_FILE.is_file():
            golden_file = GOLDEN_FILE
        if golden_file is not None:
            if Path(golden_file).is_file():
                linter.check_golden(rulebase, Path(golden_file), kinds)
            else:
                linter.add("error", "golden", f"{golden_file}:1:1", "golden scenario file not found")
    return sorted(linter.findings, key=_sort_key)
