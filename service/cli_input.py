"""What the command line reads from a person: names with a "did you mean" when one is mistyped, and
HardwareProfile files (``--hardware FILE``, JSON or YAML) checked in full, every mistake with its line.

A hardware file's problems are reported all at once (at most MAX_PROBLEMS), each as ``file:line:column:
/pointer: message``, in the order they stand in the file; the line is the key's (or the list item's) where
the mistake is, or that of the nearest enclosing object when the key is missing. YAML is read with the rule
files' strict loader (no aliases, tags or duplicate keys; it keeps every key's position); JSON with the
standard library, and a small scanner over the same text finds each key's position (and duplicate keys,
which JSON parsers silently collapse).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework_advisor.rules.safe_yaml import MAX_FILE_BYTES, LocatedDict, LocatedList, RuleFileError, loads_rule_yaml

if TYPE_CHECKING:
    from framework_advisor.probes.hardware import HardwareProfile

MAX_PROBLEMS = 20  # the contract's cap on validation errors too (contract.validation.MAX_ERRORS)
_MAX_SCAN_DEPTH = 64
_WHITESPACE = re.compile(r"[ \t\n\r]*")


# --- names: goals, experience, frameworks, commands ------------------------------------------------------------


def did_you_mean(value: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'research'?)`` for the closest choice, or nothing when none is close."""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(value.lower(), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_names(kind: str, names: Sequence[str], choices: Sequence[str]) -> str:
    """``unknown goal 'reserch' (did you mean 'research'?); choose from: learning, research, ...``"""
    listed = ", ".join(f"{name!r}{did_you_mean(name, choices)}" for name in names)
    plural = "s" if len(names) > 1 else ""
    return f"unknown {kind}{plural} {listed}; choose from: {', '.join(choices)}"


def name_list(kind: str, choices: Sequence[str]) -> Callable[[str], list[str]]:
    """An argparse ``type`` for ``--goal research,learning``: comma-separated names, each one of ``choices``.
    With ``action="extend"`` the option may also be repeated."""
    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        if not names:
            raise argparse.ArgumentTypeError(f"no {kind} in {text!r}; choose from: {', '.join(choices)}")
        unknown = [name for name in names if name not in choices]
        if unknown:
            raise argparse.ArgumentTypeError(unknown_names(kind, unknown, choices))
        return names

    parse.__name__ = kind  # argparse names the type in some of its own messages
    return parse


# --- hardware files ------------------------------------------------------------------------------------------


class HardwareFileError(Exception):
    """A hardware file that cannot be used; ``problems`` holds one line per mistake."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def _read_text(path: Path) -> str:
    name = str(path)
    try:
        with path.open("rb") as handle:  # bounded: /dev/zero or a huge file costs at most the cap
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise HardwareFileError([f"{name}: {exc.strerror or exc}"]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise HardwareFileError([f"{name}: larger than {MAX_FILE_BYTES} bytes; a HardwareProfile is a few lines"])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HardwareFileError([f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None


def _line_column(text: str, index: int) -> tuple[int, int]:
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def _escape(step: Any) -> str:
    return str(step).replace("~", "~0").replace("/", "~1")


def json_positions(text: str) -> tuple[dict[str, tuple[int, int]], list[tuple[tuple[int, int], str]]]:
    """For JSON text that parses: the (line, column) of every value by JSON Pointer (a member: its key's
    position; an array item: the item's), and the duplicate keys (their position and a message)."""
    decoder = json.JSONDecoder()
    offsets: dict[str, int] = {}
    duplicates: list[tuple[int, str]] = []

    def skip(index: int) -> int:
        return _WHITESPACE.match(text, index).end()

    def value(index: int, pointer: str, depth: int) -> int:  # a repeated key: the last one counts, as in json
        index = skip(index)
        offsets[pointer] = index
        if depth > _MAX_SCAN_DEPTH:
            raise RecursionError
        opening = text[index]
        if opening == "{":
            index, seen = skip(index + 1), {}
            if text[index] == "}":
                return index + 1
            while True:
                key_at = index
                key, index = json.decoder.scanstring(text, index + 1)
                child = f"{pointer}/{_escape(key)}"
                if key in seen:
                    first_line = _line_column(text, seen[key])[0]
                    duplicates.append((key_at, f"{child}: duplicate key {key!r} (first at line {first_line})"))
                else:
                    seen[key] = key_at
                index = value(skip(index) + 1, child, depth + 1)  # past the ':'
                offsets[child] = key_at  # a member is where its key is
                index = skip(index)
                if text[index] == "}":
                    return index + 1
                index = skip(index + 1)  # past the ','
        if opening == "[":
            index, position = skip(index + 1), 0
            if text[index] == "]":
                return index + 1
            while True:
                index = value(index, f"{pointer}/{position}", depth + 1)
                position += 1
                index = skip(index)
                if text[index] == "]":
                    return index + 1
                index = index + 1  # past the ','
        return decoder.raw_decode(text, index)[1]

    try:
        value(0, "", 0)
    except (RecursionError, IndexError, ValueError):  # only for text json.loads took; nothing located then
        return {}, []
    return ({pointer: _line_column(text, index) for pointer, index in offsets.items()},
            [(_line_column(text, index), message) for index, message in duplicates])


def yaml_positions(data: Any) -> dict[str, tuple[int, int]]:
    """The (line, column) of every value by JSON Pointer in data from the strict YAML loader."""
    positions: dict[str, tuple[int, int]] = {}
    stack: list[tuple[Any, str]] = [(data, "")]
    if getattr(data, "location", None) is not None:
        positions[""] = (data.location.line, data.location.column)
    while stack:
        node, pointer = stack.pop()
        if isinstance(node, LocatedDict):
            for key, child in node.items():
                where = node.key_locations[key]
                positions[f"{pointer}/{_escape(key)}"] = (where.line, where.column)
                stack.append((child, f"{pointer}/{_escape(key)}"))
        elif isinstance(node, LocatedList):
            for position, (child, where) in enumerate(zip(node, node.item_locations)):
                positions[f"{pointer}/{position}"] = (where.line, where.column)
                stack.append((child, f"{pointer}/{position}"))
    return positions


def _nearest(positions: dict[str, tuple[int, int]], pointer: str) -> tuple[int, int] | None:
    """The position of ``pointer``, or of the closest enclosing value that the file has (a missing key)."""
    while True:
        if pointer in positions:
            return positions[pointer]
        if not pointer:
            return None
        pointer = pointer.rpartition("/")[0]


EMPTY = ("the file is empty; expected a HardwareProfile such as {os: linux, arch: x86_64, cpu: {model: ..., "
         "cores: 8}, memory_gb: 16, accelerators: []} (JSON or YAML)")


def load_hardware_file(path: Path) -> HardwareProfile:
    """The HardwareProfile in ``path`` (``.json``: JSON; anything else: YAML, of which JSON is a subset);
    raises HardwareFileError with one line per problem."""
    from framework_advisor.contract import ContractViolation, validate  # not at start-up: the CLI stays quick
    from framework_advisor.probes.hardware import HardwareProfile

    name = str(path)
    text = _read_text(path)
    if not text.strip():
        raise HardwareFileError([f"{name}: {EMPTY}"])
    problems: list[tuple[tuple[int, int], str]] = []
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise HardwareFileError([f"{name}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"]) from None
        except RecursionError:
            raise HardwareFileError([f"{name}: nested too deep"]) from None
        positions, problems = json_positions(text)
    else:
        try:
            data = loads_rule_yaml(text, name)
        except RuleFileError as exc:
            raise HardwareFileError([str(exc)]) from None
        positions = yaml_positions(data)
    if data is None:  # a YAML file of comments only, or a lone null
        raise HardwareFileError([f"{name}: {EMPTY}"])
    try:
        profile = validate(HardwareProfile, json.loads(json.dumps(data, default=str)))  # plain JSON values
    except ContractViolation as violation:
        for error in violation.errors:
            problems.append((_nearest(positions, error.pointer) or (0, 0), f"{error.pointer or '/'}: {error.message}"))
        hidden = violation.total - len(violation.errors)
    else:
        if not problems:
            return profile
        hidden = 0
    problems.sort(key=lambda problem: problem[0])  # the file's order, as a person reads it
    lines = [f"{name}:{line}:{column}: {message}" if line else f"{name}: {message}"
             for (line, column), message in problems[:MAX_PROBLEMS]]
    hidden += max(0, len(problems) - MAX_PROBLEMS)
    if hidden:
        lines.append(f"{name}: and {hidden} more problem{'s' if hidden > 1 else ''}")
    raise HardwareFileError(lines)
