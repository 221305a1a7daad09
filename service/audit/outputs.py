"""What an audit writes: the verdict as JSON, JUnit XML, a GitHub job summary, workflow annotations,
and a table for people (on stderr, so stdout stays free for `--json -`)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any, Literal, TextIO

from pydantic import BaseModel, field_serializer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from framework_advisor.audit.checks import RequirementResult
from framework_advisor.probes.report import ProbeReport

AUDIT_SCHEMA_VERSION = 1
MAX_ANNOTATIONS_PER_KIND = 10  # GitHub shows at most 10 of each kind per step
SUMMARY_LIMIT_BYTES = 1024 * 1024 - 4096  # GITHUB_STEP_SUMMARY takes 1 MiB per step


class AuditResult(BaseModel):
    """The audit's machine-readable verdict (`--json`)."""

    schema_version: Literal[1] = AUDIT_SCHEMA_VERSION
    status: Literal["passed", "failed", "inconclusive", "error"]
    exit_code: int
    strict: bool
    host: str | None
    counts: dict[str, int]
    requirements: list[RequirementResult]
    remeasured: list[str] = []  # requirements whose noisy figure was measured a second time
    duration_s: float
    report: ProbeReport | None  # the ProbeReport that was checked
    error: str | None = None

    @field_serializer("report")
    def _report_as_stored(self, report: ProbeReport | None) -> dict[str, Any] | None:
        # The same document the API, the CLI and the store give (fields without a value left out).
        return report.to_json_dict() if report is not None else None


UNDECIDED = ("skipped", "inconclusive")  # neither met nor missed: a failure under --strict


def counts(results: list[RequirementResult]) -> dict[str, int]:
    tally = Counter(result.status for result in results)
    return ({status: tally.get(status, 0) for status in ("passed", "failed", "skipped", "inconclusive")}
            | {"total": len(results)})


def _tally_line(audit: AuditResult) -> str:
    tally = audit.counts
    line = f"{tally['passed']} passed, {tally['failed']} failed, {tally['skipped']} skipped"
    if tally["inconclusive"]:
        line += f", {tally['inconclusive']} inconclusive"
    if audit.strict and (tally["skipped"] or tally["inconclusive"]):
        line += " (--strict: skipped and inconclusive count as failed)"
    return line


# --- JUnit ---------------------------------------------------------------------------------------------

def junit_xml(audit: AuditResult) -> bytes:
    """One testsuite, one testcase per requirement; failed -> <failure>, skipped -> <skipped>.

    Under --strict a skipped requirement fails the audit, so it is a <failure> there too."""
    tally = audit.counts
    undecided = tally["skipped"] + tally["inconclusive"]
    failures = tally["failed"] + (undecided if audit.strict else 0)
    skipped = 0 if audit.strict else undecided
    suites = ET.Element("testsuites", name="framework-advisor audit", tests=str(tally["total"]),
                        failures=str(failures), errors="0", skipped=str(skipped), time=f"{audit.duration_s:.3f}")
    suite = ET.SubElement(suites, "testsuite", name="framework-advisor audit", tests=str(tally["total"]),
                          failures=str(failures), errors="0", skipped=str(skipped), time=f"{audit.duration_s:.3f}",
                          hostname=audit.host or "unknown")
    for result in audit.requirements:
        case = ET.SubElement(suite, "testcase", name=result.id, classname=f"audit.{result.kind}", time="0")
        if result.status == "failed" or (result.status in UNDECIDED and audit.strict):
            failure = ET.SubElement(case, "failure", message=result.message,
                                    type=f"{result.status}-under-strict" if result.status in UNDECIDED else "requirement")
            failure.text = result.message
        elif result.status in UNDECIDED:
            ET.SubElement(case, "skipped", message=result.message)
        else:
            ET.SubElement(case, "system-out").text = result.message
    ET.indent(suites)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)


# --- GitHub Actions ------------------------------------------------------------------------------------

_ICONS = {"passed": "✅ passed", "failed": "❌ failed", "skipped": "⚠️ skipped", "inconclusive": "❔ inconclusive"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_summary(audit: AuditResult) -> str:
    verdict = {"passed": "✅ passed", "failed": "❌ failed", "inconclusive": "❔ inconclusive",
               "error": "💥 could not run"}[audit.status]
    lines = [f"## framework-advisor audit on `{audit.host or 'unknown host'}`: {verdict}", ""]
    if audit.error:
        lines += [f"> {_cell(audit.error)}", ""]
    lines += [_tally_line(audit), ""]
    if audit.requirements:
        lines += ["| requirement | result | detail |", "|---|---|---|"]
        for result in audit.requirements:
            row = f"| `{_cell(result.id)}` | {_ICONS[result.status]} | {_cell(result.message)} |"
            if sum(len(line) + 1 for line in lines) + len(row) > SUMMARY_LIMIT_BYTES:
                lines.append(f"| … | | {len(audit.requirements)} requirements in all: see the JSON report |")
                break
            lines.append(row)
    return "\n".join(lines) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotations(audit: AuditResult) -> list[str]:
    """`::error` for failed requirements, `::warning` for skipped and inconclusive ones; at most ten of each, the tenth
    summarising the rest."""
    lines = []
    if audit.error:
        lines.append(f"::error title={_escape_property('framework-advisor audit could not run')}::"
                     f"{_escape_data(audit.error)}")
    for status, command in (("failed", "error"), ("skipped", "warning"), ("inconclusive", "warning")):
        if status in UNDECIDED and audit.strict:
            command = "error"
        chosen = [r for r in audit.requirements if r.status == status]
        room = MAX_ANNOTATIONS_PER_KIND - (1 if command == "error" and audit.error else 0)
        shown = chosen if len(chosen) <= room else chosen[:room - 1]
        for result in shown:
            title = _escape_property(f"audit {status}: {result.id}")
            lines.append(f"::{command} title={title}::{_escape_data(result.message)}")
        if len(shown) < len(chosen):
            rest = len(chosen) - len(shown)
            lines.append(f"::{command} title={_escape_property(f'audit: {rest} more {status}')}::"
                         f"{rest} more requirements {status}: see the job summary or the JSON report")
    return lines


# --- people --------------------------------------------------------------------------------------------

_STYLES = {"passed": "green", "failed": "bold red", "skipped": "yellow", "inconclusive": "yellow"}


def print_table(audit: AuditResult, stream: TextIO) -> None:
    console = Console(file=stream, width=None if stream.isatty() else 120, highlight=False)
    table = Table(title=f"framework-advisor audit on {audit.host or 'unknown host'}", title_justify="left")
    table.add_column("requirement", overflow="fold")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for result in audit.requirements:
        table.add_row(escape(result.id), f"[{_STYLES[result.status]}]{result.status}[/]", escape(result.message))
    if audit.requirements:
        console.print(table)
    if audit.error:
        console.print(f"[bold red]audit could not run:[/] {escape(audit.error)}")
    console.print(f"{audit.status.upper()}: {_tally_line(audit)}", style=_STYLES.get(audit.status, "bold red"),
                  markup=False)
