"""Measure this machine's deep-learning frameworks, recommend one for your goals, serve the API, audit CI runners.

Human-readable output by default, the API's JSON with ``--json``. A bad argument gives one line on stderr
and exit status 2 (a bad input file: one line per mistake, each at its file:line:column); Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from framework_advisor import __version__
from framework_advisor.probes.vocabulary import DEVICES, EXPERIENCE_LEVELS, FRAMEWORK_IDS, GOALS
from framework_advisor.rules.rulebase import RuleFileError, load_rulebase
from framework_advisor.cli_input import HardwareFileError, load_hardware_file, name_list, unknown_names
from framework_advisor.audit import REQUIRE_GRAMMAR
from framework_advisor.config import (DATA_DIR_ENV, LIMITS, PRIVATE_READS_ENV, TOKEN_ENV, Limit, Settings,
                                      SettingsError, probe_lock_path)

EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by it
EXIT_UNRUNNABLE = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C
RECOMMEND_FORMATS = ("table", "json", "md")


class UsageError(Exception):
    """Bad arguments or input: one line on stderr (one per mistake of an input file), exit status 2."""


class _CommandsFormatter(argparse.HelpFormatter):
    """The top-level help: each command on one line with its help, without argparse's extra "COMMAND" line."""

    def __init__(self, prog: str):
        super().__init__(prog, max_help_position=20)

    def _iter_indented_subactions(self, action: argparse.Action):
        yield from getattr(action, "_get_subactions", list)()  # commands at the options' indent, measured so

    def _format_action(self, action: argparse.Action) -> str:
        text = super()._format_action(action)
        if isinstance(action, argparse._SubParsersAction):
            text = text.split("\n", 1)[1]  # the metavar's own line; the commands follow, one per line
        return text


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        """A value outside an option's choices (a command, --experience ...): "did you mean" the closest."""
        if action.choices is not None and value not in action.choices:
            kind = "command" if isinstance(action, argparse._SubParsersAction) else action.dest.replace("_", " ")
            raise argparse.ArgumentError(action, unknown_names(kind, [value], [str(c) for c in action.choices]))


def _add_rules_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules", metavar="DIR", type=Path, action="append", default=[],
                        help="extra rule directory merged over the base (repeatable)")


def _framework_list(text: str) -> list[str]:
    return list(dict.fromkeys(name_list("framework", FRAMEWORK_IDS)(text)))


def _add_python_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--python", metavar="PATH", default=os.environ.get("FRAMEWORK_ADVISOR_PYTHON"),
                        help="measure the frameworks of this interpreter (a training job's environment; it needs "
                             "no advisor installed) instead of the advisor's own (env FRAMEWORK_ADVISOR_PYTHON)")


def _target_python(path: str | None):
    """The interpreter --python names (this one without it); a bad one is a usage error (exit 2)."""
    from framework_advisor.probes.target import TargetPythonError, resolve_python

    try:
        return resolve_python(path)
    except TargetPythonError as exc:
        raise UsageError(str(exc)) from None


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return value


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {text!r}")
    return int(text)


def _limit_type(limit: Limit):
    def parse(text: str):
        try:
            return limit.parse(text, limit.flag)
        except SettingsError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{limit.flag} ")) from None

    return parse


