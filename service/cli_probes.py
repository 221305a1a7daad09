"""``framework-advisor probes list | show ID | diff A B``: the probes a store holds, one of them, and what changed
between two (``probes.probe_diff``). The store is the one ``serve``, ``probe`` and ``recommend`` use
(``--data-dir``, or FRAMEWORK_ADVISOR_DATA_DIR); these commands only read it and never create one."""

from __future__ import annotations

import argparse
from pathlib import Path

from framework_advisor.config import DATA_DIR_ENV, Settings


def _limit(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 500:  # not '²'
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 500, not {text!r}")
    return int(text)


def add_probes_parser(commands) -> None:
    """The ``probes`` command and its three subcommands, on the CLI's subparsers."""
    probes = commands.add_parser("probes", help="the stored probes: list them, show one, diff two",
                                 description=__doc__.split("\n\n")[0].replace("``", "'"))
    subcommands = probes.add_subparsers(dest="probes_command", metavar="COMMAND", required=True,
                                        parser_class=type(probes))

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--data-dir", type=Path, metavar="DIR", help=f"the store to read (env {DATA_DIR_ENV})")
        parser.add_argument("--json", action="store_true", help="print the API's JSON")

    listing = subcommands.add_parser("list", help="stored probes, newest first (id, when, host, status, quick, "
                                                  "frameworks)")
    listing.add_argument("--host", help="only the probes of this host")
    listing.add_argument("--limit", type=_limit, default=50, metavar="N", help="at most N (1-500, default 50)")
    common(listing)
    show = subcommands.add_parser("show", help="one stored probe: its state and, once finished, its figures")
    show.add_argument("id", metavar="ID", help="a probe id as `probes list` shows it")
    common(show)
    diff = subcommands.add_parser(
        "diff", help="what changed from probe A to probe B: versions, devices and figures",
        description="Versions, devices, and every figure both probes measured at the same size and precision, "
                    "with its ratio B/A and whether the change exceeds the figures' noise (docs/probing.md).")
    diff.add_argument("a", metavar="A", help="the earlier probe's id")
    diff.add_argument("b", metavar="B", help="the later probe's id")
    common(diff)


def _store(data_dir: Path | None):
    """(the store or None where none exists yet, its path). A file that is not a usable store is a usage error."""
    from framework_advisor.cli import UsageError
    from framework_advisor.storage import Store, StoreError

    path = Settings.from_env(data_dir=data_dir).database_path
    if not path.exists():
        return None, path
    try:
        return Store.open(path), path
    except StoreError as exc:
        raise UsageError(str(exc)) from None


def cmd_probes(args: argparse.Namespace) -> int:
    from framework_advisor.advice import UnknownProbe, UnusableProbe
    from framework_advisor.cli import UsageError, _print_json
    from framework_advisor.storage import StoreError

    store, path = _store(args.data_dir)
    try:
        if args.probes_command == "list":
            return _list(store, path, args, _print_json)
        if args.probes_command == "show":
            return _show(store, args, _print_json)
        return _diff(store, args, _print_json)
    except UnknownProbe as unknown:
        raise UsageError(f"no probe with id {unknown.args[0]!r} in {path}; see `framework-advisor probes list`") \
            from None
    except UnusableProbe as unusable:
        raise UsageError(str(unusable)) from None
    except StoreError as exc:
        raise UsageError(str(exc)) from None


def _list(store, path: Path, args: argparse.Namespace, print_json) -> int:
    from framework_advisor.models import ProbeList

    probes = store.list_probes(host=args.host, limit=args.limit) if store is not None else []
    if args.json:
        print_json(ProbeList(probes=tuple(probes)))
    else:
        from framework_advisor.render_probes import print_probe_list

        print_probe_list(probes, str(path))
    return 0


def _show(store, args: argparse.Namespace, print_json) -> int:
    from framework_advisor.probe_history import stored_probe

    probe = stored_probe(store, args.id)
    if args.json:
        print_json(probe)
    else:
        from framework_advisor.render_probes import print_probe_job

        print_probe_job(probe)
    return 0


def _diff(store, args: argparse.Namespace, print_json) -> int:
    from framework_advisor.probe_history import diff_stored

    diff = diff_stored(store, args.a, args.b)
    if args.json:
        print_json(diff)
    else:
        from framework_advisor.render_probes import print_probe_diff

        print_probe_diff(diff)
    return 0
