"""camt.053 statements and camt.054 notifications out of ledger entries (docs/iso20022.md).

Pure builders: the caller gathers the entries and balances (node/api/_statements.py);
nothing here reads a store or a clock.

Rules this module keeps:

1. Every document is validated against its vendored XSD before it is returned; a document
   that fails is a bug of this module (`CamtInvalid`), never sent.
2. Nothing is rounded or shortened to fit: an asset with no ISO currency, an amount of more
   digits than an ISO amount holds, or an account id longer than ``Othr/Id``'s 34
   characters raises `NotRepresentable` naming it, and no document is made.
3. Every time in a document is a block time (UTC): ``CreDtTm`` is the time of the last
   block the document covers, so the same request gives the same bytes.
4. One ``Stmt`` per asset (each with its ``Acct/Ccy``, OPBD and CLBD balances, entries);
   one ``Ntfctn`` per notification, its entries of any currency.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from lxml import etree

from node.iso20022._money import NotRepresentable, amount_text, iso_currency
from node.iso20022._schemas import CAMT_053, CAMT_054, namespace, schema

#: ``GenericAccountIdentification1/Id`` is Max34Text.
MAX_ACCOUNT_ID_CHARS: Final = 34
NOT_PROVIDED: Final = "NOTPROVIDED"
#: Who issues our proprietary bank transaction codes (``BkTxCd/Prtry/Issr``).
CODE_ISSUER: Final = "tenge-node"
#: Hex characters of the tx id in ``AcctSvcrRef`` (Max35Text cannot hold all 64; the whole
#: id is in ``AddtlNtryInf``).
REF_HEX_CHARS: Final = 28
#: ISO bank transaction codes of a transfer leg: PMNT (payments), received or issued
#: credit transfers, domestic (DMCT).
_TRANSFER_CODES: Final = {True: ("PMNT", "RCDT", "DMCT"), False: ("PMNT", "ICDT", "DMCT")}


class CamtInvalid(RuntimeError):
    """A document this module built does not validate against its schema (a bug)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One booked movement of one account's balance of one asset.

    Attributes:
        tx_id: the transaction.
        leg: the transfer leg (its index), or None for a movement of the whole transaction.
        height: the block.
        time_ms: the block time (Unix ms, UTC).
        asset: the asset code; decimals: its decimals.
        amount: minor units, positive for a credit to the account, negative for a debit.
        kind: the transaction kind (``transfer``, ``issue``, ``redeem``, ``seize``,
            ``close_account``...), the proprietary bank transaction code of a non-transfer.
        debtor, creditor: the paying and receiving account ids ("" when there is none).
        end_to_end_id, uetr, purpose_code, unstructured, creditor_reference,
        creditor_reference_type: the leg's payment ids (docs/iso20022.md), "" when absent.
    """

    tx_id: bytes
    leg: int | None
    height: int
    time_ms: int
    asset: str
    decimals: int
    amount: int
    kind: str
    debtor: str = ""
    creditor: str = ""
    end_to_end_id: str = ""
    uetr: str = ""
    purpose_code: str = ""
    unstructured: str = ""
    creditor_reference: str = ""
    creditor_reference_type: str = ""

    @property
    def reference(self) -> str:
        """``AcctSvcrRef``: the tx id's first hex characters, and ``/`` leg."""
        head = self.tx_id.hex()[:REF_HEX_CHARS]
        return head if self.leg is None else f"{head}/{self.leg}"


@dataclass(frozen=True, slots=True)
class AssetStatement:
    """One asset of a statement: booked balances at both ends and the entries between.

    opening: the balance at the end of the height before the range; closing: at the end
    of its last height (minor units, never negative).
    """

    asset: str
    decimals: int
    opening: int
    closing: int
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class Period:
    """The heights a document covers and their block times (Unix ms, UTC)."""

    from_height: int
    to_height: int
    from_time_ms: int
    to_time_ms: int


