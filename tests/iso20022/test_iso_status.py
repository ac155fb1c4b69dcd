"""pacs.002: ACTC / ACSC / RJCT, schema-valid, every rejection with a reason; the reason
table covers every ledger code and is the one docs/iso20022.md shows."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from node.iso20022 import PACS_002, PACS_008, namespace, schema
from node.iso20022._refusal import OriginalMessage, OriginalTransaction
from node.iso20022._status import (
    ACCEPTED,
    MESSAGE_REASONS,
    REJECTED,
    SETTLED,
    STATUS_REASONS,
    status_report,
)
from proto import ledger_pb2 as pb

WHEN = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "iso20022.md"
NS = {"s": namespace(PACS_002)}
#: What an ExternalStatusReason1Code looks like: four of A-Z and 0-9.
REASON_RE = re.compile(r"[A-Z0-9]{4}")


def report(status: str, **kwargs: object) -> etree._Element:
    args: dict[str, object] = {
        "message": PACS_008,
        "original": OriginalMessage(
            "MSG-1",
            (OriginalTransaction("E2E-1", "TX-1"), OriginalTransaction("NOTPROVIDED", "")),
        ),
        "status": status,
        "created": WHEN,
    }
    args.update(kwargs)
    data = status_report(**args)  # type: ignore[arg-type]
    schema(PACS_002).validate(data.decode())
    return etree.fromstring(data)


@pytest.mark.parametrize("status", [ACCEPTED, SETTLED])
def test_an_accepted_message_has_its_status_per_transaction(status: str) -> None:
    root = report(status)
    assert (
        root.findtext("s:FIToFIPmtStsRpt/s:OrgnlGrpInfAndSts/s:OrgnlMsgId", namespaces=NS)
        == "MSG-1"
    )
    assert root.findtext("s:FIToFIPmtStsRpt/s:OrgnlGrpInfAndSts/s:GrpSts", namespaces=NS) == status
    txs = root.findall("s:FIToFIPmtStsRpt/s:TxInfAndSts", NS)
    assert [t.findtext("s:OrgnlEndToEndId", namespaces=NS) for t in txs] == ["E2E-1", "NOTPROVIDED"]
    assert [t.findtext("s:TxSts", namespaces=NS) for t in txs] == [status, status]
    assert root.find(".//s:StsRsnInf", NS) is None


def test_a_rejection_carries_the_reason_and_our_code() -> None:
    detail = "INSUFFICIENT_FUNDS: " + "x" * 200
    root = report(REJECTED, reason="AM04", detail=detail)
    for tx in root.findall("s:FIToFIPmtStsRpt/s:TxInfAndSts", NS):
        assert tx.findtext("s:StsRsnInf/s:Rsn/s:Cd", namespaces=NS) == "AM04"
        assert tx.findtext("s:StsRsnInf/s:AddtlInf", namespaces=NS) == detail[:105]


def test_a_rejection_of_an_unreadable_message_has_no_original_group() -> None:
    root = report(REJECTED, original=None, reason="FF01", detail="XML_MALFORMED")
    assert root.find("s:FIToFIPmtStsRpt/s:OrgnlGrpInfAndSts", NS) is None
    (tx,) = root.findall("s:FIToFIPmtStsRpt/s:TxInfAndSts", NS)
    assert tx.findtext("s:StsRsnInf/s:Rsn/s:Cd", namespaces=NS) == "FF01"


def test_a_rejection_without_a_reason_is_a_bug() -> None:
    with pytest.raises(ValueError, match="reason"):
        report(REJECTED)


def test_every_ledger_code_has_a_reason() -> None:
    codes = {v.number for v in pb.ResultCode.DESCRIPTOR.values if v.number != pb.OK}
    assert set(STATUS_REASONS) == codes
    for reason in [*STATUS_REASONS.values(), *MESSAGE_REASONS.values()]:
        assert REASON_RE.fullmatch(reason), reason


def _docs_table(heading: str) -> dict[str, str]:
    text = DOCS.read_text()
    section = text.split(heading, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \| `([A-Z0-9]{4})` \|", section, re.MULTILINE)
    return dict(rows)


def test_the_docs_show_the_ledger_code_table() -> None:
    expected = {pb.ResultCode.Name(code): reason for code, reason in STATUS_REASONS.items()}
    assert _docs_table("### Ledger codes") == expected


def test_the_docs_show_the_message_code_table() -> None:
    assert _docs_table("### Message codes") == MESSAGE_REASONS
