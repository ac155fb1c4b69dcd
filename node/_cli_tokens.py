"""`tenge-node api-token create | list | revoke`: the API's bearer tokens (docs/cli.md).

The commands edit ``HOME/api_tokens.json`` only; a running node reloads it within a second
(node/api/_tokens.py, ``watch_token_file``). ``create`` prints the token's secret once: the
file keeps only its SHA-256.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Final, NoReturn

from node.api import SCOPES, load_tokens, new_token, revoke, save_tokens, token_file
from node.config import CONFIG_FILE
from node.errors import ConfigError

if TYPE_CHECKING:
    from node.api import ApiToken

EXIT_OK: Final = 0
EXIT_REFUSED: Final = 1
EXIT_USAGE: Final = 2


def _fail(message: str, code: int) -> NoReturn:
    print(f"tenge-node: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _tokens(home: Path) -> list[ApiToken]:
    if not (home / CONFIG_FILE).is_file():
        _fail(f"{home}: not a node home, no {CONFIG_FILE} (run `tenge-node init`)", EXIT_USAGE)
    try:
        book = load_tokens(token_file(home))
    except ConfigError as e:
        _fail(str(e), EXIT_REFUSED)
    return [] if book is None else list(book.tokens)


def _save(home: Path, tokens: list[ApiToken]) -> None:
    try:
        save_tokens(token_file(home), tokens)
    except ConfigError as e:
        _fail(str(e), EXIT_REFUSED)


def _listed(token: ApiToken) -> dict[str, object]:
    doc = token.public_doc()
    del doc["sha256"]
    return doc


def cmd_create(args: argparse.Namespace) -> int:
    """Add a token and print its secret (once)."""
    tokens = _tokens(args.home)
    bank = args.bank or ""
    try:
        token, secret = new_token(args.name or "token", args.scope, bank, _now_ms())
    except ValueError as e:
        _fail(str(e), EXIT_USAGE)
    if args.name is None:  # default: the bank (or "token") and the start of the id
        token = replace(token, name=f"{bank or 'token'}-{token.token_id[:8]}")
    if any(t.name == token.name for t in tokens):
        _fail(f"a token named {token.name!r} exists already; pick another --name", EXIT_USAGE)
    _save(args.home, [*tokens, token])
    print(
        json.dumps(
            {
                **_listed(token),
                "token": secret,
                "note": "shown once: give it to the client (Authorization: Bearer TOKEN); "
                "the node keeps only its SHA-256",
            },
            indent=2,
        )
    )
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    """Print every token (revoked ones too), never a secret."""
    print(json.dumps({"tokens": [_listed(t) for t in _tokens(args.home)]}, indent=2))
    return EXIT_OK


def cmd_revoke(args: argparse.Namespace) -> int:
    """Revoke a token by name; it stays listed with the time it was revoked."""
    try:
        tokens = revoke(_tokens(args.home), args.name, _now_ms())
    except ValueError as e:
        _fail(str(e), EXIT_REFUSED)
    _save(args.home, tokens)
    (revoked,) = (t for t in tokens if t.name == args.name)
    print(json.dumps(_listed(revoked), indent=2))
    return EXIT_OK


def add_token_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``api-token`` on the `tenge-node` subcommand parser."""
    tokens = sub.add_parser("api-token", help="create, list or revoke the API's bearer tokens")
    actions = tokens.add_subparsers(dest="token_command", required=True, metavar="ACTION")

    p = actions.add_parser("create", help="add a token and print its secret once")
    p.add_argument("--home", type=Path, required=True)
    p.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=SCOPES,
        help="what it may do (repeat): submit, read:own, read:all, admin",
    )
    p.add_argument(
        "--bank", metavar="ACCOUNT", help="the bank whose accounts read:own reads (its id)"
    )
    p.add_argument("--name", help="unique name for list and revoke (default BANK-ID)")
    p.set_defaults(func=cmd_create)

    p = actions.add_parser("list", help="print every token (no secrets)")
    p.add_argument("--home", type=Path, required=True)
    p.set_defaults(func=cmd_list)

    p = actions.add_parser("revoke", help="refuse a token from now on (a running node: ~1 s)")
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=cmd_revoke)
