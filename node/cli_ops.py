"""Operator commands of `tenge-node`: ``keys``, ``tx`` and ``query`` (docs/cli.md).

Rules these commands keep:

1. The result is JSON on stdout; a failure is one line on stderr, never a traceback.
2. Exit codes are those of node/cli.py: 0 ok, 1 refused by the ledger (or an unknown id),
   2 usage error (bad flag, hex, amount, key file), 3 node unreachable, busy or timed out.
3. Amounts are typed in the asset's units ("1250.50" KZT) and converted to minor units with
   the decimals the ledger holds for the asset; more decimals than the asset has is a usage
   error, never a silent rounding.
4. Everything that can be checked without the node is checked before anything is sent.

The argparse layout (flags, types, choices) is node/_cli_parsers.py; this module holds the
handlers it runs and re-exports its public names.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NoReturn

import httpx
import trio

from node._cli_parsers import ASSET_KINDS as ASSET_KINDS
from node._cli_parsers import DEFAULT_API as DEFAULT_API
from node._cli_parsers import ROLES as ROLES
from node._cli_parsers import ZONES, OperatorHandlers, add_operator_parsers
from node.client import ApiError, SubmitResult, TengeClient, Unreachable, parse_amount
from node.errors import KeyFileError
from node.keys import PUBLIC_KEY_SIZE, KeyPair, read_key_file, read_public_key, write_key_file
from node.ledger import U64_MAX, parse_uetr, txbuild, valid_account_id, valid_asset_code
from node.ledger._persons import PERSON_REF_SIZE, person_ref
from node.ledger.txbuild import GovernedChange, KindMessage, propose, transfer
from proto import ledger_pb2 as pb

#: The least length of the banks' shared person-reference key (bytes of the key file).
MIN_PERSON_KEY: Final = 16

# The same values as node/cli.py's EXIT_* (that module imports this one).
EXIT_OK: Final = 0
EXIT_REFUSED: Final = 1
EXIT_USAGE: Final = 2
EXIT_UNREACHABLE: Final = 3

U32_MAX: Final = 2**32 - 1
KZT: Final = "KZT"
#: The longest --timeout the API accepts for a wait=commit.
MAX_WAIT_S: Final = 300.0

#: API error codes that mean the request itself was wrong (the operator's input).
_USAGE_CODES: Final = frozenset(
    {"INVALID_ARGUMENT", "INVALID_JSON", "INVALID_BASE64", "BODY_TOO_LARGE", "METHOD_NOT_ALLOWED"}
)
#: API error codes that mean "not now": retry later.
_BUSY_CODES: Final = frozenset(
    {"TIMEOUT", "MEMPOOL_FULL", "PENDING_TXS_EXCEEDED", "NOT_READY", "INTERNAL"}
)
_AMOUNT_RE: Final = re.compile(r"[0-9]+(\.[0-9]+)?\Z")
_TX_ID_RE: Final = re.compile(r"[0-9a-fA-F]{64}\Z")
#: What undecodable bytes in argv become (surrogateescape); they cannot be sent.
_SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")


class CommandFailed(Exception):
    """A command cannot go on: the message for stderr and the exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def _usage(message: str) -> CommandFailed:
    return CommandFailed(message, EXIT_USAGE)


def _print_json(doc: object) -> None:
    print(json.dumps(doc, indent=2))


def _fail(message: str, code: int) -> NoReturn:
    first_line = message.splitlines()[0] if message else "failed"
    print(f"tenge-node: error: {first_line}", file=sys.stderr)
    raise SystemExit(code)


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run command, turning CommandFailed into a one-line error and its exit code."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except CommandFailed as e:
            _fail(e.message, e.exit_code)

    return run


# ---- checking arguments ----


