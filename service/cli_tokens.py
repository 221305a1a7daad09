"""``framework-advisor tokens add HOST | list | revoke HOST``: the upload tokens of a fleet, one per machine.

A machine's token uploads reports of that machine's host only (POST /v1/probes answers 403 for a report of
another host) and, with ``serve --private-reads``, reads stored probes. ``add`` prints the new token once, on
stdout (set it as FRAMEWORK_ADVISOR_TOKEN on that machine: ``audit --post`` sends it); the store keeps only
its SHA-256, so a lost token is replaced (``add HOST --replace``), never shown again. The tokens live in the
store of ``--data-dir`` (or FRAMEWORK_ADVISOR_DATA_DIR), shared at once by every service on it.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import sys
from pathlib import Path

from framework_advisor.config import DATA_DIR_ENV, Settings

# A host name as a report carries it (socket.gethostname()): letters, digits, dots, hyphens, underscores.
HOST_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,254}")
TOKEN_BYTES = 32  # 256 random bits: 43 characters of URL-safe base64


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def _host(text: str) -> str:
    if not HOST_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a host name (letters, digits, '.', '-', '_'; at most "
                                         f"255 characters), as the machine's reports name it")
    return text


def add_tokens_parser(commands) -> None:
    """The ``tokens`` command and its subcommands, on the CLI's subparsers."""
    tokens = commands.add_parser("tokens", help="the fleet's upload tokens, one per machine: add, list, revoke",
                                 description=__doc__.split("\n\n")[0].replace("``", "'"))
    subcommands = tokens.add_subparsers(dest="tokens_command", metavar="COMMAND", required=True,
                                        parser_class=type(tokens))

    def data_dir(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--data-dir", type=Path, metavar="DIR", help=f"the store (env {DATA_DIR_ENV})")

    add = subcommands.add_parser("add", help="make HOST's upload token and print it, once")
    add.add_argument("host", metavar="HOST", type=_host, help="the machine's host name, as its reports name it")
    add.add_argument("--replace", action="store_true", help="replace HOST's token if it has one (the old one "
                                                            "stops working)")
    data_dir(add)
    listing = subcommands.add_parser("list", help="the hosts with a token (host, when made, its fingerprint)")
    listing.add_argument("--json", action="store_true", help="as JSON")
    data_dir(listing)
    revoke = subcommands.add_parser("revoke", help="revoke HOST's token: its uploads are refused from now on")
    revoke.add_argument("host", metavar="HOST", type=_host)
    data_dir(revoke)


def cmd_tokens(args: argparse.Namespace) -> int:
    from framework_advisor.cli import UsageError
    from framework_advisor.storage import Store, StoreError, TokenExists, token_digest

    settings = Settings.from_env(data_dir=args.data_dir)
    if args.tokens_command != "add" and not settings.database_path.exists():
        raise UsageError(f"no store at {settings.database_path} (--data-dir, or {DATA_DIR_ENV}): no tokens there")
    try:
        store = Store.open(settings.database_path)
        if args.tokens_command == "add":
            token = new_token()
            try:
                store.add_token(args.host, token_digest(token), replace=args.replace)
            except TokenExists:
                raise UsageError(f"{args.host} has a token already: 'tokens add {args.host} --replace' makes a new "
                                 f"one (the old one stops working), 'tokens revoke {args.host}' removes it") from None
            print(token)
            print(f"framework-advisor: the upload token of {args.host}, shown once (the store keeps only its hash): "
                  f"set it as FRAMEWORK_ADVISOR_TOKEN on {args.host}", file=sys.stderr)
        elif args.tokens_command == "list":
            rows = store.list_tokens()
            if args.json:
                json.dump({"tokens": [{"host": host, "created_at": created, "sha256_prefix": prefix}
                                      for host, created, prefix in rows]}, sys.stdout, indent=2)
                sys.stdout.write("\n")
            elif not rows:
                print(f"no upload tokens in {settings.database_path}")
            else:
                width = max(len(host) for host, _, _ in rows)
                for host, created, prefix in rows:
                    print(f"{host:<{width}}  {created}  sha256:{prefix}")
        elif not store.revoke_token(args.host):
            raise UsageError(f"{args.host} has no token (tokens list shows those that do)")
        else:
            print(f"revoked the upload token of {args.host}")
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    return 0
