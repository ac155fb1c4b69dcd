"""pacs.008 and pacs.009 to the ledger's Transfer: one leg per credit transfer
transaction (docs/iso20022.md, "Messages in", gives the table field by field).

Rules this module keeps:

1. It reads only a document that `read_message` has validated against its schema, so
   every element it finds has the published type; what the schema leaves optional but
   the ledger needs (the debtor's and creditor's accounts) is checked here.
2. Nothing is rounded, truncated or silently dropped from what the ledger records: an
   amount with more decimals than its asset, a second unstructured remittance line or a
   structured remittance part other than the creditor reference is refused with its code,
   not cut down. Party data (names, addresses, ids of the debtor and creditor) is not
   recorded at all: personal data never goes in clear on the ledger.
3. The same function serves the node (to check that a submitted transaction is the one
   the message describes) and the client (to build that transaction), so the two cannot
   differ.
4. Pure: the asset decimals come in as a function; no store, no clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from lxml import etree

from node.iso20022._money import AmountError, minor_units
from node.iso20022._refusal import IsoRefusal, OriginalMessage, OriginalTransaction
from node.iso20022._schemas import PACS_009, namespace
from node.ledger._amounts import set_amount
from node.ledger._rules import MAX_LEGS
from proto import ledger_pb2 as pb

#: EndToEndId is mandatory in a pacs.008; this text says the sender has none.
NOT_PROVIDED: Final = "NOTPROVIDED"

UNKNOWN_CURRENCY: Final = "UNKNOWN_CURRENCY"
AMOUNT_PRECISION: Final = "AMOUNT_PRECISION"
AMOUNT_MISMATCH: Final = "AMOUNT_MISMATCH"
MISSING_FIELD: Final = "MISSING_FIELD"
UNSUPPORTED_ACCOUNT: Final = "UNSUPPORTED_ACCOUNT"
NUMBER_OF_TRANSACTIONS: Final = "NUMBER_OF_TRANSACTIONS"
CONTROL_SUM: Final = "CONTROL_SUM"
UNSUPPORTED_PURPOSE: Final = "UNSUPPORTED_PURPOSE"
UNSUPPORTED_REMITTANCE: Final = "UNSUPPORTED_REMITTANCE"
#: The sender could not seal the travel-rule data a leg needs (a party without name or
#: id in the message, a recipient without a published key): the client's refusal.
TRAVEL_DATA: Final = "TRAVEL_DATA"

#: The ISO 20022 reason code of each refusal of this module.
MAPPING_REASONS: Final[dict[str, str]] = {
    UNKNOWN_CURRENCY: "AM03",  # NotAllowedCurrency
    AMOUNT_PRECISION: "AM12",  # InvalidAmount
    AMOUNT_MISMATCH: "AM09",  # WrongAmount
    MISSING_FIELD: "CH21",  # RequiredCompulsoryElementMissing
    UNSUPPORTED_ACCOUNT: "AC01",  # IncorrectAccountNumber
    NUMBER_OF_TRANSACTIONS: "AM18",  # InvalidNumberOfTransactions
    CONTROL_SUM: "AM10",  # InvalidControlSum
    UNSUPPORTED_PURPOSE: "FF07",  # InvalidPurpose
    UNSUPPORTED_REMITTANCE: "RR07",  # RemittanceInformationInvalid
    TRAVEL_DATA: "RR05",  # RegulatoryInformationInvalid
}


@dataclass(frozen=True)
class PaymentMessage:
    """What a pacs.008 or pacs.009 asks the ledger to do.

    Attributes:
        message: the message version ("pacs.008.001.08").
        original: GrpHdr/MsgId (also the transfer's reference) and each CdtTrfTxInf's
            own ids, in order (one leg each).
        transfer: the ledger transfer.
        signer: the acting account of the transaction (the first leg's payer).
    """

    message: str
    original: OriginalMessage
    transfer: pb.Transfer
    signer: str


def _refuse(code: str, message: str) -> IsoRefusal:
    return IsoRefusal(code, MAPPING_REASONS[code], message)


class _Reader:
    """Namespaced lookups in one message."""

    def __init__(self, message: str) -> None:
        self.ns = {"m": namespace(message)}

    def all(self, element: etree._Element, path: str) -> list[etree._Element]:
        found: list[etree._Element] = element.findall(path, self.ns)
        return found

    def one(self, element: etree._Element, path: str) -> etree._Element | None:
        found: etree._Element | None = element.find(path, self.ns)
        return found

    def text(self, element: etree._Element, path: str) -> str:
        """The text of the element at path, or "" when there is none."""
        found = self.one(element, path)
        return "" if found is None or found.text is None else found.text


def _amount(
    element: etree._Element, where: str, decimals_of: Callable[[str], int | None]
) -> tuple[str, int, Decimal]:
    """An amount element as (asset, minor units, the decimal as sent)."""
    currency = element.get("Ccy", "")
    decimals = decimals_of(currency)
    if decimals is None:
        raise _refuse(UNKNOWN_CURRENCY, f"{where}: no asset {currency!r} on this ledger")
    text = (element.text or "").strip()
    try:
        units = minor_units(text, decimals)
    except AmountError as err:
        raise _refuse(AMOUNT_PRECISION, f"{where}: {err}") from None
    return currency, units, Decimal(text)


def _account(r: _Reader, tx: etree._Element, path: str, where: str) -> str:
    account = r.one(tx, path)
    if account is None:
        raise _refuse(MISSING_FIELD, f"{where}: {path.replace('m:', '')} is required")
    if r.one(account, "m:Id/m:Othr/m:Id") is None:
        raise _refuse(
            UNSUPPORTED_ACCOUNT,
            f"{where}: {path.replace('m:', '')}/Id must be Othr/Id, the ledger account id "
            "(an IBAN names no account of this ledger)",
        )
    return r.text(account, "m:Id/m:Othr/m:Id")


def _agent_account(r: _Reader, tx: etree._Element, path: str, where: str) -> str:
    """A pacs.009 agent's account: its BIC in lower case (docs/iso20022.md)."""
    bic = r.text(tx, f"{path}/m:FinInstnId/m:BICFI")
    if not bic:
        raise _refuse(
            MISSING_FIELD, f"{where}: {path.replace('m:', '')}/FinInstnId/BICFI is required"
        )
    return bic.lower()


def _payment_ids(r: _Reader, tx: etree._Element, leg: pb.TransferLeg) -> None:
    end_to_end_id = r.text(tx, "m:PmtId/m:EndToEndId")
    if end_to_end_id != NOT_PROVIDED:
        leg.end_to_end_id = end_to_end_id
    uetr = r.text(tx, "m:PmtId/m:UETR")
    if uetr:
        leg.uetr = uuid.UUID(uetr).bytes


def _purpose(r: _Reader, tx: etree._Element, leg: pb.TransferLeg, where: str) -> None:
    if r.one(tx, "m:Purp/m:Prtry") is not None:
        raise _refuse(
            UNSUPPORTED_PURPOSE, f"{where}: Purp/Prtry has no place on the ledger; use Purp/Cd"
        )
    leg.purpose_code = r.text(tx, "m:Purp/m:Cd")


def _remittance(r: _Reader, tx: etree._Element, leg: pb.TransferLeg, where: str) -> None:
    info = r.one(tx, "m:RmtInf")
    if info is None:
        return
    lines = r.all(info, "m:Ustrd")
    parts = r.all(info, "m:Strd")
    if len(lines) > 1 or len(parts) > 1:
        raise _refuse(
            UNSUPPORTED_REMITTANCE,
            f"{where}: RmtInf has {len(lines)} Ustrd and {len(parts)} Strd; a leg holds at "
            "most one of each",
        )
    if lines:
        leg.remittance.unstructured = lines[0].text or ""
    if parts:
        children = [etree.QName(child).localname for child in parts[0]]
        if children != ["CdtrRefInf"]:
            raise _refuse(
                UNSUPPORTED_REMITTANCE,
                f"{where}: RmtInf/Strd may hold only CdtrRefInf, not {', '.join(children)}",
            )
        reference = r.one(parts[0], "m:CdtrRefInf")
        assert reference is not None
        if (
            r.one(reference, "m:Tp/m:CdOrPrtry/m:Prtry") is not None
            or r.one(reference, "m:Tp/m:Issr") is not None
        ):
            raise _refuse(
                UNSUPPORTED_REMITTANCE,
                f"{where}: CdtrRefInf/Tp may hold only CdOrPrtry/Cd",
            )
        leg.remittance.creditor_reference_type = r.text(reference, "m:Tp/m:CdOrPrtry/m:Cd")
        leg.remittance.creditor_reference = r.text(reference, "m:Ref")


def original_message(root: etree._Element, message: str) -> OriginalMessage:
    """The ids of a validated message and of each of its transactions."""
    r = _Reader(message)
    body = root[0]
    return OriginalMessage(
        message_id=r.text(body, "m:GrpHdr/m:MsgId"),
        transactions=tuple(
            OriginalTransaction(r.text(tx, "m:PmtId/m:EndToEndId"), r.text(tx, "m:PmtId/m:TxId"))
            for tx in r.all(body, "m:CdtTrfTxInf")
        ),
    )


def _party(r: _Reader, tx: etree._Element, role: str) -> tuple[str, str]:
    """A pacs.008 party's name and identification (an id, else its postal address)."""
    party = r.one(tx, f"m:{role}")
    if party is None:
        return "", ""
    for path in (
        "m:Id/m:PrvtId/m:Othr/m:Id",
        "m:Id/m:OrgId/m:LEI",
        "m:Id/m:OrgId/m:AnyBIC",
        "m:Id/m:OrgId/m:Othr/m:Id",
    ):
        found = r.text(party, path)
        if found:
            return r.text(party, "m:Nm"), found
    address = r.one(party, "m:PstlAdr")
    parts = [] if address is None else [(e.text or "").strip() for e in address]
    return r.text(party, "m:Nm"), ", ".join(p for p in parts if p)


def travel_data(root: etree._Element, message: str) -> list[pb.TravelRuleData]:
    """Each transaction's originator and beneficiary, as travel-rule data: in a pacs.008
    the Dbtr and Cdtr (name; private or organisation id, else postal address) and their
    accounts; in a pacs.009 the agents (BIC as name and id) and their accounts. Fields
    the message leaves empty stay empty (`seal_travel_data` refuses incomplete data)."""
    r = _Reader(message)
    data = []
    for tx in r.all(root[0], "m:CdtTrfTxInf"):
        if message == PACS_009:
            debtor = r.text(tx, "m:DbtrAgt/m:FinInstnId/m:BICFI")
            creditor = r.text(tx, "m:CdtrAgt/m:FinInstnId/m:BICFI")
            data.append(
                pb.TravelRuleData(
                    originator_name=debtor,
                    originator_account=debtor.lower(),
                    originator_id=debtor,
                    beneficiary_name=creditor,
                    beneficiary_account=creditor.lower(),
                )
            )
            continue
        name, ident = _party(r, tx, "Dbtr")
        beneficiary, _ = _party(r, tx, "Cdtr")
        data.append(
            pb.TravelRuleData(
                originator_name=name,
                originator_account=r.text(tx, "m:DbtrAcct/m:Id/m:Othr/m:Id"),
                originator_id=ident,
                beneficiary_name=beneficiary,
                beneficiary_account=r.text(tx, "m:CdtrAcct/m:Id/m:Othr/m:Id"),
            )
        )
    return data


def without_travel_copies(transfer: pb.Transfer) -> pb.Transfer:
    """transfer with no leg's travel copies: what a message maps to (the copies are sealed
    from its party data by the sender, never readable by the node)."""
    bare = pb.Transfer()
    bare.CopyFrom(transfer)
    for leg in bare.legs:
        del leg.travel_copies[:]
    return bare


def payment_message(
    root: etree._Element, message: str, decimals_of: Callable[[str], int | None]
) -> PaymentMessage:
    """The transfer a validated pacs.008 or pacs.009 document describes.

    Args:
        root: the ``Document`` element, as `read_message` returns it.
        message: PACS_008 or PACS_009.
        decimals_of: the decimals of an asset by its code, None for no such asset.

    Raises:
        IsoRefusal: a code of MAPPING_REASONS, with the message's original ids.
    """
    original = original_message(root, message)
    try:
        transfer = _transfer(root, message, decimals_of)
    except IsoRefusal as refusal:
        refusal.original = original
        raise
    return PaymentMessage(
        message=message, original=original, transfer=transfer, signer=transfer.legs[0].payer
    )


def _transfer(
    root: etree._Element, message: str, decimals_of: Callable[[str], int | None]
) -> pb.Transfer:
    r = _Reader(message)
    body = root[0]
    header = r.one(body, "m:GrpHdr")
    assert header is not None  # the schema requires it
    txs = r.all(body, "m:CdtTrfTxInf")
    declared = r.text(header, "m:NbOfTxs")
    if int(declared) != len(txs):
        raise _refuse(
            NUMBER_OF_TRANSACTIONS,
            f"GrpHdr/NbOfTxs is {declared} and the message has {len(txs)} CdtTrfTxInf",
        )
    if len(txs) > MAX_LEGS:
        raise _refuse(
            NUMBER_OF_TRANSACTIONS,
            f"{len(txs)} CdtTrfTxInf; one transaction settles at most {MAX_LEGS}",
        )
    transfer = pb.Transfer(reference=r.text(header, "m:MsgId"))
    total = Decimal(0)
    currencies = set()
    for number, tx in enumerate(txs, 1):
        where = f"CdtTrfTxInf {number}"
        leg = transfer.legs.add()
        amount = r.one(tx, "m:IntrBkSttlmAmt")
        assert amount is not None  # the schema requires it
        leg.asset, units, sent = _amount(amount, f"{where}/IntrBkSttlmAmt", decimals_of)
        set_amount(leg, "amount", units)
        total += sent
        currencies.add(leg.asset)
        _payment_ids(r, tx, leg)
        if message == PACS_009:
            leg.payer = _agent_account(r, tx, "m:DbtrAgt", where)
            leg.payee = _agent_account(r, tx, "m:CdtrAgt", where)
            continue
        leg.payer = _account(r, tx, "m:DbtrAcct", where)
        leg.payee = _account(r, tx, "m:CdtrAcct", where)
        instructed = r.one(tx, "m:InstdAmt")
        if instructed is not None and (
            instructed.get("Ccy") != leg.asset or Decimal((instructed.text or "").strip()) != sent
        ):
            raise _refuse(
                AMOUNT_MISMATCH,
                f"{where}: InstdAmt differs from IntrBkSttlmAmt; the ledger settles what is "
                "instructed, with no exchange or charges",
            )
        _purpose(r, tx, leg, where)
        _remittance(r, tx, leg, where)
    _check_sums(r, header, total, currencies)
    return transfer


def _check_sums(r: _Reader, header: etree._Element, total: Decimal, currencies: set[str]) -> None:
    control = r.text(header, "m:CtrlSum")
    if control and Decimal(control) != total:
        raise _refuse(CONTROL_SUM, f"GrpHdr/CtrlSum is {control}; the amounts add up to {total}")
    settled = r.one(header, "m:TtlIntrBkSttlmAmt")
    if settled is not None and (
        {settled.get("Ccy")} != currencies or Decimal((settled.text or "").strip()) != total
    ):
        raise _refuse(
            CONTROL_SUM,
            f"GrpHdr/TtlIntrBkSttlmAmt is {(settled.text or '').strip()} "
            f"{settled.get('Ccy')}; the transactions add up to {total} "
            f"{'/'.join(sorted(currencies))}",
        )
