"""Strict, located YAML loading for rule files.

PyYAML's safe_load silently keeps the last of two duplicate keys, expands aliases (an alias bomb
loads in milliseconds and explodes when walked) and accepts tags. Rule files are small, hand-written
data, so all of that is refused here, and every mapping and sequence remembers where each of its
entries stood, so later validation errors can be reported as ``file:line:column``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

MAX_FILE_BYTES = 512 * 1024
MAX_DEPTH = 32

# Tags the safe loader resolves implicitly; anything else written explicitly is refused.
_IMPLICIT_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:timestamp",
}

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class Location:
    file: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class RuleFileError(Exception):
    """A rule file that cannot be used; ``str()`` is ``file:line:column: message``."""

    def __init__(self, location: Location | str, message: str):
        self.location = location
        self.message = message
        super().__init__(f"{location}: {message}")


class LocatedDict(dict):
    """A mapping that knows where it and each of its keys stood in the file."""

    location: Location
    key_locations: dict[Any, Location]


class LocatedList(list):
    """A sequence that knows where it and each of its items stood in the file."""

    location: Location
    item_locations: list[Location]


def _location(file: str, node: yaml.Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


class _StrictLoader(yaml.SafeLoader):
    file_name = "<string>"

    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise RuleFileError(
                Location(self.file_name, event.start_mark.line + 1, event.start_mark.column + 1),
                "aliases (*name) are not allowed in rule files; write the value out",
            )
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise RuleFileError(
                Location(self.file_name, event.start_mark.line + 1, event.start_mark.column + 1),
                f"anchors (&{anchor}) are not allowed in rule files",
            )
        return super().compose_node(parent, index)

    def construct_document(self, node):  # noqa: ANN001
        return self._build(node, depth=0)

    def _build(self, node: yaml.Node, depth: int) -> Any:
        here = _location(self.file_name, node)
        if depth > MAX_DEPTH:
            raise RuleFileError(here, f"nesting deeper than {MAX_DEPTH} levels")
        if node.tag not in _IMPLICIT_TAGS:
            raise RuleFileError(here, f"tag {node.tag!r} is not allowed in rule files")
        if isinstance(node, yaml.MappingNode):
            result = LocatedDict()
            result.location = here
            result.key_locations = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise RuleFileError(_location(self.file_name, key_node), "merge keys (<<) are not allowed")
                key = self._build(key_node, depth + 1)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    raise RuleFileError(_location(self.file_name, key_node), "mapping keys must be scalars")
                if key in result:
                    first = result.key_locations[key]
                    raise RuleFileError(
                        _location(self.file_name, key_node),
                        f"duplicate key {key!r} (first defined at line {first.line})",
                    )
                result[key] = self._build(value_node, depth + 1)
                result.key_locations[key] = _location(self.file_name, key_node)
            return result
        if isinstance(node, yaml.SequenceNode):
            result = LocatedList(self._build(item, depth + 1) for item in node.value)
            result.location = here
            result.item_locations = [_location(self.file_name, item) for item in node.value]
            return result
        return self.construct_object(node)


def load_rule_yaml(path: Path, display_name: str | None = None) -> Any:
    """Load one rule file strictly; raise RuleFileError with file:line:column on any problem."""
    name = display_name or str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise RuleFileError(f"{name}:1:1", f"cannot read: {exc.strerror}") from None
    if size > MAX_FILE_BYTES:
        raise RuleFileError(f"{name}:1:1", f"file is {size} bytes; rule files are capped at {MAX_FILE_BYTES}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RuleFileError(f"{name}:1:1", f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    return loads_rule_yaml(text, name)


def loads_rule_yaml(text: str, name: str = "<string>") -> Any:
    loader = _StrictLoader(text)
    loader.file_name = name
    try:
        return loader.get_single_data()
    except RuleFileError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(name, mark.line + 1, mark.column + 1) if mark else f"{name}:1:1"
        raise RuleFileError(where, f"{exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise RuleFileError(f"{name}:1:1", str(exc)) from None
    except RecursionError:
        raise RuleFileError(f"{name}:1:1", "nesting too deep") from None
    finally:
        loader.dispose()


# pydantic inserts the tag of a discriminated union into error paths; they name no key in the file.
_UNION_TAGS = {"all", "any", "not", "leaf"}


def locate(data: Any, path: tuple[Any, ...]) -> Location | None:
    """Find the closest recorded location for a path of keys/indices into loaded data."""
    found = getattr(data, "location", None)
    node = data
    for step in path:
        if step in _UNION_TAGS and not (isinstance(node, LocatedDict) and step in node):
            continue
        if isinstance(node, LocatedDict) and step in node:
            found = node.key_locations.get(step, found)
            node = node[step]
        elif isinstance(node, LocatedList) and isinstance(step, int) and 0 <= step < len(node):
            found = node.item_locations[step]
            node = node[step]
        else:
            break
    return found


def validate_located(model: type[ModelT], data: Any, path: Path | str) -> ModelT:
    """``model.model_validate(data)``; a ValidationError becomes RuleFileError at the offending key's
    file:line:column. A misspelt key shows up twice (unknown key + missing field): the misspelling is
    reported, at its line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda error: error["type"] != "extra_forbidden")
        first = errors[0]
        where = locate(data, tuple(first["loc"])) or f"{path}:1:1"
        field = ".".join(str(step) for step in first["loc"] if step != "leaf")  # pydantic's union tag
        message = (f"unknown key {first['loc'][-1]!r}" if first["type"] == "extra_forbidden"
                   else first["msg"].removeprefix("Value error, "))
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise RuleFileError(where, f"{field}: {message}{more}") from None
