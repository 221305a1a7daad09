"""Where things stand in the rule files, so that findings point at a key, a leaf or a list item."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from framework_advisor.rules.rulebase import BASE_DIR, RuleBase
from framework_advisor.rules.safe_yaml import LocatedDict, LocatedList, locate
from framework_advisor.rules.schema import AllOf, AnyOf, Leaf, NotOf


class RuleFileIndex:
    """The raw, located YAML of every file, so findings can point at a key, a leaf or a list item."""

    def __init__(self) -> None:
        self.rules: dict[str, LocatedDict] = {}  # rule id -> its mapping in the winning file
        self.facts: dict[str, tuple[LocatedDict, str]] = {}  # fact -> (facts mapping, key)
        self.frameworks: dict[str, tuple[LocatedDict, str]] = {}
        self.tables: dict[str, str] = {}  # top-level key -> where the last file declaring it has it

    def add(self, data: LocatedDict) -> None:
        for key in data:
            self.tables[key] = str(data.key_locations.get(key, data.location))
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

    def table_at(self, key: str) -> str | None:
        return self.tables.get(key)

    def entry_at(self, kind: str, name: str, *path: Any) -> str:
        table = self.facts if kind == "facts" else self.frameworks
        if name not in table:
            return f"{BASE_DIR}:1:1"
        mapping, key = table[name]
        if not path:
            return str(mapping.key_locations.get(key, mapping.location))
        return str(locate(mapping, (key, *path)) or mapping.key_locations.get(key, mapping.location))


def condition_nodes(condition: Any, raw: Any, fallback: str) -> Iterator[tuple[Any, str, Any]]:
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


def describe(condition: Any) -> str:
    if isinstance(condition, Leaf):
        if condition.op == "exists":
            return f"{condition.fact} {'exists' if condition.value is not False else 'is missing'}"
        return f"{condition.fact} {condition.op} {condition.value!r}"
    if isinstance(condition, NotOf):
        inner = describe(condition.not_)
        return f"not {inner}" if inner.startswith("(") else f"not ({inner})"
    children = condition.all if isinstance(condition, AllOf) else condition.any
    joiner = " and " if isinstance(condition, AllOf) else " or "
    return "(" + joiner.join(describe(child) for child in children) + ")"
