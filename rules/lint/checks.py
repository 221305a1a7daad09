"""The checks: structure, logic and coverage of a loaded rule base, each finding at file:line:column."""

from __future__ import annotations

import datetime
import itertools
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from framework_advisor.probes.hardware import HardwareProfile, impossible_accelerator
from framework_advisor.probes.vocabulary import FRAMEWORK_IDS, framework_name
from framework_advisor.probes.access import CAUSES
from framework_advisor.rules.engine import holds, recommend
from framework_advisor.rules.lint.findings import Finding, sort_key
from framework_advisor.rules.lint.seeds import parse_seed_ref, quote_occurs, read_claims, same_quote, seed_number
from framework_advisor.rules.lint.locations import RuleFileIndex, condition_nodes, describe
from framework_advisor.rules.lint.worlds import Truth, WorldModel, facts_of, sample_worlds
from framework_advisor.rules.rulebase import (
    BASE_DIR,
    FRAMEWORK_PLACEHOLDER,
    MESSAGE_PLACEHOLDER,
    RuleBase,
    _display_name,
    _yaml_files,
    iter_leaves,
    load_rulebase,
    read_rule_file,
)
from framework_advisor.rules.mentions import subject
from framework_advisor.rules.safe_yaml import Location, RuleFileError, load_rule_yaml, locate
from framework_advisor.rules.catalog import DeviceFacts, row_holds
from framework_advisor.rules.schema import INSTALL_BOUNDS, VERSION_PARTS, AllOf, AnyOf, NotOf, Rule, version_key

STALE_AFTER_DAYS = 365
# A sentence that says a framework is fast or slow ("MLX is the fastest", "JAX may be faster"), and the words that
# make it an expectation instead.
SPEED_CLAIM = re.compile(r"\b(?:is|are|be|runs?|ran|trains?|performs?)\s+(?:[\w-]+\s+){0,3}?"
                         r"(?:fastest|faster|slowest|slower|quickest|quicker)\b", re.IGNORECASE)
EXPECTATION = re.compile(r"\bexpect", re.IGNORECASE)


def scenario_names(golden_file: Path | None) -> set[str]:
    """The names of the golden scenarios (CLAIMS.md may cite them), or none when the file cannot be read."""
    if golden_file is None or not Path(golden_file).is_file():
        return set()
    try:
        data = load_rule_yaml(Path(golden_file), _display_name(Path(golden_file)))
    except RuleFileError:
        return set()  # check_golden reports it
    scenarios = data.get("scenarios") if isinstance(data, dict) else None
    return {s["name"] for s in scenarios or [] if isinstance(s, dict) and isinstance(s.get("name"), str)}


