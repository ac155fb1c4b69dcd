"""`tenge-node iso submit | statement`: ISO 20022 documents through a node's API
(docs/cli.md).

``iso submit FILE.xml --key KEY [--wait] > pacs002.xml`` builds the transfer a pacs.008
(or, with ``--kind pacs.009``, a pacs.009) describes, signs it with the debtor's keys,
seals the travel-rule data where the rulebook requires it, and submits both
(POST /v1/iso20022/...); the node's pacs.002 goes to stdout and a one-line JSON summary
to stderr. Exit 0 for ACTC or ACSC, 1 for RJCT.

``iso statement ACCOUNT --from H|DATE [--to H|DATE] > camt053.xml`` writes the account's
camt.053 statement (GET /v1/iso20022/camt.053/{id}) to stdout, byte for byte as the node
sent it. A bound is a height (digits) or a day (YYYY-MM-DD, UTC); both bounds are of one
kind.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Final

from node._cli_parsers import _api_flags
from node.cli_ops import (
    EXIT_OK,
    EXIT_REFUSED,
    CommandFailed,
    _account_id,
    _api_failure,
    _asset_code,
    _check_common,
    _guarded,
    _load_keys,
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


#: The most of a message file read (the node refuses more than 256 KiB anyway).
MAX_MESSAGE_FILE_BYTES: Final = 1 << 20


def _read_message(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_MESSAGE_FILE_BYTES + 1)
    except OSError as e:
        raise _usage(f"{path}: {e.strerror or e}") from None
    if len(data) > MAX_MESSAGE_FILE_BYTES:
        raise _usage(f"{path}: more than {MAX_MESSAGE_FILE_BYTES} bytes; not an ISO message")
    return data


def cmd_submit(args: argparse.Namespace) -> int:
    """Submit FILE (a pacs.008 or pacs.009) with its signed transfer; the pacs.002 to stdout."""
    url = _check_common(args)
    message = _read_message(args.file)
    keys = _load_keys(args.key, args.passphrase_env)

    async def work(api: TengeClient) -> int:
        try:
            result = await api.submit_iso(
                message,
                keys=keys,
                kind=args.kind,
                travel=args.travel,
                wait=args.wait,
                timeout_s=args.timeout,
            )
        except ApiError as e:
            raise _api_failure(e, "iso submit") from None
        sys.stdout.buffer.write(result.pacs002)
        sys.stdout.buffer.flush()
        summary: dict[str, object] = {"status": result.status, "tx_id": result.tx_id}
        if result.height is not None:
            summary["height"] = result.height
        if result.code:
            summary |= {"code": result.code, "reason": result.reason, "message": result.message}
        print(json.dumps(summary), file=sys.stderr)
        return EXIT_REFUSED if result.status == "RJCT" else EXIT_OK

    return _with_api(args, url, work)


def _int(text: str | None) -> int | None:
    return None if text is None else int(text)


def add_iso_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``iso`` (``iso submit``, ``iso statement``) on the `tenge-node` parser."""
    iso = sub.add_parser(
        "iso", help="ISO 20022 messages: submit a pacs.008/009, an account's camt.053"
    )
    actions = iso.add_subparsers(dest="iso_command", required=True, metavar="ACTION")
    p = actions.add_parser(
        "submit", help="submit a pacs.008 or pacs.009 signed by the debtor; the pacs.002 out"
    )
    p.add_argument("file", type=Path, metavar="FILE.xml")
    p.add_argument("--kind", choices=("pacs.008", "pacs.009"), default="pacs.008")
    p.add_argument(
        "--key", type=Path, action="append", required=True, metavar="FILE",
        help="the debtor's key file (repeat for m-of-n or several debtors)",
    )  # fmt: skip
    p.add_argument("--passphrase-env", metavar="VAR", help="decrypt the keys with $VAR")
    p.add_argument(
        "--travel", choices=("auto", "always", "never"), default="auto",
        help="seal travel-rule data from Dbtr/Cdtr: where the rulebook requires it (auto)",
    )  # fmt: skip
    p.add_argument("--wait", action="store_true", help="wait until committed (ACSC or RJCT)")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="with --wait (default 30)")
    _api_flags(p)
    p.set_defaults(func=_guarded(cmd_submit))
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


__all__ = ["CommandFailed", "add_iso_commands", "cmd_statement", "cmd_submit"]