def _public_key(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise _usage(f"{text[:80]!r} is not hex (a public key is 64 hex characters)") from None
    if len(raw) != PUBLIC_KEY_SIZE:
        raise _usage(f"a public key is {PUBLIC_KEY_SIZE} bytes (64 hex characters), not {len(raw)}")
    return raw


def _amount_text(text: str, what: str) -> str:
    if not text.isascii() or _AMOUNT_RE.match(text) is None:
        raise _usage(f"{what}: {text[:40]!r} is not a non-negative decimal amount like 1250.50")
    return text


def _account_id(text: str, what: str) -> str:
    if not valid_account_id(text):
        raise _usage(f"{what}: {text[:70]!r} is not an account id (3 to 64 of a-z 0-9 . -)")
    return text


def _asset_code(text: str, what: str) -> str:
    if not valid_asset_code(text):
        raise _usage(f"{what}: {text[:40]!r} is not an asset code (A-Z then 1 to 11 of A-Z 0-9)")
    return text


def _passphrase(env_var: str | None) -> str | None:
    if env_var is None:
        return None
    value = os.environ.get(env_var)
    if value is None:
        raise _usage(f"environment variable {env_var} (the key passphrase) is not set")
    return value


def _load_keys(paths: list[Path], env_var: str | None) -> list[KeyPair]:
    passphrase = _passphrase(env_var)
    keys = []
    for path in paths:
        try:
            keys.append(read_key_file(path, passphrase, plaintext_ok=True))
        except KeyFileError as e:
            raise _usage(str(e)) from None
    return keys


def _key_file_public_key(path: Path) -> bytes:
    """The public key of a key file (--new-key): its passphrase is not needed."""
    try:
        return read_public_key(path)
    except KeyFileError as e:
        raise _usage(str(e)) from None


def _api_url(text: str) -> str:
    if not re.fullmatch(r"https?://[^\s/?#]+/?", text):
        raise _usage(f"--api: {text[:80]!r} is not an http:// or https:// base URL")
    return text.rstrip("/")


def _check_common(args: argparse.Namespace) -> str:
    """Checks shared by tx and query; returns the API base URL."""
    for name, value in vars(args).items():
        texts = value if isinstance(value, list) else [value]
        for text in texts:
            if isinstance(text, str) and _SURROGATE_RE.search(text):
                raise _usage(f"--{name.replace('_', '-')}: not valid text (undecodable bytes)")
    if not 0 < args.http_timeout < float("inf"):
        raise _usage(
            f"--http-timeout must be a positive number of seconds, not {args.http_timeout}"
        )
    timeout = getattr(args, "timeout", None)
    if timeout is not None and not 0 < timeout <= MAX_WAIT_S:
        raise _usage(f"--timeout must be seconds in (0, {MAX_WAIT_S:g}], not {timeout}")
    return _api_url(args.api)


def _api_failure(err: ApiError, doing: str) -> CommandFailed:
    """The exit code of an error answer: usage, refusal or not-now."""
    if err.code in _USAGE_CODES:
        code = EXIT_USAGE
    elif err.code in _BUSY_CODES or err.status >= 500:
        code = EXIT_UNREACHABLE
    else:
        code = EXIT_REFUSED
    return CommandFailed(f"{doing}: {err.code}: {err.message}", code)


def _with_api(
    args: argparse.Namespace, url: str, work: Callable[[TengeClient], Awaitable[int]]
) -> int:
    """Run work with a client of the node at url, under trio; no answer is exit 3."""

    async def main() -> int:
        async with TengeClient(url, timeout_s=args.http_timeout, token=args.api_token) as api:
            try:
                return await work(api)
            except Unreachable as e:
                raise CommandFailed(
                    f"cannot reach the node at {url}: {e}", EXIT_UNREACHABLE
                ) from None
            except (httpx.HTTPError, KeyError, TypeError) as e:
                # Not the API's answer: another server on that port, a proxy's page.
                what = f"{type(e).__name__}: {e}"[:200]
                raise CommandFailed(
                    f"unexpected answer from {url} (is it a tenge node's API?): {what}",
                    EXIT_UNREACHABLE,
                ) from None

    return trio.run(main)


# ---- keys ----


def cmd_keys_new(args: argparse.Namespace) -> int:
    key = KeyPair.generate()
    try:
        write_key_file(args.out, key, passphrase=_passphrase(args.passphrase_env))
    except KeyFileError as e:
        raise _usage(str(e)) from None
    _print_json({"public_key": key.public_key.hex()})
    return EXIT_OK


def cmd_keys_show(args: argparse.Namespace) -> int:
    try:
        public_key = read_public_key(args.file)
    except KeyFileError as e:
        raise _usage(str(e)) from None
    _print_json({"public_key": public_key.hex()})
    return EXIT_OK


def cmd_person_ref(args: argparse.Namespace) -> int:
    """The person reference of a national ID: HMAC-SHA256(key file's bytes, IIN)."""
    try:
        secret = args.key_file.read_bytes().strip()
    except OSError as e:
        raise _usage(f"--key-file: cannot read {args.key_file}: {e.strerror}") from None
    if len(secret) < MIN_PERSON_KEY:
        raise _usage(f"--key-file: the key is {len(secret)} bytes; at least {MIN_PERSON_KEY}")
    national_id = args.national_id.strip()
    if not national_id:
        raise _usage("--national-id: empty")
    _print_json({"person_ref": person_ref(national_id, secret).hex()})
    return EXIT_OK


def _person_ref_hex(text: str | None) -> bytes:
    if text is None:
        return b""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != PERSON_REF_SIZE:
        raise _usage(f"--person-ref: {text[:80]!r} is not {PERSON_REF_SIZE} bytes of hex")
    return raw


# ---- tx ----


@dataclass(frozen=True, slots=True)
class _Amount:
    """An amount as typed, in the units of asset."""

    asset: str
    text: str
    what: str
    limit: bool = False  # a KYC-tier limit: u64 tiyn, where an amount may be 128-bit


class _Amounts:
    """Converts typed amounts to minor units with the decimals of each asset on the ledger."""

    def __init__(self, api: TengeClient) -> None:
        self._api = api
        self._decimals: dict[str, int] = {}

    async def minor(self, amount: _Amount) -> int:
        decimals = self._decimals.get(amount.asset)
        if decimals is None:
            try:
                doc = await self._api.asset(amount.asset)
            except ApiError as e:
                if e.code == "NOT_FOUND":
                    raise CommandFailed(
                        f"{amount.what}: no asset {amount.asset!r} on the ledger (UNKNOWN_ASSET)",
                        EXIT_REFUSED,
                    ) from None
                raise _api_failure(e, f"reading asset {amount.asset}") from None
            decimals = self._decimals[amount.asset] = int(doc["decimals"])
        try:
            units = parse_amount(amount.text, decimals)
        except ValueError as e:
            raise _usage(f"{amount.what}: {e} ({amount.asset} has {decimals} decimals)") from None
        if amount.limit and units > U64_MAX:
            raise _usage(f"{amount.what}: {amount.text[:50]!r} is more than 2^64 - 1 minor units")
        return units


def _legs(args: argparse.Namespace) -> list[tuple[str, str, _Amount]]:
    """(payer, payee, amount) of every leg, from --leg or from --from/--to/--asset/--amount."""
    single = [args.payer, args.payee, args.asset, args.amount]
    if args.leg:
        if any(v is not None for v in single):
            raise _usage("give either --leg (repeatable) or --from/--to/--asset/--amount, not both")
        legs = []
        for i, text in enumerate(args.leg):
            parts = text.split(":")
            if len(parts) != 4 or not all(parts):
                raise _usage(f"--leg {text[:80]!r}: expected FROM:TO:CODE:AMOUNT")
            payer, payee, code, amount = parts
            what = f"--leg {i + 1}"
            _asset_code(code, what)
            legs.append((payer, payee, _Amount(code, _amount_text(amount, what), what)))
        return legs
    if any(v is None for v in single):
        raise _usage("transfer needs --from, --to, --asset and --amount (or --leg ...)")
    code = _asset_code(args.asset, "--asset")
    return [
        (args.payer, args.payee, _Amount(code, _amount_text(args.amount, "--amount"), "--amount"))
    ]


#: ``tx transfer`` flags of the leg's payment ids, as `txbuild.PaymentIds` names them.
_PAYMENT_ID_FLAGS: Final = (
    "end_to_end_id",
    "uetr",
    "purpose_code",
    "creditor_reference_type",
    "creditor_reference",
    "unstructured",
)


def _payment_ids(args: argparse.Namespace, leg_count: int) -> txbuild.PaymentIds | None:
    """The payment ids the flags give the transfer's one leg, or None when none is given."""
    given = {name: getattr(args, name) for name in _PAYMENT_ID_FLAGS if getattr(args, name)}
    if not given:
        return None
    if leg_count != 1:
        raise _usage(
            "payment ids (--end-to-end-id, --uetr, ...) go on a one-leg transfer; "
            "the Python client sets them per leg"
        )
    uetr = given.get("uetr", "")
    if uetr:
        try:
            parse_uetr(uetr)
        except ValueError as e:
            raise _usage(f"--uetr: {e}") from None
    return txbuild.PaymentIds(**given)


def _tx_plan(args: argparse.Namespace) -> tuple[str, list[_Amount]]:
    """Check a tx command's own flags; return the acting account and the amounts to convert."""
    kind = _change_kind(args)
    amounts: list[_Amount] = []
    if kind == "transfer":
        legs = _legs(args)
        _payment_ids(args, len(legs))  # usage errors before any request
        if args.travel_file is not None:
            if len(legs) != 1:
                raise _usage("--travel-file goes on a one-leg transfer")
            from node._cli_travel import load_travel_file  # it imports this module

            load_travel_file(args.travel_file)
        acting = args.acting or legs[0][0]
        amounts = [amount for _, _, amount in legs]
    else:
        if args.acting is None:
            raise _usage(f"tx {kind} needs --as ACCOUNT (the acting account)")
        acting = args.acting
    if kind in ("issue", "redeem", "seize"):
        code = _asset_code(args.asset, "--asset")
        amounts = [_Amount(code, _amount_text(args.amount, "--amount"), "--amount")]
    elif kind == "set-limits":
        amounts = [
            _Amount(KZT, _amount_text(getattr(args, name), flag), flag, limit=True)
            for name, flag in (
                ("per_payment", "--per-payment"),
                ("daily", "--daily"),
                ("holding_cap", "--holding-cap"),
            )
        ]
    elif kind == "set-rates":
        args.rate_codes = []
        for text in args.rate:
            code, sep, value = text.partition("=")
            if not sep:
                raise _usage(f"--rate: {text[:40]!r} is not CODE=KZT (e.g. USDT=505.10)")
            args.rate_codes.append(_asset_code(code.strip(), "--rate"))
            amounts.append(_Amount(KZT, _amount_text(value.strip(), "--rate"), "--rate"))
    elif kind in ("approve", "withdraw"):
        if _TX_ID_RE.match(args.proposal) is None:
            raise _usage(f"--proposal: {args.proposal[:80]!r} is not a proposal id (64 hex)")
    elif kind == "register-account":
        args.public_key_bytes = [_public_key(k) for k in args.public_key]
        args.person_ref_bytes = _person_ref_hex(args.person_ref)
    elif kind == "update-validator":
        args.public_key_bytes = _public_key(args.public_key)
    elif kind == "rotate-validator-key":
        args.public_key_bytes = _public_key(args.public_key)
        args.new_public_key_bytes = _public_key(args.new_public_key)
        if re.fullmatch(r"[0-9a-fA-F]{128}", args.proof) is None:
            raise _usage(f"--proof: {args.proof[:80]!r} is not a signature (128 hex)")
    elif kind == "publish-travel-key":
        from node._cli_travel import travel_public_key  # it imports this module

        args.travel_public_key = travel_public_key(args.travel_key)
    elif kind in ("rotate-keys", "recover-account"):
        args.new_key_bytes = [_key_file_public_key(path) for path in args.new_key]
        if kind == "recover-account":
            _account_id(args.account, "--account")
            _account_id(args.regulator, "--regulator")
    elif kind == "change-account":
        if args.kyc_tier is None and args.zone is None:
            raise _usage("tx change-account needs --kyc-tier N and/or --zone ZONE")
    elif kind == "register-asset":
        zones = [z.strip() for z in args.payment_zones.split(",")]
        bad = [z for z in zones if z not in ZONES]
        if bad:
            raise _usage(f"--payment-zones: {bad[0][:40]!r} is not one of {', '.join(ZONES)}")
        args.zone_list = zones
        if (args.backed_by is None) != (args.reserve_account is None):
            raise _usage("--backed-by and --reserve-account go together")
        if args.backed_by is not None:
            _asset_code(args.backed_by, "--backed-by")
            _account_id(args.reserve_account, "--reserve-account")
    return acting, amounts


def _message(args: argparse.Namespace, minor: list[int]) -> KindMessage:
    """The transaction's kind message, with the amounts already in minor units."""
    if args.kind == "propose":
        change = _change(args, minor)
        assert isinstance(change, GovernedChange)  # the parser offers governed kinds only
        return propose(
            change,
            expires_at_height=args.expires_at_height,
            activation_height=args.activation_height,
            summary=args.summary,
        )
    if args.kind in ("approve", "withdraw"):
        message = pb.Approve if args.kind == "approve" else pb.Withdraw
        return message(proposal_id=bytes.fromhex(args.proposal))
    return _change(args, minor)


def _change_kind(args: argparse.Namespace) -> str:
    """The kind whose flags the command has: the proposed change's, under tx propose."""
    return str(args.change) if args.kind == "propose" else str(args.kind)


def _change(args: argparse.Namespace, minor: list[int]) -> KindMessage:
    """The message of the command's own kind (or of the change it proposes)."""
    kind = _change_kind(args)
    if kind == "register-account":
        return pb.RegisterAccount(
            account_id=args.account_id,
            role=args.role,
            zone=args.zone,
            kyc_tier=args.kyc_tier,
            public_keys=args.public_key_bytes,
            threshold=args.threshold,
            person_ref=args.person_ref_bytes,
        )
    if kind == "register-asset":
        return pb.RegisterAsset(
            code=args.code,
            decimals=args.decimals,
            issuer=args.issuer,
            kind=args.asset_kind,
            payment_zones=args.zone_list,
            backed_by=args.backed_by or "",
            reserve_account=args.reserve_account or "",
        )
    if kind == "set-limits":
        return pb.SetLimits(
            kyc_tier=args.kyc_tier,
            per_payment=minor[0],
            daily_outflow=minor[1],
            holding_cap=minor[2],
        )
    if kind == "set-rates":
        return pb.SetRates(
            rates=[
                pb.ReferenceRate(asset=code, tiyn_per_unit=tiyn)
                for code, tiyn in zip(args.rate_codes, minor, strict=True)
            ]
        )
    if kind == "issue":
        return txbuild.issue(args.asset, args.to, minor[0])
    if kind == "redeem":
        return txbuild.redeem(args.asset, minor[0])
    if kind == "transfer":
        legs = _legs(args)
        ids = _payment_ids(args, len(legs))
        copies = getattr(args, "travel_copies", None)
        return transfer(
            *[
                (p, q, a.asset, n, ids or txbuild.PaymentIds(), copies)
                if copies
                else ((p, q, a.asset, n) if ids is None else (p, q, a.asset, n, ids))
                for (p, q, a), n in zip(legs, minor, strict=True)
            ],
            reference=args.reference or "",
            purpose=pb.Purpose.Value(args.purpose) if args.purpose else pb.PURPOSE_UNSPECIFIED,
        )
    if kind == "freeze":
        return pb.Freeze(account_id=args.account, legal_ref=args.legal_ref)
    if kind == "unfreeze":
        return pb.Unfreeze(account_id=args.account, legal_ref=args.legal_ref)
    if kind == "grant-licence":
        return pb.GrantLicence(
            account_id=args.account,
            assets=args.assets,
            purposes=args.purposes,
            expires_at_height=args.expires_at_height,
            reference=args.reference,
        )
    if kind == "revoke-licence":
        return pb.RevokeLicence(account_id=args.account, reference=args.reference)
    if kind == "seize":
        order = pb.CourtOrder(
            court=args.court,
            case_number=args.case_number,
            order_number=args.order_number,
            order_date=args.order_date,
        )
        return txbuild.seize(
            args.account,
            args.asset,
            minor[0],
            reserve=args.reserve,
            court_order=order,
            legal_ref=args.legal_ref,
        )
    if kind == "rotate-keys":
        return pb.RotateKeys(public_keys=args.new_key_bytes, threshold=args.threshold)
    if kind == "recover-account":
        return pb.RecoverAccount(
            account_id=args.account,
            public_keys=args.new_key_bytes,
            threshold=args.threshold,
            regulator=args.regulator,
            reason=args.reason,
        )
    if kind == "change-account":
        message = pb.ChangeAccount(account_id=args.account)
        if args.kyc_tier is not None:
            message.kyc_tier = args.kyc_tier
        if args.zone is not None:
            message.zone = pb.Zone.Value(args.zone)  # type: ignore[assignment]
        return message
    if kind == "publish-travel-key":
        return pb.PublishTravelKey(public_key=args.travel_public_key)
    if kind == "close-account":
        return pb.CloseAccount(
            account_id=args.account, sweep_to=args.sweep_to or "", legal_ref=args.legal_ref or ""
        )
    if kind == "rotate-validator-key":
        return pb.RotateValidatorKey(
            public_key=args.public_key_bytes,
            new_public_key=args.new_public_key_bytes,
            proof=bytes.fromhex(args.proof),
        )
    assert kind == "update-validator", kind
    return pb.UpdateValidator(public_key=args.public_key_bytes, power=args.power)


def _result_json(kind: str, result: SubmitResult) -> dict[str, Any]:
    doc: dict[str, Any] = {"kind": kind, "tx_id": result.tx_id, "status": result.status}
    if result.status == "committed":
        doc |= {"height": result.height, "index": result.index, "code": result.code}
        doc["message"] = result.message
    return doc


def cmd_tx(args: argparse.Namespace) -> int:
    url = _check_common(args)
    acting, amounts = _tx_plan(args)
    # A recovery is signed by the bank (--key) and the regulator (--regulator-key) alike.
    keys = _load_keys(
        [*args.key, *(getattr(args, "regulator_key", None) or [])], args.passphrase_env
    )
    return _with_api(args, url, lambda api: _submit(api, args, acting, amounts, keys))


async def _submit(
    api: TengeClient,
    args: argparse.Namespace,
    acting: str,
    amounts: list[_Amount],
    keys: list[KeyPair],
) -> int:
    converter = _Amounts(api)
    minor = [await converter.minor(a) for a in amounts]
    if args.kind == "propose":
        try:
            height = int((await api.status())["height"])
        except ApiError as e:
            raise _api_failure(e, "tx propose") from None
        args.expires_at_height = height + args.ttl
    if args.kind == "transfer" and args.travel_file is not None:
        from node._cli_travel import seal_for_leg  # it imports this module

        (payer, payee, _), *_ = _legs(args)
        args.travel_copies = await seal_for_leg(api, payer, payee, args.travel_file)
    message = _message(args, minor)
    try:
        result = await api.send(
            message, signer=acting, keys=keys, wait=args.wait, timeout_s=args.timeout
        )
    except ApiError as e:
        if e.tx_id and e.code not in _USAGE_CODES:
            refused = e.status == 400
            status = (
                "refused" if refused else ("pending" if e.code == "TIMEOUT" else "not admitted")
            )
            _print_json(
                {
                    "kind": args.kind,
                    "tx_id": e.tx_id,
                    "status": status,
                    "code": e.code,
                    "message": e.message,
                }
            )
            if refused:
                return EXIT_REFUSED
            raise _api_failure(e, f"tx {args.kind} {e.tx_id}") from None
        raise _api_failure(e, f"tx {args.kind}") from None
    _print_json(_result_json(args.kind, result))
    if result.status == "committed" and result.code != "OK":
        return EXIT_REFUSED
    return EXIT_OK


# ---- query ----


def cmd_query(args: argparse.Namespace) -> int:
    url = _check_common(args)
    what = args.what
    target = _query_target(what, args.id)
    if (args.after is not None or args.limit is not None) and what != "history":
        raise _usage("--after and --limit apply to query history only")
    payer = args.payer
    if payer is not None:
        if what != "payments":
            raise _usage("--payer applies to query payments only")
        payer = _account_id(payer, "--payer")

    async def work(api: TengeClient) -> int:
        try:
            if what == "payments":
                assert target is not None
                if payer is None:
                    doc: Any = {"payments": await api.payments(uetr=target)}
                else:
                    found = await api.payments(end_to_end_id=target, payer=payer)
                    doc = {"payments": found}
            else:
                doc = await _query(api, what, target, args.after, args.limit)
        except ApiError as e:
            raise _api_failure(e, f"query {what}") from None
        _print_json(doc)
        return EXIT_OK

    return _with_api(args, url, work)


_NEEDS_ID: Final = {
    "account": "ID",
    "history": "ID",
    "tx": "TX_ID",
    "payments": "UETR (or END_TO_END_ID with --payer)",
    "block": "HEIGHT",
    "asset": "CODE",
}


def _query_target(what: str, target: str | None) -> str | None:
    if what not in _NEEDS_ID:
        if target is not None:
            raise _usage(f"query {what} takes no argument (got {target[:40]!r})")
        return None
    if target is None:
        raise _usage(f"query {what} needs {_NEEDS_ID[what]}")
    if what in ("account", "history"):
        return _account_id(target, f"query {what}")
    if what == "asset":
        return _asset_code(target, "query asset")
    if what == "payments":
        return target  # the node judges a UETR or end-to-end id (400 INVALID_ARGUMENT)
    if what == "tx":
        if _TX_ID_RE.match(target) is None:
            raise _usage(f"query tx: {target[:80]!r} is not a tx id (64 hex characters)")
        return target.lower()
    if target != "latest" and (
        not target.isascii() or not target.isdigit() or not 1 <= int(target[:20]) < 2**63
    ):
        raise _usage(f"query block: {target[:40]!r} is not a height (1, 2, ...) or 'latest'")
    return target


async def _query(
    api: TengeClient, what: str, target: str | None, after: str | None, limit: int | None
) -> Any:
    if what == "status":
        return await api.status()
    if what == "validators":
        return await api.validators()
    if what == "rulebook":
        return await api.rulebook()
    assert target is not None
    if what == "account":
        return await api.account(target)
    if what == "tx":
        return await api.tx(target)
    if what == "asset":
        return await api.asset(target)
    if what == "block":
        return await api.block(None if target == "latest" else int(target))
    assert what == "history", what
    if after is not None or limit is not None:
        return await api.account_transactions(target, after=after, limit=limit)
    lines = [line async for line in api.statement(target, page_size=1000)]
    return {"account_id": target, "transactions": lines, "next": None}


# ---- parsers (their layout is node/_cli_parsers.py) ----


def add_operator_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``keys``, ``tx``, ``query`` and ``travel`` on the `tenge-node` subcommand
    parser."""
    from node._cli_travel import cmd_keys_travel_init, cmd_travel_open  # it imports this

    handlers = OperatorHandlers(
        keys_new=_guarded(cmd_keys_new),
        keys_show=_guarded(cmd_keys_show),
        person_ref=_guarded(cmd_person_ref),
        tx=_guarded(cmd_tx),
        query=_guarded(cmd_query),
        keys_travel_init=_guarded(cmd_keys_travel_init),
        travel_open=_guarded(cmd_travel_open),
    )
    add_operator_parsers(sub, handlers)
