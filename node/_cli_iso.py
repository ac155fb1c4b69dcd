"""`tenge-node iso statement`: ISO 20022 documents through a node's API (docs/cli.md).

``iso statement ACCOUNT --from H|DATE [--to H|DATE] > camt053.xml`` writes the account's
camt.053 statement (GET /v1/iso20022/camt.053/{id}) to stdout, byte for byte as the node
sent it. A bound is a height (digits) or a day (YYYY-MM-DD, UTC); both bounds are of one
kind.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Final

from node._cli_parsers import _api_flags
from node.cli_ops import (
    EXIT_OK,
    CommandFailed,
    _account_id,
    _api_failure,
    _asset_code,
    _check_common,
    _guarded,
    _usage,
    _with_api,
)
from node.client import ApiError, TengeClient

_HEIGHT_RE: Final = re.compile(r"[0-9]{1,20}")
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _bounds(start: str, end: str | None) -> dict[str, str]:
    """The query of --from and --to: heights or dates, never one of each.

    Raises:
        CommandFailed: a bound is neither, or they are of two kinds (exit 2).
    """
    kinds = []
    for flag, text in (("--from", start), ("--to", end)):
        if text is None:
            continue
        if _HEIGHT_RE.fullmatch(text):
            kinds.append("height")
        elif _DATE_RE.fullmatch(text):
            kinds.append("date")
        else:
            raise _usage(f"{flag}: {text[:40]!r} is neither a height nor a date YYYY-MM-DD")
    if len(set(kinds)) > 1:
        raise _usage("--from and --to must both be heights or both dates")
    kind = kinds[0]
    params = {f"from_{kind}": start}
    if end is not None:
        params[f"to_{kind}"] = end
    return params


def cmd_statement(args: argparse.Namespace) -> int:
    """Write the camt.053 statement of ACCOUNT to stdout."""
    url = _check_common(args)
    account = _account_id(args.account, "ACCOUNT")
    params = _bounds(args.start, args.end)
    asset = None if args.asset is None else _asset_code(args.asset, "--asset")

    async def work(api: TengeClient) -> int:
        try:
            document = await api.iso_statement(
                account,
                from_height=_int(params.get("from_height")),
                to_height=_int(params.get("to_height")),
                from_date=params.get("from_date"),
                to_date=params.get("to_date"),
                asset=asset,
            )
        except ApiError as e:
            raise _api_failure(e, "iso statement") from None
        sys.stdout.buffer.write(document)
        sys.stdout.buffer.flush()
        return EXIT_OK

    return _with_api(args, url, work)


def _int(text: str | None) -> int | None:
    return None if text is None else int(text)


def add_iso_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``iso`` (``iso statement``) on the `tenge-node` subcommand parser."""
    iso = sub.add_parser("iso", help="ISO 20022 documents of the ledger (camt.053)")
    actions = iso.add_subparsers(dest="iso_command", required=True, metavar="ACTION")
    p = actions.add_parser(
        "statement", help="write an account's camt.053 statement to stdout (XML)"
    )
    p.add_argument("account", metavar="ACCOUNT")
    p.add_argument("--from", dest="start", required=True, metavar="H|DATE",
                   help="the first height, or the first day (YYYY-MM-DD, UTC)")  # fmt: skip
    p.add_argument("--to", dest="end", metavar="H|DATE",
                   help="the last height or day (default: the tip)")  # fmt: skip
    p.add_argument("--asset", metavar="CODE", help="only this asset (default: every one)")
    _api_flags(p)
    p.set_defaults(func=_guarded(cmd_statement))


__all__ = ["CommandFailed", "add_iso_commands", "cmd_statement"]
