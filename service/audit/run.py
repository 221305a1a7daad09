"""One audit: get a ProbeReport (probe now, or read one), check every requirement, write the outputs.

A threshold checked against a noisy figure is re-measured once (a fresh probe of those frameworks); if the
figure stays noisy the requirement is inconclusive, never a false "failed". An audit that needs no benchmark
figure (accelerators, frameworks and their devices) runs none.

Exit codes: 0 every requirement met; 1 one failed (or, under --strict, could not be checked or stayed
inconclusive); 2 usage or policy error; 3 the audit could not run (the probe crashed, no framework
installed, the probe lock stayed taken); 4 inconclusive (a figure stayed noisy; nothing failed).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from framework_advisor.audit.checks import Checker, RequirementResult
from framework_advisor.audit.outputs import AuditResult, annotations, counts, junit_xml, markdown_summary, print_table
from framework_advisor.audit.policy import PolicyError, Requirement
from framework_advisor.config import TOKEN_ENV
from framework_advisor.contract import ContractViolation, validate
from framework_advisor.probes.report import ProbeOptions, ProbeReport, upgrade_report
from framework_advisor.rules.rulebase import load_rulebase

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE, EXIT_UNRUNNABLE, EXIT_INCONCLUSIVE = 0, 1, 2, 3, 4

ProbeFunction = Callable[[ProbeOptions], ProbeReport]


class AuditUnrunnable(Exception):
    """The audit could not get a report to check (exit 3)."""


@dataclass
class AuditOptions:
    requirements: list[Requirement]
    quick: bool = False
    strict: bool = False
    report_file: Path | None = None
    frameworks: list[str] | None = None  # None: the frameworks the requirements name
    json_out: str | None = None  # a path, or "-" for stdout
    junit_out: Path | None = None
    post_url: str | None = None
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))


def frameworks_to_probe(requirements: list[Requirement]) -> list[str] | None:
    """Only what the requirements need (fast CI steps); every framework when nothing may fail."""
    if any(requirement.no_failures for requirement in requirements):
        return None
    return sorted(set().union(*(requirement.frameworks() for requirement in requirements)))


def read_report(path: Path) -> ProbeReport:
    """A ProbeReport from `probe --json`, or a stored probe as GET /v1/probes/{id} returns it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PolicyError(f"{path}: not a JSON probe report ({exc})") from None
    if isinstance(document, dict) and "report" in document and "status" in document:
        if not document["report"]:
            raise PolicyError(f"{path}: that probe has no report (status {document['status']!r})")
        document = document["report"]
    try:
        return validate(ProbeReport, upgrade_report(document))
    except ContractViolation as violation:
        raise PolicyError(f"{path}: not a valid probe report: {violation}") from None


def needs_benchmarks(requirements: list[Requirement]) -> bool:
    """Whether any requirement needs a benchmark figure (no_failures counts a benchmark's failure too)."""
    return any(requirement.benchmark is not None or requirement.no_failures for requirement in requirements)


def _probe(probe: ProbeFunction, asked: ProbeOptions) -> ProbeReport:
    from framework_advisor.probe_jobs import ProbeLockTimeout

    try:
        return probe(asked)
    except ProbeLockTimeout as exc:
        raise AuditUnrunnable(f"{exc}; nothing was measured") from None
    except Exception as exc:  # noqa: BLE001 - any crash of the probe means: could not run
        raise AuditUnrunnable(f"the probe crashed: {type(exc).__name__}: {exc}") from None


def _obtain_report(options: AuditOptions, probe: ProbeFunction) -> ProbeReport:
    if options.report_file is not None:
        return read_report(options.report_file)
    wanted = options.frameworks if options.frameworks is not None else frameworks_to_probe(options.requirements)
    report = _probe(probe, ProbeOptions(quick=options.quick, benchmarks=needs_benchmarks(options.requirements),
                                        **({"frameworks": wanted} if wanted is not None else {})))
    if wanted != [] and not report.frameworks:
        names = ", ".join(s.framework for s in report.skipped) or "none"
        where = report.python.executable if report.python is not None else sys.executable
        raise AuditUnrunnable(f"no framework could be probed: none of {names} is installed in this Python "
                              f"({where})")
    return report


def _remeasure(options: AuditOptions, probe: ProbeFunction, results: list[RequirementResult],
               stderr: TextIO) -> tuple[list[RequirementResult], list[str]]:
    """Re-measure, once, every framework whose figure left a requirement inconclusive, and check those
    requirements again against the fresh figures; the ids re-measured."""
    noisy = [(index, requirement) for index, (requirement, result) in enumerate(zip(options.requirements, results))
             if result.status == "inconclusive"]
    if not noisy:
        return results, []
    frameworks = sorted({requirement.benchmark.framework for _, requirement in noisy})
    print(f"framework-advisor: re-measuring {', '.join(frameworks)}: a figure a requirement checks was noisy",
          file=stderr)
    again = Checker(load_rulebase(), _probe(probe, ProbeOptions(quick=options.quick, fresh=True,
                                                                frameworks=frameworks)))
    results = list(results)
    for index, requirement in noisy:
        result = again.check(requirement)
        if result.status == "inconclusive":
            result = result.model_copy(update={"message": result.message + "; still noisy when re-measured"})
        results[index] = result
    return results, [requirement.label for _, requirement in noisy]


