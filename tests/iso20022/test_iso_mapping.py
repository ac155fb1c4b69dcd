"""pacs.008 / pacs.009 to a ledger Transfer, field by field, and every refusal of the
mapping with its code and ISO reason (node/iso20022/_mapping.py)."""

from __future__ import annotations

import uuid

import pytest
from iso_samples import Payment, pacs008, pacs009

from node.iso20022 import PACS_008, PACS_009
from node.iso20022._mapping import MAPPING_REASONS, PaymentMessage, payment_message, travel_data
from node.iso20022._refusal import IsoRefusal
from node.iso20022._xml import read_message
from node.ledger._amounts import amount_of

DECIMALS = {"KZT": 2, "USD": 6, "JPY": 0}
UETR = "8a562c67-ca16-48ba-b074-65581be6f011"


def mapped(doc: str, message: str = PACS_008) -> PaymentMessage:
    return payment_message(read_message(doc.encode(), message), message, DECIMALS.get)


def refused(doc: str, message: str = PACS_008) -> IsoRefusal:
    with pytest.raises(IsoRefusal) as caught:
        mapped(doc, message)
    assert caught.value.reason == MAPPING_REASONS[caught.value.code]
    assert caught.value.original is not None  # the pacs.002 can name the message
    return caught.value


def test_every_field_of_a_pacs008_maps_to_its_leg_field() -> None:
    doc = pacs008(
        Payment(
            "alice.bank1",
            "shop.bank1",
            "1250.5",
            end_to_end_id="INV-2026-7",
            tx_id="TX-9",
            uetr=UETR,
            purpose="GDDS",
            unstructured=["Invoice 7, Алатау"],
            creditor_reference="RF18539007547034",
            creditor_reference_type="SCOR",
        ),
        Payment("alice.bank1", "bob.bank2", "3", currency="JPY"),
        message_id="CORE-20261204-1",
    )
    result = mapped(doc)
    assert result.original.message_id == "CORE-20261204-1"
    assert result.transfer.reference == "CORE-20261204-1"
    assert result.signer == "alice.bank1"
    first, second = result.transfer.legs
    assert (first.payer, first.payee, first.asset) == ("alice.bank1", "shop.bank1", "KZT")
    assert amount_of(first) == 125050
    assert first.end_to_end_id == "INV-2026-7"
    assert first.uetr == uuid.UUID(UETR).bytes
    assert first.purpose_code == "GDDS"
    assert first.remittance.unstructured == "Invoice 7, Алатау"
    assert first.remittance.creditor_reference == "RF18539007547034"
    assert first.remittance.creditor_reference_type == "SCOR"
    assert (second.asset, amount_of(second), second.payee) == ("JPY", 3, "bob.bank2")
    assert [t.end_to_end_id for t in result.original.transactions] == ["INV-2026-7", "NOTPROVIDED"]
    assert [t.tx_id for t in result.original.transactions] == ["TX-9", ""]


def test_notprovided_maps_to_no_end_to_end_id() -> None:
    leg = mapped(pacs008(Payment("alice.bank1", "shop.bank1"))).transfer.legs[0]
    assert leg.end_to_end_id == ""
    assert not leg.HasField("remittance")


def test_a_pacs009_maps_agents_to_their_bank_accounts() -> None:
    result = mapped(pacs009("HSBKKZKX", "CASPKZKA", "1000.00"), PACS_009)
    (leg,) = result.transfer.legs
    assert (leg.payer, leg.payee, amount_of(leg)) == ("hsbkkzkx", "caspkzka", 100000)
    assert leg.end_to_end_id == "FI-E2E-1"


def test_a_pacs009_without_an_agent_bic_is_refused() -> None:
    doc = pacs009("HSBKKZKX", "CASPKZKA").replace(
        "<CdtrAgt><FinInstnId><BICFI>CASPKZKA</BICFI></FinInstnId></CdtrAgt>", ""
    )
    assert refused(doc, PACS_009).code == "MISSING_FIELD"


@pytest.mark.parametrize(
    ("payment", "code"),
    [
        (Payment("a.bank1", "b.bank1", "1", currency="EUR"), "UNKNOWN_CURRENCY"),
        (Payment("a.bank1", "b.bank1", "1.005"), "AMOUNT_PRECISION"),
        (Payment("a.bank1", "b.bank1", "1.50", currency="JPY"), "AMOUNT_PRECISION"),
        (Payment("a.bank1", "b.bank1", unstructured=["one", "two"]), "UNSUPPORTED_REMITTANCE"),
    ],
)
def test_what_the_ledger_cannot_hold_exactly_is_refused(payment: Payment, code: str) -> None:
    assert refused(pacs008(payment)).code == code


def test_more_decimals_than_the_asset_names_both() -> None:
    err = refused(pacs008(Payment("a.bank1", "b.bank1", "10.125")))
    assert "3 digits" in err.message
    assert "2 decimals" in err.message
    assert err.reason == "AM12"


def test_an_unknown_currency_is_am03() -> None:
    assert refused(pacs008(Payment("a.bank1", "b.bank1", currency="EUR"))).reason == "AM03"


