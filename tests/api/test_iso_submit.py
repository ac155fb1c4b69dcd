"""POST /v1/iso20022/pacs.008 and /pacs.009: a message with its signed transfer, answered
with a schema-valid pacs.002 (ACTC, ACSC or RJCT with an ISO reason)."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

import httpx
import trio
from api_support import LocalNode, key
from lxml import etree

from node.client import TengeClient
from node.iso20022 import PACS_002, PACS_008, STATUS_REASONS, namespace, payment_from_xml, schema
from node.iso20022._status import MESSAGE_REASONS
from node.ledger.txbuild import transfer, tx_id_of
from proto import ledger_pb2 as pb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "iso20022"))
from iso_samples import Payment, pacs008, pacs009

NS = {"s": namespace(PACS_002)}
KZT = {"KZT": 2}.get


def report(doc: dict[str, Any]) -> etree._Element:
    """The answer's pacs.002, validated against its XSD."""
    xml = doc["pacs002"].encode()
    schema(PACS_002).validate(xml.decode())
    return etree.fromstring(xml)


def signed(node: LocalNode, message: str) -> str:
    """The envelope of the transfer message describes, signed by its debtor, as base64."""
    payment = payment_from_xml(message.encode(), PACS_008, KZT)
    raw = node.tx(payment.signer, payment.transfer)
    return base64.b64encode(raw).decode()


async def test_a_pacs008_is_admitted_with_actc_and_settles_with_acsc(
    local_node: LocalNode, api: TengeClient
) -> None:
    message = pacs008(
        Payment("halyk", "kaspi", "12.50", end_to_end_id="CORE-77", tx_id="T-1"),
        message_id="CORE-MSG-1",
    )
    pending = await api.submit_iso(message, keys=[key("halyk")])
    assert pending.status == "ACTC", pending
    assert bytes.fromhex(pending.tx_id) in local_node.mempool
    root = etree.fromstring(pending.pacs002)
    schema(PACS_002).validate(pending.pacs002.decode())
    assert root.findtext(".//s:OrgnlMsgId", namespaces=NS) == "CORE-MSG-1"
    assert root.findtext(".//s:OrgnlEndToEndId", namespaces=NS) == "CORE-77"
    assert root.findtext(".//s:OrgnlTxId", namespaces=NS) == "T-1"
    assert root.findtext(".//s:TxSts", namespaces=NS) == "ACTC"

    second = pacs008(Payment("halyk", "kaspi", "1", end_to_end_id="CORE-78"), message_id="M-2")
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(local_node.auto_commit)
            settled = await api.submit_iso(second, keys=[key("halyk")], wait=True)
            nursery.cancel_scope.cancel()
    assert settled.status == "ACSC", settled
    assert settled.height is not None
    assert etree.fromstring(settled.pacs002).findtext(".//s:GrpSts", namespaces=NS) == "ACSC"
    (paid,) = await api.payments(end_to_end_id="CORE-78", payer="halyk")
    assert paid["tx_id"] == settled.tx_id