def evaluate(options: AuditOptions, report: ProbeReport | None, started: float, error: str | None = None,
             results: list[RequirementResult] | None = None, remeasured: list[str] | None = None) -> AuditResult:
    if results is None:
        checker = Checker(load_rulebase(), report) if report is not None else None
        results = [checker.check(requirement) for requirement in options.requirements] if checker else []
    tally = counts(results)
    if error is not None:
        status, code = "error", EXIT_UNRUNNABLE
    elif tally["failed"] or (options.strict and (tally["skipped"] or tally["inconclusive"])):
        status, code = "failed", EXIT_FAILED
    elif tally["inconclusive"]:
        status, code = "inconclusive", EXIT_INCONCLUSIVE
    else:
        status, code = "passed", EXIT_PASSED
    return AuditResult(status=status, exit_code=code, strict=options.strict,
                       host=report.host if report is not None else socket.gethostname(), counts=tally,
                       requirements=results, remeasured=remeasured or [],
                       duration_s=round(time.monotonic() - started, 3), report=report, error=error)


def _write(path: Path | str, data: str | bytes) -> None:
    try:
        Path(path).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    except OSError as exc:
        raise PolicyError(f"cannot write {path}: {exc.strerror}") from None


def write_outputs(audit: AuditResult, options: AuditOptions, stdout: TextIO, stderr: TextIO) -> None:
    print_table(audit, stderr)
    document = audit.model_dump_json(indent=2)
    if options.json_out == "-":
        stdout.write(document + "\n")
    elif options.json_out:
        _write(options.json_out, document + "\n")
    if options.junit_out:
        _write(options.junit_out, junit_xml(audit))
    summary_file = options.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        try:
            with open(summary_file, "a", encoding="utf-8") as handle:
                handle.write(markdown_summary(audit))
        except OSError as exc:
            print(f"framework-advisor: warning: cannot append to GITHUB_STEP_SUMMARY ({summary_file}): "
                  f"{exc.strerror}", file=stderr)
    if options.environ.get("GITHUB_ACTIONS") == "true":
        # Workflow commands are read from the step's output; keep stdout clean when it carries the JSON.
        stream = stderr if options.json_out == "-" else stdout
        for line in annotations(audit):
            print(line, file=stream)


def upload_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise PolicyError(f"--post {url!r}: give the service's http(s) URL, e.g. http://advisor:8000")
    url = url.rstrip("/")
    return url if url.endswith("/v1/probes") else f"{url}/v1/probes"


def post_report(report: ProbeReport, url: str, environ: dict[str, str], stderr: TextIO) -> bool:
    """Upload the report; a failure is reported (and annotated) but does not change the verdict."""
    import requests

    headers = {"Authorization": f"Bearer {environ[TOKEN_ENV]}"} if environ.get(TOKEN_ENV) else {}
    try:
        headers["Content-Type"] = "application/json"
        response = requests.post(url, data=report.model_dump_json(exclude_none=True).encode(), headers=headers,
                                 timeout=(10, 60))
    except requests.RequestException as exc:
        problem = f"cannot reach {url}: {type(exc).__name__}"
    else:
        if response.status_code == 201:
            location = response.headers.get("Location", "")
            print(f"framework-advisor: report uploaded to {url.removesuffix('/v1/probes')}{location}", file=stderr)
            return True
        try:
            detail = response.json().get("detail", response.reason)
        except ValueError:
            detail = response.reason
        problem = f"{url} answered {response.status_code}: {detail}"
    print(f"framework-advisor: warning: the report was not uploaded: {problem}", file=stderr)
    if environ.get("GITHUB_ACTIONS") == "true":
        print(f"::warning title=framework-advisor upload failed::{problem}", file=stderr)
    return False


def run_audit(options: AuditOptions, probe: ProbeFunction, stdout: TextIO | None = None,
              stderr: TextIO | None = None) -> int:
    """Run the audit and write its outputs; returns the exit code. PolicyError is left to the caller (2)."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    started = time.monotonic()
    post_to = upload_url(options.post_url) if options.post_url else None
    results, remeasured = None, []
    try:
        report, error = _obtain_report(options, probe), None
        if options.report_file is None:  # a stored report cannot be re-measured: noisy stays inconclusive
            checker = Checker(load_rulebase(), report)
            results, remeasured = _remeasure(options, probe, [checker.check(r) for r in options.requirements],
                                             stderr)
    except AuditUnrunnable as exc:
        report, error, results = None, str(exc), None
    audit = evaluate(options, report, started, error, results, remeasured)
    write_outputs(audit, options, stdout, stderr)
    if post_to and report is not None:
        post_report(report, post_to, options.environ, stderr)
    return audit.exit_code