class Linter:
    def __init__(self, today: datetime.date, seeds_dir: Path):
        self.findings: list[Finding] = []
        self.index = RuleFileIndex()
        self.today = today
        self.seeds_dir = seeds_dir
        self._seed_texts: dict[str, str] = {}

    def seed_text(self, seed: str) -> str:
        if seed not in self._seed_texts:
            self._seed_texts[seed] = (self.seeds_dir / seed).read_text(encoding="utf-8", errors="replace")
        return self._seed_texts[seed]

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
                try:
                    parsed, data = read_rule_file(path)  # templates expanded, at the template's positions
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
            return load_rulebase(extra_dirs, base_dir, cache=False)
        except RuleFileError as exc:
            where = str(exc.location)
            # The same problem may already be reported, file by file, with the same location.
            if not any(f.severity == "error" and f.location == where for f in self.findings):
                self.add("error", "load", where, exc.message)
            return None

    # --- structure -----------------------------------------------------------------------------------

    def check_refs_and_dates(self, rulebase: RuleBase) -> None:
        owners: list[tuple[str, str, Any, tuple[Any, ...]]] = [("rule", rule.id, rule, ()) for rule in rulebase.rules]
        owners += [("framework", fid, entry, ()) for fid, entry in rulebase.frameworks.items()]
        owners += [("add-on", f"{fid} {addon.addon}", addon, ("addons", position))
                   for fid, entry in rulebase.frameworks.items() for position, addon in enumerate(entry.addons)]
        owners += [({"install": "install row", "platforms": "platform"}[table], f"{fid} {table} {position}", row,
                    (table, position))
                   for fid, entry in rulebase.frameworks.items() for table in ("install", "platforms")
                   for position, row in enumerate(getattr(entry, table)) if row.refs]
        seeds_present = self.seeds_dir.is_dir()
        warned_absent = False
        for kind, name, item, prefix in owners:
            def at(*path: Any) -> str:
                if kind == "rule":
                    return self.index.rule_at(rulebase, name, *path)
                return self.index.entry_at("frameworks", name.partition(" ")[0], *prefix, *path)

            for position, ref in enumerate(item.refs):
                if ref.startswith("seed:"):
                    parsed = parse_seed_ref(ref)
                    if parsed is None:
                        self.add("warning", "ref-format", at("refs", position),
                                 f'{kind} {name!r}: reference {ref!r} is not seed:<file> or seed:<file> "<phrase>"')
                        continue
                    seed, quote = parsed
                    if kind == "rule" and quote is None:
                        self.add("warning", "seed-unquoted", at("refs", position),
                                 f'rule {name!r}: reference {ref!r} quotes nothing: cite the claim the rule encodes, '
                                 f'seed:<file> "<a short verbatim phrase>", so a user can check it')
                    if not seeds_present:
                        if not warned_absent:
                            self.add("warning", "seeds-absent", at("refs", position),
                                     f"seed references not checked: no seeds folder at {self.seeds_dir}")
                            warned_absent = True
                        continue
                    if not seed or "/" in seed or "\\" in seed or not (self.seeds_dir / seed).is_file():
                        self.add("error", "missing-seed", at("refs", position),
                                 f"{kind} {name!r}: reference {ref!r} names no file in {self.seeds_dir}")
                    elif quote is not None and not quote_occurs(quote, self.seed_text(seed)):
                        self.add("error", "seed-quote", at("refs", position),
                                 f"{kind} {name!r}: the phrase {quote!r} does not occur in seed {seed} (quotes are "
                                 f"verbatim; ... marks omitted words)")
                elif not (ref.startswith(("https://", "http://")) or ref == "probe:this-machine"):
                    self.add("warning", "ref-format", at("refs", position),
                             f"{kind} {name!r}: reference {ref!r} is not seed:<file>, a URL or probe:this-machine")
            if kind == "rule" and any(ref.startswith("seed:") for ref in item.refs) \
                    and not any(ref.startswith(("https://", "http://")) for ref in item.refs):
                self.add("warning", "seed-only", at("refs"),
                         f"rule {name!r} cites only seed articles, which users do not have: link a public source too")
            if getattr(item, "reviewed", None) is None:
                continue  # add-on rows are reviewed with their framework's entry
            age = (self.today - item.reviewed).days
            if age > STALE_AFTER_DAYS:
                self.add("warning", "stale-review", at("reviewed"),
                         f"{kind} {name!r} was last reviewed {item.reviewed} ({age} days ago): check its claims")
            elif age < 0:
                self.add("warning", "future-review", at("reviewed"),
                         f"{kind} {name!r} has a review date in the future ({item.reviewed})")

    def check_messages(self, rulebase: RuleBase) -> None:
        """Each reason speaks about the framework it is shown under: the text a rule shows under a framework
        names that framework (by name or {framework}) before any other. A text shared by several frameworks
        that names one of them is the classic slip ("PyTorch is the standard" shown under TensorFlow)."""
        for rule in rulebase.rules:
            frameworks = rule.frameworks
            for framework_id in frameworks:
                own = framework_id in (rule.messages or {})
                template = rule.message_for(framework_id)
                text = MESSAGE_PLACEHOLDER.sub(
                    lambda m: framework_name(framework_id) if m.group(1) == FRAMEWORK_PLACEHOLDER else "", template)
                where = self.index.rule_at(rulebase, rule.id, *(("messages", framework_id) if own else ("message",)))
                named = subject(text)
                shared = not own and len(frameworks) > 1
                if named is None:
                    self.add("warning", "message-subject", where,
                             f"rule {rule.id!r}: the message shown under {framework_id} does not name "
                             f"{framework_name(framework_id)}; write {{framework}} or give {framework_id} its own "
                             f"text in 'messages'")
                elif named != framework_id:
                    how = (f"the message is shown under {', '.join(f for f in frameworks if f not in (rule.messages or {}))} "
                           f"but names {framework_name(named)} first" if shared else
                           f"the message shown under {framework_id} is about {framework_name(named)} (named first)")
                    self.add("error", "message-subject", where,
                             f"rule {rule.id!r}: {how}; give each framework its own text ('messages') or write "
                             f"{{framework}} for the framework it is shown under")

    def check_claims(self, rulebase: RuleBase, base_dir: Path, scenario_names: set[str]) -> None:
        """CLAIMS.md (beside the base's rule files) stays the complete map of seed claims: every quote is in its
        seed, every rule id it names exists, every base rule that cites a seed is named in that seed's section,
        and every quote a rule cites is a claim row there that names the rule. Its review date ages like a rule's."""
        path = Path(base_dir) / "CLAIMS.md"
        if not path.is_file():
            return
        claims = read_claims(path)
        display = _display_name(path)

        def at(line: int) -> str:
            return f"{display}:{line}:1"

        if claims.reviewed is None:
            self.add("warning", "stale-review", at(1), "CLAIMS.md has no 'Reviewed YYYY-MM-DD.' line")
        else:
            date, line = claims.reviewed
            self.age_warning(at(line), "CLAIMS.md (the seeds' claims against the rules)",
                             datetime.date.fromisoformat(date))
        seeds = {seed_number(p.name): p.name for p in sorted(self.seeds_dir.glob("*.txt"))} \
            if self.seeds_dir.is_dir() else {}
        for claim in claims.claims:
            seed = seeds.get(claim.seed)
            for quote in claim.quotes:
                if seed is not None and not quote_occurs(quote, self.seed_text(seed)):
                    self.add("error", "claims-quote", at(claim.line),
                             f"CLAIMS.md {claim.claim_id}: the quote {quote!r} does not occur in seed {seed}")
        not_rules = (set(rulebase.facts["goals"].values or []) | set(rulebase.facts["experience"].values or [])
                     | {rule.group for rule in rulebase.rules if rule.group} | scenario_names | set(FRAMEWORK_IDS))
        rule_ids = {rule.id for rule in rulebase.rules}
        named = [(claim.line, claim.claim_id, claim.encoded_by) for claim in claims.claims]
        named += [(line, f"line {line}", names) for line, names in claims.other_rows]
        for line, row, names in named:
            for name in names:
                if re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)+", name) and name not in not_rules | rule_ids:
                    self.add("error", "claims-unknown-rule", at(line),
                             f"CLAIMS.md {row} names {name!r}, which is no rule, group, goal or scenario")
        base_files = f"{_display_name(Path(base_dir))}/"
        for rule in rulebase.rules:
            location = rulebase.rule_locations.get(rule.id)
            if location is None or not str(location.file).startswith(base_files):
                continue  # rules of extra directories are not the base's claims
            for position, ref in enumerate(rule.refs):
                parsed = parse_seed_ref(ref) if ref.startswith("seed:") else None
                if parsed is None:
                    continue
                seed, quote = parsed
                section = claims.for_seed(seed_number(seed))
                where = self.index.rule_at(rulebase, rule.id, "refs", position)
                if not any(rule.id in claim.encoded_by for claim in section):
                    self.add("error", "claims-unmapped", where,
                             f"rule {rule.id!r} cites seed {seed}, but CLAIMS.md's section for it never names the rule: "
                             f"add it to the row of the claim it encodes")
                elif quote is not None:
                    rows = [claim for claim in section if any(same_quote(quote, q) for q in claim.quotes)]
                    if not rows:
                        self.add("error", "claims-unmapped", where,
                                 f"rule {rule.id!r} quotes {quote!r} from seed {seed}, which is no claim row of CLAIMS.md: "
                                 f"quote a row's phrase, or add the claim")
                    elif not any(rule.id in claim.encoded_by for claim in rows):
                        self.add("error", "claims-unmapped", where,
                                 f"rule {rule.id!r} quotes CLAIMS.md {rows[0].claim_id}, whose row does not name the rule")

    def age_warning(self, where: str, what: str, reviewed: datetime.date) -> None:
        """stale-review after STALE_AFTER_DAYS, future-review for a date to come."""
        age = (self.today - reviewed).days
        if age > STALE_AFTER_DAYS:
            self.add("warning", "stale-review", where, f"{what} was last reviewed {reviewed} ({age} days ago): check its claims")
        elif age < 0:
            self.add("warning", "future-review", where, f"{what} has a review date in the future ({reviewed})")

    def check_default_reason(self, rulebase: RuleBase) -> None:
        """The rule base's default reason is dated like a rule."""
        default = getattr(rulebase.meta, "default_reason", None)
        reviewed = getattr(default, "reviewed", None)
        if reviewed is not None:
            self.age_warning(self.index.table_at("rulebase") or f"{BASE_DIR}:1:1",
                             f"the default reason {default.id!r}", reviewed)

    def check_speed_claims(self, rulebase: RuleBase) -> None:
        """Speed is measured, not asserted: a rule that reads no measurement and asserts that a framework is fast or
        slow ("MLX is the fastest") states it as an expectation that a probe confirms or refutes."""
        for rule in rulebase.rules:
            measured = any((spec := rulebase.fact_spec(leaf.fact)) is not None and spec.source == "benchmark"
                           for leaf in iter_leaves(rule.when)) or "probe:this-machine" in rule.refs
            if measured:
                continue
            for key, text in self._message_texts(rule):
                if SPEED_CLAIM.search(text) and not EXPECTATION.search(text):
                    self.add("warning", "speed-claim", self.index.rule_at(rulebase, rule.id, *key),
                             f"rule {rule.id!r} asserts speed without a measurement ({SPEED_CLAIM.search(text).group(0)!r}): "
                             f"say it as an expectation a probe confirms or refutes, or test the probe's facts")

    @staticmethod
    def _message_texts(rule: Rule) -> list[tuple[tuple[str, ...], str]]:
        texts = [(("message",), rule.message)] if rule.message else []
        return texts + [(("messages", framework_id), text) for framework_id, text in (rule.messages or {}).items()]

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
            groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
            for position, row in enumerate(entry.install):
                for os_name, arch in itertools.product(row.os, row.arch):
                    key = (row.device, os_name, arch)
                    groups[key].append(position)
                    rows.setdefault(key, position)
            for key, positions in groups.items():
                self._check_install_conditions(framework_id, entry, key, positions)
            for position, row in enumerate(entry.install):
                reachable = any(row.device in p.devices and set(p.os) & set(row.os) and set(p.arch) & set(row.arch)
                                for p in entry.platforms)
                if not reachable:
                    self.add("warning", "install-unused",
                             self.index.entry_at("frameworks", framework_id, "install", position),
                             f"{framework_id}: install row {position} ({row.device} on {'/'.join(row.os)}) matches "
                             f"no platform device")
            self._check_addons(framework_id, entry, rows)
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

    def _check_install_conditions(self, framework_id: str, entry: Any, key: tuple[str, str, str],
                                  positions: Sequence[int]) -> None:
        """The rows for one device, OS and architecture must cover every machine exactly once: at every compute
        capability and driver (each bound the rows use, none, and unstated, which counts as current) and both
        integrated and discrete (where such a machine can exist), one row holds. Rows without conditions cover
        everything, so two of them overlap."""
        device, os_name, arch = key
        members = [(position, entry.install[position]) for position in positions]
        if len(members) == 1 and not members[0][1].conditional:
            return
        points: dict[str, list[tuple[int, ...] | None]] = {}
        for fact, (low, high) in INSTALL_BOUNDS.items():
            bounds = {version_key(getattr(row, name)) for _, row in members for name in (low, high)
                      if getattr(row, name) is not None}
            points[fact] = [(0,) * VERSION_PARTS, *sorted(bounds), None]  # None: unstated, taken as current
        gaps: list[str] = []
        overlapping: set[tuple[int, int]] = set()
        for capability, driver, integrated in itertools.product(points["compute_capability"], points["driver"],
                                                                (False, True)):
            if impossible_accelerator(os_name, arch, device, integrated):
                continue  # no such machine (an integrated NVIDIA GPU on x86_64)
            facts = DeviceFacts(capability, driver, integrated)
            holding = [position for position, row in members if row_holds(row, facts)]
            where = self._condition_words(device, facts)
            if not holding:
                gaps.append(where)
            for first, second in itertools.combinations(holding, 2):
                if (first, second) in overlapping:
                    continue  # one finding per pair, at the first machine both hold for
                overlapping.add((first, second))
                detail = f" ({where})" if entry.install[first].conditional or entry.install[second].conditional else ""
                self.add("error", "install-overlap", self.index.entry_at("frameworks", framework_id, "install", second),
                         f"{framework_id}: install rows {first} and {second} both cover {device} on "
                         f"{os_name}/{arch}{detail}; row {second} is never used there")
        if gaps:
            more = f", and {len(gaps) - 1} more combination{'s' if len(gaps) > 2 else ''}" if len(gaps) > 1 else ""
            self.add("error", "install-gap", self.index.entry_at("frameworks", framework_id, "install", positions[0]),
                     f"{framework_id}: no install row for {device} on {os_name}/{arch} holds for {gaps[0]}{more}; "
                     f"the rows' conditions must cover every machine")

    @staticmethod
    def _condition_words(device: str, facts: DeviceFacts) -> str:
        def shown(value: tuple[int, ...] | None) -> str:
            if value is None:
                return "unstated"
            while len(value) > 2 and value[-1] == 0:
                value = value[:-1]
            return ".".join(str(part) for part in value)

        words = [f"driver {shown(facts.driver)}", "integrated" if facts.integrated else "discrete"]
        if device == "cuda":
            words.insert(0, f"compute capability {shown(facts.compute_capability)}")
        return ", ".join(words)

    def _check_addons(self, framework_id: str, entry: Any, rows: Mapping[tuple[str, str, str], int]) -> None:
        """Add-on rows: devices the framework reaches only through an add-on. They are not install rows (so
        never install-unused), but they must not overlap, hide behind an install row, or name a device
        that the framework's own platform lists (that device needs an install row instead)."""
        seen: dict[tuple[str, str, str], int] = {}
        for position, addon in enumerate(entry.addons):
            where = self.index.entry_at("frameworks", framework_id, "addons", position)
            for os_name, arch in itertools.product(addon.os, addon.arch):
                key = (addon.device, os_name, arch)
                if key in seen:
                    self.add("error", "addon-overlap", where,
                             f"{framework_id}: add-ons {seen[key]} and {position} both cover {addon.device} on "
                             f"{os_name}/{arch}; add-on {position} is never used there")
                seen.setdefault(key, position)
                if key in rows:
                    self.add("warning", "addon-shadowed", where,
                             f"{framework_id}: install row {rows[key]} covers {addon.device} on {os_name}/{arch}, so "
                             f"add-on {position} ({addon.addon}) is never used there")
            platforms = [p for p in entry.platforms if set(p.os) & set(addon.os) and set(p.arch) & set(addon.arch)]
            if not platforms:
                self.add("warning", "addon-unused", where,
                         f"{framework_id}: add-on {position} ({addon.addon}) is for {'/'.join(addon.os)} "
                         f"{'/'.join(addon.arch)}, where {framework_id} has no build at all")
            elif any(addon.device in p.devices for p in platforms):
                self.add("warning", "addon-platform-device", where,
                         f"{framework_id}: add-on {position} ({addon.addon}) is for {addon.device}, which a platform "
                         f"row already lists as {framework_id}'s own device; give it an install row instead")

    def check_remedies(self, rulebase: RuleBase) -> None:
        """Every cause of an unused accelerator (a worker's reason or one the doctor finds) has a fix in the catalog."""
        where = self.index.table_at("remedies") or self.index.table_at("frameworks") or f"{BASE_DIR}:1:1"
        for cause in CAUSES:
            if cause not in rulebase.remedies:
                self.add("error", "remedy-missing", where,
                         f"no remedy for cause {cause!r}: a probe or the doctor that finds it gets no fix")

    # --- logic ---------------------------------------------------------------------------------------

    def check_conditions(self, rulebase: RuleBase, model: WorldModel) -> dict[str, str]:
        """Never/always-holding conditions; returns each rule's overall kind."""
        kinds: dict[str, str] = {}
        for rule in rulebase.rules:
            truth = Truth(model, [rule.when])
            raw = self.index.rules[rule.id].get("when") if rule.id in self.index.rules else None
            fallback = self.index.rule_at(rulebase, rule.id, "when")
            nodes = list(condition_nodes(rule.when, raw, fallback))
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
                             f"rule {rule.id!r}: condition {describe(node)} can never hold{why}{note}; "
                             f"{'so the rule never fires' if kinds[rule.id] == 'never' else 'a dead branch'}")
                else:
                    if isinstance(node, AllOf) or (isinstance(node, AnyOf) and "always" in child_kinds):
                        continue
                    why = " (its inner condition can never hold)" if isinstance(node, NotOf) else ""
                    what = "the rule fires for every question" if node is rule.when else "it tests nothing"
                    self.add("warning", "always-holds", where,
                             f"rule {rule.id!r}: condition {describe(node)} always holds{why}; {what}")
        return kinds

    def check_pairs(self, rulebase: RuleBase, model: WorldModel, kinds: Mapping[str, str]) -> None:
        """Rules that always fire together: duplicates, double counting, contradictions."""
        candidates = [rule for rule in rulebase.rules if kinds.get(rule.id) != "never"]
        order = {rule.id: sort_key(Finding("", "", self.index.rule_at(rulebase, rule.id), ""))
                 for rule in candidates}
        # A shared random sample of worlds buckets the rules: equivalent conditions agree on every
        # world, so only rules with the same fingerprint are compared exactly.
        facts, thresholds, members = facts_of(rule.when for rule in candidates)
        sample = sample_worlds(model, facts, thresholds, members)
        buckets: dict[tuple[bool, ...], list[Rule]] = defaultdict(list)
        for rule in candidates:
            buckets[tuple(holds(rule.when, world) for world in sample)].append(rule)
        for bucket in buckets.values():
            for first, second in itertools.combinations(sorted(bucket, key=lambda r: order[r.id]), 2):
                truth = Truth(model, [first.when, second.when])
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

    def check_knocked_out_points(self, rulebase: RuleBase, model: WorldModel, kinds: Mapping[str, str]) -> None:
        knockouts: dict[str, list[Rule]] = defaultdict(list)
        for rule in rulebase.rules:
            for framework_id in rule.then.knockout or []:
                knockouts[framework_id].append(rule)
        for rule in rulebase.rules:
            if rule.then.points is None or kinds.get(rule.id) == "never":
                continue
            for framework_id in rule.then.points:
                removers = knockouts.get(framework_id, [])
                truth = Truth(model, [rule.when, *(r.when for r in removers)],
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

    def check_coverage(self, rulebase: RuleBase, model: WorldModel, kinds: Mapping[str, str]) -> None:
        targeted: dict[str, set[str]] = {"goals": set(), "experience": set()}
        for rule in rulebase.rules:
            if kinds.get(rule.id) == "never":
                continue
            truth = Truth(model, [rule.when])
            for world in truth.worlds:
                fired = holds(rule.when, world)
                if "goals" in world and not fired:
                    for goal in facts_of([rule.when])[2].get("goals", ()):
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
                             self.index.entry_at("facts", fact, "values", position) if spec.vocabulary is None
                             else self.index.entry_at("facts", fact, "vocabulary"),
                             f"no rule targets {fact} value {value!r}: no rule starts or stops firing because of it")

        used: set[str] = set()
        for rule in rulebase.rules:
            names = [leaf.fact for leaf in iter_leaves(rule.when)]
            names += [m.group(1) for text in rule.texts() for m in MESSAGE_PLACEHOLDER.finditer(text)]
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
                hardware = HardwareProfile.model_validate(scenario["hardware"])
                goals, experience = list(scenario["goals"]), scenario["experience"]
                ranking = recommend(rulebase, goals, experience, hardware).ranking
                fired |= {reason.rule for item in ranking for reason in item.reasons}
                firsts.add(ranking[0].framework)
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