def camt053_statement(account_id: str, period: Period, assets: Sequence[AssetStatement]) -> bytes:
    """A camt.053.001.08 ``BkToCstmrStmt`` of one account over period: one ``Stmt`` per
    asset, validated.

    Raises:
        NotRepresentable: an asset, amount or the account id has no ISO form (rule 2).
        CamtInvalid: the document fails its schema (a bug).
    """
    account = _account_text(account_id)
    ns = namespace(CAMT_053)
    msg_id = _message_id("S", account_id, period.from_height, period.to_height)
    root = etree.Element(f"{{{ns}}}Document", nsmap={None: ns})
    body = _sub(root, ns, "BkToCstmrStmt")
    _group_header(body, ns, msg_id, period.to_time_ms)
    for statement in assets:
        currency = iso_currency(statement.asset)
        stmt = _sub(body, ns, "Stmt")
        _text(stmt, ns, "Id", f"{msg_id}-{currency}")
        _text(stmt, ns, "CreDtTm", _date_time(period.to_time_ms))
        span = _sub(stmt, ns, "FrToDt")
        _text(span, ns, "FrDtTm", _date_time(period.from_time_ms))
        _text(span, ns, "ToDtTm", _date_time(period.to_time_ms))
        _account(stmt, ns, "Acct", account, currency)
        for code, value, time_ms in (
            ("OPBD", statement.opening, period.from_time_ms),
            ("CLBD", statement.closing, period.to_time_ms),
        ):
            bal = _sub(stmt, ns, "Bal")
            _text(_sub(_sub(bal, ns, "Tp"), ns, "CdOrPrtry"), ns, "Cd", code)
            _amount(bal, ns, value, statement.decimals, currency)
            _text(bal, ns, "CdtDbtInd", "CRDT" if value >= 0 else "DBIT")
            _text(_sub(bal, ns, "Dt"), ns, "Dt", _date(time_ms))
        for entry in statement.entries:
            _entry(stmt, ns, entry)
    return _validated(root, CAMT_053)


def camt054_notification(account_id: str, period: Period, entries: Sequence[Entry]) -> bytes:
    """A camt.054.001.08 ``BkToCstmrDbtCdtNtfctn`` of entries of one account (one
    ``Ntfctn``), validated.

    Raises:
        NotRepresentable: an asset, amount or the account id has no ISO form (rule 2).
        CamtInvalid: the document fails its schema (a bug).
    """
    account = _account_text(account_id)
    ns = namespace(CAMT_054)
    msg_id = _message_id("N", account_id, period.from_height, period.to_height)
    root = etree.Element(f"{{{ns}}}Document", nsmap={None: ns})
    body = _sub(root, ns, "BkToCstmrDbtCdtNtfctn")
    _group_header(body, ns, msg_id, period.to_time_ms)
    note = _sub(body, ns, "Ntfctn")
    _text(note, ns, "Id", msg_id)
    _text(note, ns, "CreDtTm", _date_time(period.to_time_ms))
    span = _sub(note, ns, "FrToDt")
    _text(span, ns, "FrDtTm", _date_time(period.from_time_ms))
    _text(span, ns, "ToDtTm", _date_time(period.to_time_ms))
    _account(note, ns, "Acct", account, None)
    for entry in entries:
        _entry(note, ns, entry)
    return _validated(root, CAMT_054)


# ---- pieces ----


def _entry(parent: etree._Element, ns: str, entry: Entry) -> None:
    currency = iso_currency(entry.asset)
    credit = entry.amount >= 0
    ntry = _sub(parent, ns, "Ntry")
    _amount(ntry, ns, abs(entry.amount), entry.decimals, currency)
    _text(ntry, ns, "CdtDbtInd", "CRDT" if credit else "DBIT")
    _text(_sub(ntry, ns, "Sts"), ns, "Cd", "BOOK")
    _text(_sub(ntry, ns, "BookgDt"), ns, "DtTm", _date_time(entry.time_ms))
    _text(_sub(ntry, ns, "ValDt"), ns, "DtTm", _date_time(entry.time_ms))
    _text(ntry, ns, "AcctSvcrRef", entry.reference)
    _bank_code(ntry, ns, entry, credit)
    tx = _sub(_sub(ntry, ns, "NtryDtls"), ns, "TxDtls")
    refs = _sub(tx, ns, "Refs")
    _text(refs, ns, "AcctSvcrRef", entry.reference)
    _text(refs, ns, "EndToEndId", entry.end_to_end_id or NOT_PROVIDED)
    if entry.uetr:
        _text(refs, ns, "UETR", entry.uetr)
    _amount(tx, ns, abs(entry.amount), entry.decimals, currency)
    _text(tx, ns, "CdtDbtInd", "CRDT" if credit else "DBIT")
    if entry.debtor or entry.creditor:
        parties = _sub(tx, ns, "RltdPties")
        if entry.debtor:
            _account(parties, ns, "DbtrAcct", _account_text(entry.debtor), None)
        if entry.creditor:
            _account(parties, ns, "CdtrAcct", _account_text(entry.creditor), None)
    if entry.purpose_code:
        _text(_sub(tx, ns, "Purp"), ns, "Cd", entry.purpose_code)
    if entry.unstructured or entry.creditor_reference:
        rmt = _sub(tx, ns, "RmtInf")
        if entry.unstructured:
            _text(rmt, ns, "Ustrd", entry.unstructured)
        if entry.creditor_reference:
            ref = _sub(_sub(rmt, ns, "Strd"), ns, "CdtrRefInf")
            if entry.creditor_reference_type:
                kind = _sub(_sub(ref, ns, "Tp"), ns, "CdOrPrtry")
                _text(kind, ns, "Cd", entry.creditor_reference_type)
            _text(ref, ns, "Ref", entry.creditor_reference)
    leg = "" if entry.leg is None else f" leg {entry.leg}"
    _text(
        ntry, ns, "AddtlNtryInf", f"{entry.kind} tx {entry.tx_id.hex()}{leg} height {entry.height}"
    )


