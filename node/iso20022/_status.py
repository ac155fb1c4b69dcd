"""pacs.002: the status of a submitted pacs.008 or pacs.009, and the ISO 20022 reason
code of every refusal.

Rules this module keeps:

1. Every message the node takes in gets one pacs.002: ACTC (accepted after technical
   validation: in the mempool), ACSC (settled: committed with code OK) or RJCT.
2. A RJCT always carries a reason code (``StsRsnInf/Rsn/Cd``, an ExternalStatusReason1Code)
   and, in ``AddtlInf``, our own stable code and its sentence, cut to 105 characters.
3. `STATUS_REASONS` maps every ledger ResultCode to a reason (a test checks that it covers
   the whole enum and that docs/iso20022.md shows the same table). Codes no transfer can
   produce map to NARR (narrative: the reason is in AddtlInf).
4. Every pacs.002 is validated against the vendored pacs.002 XSD before it leaves; the
   builder is pure (the creation time comes in).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from lxml import etree

from node.iso20022._mapping import MAPPING_REASONS
from node.iso20022._refusal import IsoRefusal, OriginalMessage, OriginalTransaction
from node.iso20022._schemas import PACS_002, namespace, schema
from node.iso20022._xml import (
    INVALID_FILE_FORMAT,
    XML_FORBIDDEN,
    XML_MALFORMED,
    XML_SCHEMA_INVALID,
    XML_TOO_LARGE,
)
from proto import ledger_pb2 as pb

ACCEPTED: Final = "ACTC"  # AcceptedTechnicalValidation
SETTLED: Final = "ACSC"  # AcceptedSettlementCompleted
REJECTED: Final = "RJCT"  # Rejected

#: Our API-level code for a transaction that is not the one the message describes.
ENVELOPE_MISMATCH: Final = "ENVELOPE_MISMATCH"
NARRATIVE: Final = "NARR"
_MAX_ADDITIONAL: Final = 105

#: The ISO 20022 external status reason of each ledger result code.
STATUS_REASONS: Final[dict[int, str]] = {
    pb.MALFORMED: "FF01",  # InvalidFileFormat
    pb.TX_TOO_LARGE: "FF01",
    pb.WRONG_CHAIN_ID: "FF01",
    pb.MISSING_SIGNATURE: "DS0A",  # DataSignRequested
    pb.INVALID_SIGNATURE: "DS0B",  # UnknownDataSignFormat (a signature that does not verify)
    pb.EXTRA_SIGNATURE: "DS0B",
    pb.EXPIRED: "TM01",  # InvalidCutOffTime
    pb.TTL_TOO_LONG: "CH03",  # RequestedExecutionDateTooFarInFuture
    pb.DUPLICATE: "AM05",  # Duplication
    pb.INVALID_AMOUNT: "AM01",  # ZeroAmount
    pb.AMOUNT_OVERFLOW: "AM12",  # InvalidAmount
    pb.UNKNOWN_ACCOUNT: "AC01",  # IncorrectAccountNumber
    pb.UNKNOWN_ASSET: "AM03",  # NotAllowedCurrency
    pb.INVALID_ACCOUNT_ID: "AC01",
    pb.ACCOUNT_EXISTS: NARRATIVE,
    pb.ASSET_EXISTS: NARRATIVE,
    pb.UNAUTHORIZED: "AG01",  # TransactionForbidden
    pb.INSUFFICIENT_FUNDS: "AM04",  # InsufficientFunds
    pb.FROZEN: "AC06",  # BlockedAccount
    pb.NOT_FROZEN: NARRATIVE,
    pb.ASSET_NOT_ALLOWED: "AM03",
    pb.LIMIT_PER_PAYMENT: "AM02",  # NotAllowedAmount
    pb.LIMIT_DAILY: "AM21",  # LimitExceeded
    pb.LIMIT_HOLDING_CAP: "AM02",
    pb.INVALID_FIELD: "CH16",  # ElementContentFormallyIncorrect
    pb.INVALID_VALIDATOR: NARRATIVE,
    pb.MEMPOOL_FULL: "MS03",  # NotSpecifiedReasonAgentGenerated (busy: retry later)
    pb.VALIDATOR_SET_LIMIT: NARRATIVE,
    pb.PENDING_FUNDS_EXCEEDED: "AM04",
    pb.PENDING_TXS_EXCEEDED: "MS03",
    pb.PEER_SHARE_EXCEEDED: "MS03",
    pb.TWO_TIER_RULE: "RR04",  # RegulatoryReason
    pb.ZONE_BANNED: "RR04",
    pb.PURPOSE_NOT_ALLOWED: "RR04",
    pb.NO_REFERENCE_RATE: "RR04",
    pb.UNKNOWN_KYC_TIER: "RR04",
    pb.ASSET_KIND_NOT_IN_RULEBOOK: "RR04",
    pb.GOVERNANCE_REQUIRED: "AG01",
    pb.UNKNOWN_PROPOSAL: NARRATIVE,
    pb.PROPOSAL_CLOSED: NARRATIVE,
    pb.ALREADY_APPROVED: NARRATIVE,
    pb.NO_LICENCE: "RR04",
    pb.LICENCE_SCOPE: "RR04",
    pb.INVALID_PERSON_REF: NARRATIVE,
    pb.PERSON_ACCOUNTS_EXCEEDED: NARRATIVE,
    pb.ACCOUNT_CLOSED: "AC04",  # ClosedAccountNumber
    pb.BALANCE_NOT_ZERO: NARRATIVE,
    pb.THRESHOLD_TOO_LOW: NARRATIVE,
    pb.RESERVE_OUTFLOW: "RR04",
    pb.INFLOW_KIND_REQUIRED: "RR04",
    pb.INVALID_COURT_ORDER: NARRATIVE,
    pb.UNBACKED_AMOUNT: "AM12",
    pb.NOT_REGISTRAR: "AG01",
    pb.INVALID_END_TO_END_ID: "FF08",  # InvalidEndToEndId
    pb.INVALID_UETR: "CH16",
    pb.INVALID_PURPOSE_CODE: "FF07",  # InvalidPurpose
    pb.INVALID_REMITTANCE: "RR07",  # RemittanceInformationInvalid
    pb.TRAVEL_RULE_REQUIRED: "RR05",  # RegulatoryInformationInvalid (missing or incomplete)
    pb.INVALID_TRAVEL_RULE: "RR05",
    pb.NO_TRAVEL_KEY: "RR04",  # RegulatoryReason
}


#: The ISO 20022 reason of each refusal of a message before the ledger judges it: our
#: codes for the XML, for the mapping, and for an envelope that is not the message's.
MESSAGE_REASONS: Final[dict[str, str]] = {
    XML_TOO_LARGE: INVALID_FILE_FORMAT,
    XML_MALFORMED: INVALID_FILE_FORMAT,
    XML_FORBIDDEN: INVALID_FILE_FORMAT,
    XML_SCHEMA_INVALID: INVALID_FILE_FORMAT,
    **MAPPING_REASONS,
    ENVELOPE_MISMATCH: NARRATIVE,
}


def status_reason(code: int) -> str:
    """The ISO reason of a ledger result code (NARR for one this table lacks)."""
    return STATUS_REASONS.get(code, NARRATIVE)


def status_report(
    *,
    message: str,
    original: OriginalMessage | None,
    status: str,
    created: datetime,
    reason: str = "",
    detail: str = "",
) -> bytes:
    """The pacs.002 of one submitted message, validated against its XSD.

    Args:
        message: the original message's version ("pacs.008.001.08").
        original: its GrpHdr/MsgId and its transactions' ids (one TxInfAndSts each), or
            None when it could not be read (then the report has no OrgnlGrpInfAndSts and
            one TxInfAndSts without original ids).
        status: ACCEPTED, SETTLED or REJECTED (every transaction shares it: the ledger
            settles a message's legs together or not at all).
        created: the report's CreDtTm (an aware datetime).
        reason: the ISO reason code; required with REJECTED.
        detail: our code and sentence, for AddtlInf.
    """
    if status == REJECTED and not reason:
        raise ValueError("a rejection needs a reason code")
    m = f"{{{namespace(PACS_002)}}}"
    document = etree.Element(m + "Document", nsmap={None: namespace(PACS_002)})
    report = etree.SubElement(document, m + "FIToFIPmtStsRpt")
    header = etree.SubElement(report, m + "GrpHdr")
    message_id = "" if original is None else original.message_id
    seed = f"{message}|{message_id}|{status}|{created.isoformat()}|{detail}"
    _text(header, m + "MsgId", "STS" + hashlib.sha256(seed.encode()).hexdigest()[:32])
    _text(header, m + "CreDtTm", created.isoformat(timespec="milliseconds"))
    if original is not None:
        group = etree.SubElement(report, m + "OrgnlGrpInfAndSts")
        _text(group, m + "OrgnlMsgId", message_id)
        _text(group, m + "OrgnlMsgNmId", message)
        _text(group, m + "GrpSts", status)
    transactions = (OriginalTransaction("", ""),) if original is None else original.transactions
    for each in transactions:
        tx = etree.SubElement(report, m + "TxInfAndSts")
        if each.end_to_end_id:
            _text(tx, m + "OrgnlEndToEndId", each.end_to_end_id)
        if each.tx_id:
            _text(tx, m + "OrgnlTxId", each.tx_id)
        _text(tx, m + "TxSts", status)
        if status == REJECTED:
            info = etree.SubElement(tx, m + "StsRsnInf")
            _text(etree.SubElement(info, m + "Rsn"), m + "Cd", reason)
            if detail:
                _text(info, m + "AddtlInf", detail[:_MAX_ADDITIONAL])
    schema(PACS_002).validate(document)
    data: bytes = etree.tostring(document, xml_declaration=True, encoding="UTF-8")
    return data


def _text(parent: etree._Element, tag: str, text: str) -> None:
    etree.SubElement(parent, tag).text = text


@dataclass(frozen=True)
class IsoResult:
    """The node's answer to an ISO 20022 message, as a client reads it.

    Attributes:
        status: ACCEPTED, SETTLED or REJECTED.
        pacs002: the pacs.002 document (UTF-8 XML).
        tx_id: hex of the transaction id ("" when refused before one was formed).
        code: with REJECTED, our code (a ledger ResultCode name or a message code).
        reason: with REJECTED, the ISO reason code.
        message: with REJECTED, the sentence.
        height: where it was committed (None unless waited for and committed).
    """

    status: str
    pacs002: bytes
    tx_id: str = ""
    code: str = ""
    reason: str = ""
    message: str = ""
    height: int | None = None

    @classmethod
    def from_answer(cls, doc: dict[str, Any]) -> IsoResult:
        """From the JSON answer of POST /v1/iso20022/...: the fields it has."""
        error = doc.get("error") if doc.get("status") == REJECTED else None
        error = error if isinstance(error, dict) else {}
        return cls(
            status=str(doc["status"]),
            pacs002=str(doc["pacs002"]).encode("utf-8"),
            tx_id=str(doc.get("tx_id", "")),
            code=str(error.get("code", "")),
            reason=str(error.get("reason", "")),
            message=str(error.get("message", "")),
            height=doc.get("height"),
        )

    @classmethod
    def refused_here(cls, message: str, refusal: IsoRefusal) -> IsoResult:
        """The RJCT of a message refused before it was sent (read or mapped by the client)."""
        report = status_report(
            message=message,
            original=refusal.original,
            status=REJECTED,
            created=datetime.now(UTC),
            reason=refusal.reason,
            detail=f"{refusal.code}: {refusal.message}",
        )
        return cls(REJECTED, report, "", refusal.code, refusal.reason, refusal.message)
