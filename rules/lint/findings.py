"""A lint finding, its order (by file, line, column) and the text report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" | "warning"
    code: str
    location: str  # file:line:column
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.severity}[{self.code}]: {self.message}"


def sort_key(finding: Finding) -> tuple:
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