def test_a_missing_creditor_account_is_refused() -> None:
    doc = pacs008(Payment("a.bank1", "b.bank1")).replace(
        "<CdtrAcct><Id><Othr><Id>b.bank1</Id></Othr></Id></CdtrAcct>", ""
    )
    err = refused(doc)
    assert err.code == "MISSING_FIELD"
    assert "CdtrAcct" in err.message


def test_an_iban_is_refused() -> None:
    doc = pacs008(Payment("a.bank1", "b.bank1")).replace(
        "<Othr><Id>a.bank1</Id></Othr>", "<IBAN>KZ86125KZT5004100100</IBAN>"
    )
    assert refused(doc).code == "UNSUPPORTED_ACCOUNT"


def test_a_wrong_number_of_transactions_is_refused() -> None:
    doc = pacs008(Payment("a.bank1", "b.bank1"), number_of_txs=2)
    assert refused(doc).code == "NUMBER_OF_TRANSACTIONS"


def test_more_transactions_than_a_transfer_holds_is_refused() -> None:
    doc = pacs008(*[Payment("a.bank1", "b.bank1")] * 17)
    assert refused(doc).code == "NUMBER_OF_TRANSACTIONS"


def test_a_wrong_control_sum_is_refused() -> None:
    doc = pacs008(
        Payment("a.bank1", "b.bank1", "1.50"),
        Payment("a.bank1", "b.bank1", "2"),
        control_sum="3.49",
    )
    assert refused(doc).code == "CONTROL_SUM"
    good = pacs008(
        Payment("a.bank1", "b.bank1", "1.50"),
        Payment("a.bank1", "b.bank1", "2"),
        control_sum="3.5",
    )
    assert len(mapped(good).transfer.legs) == 2


def test_a_proprietary_purpose_is_refused() -> None:
    doc = pacs008(Payment("a.bank1", "b.bank1", extra="<Purp><Prtry>MINE</Prtry></Purp>"))
    assert refused(doc).code == "UNSUPPORTED_PURPOSE"


def test_structured_remittance_beyond_the_creditor_reference_is_refused() -> None:
    doc = pacs008(Payment("a.bank1", "b.bank1")).replace(
        "</CdtTrfTxInf>",
        "<RmtInf><Strd><AddtlRmtInf>more</AddtlRmtInf></Strd></RmtInf></CdtTrfTxInf>",
    )
    assert refused(doc).code == "UNSUPPORTED_REMITTANCE"


def test_an_instructed_amount_other_than_the_settled_one_is_refused() -> None:
    doc = pacs008(Payment("a.bank1", "b.bank1", "100.00")).replace(
        "<ChrgBr>", '<InstdAmt Ccy="KZT">101.00</InstdAmt><ChrgBr>'
    )
    assert refused(doc).code == "AMOUNT_MISMATCH"
    same = doc.replace(">101.00<", ">100<")
    assert amount_of(mapped(same).transfer.legs[0]) == 10000


def test_party_data_becomes_travel_data_never_a_ledger_field() -> None:
    doc = (
        pacs008(Payment("a.bank1", "b.bank1"))
        .replace(
            "<Dbtr><Nm>Debtor</Nm></Dbtr>",
            "<Dbtr><Nm>Aigerim Seitkali</Nm><Id><PrvtId><Othr><Id>IIN 900101400123</Id>"
            "</Othr></PrvtId></Id></Dbtr>",
        )
        .replace(
            "<Cdtr><Nm>Creditor</Nm></Cdtr>",
            "<Cdtr><Nm>Dana Bekova</Nm><PstlAdr><StrtNm>Al-Farabi</StrtNm><TwnNm>Almaty</TwnNm>"
            "</PstlAdr></Cdtr>",
        )
    )
    root = read_message(doc.encode(), PACS_008)
    (data,) = travel_data(root, PACS_008)
    assert (data.originator_name, data.originator_id) == ("Aigerim Seitkali", "IIN 900101400123")
    assert (data.originator_account, data.beneficiary_account) == ("a.bank1", "b.bank1")
    assert data.beneficiary_name == "Dana Bekova"
    leg = payment_message(root, PACS_008, DECIMALS.get).transfer.legs[0]
    assert b"Aigerim" not in leg.SerializeToString()
    # Without an id the postal address identifies the party.
    dbtr_address = doc.replace(
        "<Id><PrvtId><Othr><Id>IIN 900101400123</Id></Othr></PrvtId></Id>",
        "<PstlAdr><StrtNm>Abay 1</StrtNm><TwnNm>Astana</TwnNm><Ctry>KZ</Ctry></PstlAdr>",
    )
    (data,) = travel_data(read_message(dbtr_address.encode(), PACS_008), PACS_008)
    assert data.originator_id == "Abay 1, Astana, KZ"


def test_a_pacs009_names_its_agents_as_travel_data() -> None:
    root = read_message(pacs009("HSBKKZKX", "CASPKZKA").encode(), PACS_009)
    (data,) = travel_data(root, PACS_009)
    assert (data.originator_name, data.originator_account) == ("HSBKKZKX", "hsbkkzkx")
    assert (data.beneficiary_name, data.beneficiary_account) == ("CASPKZKA", "caspkzka")
