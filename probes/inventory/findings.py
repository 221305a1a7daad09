"""What the inventory collects as it goes (warnings, provenance) and the small helpers every detector shares."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

GIB = 1024**3


@dataclass
class Findings:
    """What the user should know (warnings) and how each fact was obtained (provenance)."""

    warnings: list[str] = field(default_factory=list)
    provenance: dict[str, str] = field(default_factory=dict)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def source(self, fact: str, how: str) -> None:
        self.provenance[fact] = how


def gib(byte_count: int | None) -> float | None:
    return None if not byte_count else round(byte_count / GIB, 1)


def accelerator(kind: str, name: str, **optional: Any) -> dict[str, Any]:
    """An Accelerator entry with the contract's key order; optional facts that are unknown are left out."""
    entry: dict[str, Any] = {"kind": kind, "name": name, "count": 1}
    entry.update({key: value for key, value in optional.items() if value is not None})
    return entry


def group_identical(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fold identical devices into one entry with a count: 8 H100s are one line, not eight."""
    groups: dict[tuple, dict[str, Any]] = {}
    for entry in entries:
        key = tuple(sorted((k, v) for k, v in entry.items() if k != "count"))
        if key in groups:
            groups[key]["count"] += entry["count"]
        else:
            groups[key] = dict(entry)
    return list(groups.values())


def to_int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def to_hex(text: str | None) -> int | None:
    try:
        return int(text, 16) if text else None
    except ValueError:
        return None


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
