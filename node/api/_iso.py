"""ISO 20022 in: the body of ``POST /v1/iso20022/pacs.008`` and ``/pacs.009`` and the
pacs.002 answer (docs/iso20022.md, "Messages in").

Rules this module keeps:

1. The body is ``{"message": XML_TEXT, "tx": BASE64}``: the message, and the signed
   TxEnvelope of the transfer it describes; or ``{"message", "body", "signatures"}``: the
   TxBody bytes that ``POST .../prepare`` built from the message, with the Ed25519
   signatures of its sign bytes (a core system that has no protobuf needs only these).
   The node reads the message under node/iso20022's rules, maps it to a Transfer, and
   admits the envelope only if its body is a transfer equal to that one (but for the
   legs' sealed travel copies, which the sender makes from the message's party data),
   signed by the debtor (ENVELOPE_MISMATCH otherwise): the message says what the bank
   meant, the signature who authorised it.
2. ``POST /v1/iso20022/pacs.008/prepare`` (and ``.009``) maps a message to the TxBody a
   debtor signs, with the travel-rule data sealed from the message's parties where the
   rulebook asks for it, and answers the body, its sign bytes and its tx id. The node
   saw the message in clear anyway; the sealed copies open only with the recipients' keys.
3. Every answer to a message that arrived whole is a pacs.002 (ACTC, ACSC or RJCT)
   in the JSON answer's ``pacs002`` field, beside ``status``, ``tx_id`` and, for a
   rejection, the API's error shape with the ISO ``reason``. HTTP-level problems (not
   JSON, a body too large) keep the plain error shape: there is no message to answer.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from google.protobuf.message import DecodeError
from starlette.responses import JSONResponse

from node.api import _errors as e
from node.api._requests import decode_base64, json_kind
from node.iso20022 import (
    PACS_008,
    PACS_009,
    PaymentMessage,
    payment_and_parties,
    payment_from_xml,
)
from node.iso20022._mapping import TRAVEL_DATA, without_travel_copies
from node.iso20022._refusal import IsoRefusal, OriginalMessage
from node.iso20022._status import (
    ACCEPTED,
    ENVELOPE_MISMATCH,
    MESSAGE_REASONS,
    NARRATIVE,
    REJECTED,
    SETTLED,
    status_reason,
    status_report,
)
from node.keys import TX_DOMAIN, sign_bytes
from node.ledger import KZT, Ledger, StateReader, amount_of, get_account, get_asset
from node.ledger import _travel as travel
from node.ledger._rulebook import Rules
from node.ledger.txbuild import TravelDataError, build_tx, seal_travel_data
from proto import ledger_pb2

#: The route's last path segment and the message version it takes.
ISO_MESSAGES: Final[dict[str, str]] = {"pacs.008": PACS_008, "pacs.009": PACS_009}


@dataclass(frozen=True)
class IsoSubmission:
    """A readable message and the envelope submitted with it."""

    payment: PaymentMessage
    envelope: bytes


#: The most signatures a submitted body may carry (a transfer's payers, m of n each).
MAX_SIGNATURES: Final = 64
#: The largest nonce and expiry height a prepared body takes (a signed 63-bit integer).
MAX_NONCE: Final = 2**63 - 1


def _json_object(body: bytes, shape: str) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise e.ApiProblem(400, e.INVALID_JSON, f"the body is not JSON; send {shape}") from None
    if not isinstance(doc, dict):
        raise e.bad_argument(f"the body must be a JSON object {shape}, not {json_kind(doc)}")
    return doc


def _text(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not value:
        raise e.bad_argument(f'"{name}" must be a non-empty string')
    return value


def decode_iso_body(body: bytes) -> tuple[bytes, bytes]:
    """The (message bytes, envelope bytes) of a ``{"message", "tx"}`` body, or of a
    ``{"message", "body", "signatures"}`` one (the envelope made of the two).

    Raises:
        ApiProblem: 400 INVALID_JSON, INVALID_ARGUMENT or INVALID_BASE64.
    """
    shape = '{"message": XML, "tx": BASE64} or {"message", "body", "signatures"}'
    doc = _json_object(body, shape)
    form = {"message", "tx"} if "tx" in doc else {"message", "body", "signatures"}
    unknown = sorted(set(doc) - form)
    if unknown:
        raise e.bad_argument(f"unknown field {unknown[0][:40]!r}; the body is {shape}")
    xml = _text(doc, "message").encode("utf-8", "surrogatepass")
    if "tx" in doc:
        return xml, decode_base64(_text(doc, "tx"), '"tx"')
    envelope = ledger_pb2.TxEnvelope(body=decode_base64(_text(doc, "body"), '"body"'))
    signatures = doc.get("signatures")
    if not isinstance(signatures, list) or not 1 <= len(signatures) <= MAX_SIGNATURES:
        raise e.bad_argument(f'"signatures" must be a list of 1 to {MAX_SIGNATURES} objects')
    for i, item in enumerate(signatures):
        where = f"signatures[{i}]"
        if not isinstance(item, dict) or set(item) != {"public_key", "signature"}:
            raise e.bad_argument(f'{where} must be {{"public_key": HEX, "signature": HEX}}')
        key = _hex(item["public_key"], f"{where}.public_key", 32)
        signature = _hex(item["signature"], f"{where}.signature", 64)
        envelope.signatures.add(public_key=key, signature=signature)
    return xml, envelope.SerializeToString()


def _hex(value: object, where: str, size: int) -> bytes:
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != size:
        raise e.bad_argument(f"{where} must be {size} bytes as {2 * size} hex characters")
    return raw


def decode_prepare_body(body: bytes, height: int, max_ttl: int) -> tuple[bytes, int, int]:
    """The (message bytes, nonce, expires_at_height) of a prepare request; the nonce is
    random and the expiry min(100, max_ttl) blocks above height unless given.

    Raises:
        ApiProblem: 400 INVALID_JSON or INVALID_ARGUMENT.
    """
    shape = '{"message": XML, "nonce"?: N, "expires_at_height"?: H}'
    doc = _json_object(body, shape)
    unknown = sorted(set(doc) - {"message", "nonce", "expires_at_height"})
    if unknown:
        raise e.bad_argument(f"unknown field {unknown[0][:40]!r}; the body is {shape}")
    xml = _text(doc, "message").encode("utf-8", "surrogatepass")
    nonce = _int(doc, "nonce", 0, MAX_NONCE, secrets.randbits(63))
    # Any expiry is built as asked: the ledger judges it (EXPIRED, TTL_TOO_LONG) when the
    # signed body is submitted, as it judges every other field.
    expires = _int(doc, "expires_at_height", 1, MAX_NONCE, height + min(100, max_ttl))
    return xml, nonce, expires


def _int(doc: dict[str, Any], name: str, low: int, high: int, default: int) -> int:
    if name not in doc:
        return default
    value = doc[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise e.bad_argument(f'"{name}" must be an integer from {low} to {high}')
    return value


def prepare_transfer(
    message: str,
    xml: bytes,
    ledger: Ledger,
    state: StateReader,
    chain_id: str,
    *,
    next_height: int,
    nonce: int,
    expires_at_height: int,
) -> dict[str, Any]:
    """The TxBody a message's debtor signs, with travel copies where the rulebook of
    next_height requires them: ``body`` (base64), ``sign_bytes`` and ``tx_id`` (hex),
    ``signers`` (the accounts whose keys must sign), ``nonce``, ``expires_at_height``.

    Raises:
        IsoRefusal: the message is refused, or its travel data cannot be sealed
            (TRAVEL_DATA, or NO_TRAVEL_KEY for a recipient without a published key).
    """
    payment, parties = payment_and_parties(xml, message, asset_decimals(state))
    transfer = payment.transfer
    rules = ledger.rules_at(next_height)
    try:
        for leg, party in zip(transfer.legs, parties, strict=True):
            _seal(state, rules, leg, party)
    except IsoRefusal as refusal:
        refusal.original = payment.original
        raise
    body = build_tx(
        chain_id, payment.signer, transfer, nonce=nonce, expires_at_height=expires_at_height
    )
    return {
        "body": base64.b64encode(body).decode(),
        "sign_bytes": sign_bytes(TX_DOMAIN, chain_id, body).hex(),
        "tx_id": hashlib.sha256(body).hexdigest(),
        "signers": list(dict.fromkeys(leg.payer for leg in transfer.legs)),
        "nonce": nonce,
        "expires_at_height": expires_at_height,
    }


def _seal(
    state: StateReader,
    rules: Rules,
    leg: ledger_pb2.TransferLeg,
    party: ledger_pb2.TravelRuleData,
) -> None:
    """Add leg's sealed travel copies when the rulebook requires them (none otherwise)."""
    kzt_value = amount_of(leg) if leg.asset == KZT else None
    if not travel.required(rules, leg.asset, kzt_value):
        return
    payer, payee = get_account(state, leg.payer), get_account(state, leg.payee)
    if payer is None or payee is None:
        return  # the ledger refuses the leg with its own code
    try:
        found = travel.travel_recipients(state, payer, payee)
    except ValueError as err:
        raise IsoRefusal(
            "NO_TRAVEL_KEY", status_reason(ledger_pb2.NO_TRAVEL_KEY), str(err)
        ) from None
    missing = [account for account, _, key in found if not key]
    if missing:
        raise IsoRefusal(
            "NO_TRAVEL_KEY",
            status_reason(ledger_pb2.NO_TRAVEL_KEY),
            f"{missing[0]!r} has published no travel key; the leg's travel-rule data "
            "cannot be sealed",
        )
    try:
        leg.travel_copies.extend(seal_travel_data(party, {a: k for a, _, k in found}))
    except TravelDataError as err:
        raise IsoRefusal(TRAVEL_DATA, MESSAGE_REASONS[TRAVEL_DATA], str(err)) from None


