"""Rule templates: one rule stated once for several frameworks, expanded when a file is loaded.

A rule item with a ``for_each`` key is a template::

    - for_each: all                                # or [pytorch, jax], or {pytorch: {docs: https://...}, ...}
      id: measured-slower-$framework
      when: {fact: $framework.slowdown_low, op: gte, value: 1.5}
      then: {points: {$framework: -1.0}}
      message: Measured on this machine, $name ran {$framework.slowdown_text} slower than {fastest_framework}.
      refs: [probe:this-machine]
      reviewed: 2026-11-22

Each framework named by ``for_each`` gets one rule, in which every string and every mapping key has
``$framework`` replaced by its id, ``$name`` by its display name (probes/vocabulary.py) and, when
``for_each`` is a mapping, ``$<variable>`` by that framework's own value; ``$$`` is a literal ``$``.
``$`` variables cannot be confused with the ``{fact}`` placeholders of messages, which the engine fills
later. Expanded rules are plain rules: validated, checked and linted like any other, and every location
(errors, lint findings, ``source``) is the template's own line, because the expanded copies keep the
template's recorded positions.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from framework_advisor.probes.vocabulary import FRAMEWORK_IDS, framework_name
from framework_advisor.rules.safe_yaml import LocatedDict, LocatedList, Location, RuleFileError, validate_located
from framework_advisor.rules.schema import RuleTemplate

VARIABLE = re.compile(r"\$(\$|[a-z][a-z0-9_]*)")
BUILT_IN = ("framework", "name")


def _located_strings(node: Any, where: Location) -> list[tuple[str, Location]]:
    """Every string in a loaded tree (keys included), with the closest recorded location."""
    found: list[tuple[str, Location]] = []
    if isinstance(node, str):
        found.append((node, where))
    elif isinstance(node, LocatedDict):
        for key, value in node.items():
            here = node.key_locations.get(key, where)
            found += _located_strings(key, here) + _located_strings(value, here)
    elif isinstance(node, LocatedList):
        for item, here in zip(node, node.item_locations):
            found += _located_strings(item, here)
    return found


def _substitute(node: Any, variables: dict[str, str], where: Location) -> Any:
    """A copy of a loaded tree with variables replaced, keeping every recorded location."""
    if isinstance(node, str):
        return VARIABLE.sub(lambda match: "$" if match.group(1) == "$" else variables[match.group(1)], node)
    if isinstance(node, LocatedDict):
        copy = LocatedDict()
        copy.location = node.location
        copy.key_locations = {}
        for key, value in node.items():
            here = node.key_locations.get(key, where)
            new_key = _substitute(key, variables, here)
            if new_key in copy:
                raise RuleFileError(here, f"template key {key!r} becomes {new_key!r}, which is already a key here "
                                          f"(for {variables['framework']})")
            copy[new_key] = _substitute(value, variables, here)
            copy.key_locations[new_key] = here
        return copy
    if isinstance(node, LocatedList):
        copy = LocatedList(_substitute(item, variables, here) for item, here in zip(node, node.item_locations))
        copy.location = node.location
        copy.item_locations = list(node.item_locations)
        return copy
    return node


def _frameworks_and_variables(template: RuleTemplate, item: LocatedDict) -> list[dict[str, str]]:
    raw = item.get("for_each")
    where = getattr(raw, "location", None) or item.key_locations.get("for_each", item.location)
    for_each = template.for_each
    if for_each == "all":
        chosen: dict[str, dict[str, str]] = {framework_id: {} for framework_id in FRAMEWORK_IDS}
    elif isinstance(for_each, list):
        for position, framework_id in enumerate(for_each):
            if framework_id in for_each[:position]:
                raise RuleFileError(raw.item_locations[position], f"for_each names {framework_id!r} more than once")
        chosen = {framework_id: {} for framework_id in for_each}
    else:
        if not for_each:
            raise RuleFileError(where, "for_each needs at least one framework")
        chosen = dict(for_each)
        names = {framework_id: set(values) for framework_id, values in chosen.items()}
        first_id, first = next(iter(names.items()))
        for framework_id, own in names.items():
            at = raw.key_locations.get(framework_id, where)
            reserved = sorted(own & set(BUILT_IN))
            if reserved:
                raise RuleFileError(at, f"template variables {reserved} are built in; choose other names")
            if own != first:
                raise RuleFileError(at, f"for_each: {framework_id} defines {sorted(own)} but {first_id} defines "
                                        f"{sorted(first)}; every framework needs the same variables")
    return [{"framework": framework_id, "name": framework_name(framework_id), **own}
            for framework_id, own in chosen.items()]


def expand_template(item: LocatedDict, path: Path | str) -> list[LocatedDict]:
    """The rules one template stands for, in for_each order; RuleFileError at the template's lines."""
    template = validate_located(RuleTemplate, item, path)
    expansions = _frameworks_and_variables(template, item)
    known = set(expansions[0])
    body = _without(item, "for_each")
    for text, where in _located_strings(body, item.location):
        for match in VARIABLE.finditer(text):
            if match.group(1) != "$" and match.group(1) not in known:
                raise RuleFileError(where, f"unknown template variable ${match.group(1)} in {text!r} "
                                           f"(known: {', '.join('$' + name for name in sorted(known))}; $$ for a $)")
    if "$framework" not in template.id:
        raise RuleFileError(item.key_locations.get("id", item.location),
                            f"a template's id must contain $framework, so that each rule gets its own id "
                            f"({template.id!r})")
    return [_substitute(body, variables, item.location) for variables in expansions]


def _without(item: LocatedDict, key: str) -> LocatedDict:
    copy = LocatedDict((k, v) for k, v in item.items() if k != key)
    copy.location = item.location
    copy.key_locations = {k: v for k, v in item.key_locations.items() if k != key}
    return copy


def expand_file(data: Any, path: Path | str) -> Any:
    """A loaded rule file with each template in its ``rules`` list replaced by the rules it stands for.
    Other data is returned as it is."""
    rules = data.get("rules") if isinstance(data, LocatedDict) else None
    if not isinstance(rules, LocatedList) or not any(isinstance(item, dict) and "for_each" in item for item in rules):
        return data
    expanded = LocatedList()
    expanded.location = rules.location
    expanded.item_locations = []
    for item, where in zip(rules, rules.item_locations):
        if isinstance(item, LocatedDict) and "for_each" in item:
            for rule in expand_template(item, path):
                expanded.append(rule)
                expanded.item_locations.append(where)
        else:
            expanded.append(item)
            expanded.item_locations.append(where)
    copy = LocatedDict(data)
    copy.location = data.location
    copy.key_locations = dict(data.key_locations)
    copy["rules"] = expanded
    return copy