def _bank_code(ntry: etree._Element, ns: str, entry: Entry, credit: bool) -> None:
    """``BkTxCd``: the ISO domain and family of a transfer leg, our own code otherwise."""
    code = _sub(ntry, ns, "BkTxCd")
    if entry.kind == "transfer":
        domain_code, family_code, sub_family = _TRANSFER_CODES[credit]
        domain = _sub(code, ns, "Domn")
        _text(domain, ns, "Cd", domain_code)
        family = _sub(domain, ns, "Fmly")
        _text(family, ns, "Cd", family_code)
        _text(family, ns, "SubFmlyCd", sub_family)
    else:
        own = _sub(code, ns, "Prtry")
        _text(own, ns, "Cd", entry.kind.upper())
        _text(own, ns, "Issr", CODE_ISSUER)


def _group_header(parent: etree._Element, ns: str, msg_id: str, time_ms: int) -> None:
    header = _sub(parent, ns, "GrpHdr")
    _text(header, ns, "MsgId", msg_id)
    _text(header, ns, "CreDtTm", _date_time(time_ms))


def _account(
    parent: etree._Element, ns: str, tag: str, account_id: str, currency: str | None
) -> None:
    account = _sub(parent, ns, tag)
    _text(_sub(_sub(account, ns, "Id"), ns, "Othr"), ns, "Id", account_id)
    if currency is not None:
        _text(account, ns, "Ccy", currency)


def _amount(parent: etree._Element, ns: str, value: int, decimals: int, currency: str) -> None:
    _text(parent, ns, "Amt", amount_text(value, decimals)).set("Ccy", currency)


def _account_text(account_id: str) -> str:
    if len(account_id) > MAX_ACCOUNT_ID_CHARS:
        raise NotRepresentable(
            f"account {account_id!r} is longer than the {MAX_ACCOUNT_ID_CHARS} characters "
            "of an ISO 20022 account identification (Othr/Id)"
        )
    return account_id


def _message_id(kind: str, account_id: str, from_height: int, to_height: int) -> str:
    """A MsgId that the same account and heights always get: 31 characters, so that a
    statement's ``Stmt/Id`` (MsgId, ``-``, currency) stays within Max35Text."""
    digest = hashlib.sha256(f"{kind}/{account_id}/{from_height}/{to_height}".encode()).hexdigest()
    return f"{kind}{to_height}-{digest}"[:31]


def _date_time(time_ms: int) -> str:
    moment = datetime.fromtimestamp(time_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{time_ms % 1000:03d}Z"


def _date(time_ms: int) -> str:
    return datetime.fromtimestamp(time_ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def _sub(parent: etree._Element, ns: str, tag: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{ns}}}{tag}")


def _text(parent: etree._Element, ns: str, tag: str, text: str) -> etree._Element:
    element = _sub(parent, ns, tag)
    element.text = text
    return element


def _validated(root: etree._Element, message: str) -> bytes:
    errors = list(schema(message).iter_errors(root))
    if errors:
        raise CamtInvalid(
            f"a {message} document fails its schema at {errors[0].path}: {errors[0].reason}"
        )
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return data


__all__ = [
    "AssetStatement",
    "CamtInvalid",
    "Entry",
    "NotRepresentable",
    "Period",
    "camt053_statement",
    "camt054_notification",
]