def asset_decimals(state: StateReader) -> Callable[[str], int | None]:
    """The decimals of a registered asset by its code, None for none (for the mapping)."""

    def decimals_of(code: str) -> int | None:
        asset = get_asset(state, code)
        return None if asset is None else int(asset.decimals)

    return decimals_of


def read_submission(message: str, xml: bytes, envelope: bytes, state: StateReader) -> IsoSubmission:
    """The message read and mapped, and the envelope checked against it.

    Raises:
        IsoRefusal: the message is refused (its code and reason), or the envelope does not
            carry the transfer the message describes (ENVELOPE_MISMATCH).
    """
    payment = payment_from_xml(xml, message, asset_decimals(state))
    try:
        _check_envelope(payment, envelope)
    except IsoRefusal as refusal:
        refusal.original = payment.original
        raise
    return IsoSubmission(payment, envelope)


def _check_envelope(payment: PaymentMessage, envelope: bytes) -> None:
    body = _envelope_body(envelope)
    if body is None or body.WhichOneof("kind") != "transfer":
        raise IsoRefusal(
            ENVELOPE_MISMATCH,
            NARRATIVE,
            "tx is not a signed transfer (a TxEnvelope whose body is one)",
        )
    if without_travel_copies(body.transfer) != payment.transfer:
        raise IsoRefusal(
            ENVELOPE_MISMATCH,
            NARRATIVE,
            "the signed transfer is not the one the message describes (build it from the "
            "message with the client or the CLI)",
        )
    if body.signer != payment.signer:
        raise IsoRefusal(
            ENVELOPE_MISMATCH,
            NARRATIVE,
            f"the transaction's signer is {body.signer[:64]!r}; the message's debtor is "
            f"{payment.signer!r}",
        )


