"""Loading a rule base: the shipped base directory plus optional extra directories merged over it.

Loading is all or nothing: any problem raises RuleFileError (``file:line:column: message``) and no
partially loaded rule base is ever returned, so a bad file stops the service from starting.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from framework_advisor.probes.vocabulary import FRAMEWORK_IDS
from framework_advisor.rules.safe_yaml import (
    Location,
    RuleFileError,
    decode_rule_bytes,
    loads_rule_yaml,
    locate,
    read_rule_bytes,
    validate_located,
)
from framework_advisor.rules.schema import (
    AllOf,
    AnyOf,
    FactSpec,
    FrameworkEntry,
    Leaf,
    NotOf,
    Remedy,
    Rule,
    RulebaseMeta,
    RuleFile,
)
from framework_advisor.rules.templates import expand_file

BASE_DIR = Path(__file__).resolve().parent / "base"
STARTER_DIR = Path(__file__).resolve().parent / "starters"
# The golden scenarios: what experts recommend for typical questions, shipped with the rules they test.
GOLDEN_FILE = Path(__file__).resolve().parent / "golden_scenarios.yaml"
RULES_DIRS_ENV = "FRAMEWORK_ADVISOR_RULES_DIRS"
MAX_FILES_PER_DIR = 200
# Placeholders a rule message may hold: {fact} or {fact:.Nf}; filled from facts only. {framework} is the
# name of the framework the reason is shown under and {framework.<fact>} that framework's own
# per-framework fact ({framework.device}).
MESSAGE_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)?)(?::\.(\d)f)?\}")
FRAMEWORK_PLACEHOLDER = "framework"
# The one assignment in each starter the service rewrites to the framework's own name for the device.
STARTER_DEVICE_ASSIGNMENT = re.compile(r'^DEVICE = "cpu"', re.MULTILINE)


@dataclass(frozen=True)
class RuleBase:
    meta: RulebaseMeta
    facts: dict[str, FactSpec]
    frameworks: dict[str, FrameworkEntry]
    rules: tuple[Rule, ...]
    sha256: str
    sources: tuple[str, ...]
    starters: dict[tuple[str, str], str] = field(default_factory=dict)  # (framework id, family) -> source
    rule_locations: dict[str, Location] = field(default_factory=dict)
    remedies: dict[str, Remedy] = field(default_factory=dict)  # unused-accelerator reason -> its fix

    @property
    def version(self) -> str:
        return self.meta.version

    def fact_spec(self, name: str) -> FactSpec | None:
        """The declaration of a fact name as rules write it (``pytorch.device`` included)."""
        if name in self.facts and not self.facts[name].per_framework:
            return self.facts[name]
        framework, _, fact = name.partition(".")
        spec = self.facts.get(fact)
        if framework in FRAMEWORK_IDS and spec is not None and spec.per_framework:
            return spec
        return None


def extra_dirs_from_env(environ: dict[str, str] | None = None) -> list[Path]:
    value = (environ if environ is not None else os.environ).get(RULES_DIRS_ENV, "")
    return [Path(part) for part in value.split(os.pathsep) if part.strip()]


def _display_name(path: Path) -> str:
    """Paths inside the checkout are shown relative to it: shorter, and no server layout in answers."""
    try:
        return str(path.resolve().relative_to(BASE_DIR.parent.parent))
    except ValueError:
        return str(path)


def _yaml_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise RuleFileError(f"{directory}:1:1", "rule directory does not exist or is not a directory")
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if len(files) > MAX_FILES_PER_DIR:
        raise RuleFileError(f"{directory}:1:1", f"more than {MAX_FILES_PER_DIR} rule files")
    return files


def _validate_file(path: Path, data: Any) -> tuple[RuleFile, Any]:
    """A loaded file validated, its rule templates expanded: the model and the expanded located data
    (expanded rules keep their template's positions)."""
    if not isinstance(data, dict):
        raise RuleFileError(f"{path}:1:1", "a rule file must be a mapping with rulebase/facts/frameworks/remedies/rules keys")
    data = expand_file(data, path)
    return validate_located(RuleFile, data, path), data


def read_rule_file(path: Path, content: bytes | None = None) -> tuple[RuleFile, Any]:
    """One rule file read, validated and expanded (see ``_validate_file``); RuleFileError on any problem."""
    display = _display_name(path)
    content = read_rule_bytes(path, display) if content is None else content
    return _validate_file(path, loads_rule_yaml(decode_rule_bytes(content, display), display))


def _read_directories(directories: Sequence[Path]) -> list[tuple[Path, list[tuple[Path, bytes]]]]:
    return [(directory, [(path, read_rule_bytes(path, _display_name(path))) for path in _yaml_files(directory)])
            for directory in directories]


def load_rulebase(extra_dirs: Sequence[Path] = (), base_dir: Path = BASE_DIR, *, cache: bool = True) -> RuleBase:
    """Load the base directory, then each extra directory over it (later wins, by id).

    With ``cache`` (the default), a rule base validated before from exactly the same files (rule files,
    starters, and the loader's own code) is read back from the user's cache directory instead
    (rules/rulecache.py); anything else is loaded in full and then cached."""
    directories = [Path(base_dir), *(Path(d) for d in extra_dirs)]
    contents = _read_directories(directories)
    key = None
    if cache:
        from framework_advisor.rules import rulecache

        key = rulecache.cache_key(contents, STARTER_DIR)
        cached = rulecache.read(directories, key)
        if cached is not None:
            return cached
    rulebase = _load(contents, base_dir)
    if key is not None:
        rulecache.write(directories, key, rulebase)
    return rulebase


def _load(contents: list[tuple[Path, list[tuple[Path, bytes]]]], base_dir: Path) -> RuleBase:
    meta: RulebaseMeta | None = None
    facts: dict[str, FactSpec] = {}
    frameworks: dict[str, FrameworkEntry] = {}
    remedies: dict[str, Remedy] = {}
    rules: dict[str, Rule] = {}
    rule_locations: dict[str, Location] = {}
    digest = hashlib.sha256()
    sources: list[str] = []

    for _directory, files in contents:
        in_this_directory: set[str] = set()  # a later directory overrides a rule; one directory never repeats it
        for path, content in files:
            parsed, data = read_rule_file(path, content)
            digest.update(path.name.encode() + b"\0" + content + b"\0")
            sources.append(str(path))
            if parsed.rulebase is not None:
                keep = meta.default_reason if meta is not None and parsed.rulebase.default_reason is None else None
                meta = parsed.rulebase.model_copy(update={"default_reason": keep}) if keep else parsed.rulebase
            facts.update(parsed.facts or {})
            frameworks.update(parsed.frameworks or {})
            remedies.update(parsed.remedies or {})
            for index, rule in enumerate(parsed.rules or []):
                where = locate(data, ("rules", index)) or Location(str(path), 1, 1)
                if rule.id in in_this_directory:
                    raise RuleFileError(where, f"duplicate rule id {rule.id!r} (first at {rule_locations[rule.id]})")
                in_this_directory.add(rule.id)
                rules[rule.id] = rule
                rule_locations[rule.id] = where

    if meta is None:
        raise RuleFileError(f"{base_dir}:1:1", "no file declares 'rulebase' (version and confidence thresholds)")
    starters = _read_starters(frameworks)
    for framework_id, family in sorted(starters):
        digest.update(f"{framework_id}/{family}".encode() + b"\0" + starters[framework_id, family].encode() + b"\0")

    rulebase = RuleBase(
        meta=meta,
        facts=facts,
        frameworks=frameworks,
        rules=tuple(rules[rule_id] for rule_id in sorted(rules)),
        sha256=digest.hexdigest(),
        sources=tuple(sources),
        starters=starters,
        rule_locations=rule_locations,
        remedies=remedies,
    )
    check_references(rulebase)
    return rulebase


def _read_starters(frameworks: dict[str, FrameworkEntry]) -> dict[tuple[str, str], str]:
    """Every starter file the catalog names, keyed by (framework id, family)."""
    starters = {}
    for framework_id, entry in frameworks.items():
        for family, name in entry.starter.files.items():
            path = STARTER_DIR / name
            try:
                source = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise RuleFileError(f"{path}:1:1", f"{framework_id}: cannot read {family} starter: {exc.strerror}") from None
            if len(STARTER_DEVICE_ASSIGNMENT.findall(source)) != 1:
                raise RuleFileError(f"{path}:1:1", 'a starter must begin exactly one line with DEVICE = "cpu"')
            starters[framework_id, family] = source
    return starters


def iter_leaves(condition: Any) -> Iterable[Leaf]:
    if isinstance(condition, Leaf):
        yield condition
    elif isinstance(condition, (AllOf, AnyOf)):
        for child in condition.all if isinstance(condition, AllOf) else condition.any:
            yield from iter_leaves(child)
    elif isinstance(condition, NotOf):
        yield from iter_leaves(condition.not_)


_OPS_BY_TYPE = {
    "enum": {"eq", "ne", "in", "not_in", "exists"},
    "set": {"contains", "contains_any", "exists"},
    "number": {"eq", "ne", "lt", "lte", "gt", "gte", "exists"},
    "bool": {"eq", "ne", "exists"},
    "text": {"exists"},  # free text is for messages, not for conditions
}


def leaf_problem(rulebase: RuleBase, leaf: Leaf) -> str | None:
    """Why a condition leaf cannot be evaluated against the declared facts, or None when it fits."""
    spec = rulebase.fact_spec(leaf.fact)
    if spec is None:
        return f"unknown fact {leaf.fact!r}"
    if leaf.op not in _OPS_BY_TYPE[spec.type]:
        return f"operator {leaf.op!r} does not apply to {spec.type} fact {leaf.fact!r} (use one of {sorted(_OPS_BY_TYPE[spec.type])})"
    if leaf.op == "exists":
        return None if leaf.value in (None, True, False) else "'exists' takes no value (or true/false)"
    many = leaf.op in ("in", "not_in", "contains_any")
    values = leaf.value if many else [leaf.value]
    if many and (not isinstance(leaf.value, list) or not leaf.value):
        return f"operator {leaf.op!r} needs a non-empty list value"
    for value in values:
        if spec.type in ("enum", "set") and value not in (spec.values or []):
            return f"{value!r} is not a value of {leaf.fact!r} (one of {spec.values})"
        if spec.type == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"{leaf.fact!r} is a number; {value!r} is not"
            if spec.range and not spec.range[0] <= value <= spec.range[1]:
                return f"{value!r} is outside the range of {leaf.fact!r} {list(spec.range)}"
        if spec.type == "bool" and not isinstance(value, bool):
            return f"{leaf.fact!r} is true or false; {value!r} is neither"
    return None


def certainty_fact_problem(rulebase: RuleBase, fact: str) -> str | None:
    """Why ``fact`` cannot scale a rule's certainty (it must be a number fact within [0, 1]), or None."""
    spec = rulebase.fact_spec(fact)
    if spec is None:
        return f"certainty_from names no fact: {fact!r}"
    if spec.type != "number" or spec.range is None or not (0 <= spec.range[0] and spec.range[1] <= 1):
        return f"certainty_from needs a number fact with a range within [0, 1]; {fact!r} is not one"
    return None


def placeholder_problem(rulebase: RuleBase, name: str) -> str | None:
    """Why a message placeholder cannot be filled, or None: a declared fact, {framework}, or
    {framework.<fact>} for a per-framework fact."""
    if name == FRAMEWORK_PLACEHOLDER:
        return None
    head, _, fact = name.partition(".")
    if head == FRAMEWORK_PLACEHOLDER:
        spec = rulebase.facts.get(fact)
        if spec is None or not spec.per_framework:
            return f"message placeholder {{{name}}} needs a per-framework fact after 'framework.'"
        return None
    if rulebase.fact_spec(name) is None:
        return f"message placeholder {{{name}}} names no fact"
    return None


def check_references(rulebase: RuleBase) -> None:
    """Structure checks that need the whole merged base; the first problem found is raised."""
    missing = [fid for fid in FRAMEWORK_IDS if fid not in rulebase.frameworks]
    if missing:
        raise RuleFileError(f"{BASE_DIR}:1:1", f"the catalog lacks frameworks {missing}")
    for rule in rulebase.rules:
        for leaf in iter_leaves(rule.when):
            problem = leaf_problem(rulebase, leaf)
            if problem:
                raise RuleFileError(rulebase.rule_locations[rule.id], f"rule {rule.id!r}: {problem}")
        if rule.certainty_from is not None:
            problem = certainty_fact_problem(rulebase, rule.certainty_from)
            if problem:
                raise RuleFileError(rulebase.rule_locations[rule.id], f"rule {rule.id!r}: {problem}")
        for text in rule.texts():
            for placeholder in MESSAGE_PLACEHOLDER.finditer(text):
                problem = placeholder_problem(rulebase, placeholder.group(1))
                if problem:
                    raise RuleFileError(rulebase.rule_locations[rule.id], f"rule {rule.id!r}: {problem}")
    default = rulebase.meta.default_reason
    if default is not None:
        for placeholder in MESSAGE_PLACEHOLDER.finditer(default.message):
            problem = placeholder_problem(rulebase, placeholder.group(1))
            if problem:
                raise RuleFileError(f"{BASE_DIR}:1:1", f"rulebase.default_reason: {problem}")
    for framework_id, entry in rulebase.frameworks.items():
        devices = {device for platform in entry.platforms for device in platform.devices}
        unnamed = devices - set(entry.starter.device_names)
        if unnamed:
            raise RuleFileError(f"{BASE_DIR}:1:1", f"{framework_id}: starter.device_names lacks {sorted(unnamed)}")