def _add_limit_options(parser: argparse.ArgumentParser) -> None:
    """One option per limit of config.LIMITS (its flag, variable and default; docs/security.md lists them)."""
    defaults = Settings(data_dir=Path("."))
    for limit in LIMITS:
        parser.add_argument(limit.flag, dest=limit.dest, type=_limit_type(limit), metavar=limit.metavar,
                            help=f"{limit.help} (default {limit.default_text(defaults)}; env {limit.env})")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="framework-advisor", description=__doc__.splitlines()[0],
                            formatter_class=_CommandsFormatter,
                            epilog="framework-advisor COMMAND --help shows a command's options. Tables by default; "
                                   "--json gives the API's JSON. A usage error exits 2.")
    parser.add_argument("--version", action="version", version=f"framework-advisor {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser, title="commands",
                                     metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the API and the web form with gunicorn")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--data-dir", type=Path, help=f"where the SQLite store lives (env {DATA_DIR_ENV})")
    serve.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    serve.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    serve.add_argument("--private-reads", action="store_true", default=None,
                       help=f"stored probes (GET /v1/probes..., a probe_id in a recommendation) need a token too: "
                            f"the service's or a machine's upload token (env {PRIVATE_READS_ENV}=1)")
    _add_limit_options(serve)
    serve.add_argument("--allowed-host", dest="allowed_hosts", action="append", default=[], metavar="NAME",
                       help="a host name requests may use besides localhost and loopback addresses, as in "
                            "http://NAME:PORT/ (repeatable; '*': any; env FRAMEWORK_ADVISOR_ALLOWED_HOSTS); "
                            "other Host headers get 421")
    _add_rules_option(serve)

    hardware = commands.add_parser("hardware", help="this machine's HardwareProfile (imports no framework)")
    hardware.add_argument("--json", action="store_true", help="print the HardwareProfile as JSON")

    recommend = commands.add_parser("recommend", help="rank the frameworks for goals, experience and hardware")
    recommend.add_argument("--goal", dest="goals", action="extend", required=True, type=name_list("goal", GOALS),
                           metavar="GOAL[,GOAL...]", help=f"repeatable or comma-separated; one of: {', '.join(GOALS)}")
    recommend.add_argument("--experience", required=True, choices=EXPERIENCE_LEVELS,
                           help=f"one of: {', '.join(EXPERIENCE_LEVELS)}")
    recommend.add_argument("--hardware", type=Path, metavar="FILE",
                           help="a HardwareProfile as JSON or YAML (default: this machine)")
    recommend.add_argument("--json", action="store_true", help="print the API's JSON answer (= --format json)")
    recommend.add_argument("--format", choices=RECOMMEND_FORMATS, default=None,
                           help="table (the default), json (the API's JSON) or md (Markdown, for an issue or a wiki)")
    recommend.add_argument("--data-dir", type=Path,
                           help=f"the store whose probes of this machine to use (env {DATA_DIR_ENV})")
    _add_rules_option(recommend)

    probe = commands.add_parser("probe", help="measure every installed framework on this machine")
    depth = probe.add_mutually_exclusive_group()
    depth.add_argument("--quick", action="store_true", help="shorter budgets (about 10 s instead of 30 s)")
    depth.add_argument("--thorough", action="store_true",
                       help="also time cold compiles that run an external compiler (torch.compile: 15-35 s)")
    probe.add_argument("--frameworks", type=_framework_list, metavar="LIST",
                       help=f"comma-separated subset of: {', '.join(FRAMEWORK_IDS)}")
    probe.add_argument("--threads", type=_positive_int, metavar="N",
                       help="CPU threads for every framework (default: every CPU this process may use)")
    probe.add_argument("--fresh", action="store_true",
                       help="measure even if the last probe (same versions, hardware and settings, under a day "
                            "old, on a quiet machine) still holds; by default its measurements are reused")
    _add_python_option(probe)
    probe.add_argument("--lock-timeout", type=_positive_seconds, metavar="SECONDS",
                       help="wait at most this long for another probe on this machine to finish (default: wait)")
    probe.add_argument("--json", dest="json_out", metavar="FILE|-", help="write the ProbeReport as JSON")
    probe.add_argument("--data-dir", type=Path, help=f"store the report there too (env {DATA_DIR_ENV})")
    probe.add_argument("--no-store", action="store_true", help="do not store the report")

    starter = commands.add_parser(
        "starter", help="print a framework's starter program, or write it to a file (GET /v1/starters/FRAMEWORK)")
    starter.add_argument("framework", metavar="FRAMEWORK", help=f"one of: {', '.join(FRAMEWORK_IDS)}")
    starter.add_argument("--device", default="cpu", metavar="DEVICE",
                         help=f"the device it trains on (default cpu); one of: {', '.join(DEVICES)}")
    starter.add_argument("--goal", metavar="GOAL", help=f"the program for this goal (default: the basics); "
                                                        f"one of: {', '.join(GOALS)}")
    starter.add_argument("--write", type=Path, metavar="FILE", help="write the program to FILE instead of printing it")
    starter.add_argument("--force", action="store_true", help="with --write, replace FILE if it exists")
    _add_rules_option(starter)

    doctor = commands.add_parser(
        "doctor", help="does each framework use each accelerator here? if not, why, and the command that fixes it",
        description="One line per framework and device: works, or why not and the fix. Runs each framework's "
                    "set-up only (no benchmarks, nothing stored). Exit status: 0 no problem found, 1 a framework "
                    "installed here cannot use a device it has a build for, 2 usage error.")
    doctor.add_argument("--frameworks", type=_framework_list, metavar="LIST", help="check these (default: all)")
    _add_python_option(doctor)
    doctor.add_argument("--json", dest="json_out", metavar="FILE|-", help="write the diagnosis as JSON")
    _add_rules_option(doctor)

    audit = commands.add_parser(
        "audit", help="check this machine (or a stored report) against requirements; for CI",
        description="Exit status: 0 all requirements met, 1 one failed (or, with --strict, could not be "
                    "checked or stayed inconclusive), 2 usage or policy error, 3 the audit could not run, "
                    "4 inconclusive: a benchmark figure stayed noisy after re-measuring it.",
        epilog="--require forms:\n" + REQUIRE_GRAMMAR, formatter_class=argparse.RawDescriptionHelpFormatter)
    audit.add_argument("--policy", type=Path, metavar="FILE", help="requirements from a YAML policy file")
    audit.add_argument("--require", action="append", default=[], metavar="REQ",
                       help="a requirement (repeatable; forms below)")
    audit.add_argument("--quick", action="store_true", help="a quick probe")
    audit.add_argument("--strict", action="store_true",
                       help="a requirement that cannot be checked, or stays inconclusive, fails")
    _add_python_option(audit)
    audit.add_argument("--lock-timeout", type=_positive_seconds, metavar="SECONDS",
                       help="wait at most this long for another probe on this machine (then exit 3); audits "
                            "that need no benchmark figure take no lock")
    audit.add_argument("--report", type=Path, metavar="FILE",
                       help="check this ProbeReport (probe --json, or GET /v1/probes/ID) instead of probing")
    audit.add_argument("--frameworks", type=_framework_list, metavar="LIST",
                       help="probe these (default: those the requirements name; all for no-failures)")
    audit.add_argument("--json", dest="json_out", metavar="FILE|-", help="write the verdict as JSON")
    audit.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML, one testcase per requirement")
    audit.add_argument("--post", metavar="URL",
                       help=f"upload the report to a framework-advisor service (bearer token from {TOKEN_ENV})")
    audit.add_argument("--policy-schema", action="store_true", help="print the policy file's JSON Schema and exit")

    rules = commands.add_parser("rules", help="work with the rule base")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True, parser_class=_OneLineParser)
    rules_commands.add_parser("schema", help="print the JSON Schema of a rule file (for editors)")
    lint = rules_commands.add_parser("lint", help="check the rule base: structure, logic and coverage")
    lint.add_argument("dirs", nargs="*", type=Path, metavar="DIR",
                      help="extra rule directories to merge over the base and check with it")
    from framework_advisor.cli_probes import add_probes_parser  # probes list | show | diff

    add_probes_parser(commands)
    from framework_advisor.cli_tokens import add_tokens_parser  # tokens add | list | revoke

    add_tokens_parser(commands)
    return parser