def _envelope_body(envelope: bytes) -> ledger_pb2.TxBody | None:
    try:
        outer = ledger_pb2.TxEnvelope.FromString(envelope)
        return ledger_pb2.TxBody.FromString(outer.body)
    except DecodeError:
        return None


def iso_answer(
    *,
    message: str,
    original: OriginalMessage | None,
    status: str,
    http_status: int,
    tx_id: str = "",
    code: str = "",
    reason: str = "",
    text: str = "",
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The JSON answer with its pacs.002: accepted, settled or rejected."""
    detail = f"{code}: {text}" if code else ""
    report = status_report(
        message=message,
        original=original,
        status=status,
        created=datetime.now(UTC),
        reason=reason,
        detail=detail,
    )
    doc: dict[str, Any] = {"status": status, "pacs002": report.decode("utf-8")}
    if tx_id:
        doc["tx_id"] = tx_id
    if status == REJECTED:
        error: dict[str, Any] = {"code": code, "message": text, "reason": reason}
        if tx_id:
            error["tx_id"] = tx_id
        error.update(extra or {})
        doc["error"] = error
    else:
        doc.update(extra or {})
    return JSONResponse(doc, status_code=http_status, headers=headers)


__all__ = [
    "ACCEPTED",
    "ISO_MESSAGES",
    "REJECTED",
    "SETTLED",
    "IsoRefusal",
    "IsoSubmission",
    "OriginalMessage",
    "asset_decimals",
    "decode_iso_body",
    "decode_prepare_body",
    "iso_answer",
    "prepare_transfer",
    "read_submission",
]