async def test_an_envelope_of_another_transfer_is_rejected(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    message = pacs008(Payment("halyk", "kaspi", "12.50"), message_id="M-3")
    other = local_node.tx("halyk", transfer(("halyk", "kaspi", "KZT", 1251)))
    r = await http.post(
        "/v1/iso20022/pacs.008",
        json={"message": message, "tx": base64.b64encode(other).decode()},
    )
    assert r.status_code == 400, r.text
    doc = r.json()
    assert doc["status"] == "RJCT"
    assert doc["error"]["code"] == "ENVELOPE_MISMATCH"
    assert doc["error"]["reason"] == "NARR"
    root = report(doc)
    assert root.findtext(".//s:OrgnlMsgId", namespaces=NS) == "M-3"
    assert root.findtext(".//s:StsRsnInf/s:Rsn/s:Cd", namespaces=NS) == "NARR"
    assert "ENVELOPE_MISMATCH" in (root.findtext(".//s:AddtlInf", namespaces=NS) or "")
    assert len(local_node.mempool) == 0


async def test_an_envelope_signed_by_someone_other_than_the_debtor_is_rejected(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    message = pacs008(Payment("halyk", "kaspi", "1"))
    payment = payment_from_xml(message.encode(), PACS_008, KZT)
    raw = local_node.tx("kaspi", payment.transfer)
    r = await http.post(
        "/v1/iso20022/pacs.008", json={"message": message, "tx": base64.b64encode(raw).decode()}
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "ENVELOPE_MISMATCH"
    assert "debtor" in r.json()["error"]["message"]


async def test_every_message_refusal_has_its_code_reason_and_pacs002(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    good = pacs008(Payment("halyk", "kaspi", "1.00"))
    tx = signed(local_node, good)
    cases = {
        "XML_SCHEMA_INVALID": good.replace("<ChrgBr>SLEV</ChrgBr>", ""),
        "XML_FORBIDDEN": '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>',
        "XML_MALFORMED": "<Document",
        "UNKNOWN_CURRENCY": good.replace('Ccy="KZT"', 'Ccy="EUR"'),
        "AMOUNT_PRECISION": good.replace(">1.00<", ">1.001<"),
        "NUMBER_OF_TRANSACTIONS": good.replace("<NbOfTxs>1<", "<NbOfTxs>2<"),
    }
    for code, message in cases.items():
        r = await http.post("/v1/iso20022/pacs.008", json={"message": message, "tx": tx})
        assert r.status_code == 400, (code, r.text)
        doc = r.json()
        assert doc["status"] == "RJCT"
        assert doc["error"]["code"] == code
        assert doc["error"]["reason"] == MESSAGE_REASONS[code]
        reasons = [c.text for c in report(doc).iterfind(".//s:StsRsnInf/s:Rsn/s:Cd", NS)]
        assert reasons == [MESSAGE_REASONS[code]]
    assert len(local_node.mempool) == 0


async def test_a_ledger_refusal_at_admission_carries_its_iso_reason(
    local_node: LocalNode, api: TengeClient
) -> None:
    # kaspi holds nothing: the ledger refuses the payment before the mempool.
    message = pacs008(Payment("kaspi", "halyk", "5.00"), message_id="M-POOR")
    result = await api.submit_iso(message, keys=[key("kaspi")])
    assert result.status == "RJCT"
    assert result.code in ("INSUFFICIENT_FUNDS", "PENDING_FUNDS_EXCEEDED"), result
    assert result.reason == STATUS_REASONS[pb.ResultCode.Value(result.code)] == "AM04"
    assert result.tx_id
    root = etree.fromstring(result.pacs002)
    assert root.findtext(".//s:OrgnlMsgId", namespaces=NS) == "M-POOR"


async def test_a_pacs009_to_a_bic_without_an_account_is_refused_by_the_ledger(
    local_node: LocalNode, api: TengeClient
) -> None:
    result = await api.submit_iso(
        pacs009("HSBKKZKX", "CASPKZKA"), keys=[key("hsbkkzkx")], kind="pacs.009"
    )
    assert result.status == "RJCT"
    assert (result.code, result.reason) == ("UNKNOWN_ACCOUNT", "AC01")


async def test_the_client_refuses_a_message_it_cannot_map_without_sending_it(
    local_node: LocalNode, api: TengeClient
) -> None:
    result = await api.submit_iso(
        pacs008(Payment("halyk", "kaspi", currency="EUR")), keys=[key("halyk")]
    )
    assert (result.status, result.code, result.reason, result.tx_id) == (
        "RJCT",
        "UNKNOWN_CURRENCY",
        "AM03",
        "",
    )
    schema(PACS_002).validate(result.pacs002.decode())
    assert len(local_node.mempool) == 0


async def test_a_body_that_is_not_a_submission_has_the_plain_error_shape(
    http: httpx.AsyncClient,
) -> None:
    for body, code in [
        (b"not json", "INVALID_JSON"),
        (b'{"message": "<a/>"}', "INVALID_ARGUMENT"),
        (b'{"message": "<a/>", "tx": "AA==", "more": 1}', "INVALID_ARGUMENT"),
        (b'{"message": "", "tx": "AA=="}', "INVALID_ARGUMENT"),
        (b'{"message": "<a/>", "tx": "!!"}', "INVALID_BASE64"),
    ]:
        r = await http.post("/v1/iso20022/pacs.008", content=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"]["code"] == code
        assert "pacs002" not in r.json()


async def test_the_tx_id_of_an_accepted_message_is_its_envelope(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    message = pacs008(Payment("halyk", "kaspi", "2.00"))
    tx = signed(local_node, message)
    r = await http.post("/v1/iso20022/pacs.008", json={"message": message, "tx": tx})
    assert r.status_code == 202, r.text
    assert r.json()["tx_id"] == tx_id_of(base64.b64decode(tx)).hex()
    report(r.json())


async def test_travel_copies_on_the_envelope_are_not_a_mismatch(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    """The sender seals the message's party data onto the legs; the node compares the rest."""
    message = pacs008(Payment("halyk", "kaspi", "3.00"))
    payment = payment_from_xml(message.encode(), PACS_008, KZT)
    payment.transfer.legs[0].travel_copies.add(recipient="halyk", sealed=b"\x01" * 80)
    raw = local_node.tx("halyk", payment.transfer)
    r = await http.post(
        "/v1/iso20022/pacs.008", json={"message": message, "tx": base64.b64encode(raw).decode()}
    )
    assert r.json().get("error", {}).get("code") != "ENVELOPE_MISMATCH", r.text
    assert r.json()["tx_id"] == tx_id_of(raw).hex()