def _load_hardware_file(path: Path) -> HardwareProfile:
    """--hardware FILE; every mistake in it is a line of the UsageError (see cli_input.load_hardware_file)."""
    try:
        return load_hardware_file(path)
    except HardwareFileError as exc:
        raise UsageError("\n".join(exc.problems)) from None


def _print_json(document: Any) -> None:
    """A model (or plain JSON data) on stdout, as the API would send it."""
    if hasattr(document, "model_dump"):
        document = document.model_dump(mode="json", exclude_none=True)
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _cmd_hardware(args: argparse.Namespace) -> int:
    from framework_advisor.probes.inventory import take_inventory
    from framework_advisor.render import print_hardware

    profile = take_inventory()
    _print_json(profile) if args.json else print_hardware(profile)
    return 0


def _existing_store(data_dir: Path | None):
    """The store of the data directory, if one exists there (recommend never creates one)."""
    from framework_advisor.storage import Store, StoreError

    path = Settings.from_env(data_dir=data_dir).database_path
    if not path.exists():
        return None
    try:
        return Store.open(path)
    except StoreError:
        return None


def recommendation_for(question, data_dir: Path | None = None, rules_dirs=()):
    """The answer to a RecommendationRequest, as `recommend` and the Python API (framework_advisor.recommend)
    give it: for this machine (no hardware, no probe_id), with the probes of ``data_dir``'s store if there is
    one (none is created). Raises advice.UnknownProbe / UnusableProbe for a probe_id it cannot use."""
    from framework_advisor.advice import answer, resolve
    from framework_advisor.machine import ThisMachine

    rulebase = load_rulebase(rules_dirs)
    store = None if question.hardware is not None else _existing_store(data_dir)
    return answer(rulebase, resolve(question, ThisMachine(), store))


