"""The argparse layout of the operator commands ``keys``, ``tx``, ``query`` and ``travel``
(docs/cli.md).

Rules this module keeps:

1. It only declares flags, their argparse types and choices, and which handler runs; the
   handlers (node/cli_ops.py) check everything else and talk to the node.
2. It imports nothing from node/cli_ops.py: the handlers come in as `OperatorHandlers`, so
   the dependency runs one way (cli_ops imports this module and re-exports its names).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeAlias

from node._client_tx import DEFAULT_PROPOSAL_TTL
from node.config import DEFAULT_API_PORT
from proto import ledger_pb2 as pb

DEFAULT_API: Final = f"http://127.0.0.1:{DEFAULT_API_PORT}"
#: The environment variable that gives tx and query their bearer token (docs/cli.md).
API_TOKEN_ENV: Final = "TENGE_API_TOKEN"

ROLES: Final = tuple(v.name for v in pb.Role.DESCRIPTOR.values if v.number)
ZONES: Final = tuple(v.name for v in pb.Zone.DESCRIPTOR.values if v.number)
ASSET_KINDS: Final = tuple(v.name for v in pb.AssetKind.DESCRIPTOR.values if v.number)
PURPOSES: Final = tuple(v.name for v in pb.Purpose.DESCRIPTOR.values if v.number)

#: What a subcommand runs with its parsed arguments; returns the exit code.
Handler: TypeAlias = Callable[[argparse.Namespace], int]
_SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


@dataclass(frozen=True, slots=True)
class OperatorHandlers:
    """The handler of each operator subcommand (``tx`` has one for every kind)."""

    keys_new: Handler
    keys_show: Handler
    person_ref: Handler
    tx: Handler
    query: Handler
    keys_travel_init: Handler
    travel_open: Handler


def _uint(bits: int) -> Callable[[str], int]:
    """An argparse type: an unsigned integer that fits in `bits` bits."""
    high = 2**bits - 1

    def parse(text: str) -> int:
        if not text.isascii() or not text.isdigit() or len(text) > 20 or int(text) > high:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer from 0 to {high}")
        return int(text)

    parse.__name__ = f"uint{bits}"
    return parse


def add_operator_parsers(sub: _SubParsers, handlers: OperatorHandlers) -> None:
    """Register ``keys``, ``tx`` and ``query`` on the `tenge-node` subcommand parser.

    Args:
        sub: The subcommand parser of `tenge-node` (node/cli.py).
        handlers: What each subcommand runs; set as the parsed arguments' ``func``.
    """
    _add_keys(sub, handlers)
    p = sub.add_parser(
        "person-ref", help="print the person reference of a national ID (HMAC-SHA256, hex)"
    )
    p.add_argument(
        "--key-file", type=Path, required=True, metavar="FILE", help="the banks' shared secret"
    )
    p.add_argument("--national-id", required=True, metavar="IIN", help="never sent anywhere")
    p.set_defaults(func=handlers.person_ref)
    _add_tx(sub, handlers.tx)
    _add_query(sub, handlers.query)
    _add_travel(sub, handlers.travel_open)


def _add_keys(sub: _SubParsers, handlers: OperatorHandlers) -> None:
    keys = sub.add_parser(
        "keys", help="create or show an Ed25519 key file, or a validator key in an HSM"
    )
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    p = keys_sub.add_parser("new", help="write a new key file (mode 0600)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE")
    p.add_argument("--passphrase-env", metavar="VAR", help="encrypt with the passphrase in $VAR")
    p.set_defaults(func=handlers.keys_new)
    p = keys_sub.add_parser("show", help="print the public key of a key file")
    p.add_argument("file", type=Path, metavar="FILE")
    p.set_defaults(func=handlers.keys_show)
    p = keys_sub.add_parser(
        "travel-init", help="write a new X25519 travel key file (travel-rule data; mode 0600)"
    )
    p.add_argument("--out", type=Path, required=True, metavar="FILE")
    p.add_argument("--passphrase-env", metavar="VAR", help="encrypt with the passphrase in $VAR")
    p.set_defaults(func=handlers.keys_travel_init)
    from node._cli_hsm import add_hsm_parsers  # the validator key in a PKCS#11 token

    add_hsm_parsers(keys_sub)
    from node._cli_rotate import add_rotate_parsers  # a validator's move to a new key

    add_rotate_parsers(keys_sub)


def _api_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api", default=DEFAULT_API, metavar="URL", help=f"default {DEFAULT_API}")
    parser.add_argument(
        "--api-token",
        default=os.environ.get(API_TOKEN_ENV) or None,
        metavar="TOKEN",
        help=f"bearer token for the node's API (default: ${API_TOKEN_ENV}, which keeps it "
        "out of the process list)",
    )
    parser.add_argument(
        "--http-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="give up on an unanswered request after this long (exit 3)",
    )


def _add_tx(sub: _SubParsers, handler: Handler) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--as", dest="acting", metavar="ACCOUNT", help="the acting account")
    common.add_argument(
        "--key", type=Path, action="append", required=True, metavar="FILE", help="signs (repeat)"
    )
    common.add_argument("--passphrase-env", metavar="VAR", help="decrypt the keys with $VAR")
    _api_flags(common)
    common.add_argument("--wait", action="store_true", help="wait until committed")
    common.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="with --wait: how long the node waits (default 30; exit 3 when it passes)",
    )

    tx = sub.add_parser("tx", help="build, sign and submit a transaction")
    kinds = tx.add_subparsers(dest="kind", required=True, metavar="KIND")

    def kind(name: str, help_text: str) -> argparse.ArgumentParser:
        p = kinds.add_parser(name, parents=[common], help=help_text)
        p.set_defaults(func=handler)
        return p

    p = kind("register-account", "register an account (central bank or a commercial bank)")
    p.add_argument("--account-id", required=True, metavar="ID")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--zone", required=True, choices=ZONES)
    p.add_argument("--kyc-tier", required=True, type=_uint(32), metavar="N")
    p.add_argument("--public-key", required=True, action="append", metavar="HEX")
    p.add_argument("--threshold", type=_uint(32), default=0, metavar="M")
    p.add_argument(
        "--person-ref", metavar="HEX", help="64 hex: the holder's person reference (person-ref)"
    )

    p = kinds.add_parser(
        "propose", help="propose a governed change; it applies once the quorum approves"
    )
    changes = p.add_subparsers(dest="change", required=True, metavar="CHANGE")
    proposal = argparse.ArgumentParser(add_help=False)
    proposal.add_argument("--summary", required=True, metavar="TEXT", help="what and why")
    proposal.add_argument(
        "--ttl",
        type=_uint(32),
        default=DEFAULT_PROPOSAL_TTL,
        metavar="BLOCKS",
        help=f"blocks it stays open for approval (default {DEFAULT_PROPOSAL_TTL})",
    )
    proposal.add_argument(
        "--activation-height",
        type=_uint(63),
        default=0,
        metavar="H",
        help="limits and rates: the first height they apply at (at least 2 after approval)",
    )

    def change(name: str, help_text: str) -> argparse.ArgumentParser:
        c = changes.add_parser(name, parents=[common, proposal], help=help_text)
        c.set_defaults(func=handler)
        return c

    p = change("register-asset", "register an asset")
    p.add_argument("--code", required=True)
    p.add_argument("--decimals", required=True, type=_uint(32), metavar="D")
    p.add_argument("--issuer", required=True, metavar="ID")
    p.add_argument("--kind", dest="asset_kind", required=True, choices=ASSET_KINDS)
    p.add_argument("--payment-zones", required=True, metavar="ZONE[,ZONE]")
    p.add_argument(
        "--backed-by", metavar="CODE", help="a backed STABLECOIN: its backing (KZT), held 1:1"
    )
    p.add_argument(
        "--reserve-account", metavar="ID", help="with --backed-by: the new account holding it"
    )

    p = change("set-limits", "set the limits of a KYC tier, in KZT-equivalent")
    p.add_argument("--kyc-tier", required=True, type=_uint(32), metavar="N")
    p.add_argument("--per-payment", required=True, metavar="KZT")
    p.add_argument("--daily", required=True, metavar="KZT")
    p.add_argument("--holding-cap", required=True, metavar="KZT")

    p = change("set-rates", "set reference rates for the tier limits")
    p.add_argument(
        "--rate",
        required=True,
        action="append",
        metavar="CODE=KZT",
        help="KZT per whole unit of the asset (0 removes its rate); repeat for several",
    )

    p = change("update-validator", "add, re-weight or (power 0) remove a validator")
    p.add_argument("--public-key", required=True, metavar="HEX")
    p.add_argument("--power", required=True, type=_uint(64), metavar="P")

    p = change(
        "rotate-validator-key",
        "move a validator to a new key (the fields `keys rotate-init` prints)",
    )
    p.add_argument("--public-key", required=True, metavar="HEX", help="its key today")
    p.add_argument("--new-public-key", required=True, metavar="HEX")
    p.add_argument("--proof", required=True, metavar="HEX", help="the new key's signature")

    for name, what in (("approve", "approve"), ("withdraw", "withdraw your own")):
        p = kind(name, f"{what} a governance proposal (a quorum role)")
        p.add_argument("--proposal", required=True, metavar="ID", help="its id (64 hex)")

    p = kind("issue", "create supply of an asset (its issuer)")
    p.add_argument("--asset", required=True, metavar="CODE")
    p.add_argument("--to", required=True, metavar="ID")
    p.add_argument("--amount", required=True, metavar="A")

    p = kind("redeem", "destroy supply held by the acting account")
    p.add_argument("--asset", required=True, metavar="CODE")
    p.add_argument("--amount", required=True, metavar="A")

    p = kind("transfer", "pay: one leg, or several with --leg (all or nothing)")
    p.add_argument("--from", dest="payer", metavar="ID")
    p.add_argument("--to", dest="payee", metavar="ID")
    p.add_argument("--asset", metavar="CODE")
    p.add_argument("--amount", metavar="A")
    p.add_argument("--reference", metavar="TEXT")
    p.add_argument("--purpose", choices=PURPOSES, help="why it is paid, where a rule asks")
    p.add_argument("--leg", action="append", metavar="FROM:TO:CODE:AMOUNT")
    ids = p.add_argument_group("payment ids of the one leg (ISO 20022, docs/iso20022.md)")
    ids.add_argument("--end-to-end-id", metavar="ID", help="your id of the payment (EndToEndId)")
    ids.add_argument("--uetr", metavar="UUID", help="the payment's version-4 UUID (UETR)")
    ids.add_argument("--purpose-code", metavar="CODE", help="ISO purpose code (Purp/Cd), e.g. SALA")
    ids.add_argument(
        "--creditor-reference", metavar="REF", help="the creditor's reference (Strd/CdtrRefInf)"
    )
    ids.add_argument(
        "--creditor-reference-type", metavar="CODE", help="its ISO type, e.g. SCOR or RADM"
    )
    ids.add_argument("--unstructured", metavar="TEXT", help="free-text remittance (RmtInf/Ustrd)")
    p.add_argument(
        "--travel-file",
        type=Path,
        metavar="FILE",
        help="the one leg's originator and beneficiary (JSON), sealed here to each recipient",
    )

    p = kind("publish-travel-key", "publish the acting account's X25519 travel key")
    p.add_argument(
        "--travel-key", type=Path, required=True, metavar="FILE", help="from keys travel-init"
    )

    for name in ("freeze", "unfreeze"):
        p = kind(name, f"{name} an account (regulator)")
        p.add_argument("--account", required=True, metavar="ID")
        p.add_argument("--legal-ref", required=True, metavar="TEXT")

    p = kind("grant-licence", "grant (or replace) an account's licence (regulator)")
    p.add_argument("--account", required=True, metavar="ID")
    p.add_argument("--asset", dest="assets", required=True, action="append", metavar="CODE")
    p.add_argument("--purpose", dest="purposes", action="append", default=[], choices=PURPOSES)
    p.add_argument("--expires-at-height", required=True, type=_uint(63), metavar="N")
    p.add_argument("--reference", required=True, metavar="TEXT", help="the licence number")

    p = kind("revoke-licence", "end an account's licence at once (regulator)")
    p.add_argument("--account", required=True, metavar="ID")
    p.add_argument("--reference", required=True, metavar="TEXT", help="the decision")

    p = kind("seize", "move a frozen account's funds to a state reserve (regulator)")
    p.add_argument("--account", required=True, metavar="ID")
    p.add_argument("--asset", required=True, metavar="CODE")
    p.add_argument("--amount", required=True, metavar="A")
    p.add_argument("--reserve", required=True, metavar="ID", help="the receiving STATE_RESERVE")
    p.add_argument("--court", required=True, metavar="TEXT", help="the court that ordered it")
    p.add_argument("--case-number", required=True, metavar="TEXT")
    p.add_argument("--order-number", required=True, metavar="TEXT")
    p.add_argument("--order-date", required=True, metavar="YYYY-MM-DD")
    p.add_argument("--legal-ref", default="", metavar="TEXT", help="an extra note")

    p = kind("rotate-keys", "replace the acting account's own keys (signed by its current keys)")
    p.add_argument("--new-key", type=Path, action="append", required=True, metavar="FILE")
    p.add_argument("--threshold", type=_uint(32), default=0, metavar="M")

    p = kind("recover-account", "new keys for a customer (its bank, with a regulator signing)")
    p.add_argument("--account", required=True, metavar="ID")
    p.add_argument("--new-key", type=Path, action="append", required=True, metavar="FILE")
    p.add_argument("--threshold", type=_uint(32), default=0, metavar="M")
    p.add_argument("--regulator", required=True, metavar="ID", help="the approving regulator")
    p.add_argument(
        "--regulator-key",
        type=Path,
        action="append",
        required=True,
        metavar="FILE",
        help="the regulator's key file; it signs too (repeat)",
    )
    p.add_argument("--reason", required=True, metavar="TEXT")

    p = kind("change-account", "change an account's KYC tier and/or zone (its bank)")
    p.add_argument("--account", required=True, metavar="ID")
    p.add_argument("--kyc-tier", type=_uint(32), metavar="N")
    p.add_argument("--zone", choices=ZONES)

    p = kind("close-account", "close an account (its bank at zero; a regulator with a sweep)")
    p.add_argument("--account", required=True, metavar="ID")
    p.add_argument("--sweep-to", metavar="ID", help="regulator: where the balances go")
    p.add_argument("--legal-ref", metavar="TEXT", help="regulator: the decision")


def _add_travel(sub: _SubParsers, handler: Handler) -> None:
    travel = sub.add_parser("travel", help="travel-rule data sealed on transfer legs")
    actions = travel.add_subparsers(dest="travel_command", required=True, metavar="ACTION")
    p = actions.add_parser("open", help="decrypt a committed leg's travel data with your key")
    p.add_argument("tx_id", metavar="TX_ID")
    p.add_argument("--leg", type=_uint(32), default=0, metavar="N", help="leg index (default 0)")
    p.add_argument("--key", type=Path, required=True, metavar="FILE", help="your travel key file")
    p.add_argument("--passphrase-env", metavar="VAR", help="decrypt the key with $VAR")
    _api_flags(p)
    p.set_defaults(func=handler)


def _add_query(sub: _SubParsers, handler: Handler) -> None:
    p = sub.add_parser("query", help="read the ledger through a node's API")
    p.add_argument(
        "what",
        choices=(
            "status",
            "account",
            "history",
            "tx",
            "payments",
            "block",
            "validators",
            "asset",
            "rulebook",
        ),
        metavar=(
            "{status,account ID,history ID,tx ID,payments UETR|END_TO_END_ID --payer ID,"
            "block HEIGHT,validators,asset CODE,rulebook}"
        ),
    )
    p.add_argument("id", nargs="?", metavar="ID")
    _api_flags(p)
    p.add_argument("--after", metavar="CURSOR", help="history: continue after this cursor")
    p.add_argument("--limit", type=_uint(32), metavar="N", help="history: one page of N lines")
    p.add_argument(
        "--payer", metavar="ID", help="payments: ID is this payer's end-to-end id, not a UETR"
    )
    p.set_defaults(func=handler)
