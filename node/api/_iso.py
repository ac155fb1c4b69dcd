"""ISO 20022 in: the body of ``POST /v1/iso20022/pacs.008`` and ``/pacs.009`` and the
pacs.002 answer (docs/iso20022.md, "Messages in").

Rules this module keeps:

1. The body is ``{"message": XML_TEXT, "tx": BASE64}``: the message, and the signed
   TxEnvelope of the transfer it describes. The node reads the message under
   node/iso20022's rules, maps it to a Transfer, and admits the envelope only if its
   body is a transfer equal to that one (but for the legs' sealed travel copies, which
   the sender makes from the message's party data), signed by the debtor
   (ENVELOPE_MISMATCH otherwise): the message says what the bank meant, the signature
   who authorised it.
2. Every answer to a message that arrived whole is a pacs.002 (ACTC, ACSC or RJCT)
   in the JSON answer's ``pacs002`` field, beside ``status``, ``tx_id`` and, for a
   rejection, the API's error shape with the ISO ``reason``. HTTP-level problems (not
   JSON, a body too large) keep the plain error shape: there is no message to answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from google.protobuf.message import DecodeError
from starlette.responses import JSONResponse

from node.api import _errors as e
from node.api._requests import decode_base64, json_kind
from node.iso20022 import PACS_008, PACS_009, PaymentMessage, payment_from_xml
from node.iso20022._mapping import without_travel_copies
from node.iso20022._refusal import IsoRefusal, OriginalMessage
from node.iso20022._status import (
    ACCEPTED,
    ENVELOPE_MISMATCH,
    NARRATIVE,
    REJECTED,
    SETTLED,
    status_report,
)
from node.ledger import StateReader, get_asset
from proto import ledger_pb2

#: The route's last path segment and the message version it takes.
ISO_MESSAGES: Final[dict[str, str]] = {"pacs.008": PACS_008, "pacs.009": PACS_009}


@dataclass(frozen=True)
class IsoSubmission:
    """A readable message and the envelope submitted with it."""

    payment: PaymentMessage
    envelope: bytes


def decode_iso_body(body: bytes) -> tuple[bytes, bytes]:
    """The (message bytes, envelope bytes) of a ``{"message": ..., "tx": ...}`` body.

    Raises:
        ApiProblem: 400 INVALID_JSON, INVALID_ARGUMENT or INVALID_BASE64.
    """
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise e.ApiProblem(
            400, e.INVALID_JSON, 'the body is not JSON; send {"message": XML, "tx": BASE64}'
        ) from None
    if not isinstance(doc, dict):
        raise e.bad_argument(f"the body must be a JSON object, not {json_kind(doc)}")
    unknown = sorted(set(doc) - {"message", "tx"})
    if unknown:
        raise e.bad_argument(f"unknown field {unknown[0][:40]!r}; the body is {{message, tx}}")
    for name in ("message", "tx"):
        if not isinstance(doc.get(name), str) or not doc[name]:
            raise e.bad_argument(f'"{name}" must be a non-empty string')
    return doc["message"].encode("utf-8", "surrogatepass"), decode_base64(doc["tx"], '"tx"')


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
    "iso_answer",
    "read_submission",
]