def _cmd_recommend(args: argparse.Namespace) -> int:
    from framework_advisor.rules.recommendation import RecommendationRequest

    if args.json and args.format not in (None, "json"):
        raise UsageError(f"--json and --format {args.format} disagree: give one of them")
    output = "json" if args.json else args.format or "table"
    hardware = _load_hardware_file(args.hardware) if args.hardware else None
    question = RecommendationRequest(goals=list(dict.fromkeys(args.goals)), experience=args.experience,
                                     **({"hardware": hardware} if hardware is not None else {}))
    recommendation = recommendation_for(question, args.data_dir, args.rules)
    if output == "json":
        _print_json(recommendation)
    elif output == "md":
        sys.stdout.write(recommendation.to_markdown())
    else:
        from framework_advisor.render import print_recommendation  # rich: only for a table

        print_recommendation(recommendation)
    return 0


def probe_and_store(options, store=None, lock_timeout_s: float | None = None, python=None):
    """The probe of `probe` and the Python API (framework_advisor.probe): measured (see _probe_with_progress),
    then saved in ``store`` as this host's finished probe. Returns the report and its probe id (None without a
    store); raises probe_jobs.ProbeLockTimeout when another probe held the machine past ``lock_timeout_s``."""
    import socket

    from framework_advisor.probe_jobs import new_probe_id
    from framework_advisor.probes.report import ProbeParams

    report = _probe_with_progress(options, store, lock_timeout_s, python)  # the lock of the store's data directory
    if store is None:
        return report, None
    probe_id = new_probe_id()
    store.save_finished_probe(probe_id, socket.gethostname(), ProbeParams.asked(options), report)
    return report, probe_id


