"""The camt.053 and camt.054 builders: every document validates against the vendored XSD,
carries each id where docs/iso20022.md says, and nothing is rounded or cut to fit."""

from __future__ import annotations

from typing import Final

import pytest
from lxml import etree

from node.iso20022 import CAMT_053, CAMT_054, NotRepresentable, namespace, schema
from node.iso20022._camt import (
    AssetStatement,
    Entry,
    Period,
    camt053_statement,
    camt054_notification,
)

T0: Final = 1_767_225_600_000  # 2026-01-01T00:00:00Z
UETR: Final = "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901"
PAID: Final = Entry(
    bytes(range(32)), 0, 5, T0 + 5_000, "KZT", 2, -12_550, "transfer", "halyk", "kaspi",
    end_to_end_id="INV-2026/1", uetr=UETR, purpose_code="GDDS", unstructured="invoice 1",
    creditor_reference="RF18539007547034", creditor_reference_type="SCOR",
)  # fmt: skip
ISSUED: Final = Entry(bytes(32), None, 6, T0 + 6_000, "KZT", 2, 100_000, "issue", "", "halyk")
PERIOD: Final = Period(5, 6, T0 + 5_000, T0 + 6_000)


def valid(document: bytes, message: str) -> etree._Element:
    root = etree.fromstring(document)
    assert schema(message).is_valid(root)
    return root


def texts(root: etree._Element, message: str, path: str) -> list[str]:
    found = root.xpath(path, namespaces={"c": namespace(message)})
    return [str(x.text if isinstance(x, etree._Element) else x) for x in found]


def test_a_statement_has_balances_and_every_id_of_its_entries() -> None:
    statement = AssetStatement("KZT", 2, 50_000, 137_450, (PAID, ISSUED))
    root = valid(camt053_statement("halyk", PERIOD, [statement]), CAMT_053)
    stmt = "//c:Stmt"
    assert texts(root, CAMT_053, f"{stmt}/c:Acct/c:Id/c:Othr/c:Id") == ["halyk"]
    assert texts(root, CAMT_053, f"{stmt}/c:Bal/c:Tp/c:CdOrPrtry/c:Cd") == ["OPBD", "CLBD"]
    assert texts(root, CAMT_053, f"{stmt}/c:Bal/c:Amt") == ["500.00", "1374.50"]
    assert texts(root, CAMT_053, f"{stmt}/c:Ntry/c:Amt") == ["125.50", "1000.00"]
    assert texts(root, CAMT_053, f"{stmt}/c:Ntry/c:CdtDbtInd") == ["DBIT", "CRDT"]
    tx = f"{stmt}/c:Ntry/c:NtryDtls/c:TxDtls"
    assert texts(root, CAMT_053, f"{tx}/c:Refs/c:EndToEndId") == ["INV-2026/1", "NOTPROVIDED"]
    assert texts(root, CAMT_053, f"{tx}/c:Refs/c:UETR") == [UETR]
    assert texts(root, CAMT_053, f"{tx}/c:Purp/c:Cd") == ["GDDS"]
    assert texts(root, CAMT_053, f"{tx}/c:RmtInf/c:Ustrd") == ["invoice 1"]
    ref = f"{tx}/c:RmtInf/c:Strd/c:CdtrRefInf"
    assert texts(root, CAMT_053, f"{ref}/c:Ref") == ["RF18539007547034"]
    assert texts(root, CAMT_053, f"{ref}/c:Tp/c:CdOrPrtry/c:Cd") == ["SCOR"]
    assert texts(root, CAMT_053, f"{tx}/c:RltdPties/c:DbtrAcct/c:Id/c:Othr/c:Id") == ["halyk"]
    assert texts(root, CAMT_053, f"{tx}/c:RltdPties/c:CdtrAcct/c:Id/c:Othr/c:Id") == [
        "kaspi",
        "halyk",
    ]
    assert texts(root, CAMT_053, f"{stmt}/c:Ntry/c:AcctSvcrRef") == [
        bytes(range(32)).hex()[:28] + "/0",
        bytes(32).hex()[:28],
    ]
    assert texts(root, CAMT_053, f"{stmt}/c:Ntry/c:BkTxCd/c:Prtry/c:Cd") == ["ISSUE"]
    assert texts(root, CAMT_053, f"{stmt}/c:Ntry/c:BookgDt/c:DtTm")[0] == "2026-01-01T00:00:05.000Z"
    assert texts(root, CAMT_053, "//c:GrpHdr/c:CreDtTm") == ["2026-01-01T00:00:06.000Z"]


def test_the_message_id_is_the_same_for_the_same_account_and_range_only() -> None:
    statement = [AssetStatement("KZT", 2, 0, 0, ())]
    first = camt053_statement("halyk", PERIOD, statement)
    assert camt053_statement("halyk", PERIOD, statement) == first
    ids = {
        texts(etree.fromstring(camt053_statement(account, period, statement)), CAMT_053,
              "//c:GrpHdr/c:MsgId")[0]
        for account, period in [
            ("halyk", PERIOD), ("kaspi", PERIOD), ("halyk", Period(4, 6, T0, T0 + 6_000))
        ]
    }  # fmt: skip
    assert len(ids) == 3


def test_one_statement_per_asset() -> None:
    assets = [AssetStatement("KZT", 2, 100, 100, ()), AssetStatement("USD", 2, 5, 5, ())]
    root = valid(camt053_statement("halyk", PERIOD, assets), CAMT_053)
    assert texts(root, CAMT_053, "//c:Stmt/c:Acct/c:Ccy") == ["KZT", "USD"]


def test_a_notification_validates_and_carries_its_entries() -> None:
    root = valid(camt054_notification("halyk", PERIOD, [PAID, ISSUED]), CAMT_054)
    assert texts(root, CAMT_054, "//c:Ntfctn/c:Ntry/c:Amt/@Ccy") == ["KZT", "KZT"]
    assert texts(root, CAMT_054, "//c:Ntfctn/c:Ntry/c:NtryDtls/c:TxDtls/c:Refs/c:UETR") == [UETR]


@pytest.mark.parametrize(
    ("account", "statement", "named"),
    [
        ("halyk", AssetStatement("USDT", 6, 0, 0, ()), "USDT"),  # no ISO currency
        ("halyk", AssetStatement("KZT", 2, 10**19, 10**19, ()), "18 digits"),
        ("halyk", AssetStatement("ETH", 18, 1, 1, ()), "5 digits"),  # 10^-18 ETH
        ("a" * 35, AssetStatement("KZT", 2, 0, 0, ()), "a" * 35),
    ],
)
def test_what_has_no_iso_form_is_refused_never_rounded(
    account: str, statement: AssetStatement, named: str
) -> None:
    with pytest.raises(NotRepresentable, match=named):
        camt053_statement(account, PERIOD, [statement])


def test_an_entry_of_an_asset_without_a_currency_makes_no_notification() -> None:
    stablecoin = Entry(bytes(32), 0, 5, T0, "KZTE", 2, 1, "transfer", "halyk", "kaspi")
    with pytest.raises(NotRepresentable, match="KZTE"):
        camt054_notification("halyk", PERIOD, [stablecoin])
