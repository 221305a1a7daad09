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


# libyaml's C parser when PyYAML was built with it (about 20 times faster on rule files), else PyYAML's own.
# Either only produces events; composing them below is the same code for both, so every check holds alike.
_PARSER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_CONSTRUCTORS = yaml.SafeLoader.yaml_constructors


def _at(file: str, mark: Any) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


class _Composer:
    """Builds located data straight from the parser's events, refusing what rule files may not hold.

    Iterating events rather than composing PyYAML nodes lets the C parser do the scanning and parsing, keeps
    the nesting cap ahead of any recursion (libyaml's parser itself keeps explicit stacks), and sees every
    anchor, alias and tag where it is written."""

    def __init__(self, parser: Any, file_name: str):
        self.parser = parser
        self.file = file_name

    def document(self) -> Any:
        parser = self.parser
        parser.get_event()  # StreamStart
        if parser.check_event(yaml.StreamEndEvent):
            return None
        parser.get_event()  # DocumentStart
        data = self.node(0)
        parser.get_event()  # DocumentEnd
        if not parser.check_event(yaml.StreamEndEvent):
            raise RuleFileError(_at(self.file, parser.peek_event().start_mark),
                                "expected a single document in the file, but found another")
        return data

    def _refuse_alias_and_anchor(self, event: Any) -> None:
        if isinstance(event, yaml.AliasEvent):
            raise RuleFileError(_at(self.file, event.start_mark),
                                "aliases (*name) are not allowed in rule files; write the value out")
        if event.anchor is not None:
            raise RuleFileError(_at(self.file, event.start_mark), f"anchors (&{event.anchor}) are not allowed in rule files")

    def _tag(self, event: Any, kind: type) -> str:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.parser.resolve(kind, getattr(event, "value", None), event.implicit)
        return tag

    def node(self, depth: int) -> Any:
        event = self.parser.get_event()
        self._refuse_alias_and_anchor(event)
        here = _at(self.file, event.start_mark)
        if depth > MAX_DEPTH:
            raise RuleFileError(here, f"nesting deeper than {MAX_DEPTH} levels")
        if isinstance(event, yaml.ScalarEvent):
            return self._scalar(event, self._tag(event, yaml.ScalarNode), here)
        if isinstance(event, yaml.SequenceStartEvent):
            tag = self._tag(event, yaml.SequenceNode)
            if tag not in _IMPLICIT_TAGS:
                raise RuleFileError(here, f"tag {tag!r} is not allowed in rule files")
            items = LocatedList()
            items.location = here
            items.item_locations = []
            while not self.parser.check_event(yaml.SequenceEndEvent):
                items.item_locations.append(_at(self.file, self.parser.peek_event().start_mark))
                items.append(self.node(depth + 1))
            self.parser.get_event()
            return items
        if isinstance(event, yaml.MappingStartEvent):
            tag = self._tag(event, yaml.MappingNode)
            if tag not in _IMPLICIT_TAGS:
                raise RuleFileError(here, f"tag {tag!r} is not allowed in rule files")
            mapping = LocatedDict()
            mapping.location = here
            mapping.key_locations = {}
            while not self.parser.check_event(yaml.MappingEndEvent):
                key_event = self.parser.peek_event()
                key_at = _at(self.file, key_event.start_mark)
                if isinstance(key_event, yaml.ScalarEvent) and self._tag(key_event, yaml.ScalarNode) == _MERGE_TAG:
                    raise RuleFileError(key_at, "merge keys (<<) are not allowed")
                key = self.node(depth + 1)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    raise RuleFileError(key_at, "mapping keys must be scalars")
                if key in mapping:
                    first = mapping.key_locations[key]
                    raise RuleFileError(key_at, f"duplicate key {key!r} (first defined at line {first.line})")
                mapping[key] = self.node(depth + 1)
                mapping.key_locations[key] = key_at
            self.parser.get_event()
            return mapping
        raise RuleFileError(here, f"unexpected {type(event).__name__}")  # the parser yields nothing else here

    def _scalar(self, event: Any, tag: str, here: Location) -> Any:
        if tag not in _IMPLICIT_TAGS:
            raise RuleFileError(here, f"tag {tag!r} is not allowed in rule files")
        if tag == _STR_TAG:
            return event.value
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
        return _CONSTRUCTORS[tag](self.parser, node)


def read_rule_bytes(path: Path, display_name: str | None = None) -> bytes:
    """A rule file's bytes, refusing files over the size cap before reading them."""
    name = display_name or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise RuleFileError(f"{name}:1:1", f"file is {size} bytes; rule files are capped at {MAX_FILE_BYTES}")
        data = path.read_bytes()
    except OSError as exc:
        raise RuleFileError(f"{name}:1:1", f"cannot read: {exc.strerror}") from None
    if len(data) > MAX_FILE_BYTES:  # it grew between stat and read
        raise RuleFileError(f"{name}:1:1", f"file is {len(data)} bytes; rule files are capped at {MAX_FILE_BYTES}")
    return data


def decode_rule_bytes(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RuleFileError(f"{name}:1:1", f"not UTF-8 ({exc.reason} at byte {exc.start})") from None


def load_rule_yaml(path: Path, display_name: str | None = None) -> Any:
    """Load one rule file strictly; raise RuleFileError with file:line:column on any problem."""
    name = display_name or str(path)
    return loads_rule_yaml(decode_rule_bytes(read_rule_bytes(path, name), name), name)


def loads_rule_yaml(text: str, name: str = "<string>", parser: type | None = None) -> Any:
    """Parse rule-file text strictly (``parser``: a PyYAML loader class, the C one by default when present)."""
    loader = None
    try:
        loader = (parser or _PARSER)(text)
        return _Composer(loader, name).document()
    except RuleFileError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(name, mark.line + 1, mark.column + 1) if mark else f"{name}:1:1"
        raise RuleFileError(where, f"{exc.problem or exc.context}") from None
    except yaml.reader.ReaderError as exc:
        before = text[:exc.position] if isinstance(exc.position, int) else ""
        where = Location(name, before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1)
        raise RuleFileError(where, f"character #x{exc.character:04x} is not allowed ({exc.reason})") from None
    except yaml.YAMLError as exc:
        raise RuleFileError(f"{name}:1:1", str(exc)) from None
    except RecursionError:
        raise RuleFileError(f"{name}:1:1", "nesting too deep") from None
    finally:
        if loader is not None:
            loader.dispose()


# pydantic inserts the tag of a discriminated union into error paths; they name no key in the file.
_UNION_TAGS = {"all", "any", "not", "leaf", "rule", "template"}


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
        field = ".".join(str(step) for step in first["loc"] if step not in ("leaf", "rule", "template"))  # union tags
        message = (f"unknown key {first['loc'][-1]!r}" if first["type"] == "extra_forbidden"
                   else first["msg"].removeprefix("Value error, "))
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise RuleFileError(where, f"{field}: {message}{more}") from None