def _cmd_probe(args: argparse.Namespace) -> int:
    from framework_advisor.probe_jobs import ProbeLockTimeout
    from framework_advisor.probes.report import ProbeOptions
    from framework_advisor.render import print_probe_summary
    from framework_advisor.storage import Store, StoreError

    store = None
    if not args.no_store:
        try:
            store = Store.for_settings(Settings.from_env(data_dir=args.data_dir))  # its size cap and retention
        except StoreError as exc:
            raise UsageError(str(exc)) from None
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if args.threads and args.threads > cpus:
        print(f"framework-advisor: --threads {args.threads} is more than the {cpus} CPUs this process may use; "
              f"measuring with {cpus}", file=sys.stderr)
    given = {"frameworks": args.frameworks, "threads": args.threads}
    options = ProbeOptions(quick=args.quick, thorough=args.thorough, fresh=args.fresh,
                           **{name: value for name, value in given.items() if value is not None})
    python = _target_python(args.python)
    try:
        report, probe_id = probe_and_store(options, store, args.lock_timeout, python)
    except ProbeLockTimeout as exc:
        print(f"framework-advisor: error: {exc}; nothing was measured", file=sys.stderr)
        return EXIT_UNRUNNABLE
    except StoreError as exc:  # the probe lock cannot be used safely (probe_jobs.ProbeLockError), or the store
        raise UsageError(f"{exc}; nothing was measured") from None
    if args.json_out == "-":
        _print_json(report)
    else:
        if args.json_out:
            try:
                Path(args.json_out).write_text(report.model_dump_json(indent=2, exclude_none=True), encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"cannot write {args.json_out}: {exc.strerror}") from None
        print_probe_summary(load_rulebase(), report, probe_id if store is not None else None)
    return 0


def _cmd_starter(args: argparse.Namespace) -> int:
    import shlex

    from framework_advisor.rules.catalog import StarterError, find_starter
    from framework_advisor.starter_file import StarterFileError, write_starter

    try:
        starter = find_starter(load_rulebase(args.rules), args.framework, args.device, args.goal)
    except StarterError as exc:
        raise UsageError(str(exc)) from None
    if args.write is None:
        if args.force:
            raise UsageError("--force only applies with --write FILE")
        sys.stdout.write(starter.code)
        return 0
    try:
        written = write_starter(starter, args.write, force=args.force)
    except StarterFileError as exc:
        raise UsageError(str(exc)) from None
    print(f"wrote {written}; run it with: python {shlex.quote(str(written))}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from framework_advisor.server import serve

    settings = Settings.from_env(data_dir=args.data_dir, rules_dirs=tuple(args.rules) or None,
                                 allowed_hosts=tuple(args.allowed_hosts) or None)
    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be 1-65535, not {args.port}")
    limits = {limit.field: getattr(args, limit.dest) for limit in LIMITS if getattr(args, limit.dest) is not None}
    settings = dataclasses.replace(settings, **limits, **({"private_reads": True} if args.private_reads else {}))
    settings.check_token()
    if settings.private_reads and not settings.api_token and not _has_upload_tokens(settings):
        raise UsageError(f"--private-reads with no token nobody could read the stored probes: set {TOKEN_ENV}, or "
                         f"give machines upload tokens (framework-advisor tokens add HOST)")
    return serve(settings, host=args.host, port=args.port, workers=args.workers, threads=args.threads)


def _has_upload_tokens(settings: Settings) -> bool:
    from framework_advisor.storage import Store, StoreError

    try:
        return settings.database_path.exists() and Store.open(settings.database_path).has_tokens()
    except StoreError:
        return False  # serve says what is wrong with the store


def _cmd_audit(args: argparse.Namespace) -> int:
    from framework_advisor.audit.policy import PolicyError, load_policy, parse_require, policy_json_schema
    from framework_advisor.audit.run import AuditOptions, run_audit

    if args.policy_schema:
        _print_json(policy_json_schema())
        return 0
    try:
        requirements = list(load_policy(args.policy).requirements) if args.policy else []
        requirements += [parse_require(text) for text in args.require]
        if not requirements:
            raise UsageError("nothing to check: give --policy FILE or --require REQ (see --help for the forms)")
        if args.report and (args.quick or args.frameworks):
            raise UsageError("--report checks a stored report: --quick and --frameworks do not apply")
        options = AuditOptions(requirements=requirements, quick=args.quick, strict=args.strict,
                               report_file=args.report, frameworks=args.frameworks, json_out=args.json_out,
                               junit_out=args.junit, post_url=args.post)
        python = _target_python(args.python) if not args.report else None
        return run_audit(options, probe=lambda asked: _probe_with_progress(asked, lock_timeout_s=args.lock_timeout,
                                                                           python=python))
    except PolicyError as exc:
        raise UsageError(str(exc)) from None


def _probe_with_progress(options, store=None, lock_timeout_s: float | None = None, python=None):
    """The real probe, one at a time per machine (saying so when it waits, at most ``lock_timeout_s``), with a
    progress bar on a terminal. A probe that runs no benchmarks (versions and devices only) measures nothing
    another probe could spoil, so it takes no lock.

    With a store, this machine's last probe there may be reused (see run_probe)."""
    from contextlib import nullcontext

    from framework_advisor.probe_jobs import latest_own_probe, machine_probe_lock
    from framework_advisor.probes.probe import run_probe
    from framework_advisor.probes.progress import ProgressFolder
    from framework_advisor.render import ProgressBar

    lock_path = probe_lock_path(store.path.parent if store is not None else None)  # config.probe_lock_path
    if options.benchmarks:
        with machine_probe_lock(blocking=False, path=lock_path) as free:
            if not free:
                bound = f" (at most {lock_timeout_s:g} s)" if lock_timeout_s is not None else ""
                print(f"framework-advisor: another probe is running on this machine; waiting for it to "
                      f"finish{bound}", file=sys.stderr)
    lock = machine_probe_lock(timeout_s=lock_timeout_s, path=lock_path) if options.benchmarks else nullcontext()
    with lock, ProgressBar(enabled=sys.stderr.isatty()) as bar:
        previous = latest_own_probe(store) if store is not None else None
        return run_probe(options, progress=ProgressFolder(bar.show), previous=previous, python=python)


def _cmd_doctor(args: argparse.Namespace) -> int:
    from framework_advisor.doctor import diagnosis_json, examine, print_diagnosis

    python = _target_python(args.python)
    diagnosis = examine(load_rulebase(args.rules), python, args.frameworks)
    if args.json_out:
        _write_output(args.json_out, diagnosis_json(diagnosis))
    if args.json_out != "-":
        print_diagnosis(diagnosis)
    return 0 if diagnosis.all_work else 1


def _write_output(destination: str, text: str) -> None:
    """``text`` to stdout ("-") or to a file; a file that cannot be written is a usage error."""
    if destination == "-":
        sys.stdout.write(text)
        return
    try:
        Path(destination).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {destination}: {exc.strerror}") from None


def _cmd_rules(args: argparse.Namespace) -> int:
    if args.rules_command == "schema":
        from framework_advisor.rules.schema import rule_file_json_schema

        _print_json(rule_file_json_schema())
        return 0
    from framework_advisor.rules.lint import format_report, lint

    findings = lint(args.dirs)
    print(format_report(findings))
    if any(finding.code == "load" for finding in findings):  # a file or directory that cannot be loaded at all
        return EXIT_USAGE
    return 1 if any(finding.severity == "error" for finding in findings) else 0


def _cmd_probes(args: argparse.Namespace) -> int:
    from framework_advisor.cli_probes import cmd_probes

    return cmd_probes(args)


def _cmd_tokens(args: argparse.Namespace) -> int:
    from framework_advisor.cli_tokens import cmd_tokens

    return cmd_tokens(args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"serve": _cmd_serve, "hardware": _cmd_hardware, "recommend": _cmd_recommend,
               "probe": _cmd_probe, "audit": _cmd_audit, "rules": _cmd_rules, "starter": _cmd_starter,
               "probes": _cmd_probes, "doctor": _cmd_doctor, "tokens": _cmd_tokens}[args.command]
    try:
        return handler(args)
    except UsageError as exc:
        for line in str(exc).splitlines() or [""]:  # one line per mistake (a hardware file may hold several)
            print(f"framework-advisor: error: {line}", file=sys.stderr)
        return EXIT_USAGE
    except RuleFileError as exc:
        print(f"framework-advisor: error: rule base: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SettingsError as exc:  # a FRAMEWORK_ADVISOR_* variable or the token
        print(f"framework-advisor: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # Ctrl-C: a probe's workers are already stopped (probes.probe.run_probe)
        print("framework-advisor: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `... --json | head`: the reader left; say nothing, as other Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
