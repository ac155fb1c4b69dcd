"""POST /v1/iso20022/pacs.008/prepare: the TxBody a message's debtor signs, so that a core
system with only HTTP and Ed25519 (here the `cryptography` package, not PyNaCl) submits a
pacs.008 as {"message", "body", "signatures"}."""

from __future__ import annotations

import base64
import hashlib
import sys
from pathlib import Path
from typing import Any

import httpx
from api_support import CHAIN, LocalNode
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from node.iso20022 import PACS_002, schema
from node.keys import TX_DOMAIN, sign_bytes
from proto import ledger_pb2 as pb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "iso20022"))
from iso_samples import Payment, pacs008


def core_key(account: str) -> Ed25519PrivateKey:
    """The account's key as api_support makes it (seed = SHA-256 of its name)."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(account.encode()).digest())


def signature(key: Ed25519PrivateKey, sign_hex: str) -> dict[str, str]:
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"public_key": public.hex(), "signature": key.sign(bytes.fromhex(sign_hex)).hex()}


async def prepared(http: httpx.AsyncClient, message: str, **extra: Any) -> dict[str, Any]:
    r = await http.post("/v1/iso20022/pacs.008/prepare", json={"message": message, **extra})
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


async def submit_signed(
    http: httpx.AsyncClient, message: str, body: str, signatures: object
) -> httpx.Response:
    """POST a message with a prepared body and the signatures over it."""
    return await http.post(
        "/v1/iso20022/pacs.008",
        json={"message": message, "body": body, "signatures": signatures},
    )


async def test_a_core_system_signs_the_prepared_body_without_protobuf(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    message = pacs008(Payment("halyk", "kaspi", "7.50", end_to_end_id="CORE-9"))
    doc = await prepared(http, message)
    body = base64.b64decode(doc["body"])
    assert doc["sign_bytes"] == sign_bytes(TX_DOMAIN, CHAIN, body).hex()
    assert doc["tx_id"] == hashlib.sha256(body).hexdigest()
    assert doc["signers"] == ["halyk"]
    tx = pb.TxBody.FromString(body)
    assert (tx.signer, tx.transfer.legs[0].end_to_end_id) == ("halyk", "CORE-9")
    assert tx.expires_at_height == local_node.store.height + 50  # min(100, max_tx_ttl 50)
    signed = [signature(core_key("halyk"), doc["sign_bytes"])]
    r = await submit_signed(http, message, doc["body"], signed)
    assert r.status_code == 202, r.text
    assert (r.json()["status"], r.json()["tx_id"]) == ("ACTC", doc["tx_id"])
    schema(PACS_002).validate(r.json()["pacs002"])
    assert bytes.fromhex(doc["tx_id"]) in local_node.mempool


async def test_a_signature_by_another_key_is_rejected_with_its_iso_reason(
    http: httpx.AsyncClient,
) -> None:
    message = pacs008(Payment("halyk", "kaspi", "1.00"))
    doc = await prepared(http, message)
    forged = signature(core_key("kaspi"), doc["sign_bytes"])
    r = await submit_signed(http, message, doc["body"], [forged])
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] in ("EXTRA_SIGNATURE", "MISSING_SIGNATURE"), error
    assert error["reason"] in ("DS0A", "DS0B")


async def test_the_nonce_and_expiry_can_be_chosen(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    message = pacs008(Payment("halyk", "kaspi", "1.00"))
    height = local_node.store.height
    doc = await prepared(http, message, nonce=42, expires_at_height=height + 5)
    tx = pb.TxBody.FromString(base64.b64decode(doc["body"]))
    assert (tx.nonce, tx.expires_at_height) == (42, height + 5)
    for extra in ({"expires_at_height": 0}, {"expires_at_height": "9"},
                  {"nonce": -1}, {"nonce": "7"}, {"nonce": True}, {"more": 1}):  # fmt: skip
        r = await http.post("/v1/iso20022/pacs.008/prepare", json={"message": message, **extra})
        assert r.status_code == 400, (extra, r.text)
        assert r.json()["error"]["code"] == "INVALID_ARGUMENT"
    # An expiry past the TTL is built as asked; the ledger refuses the signed body.
    late = await prepared(http, message, expires_at_height=height + 60)
    signed = [signature(core_key("halyk"), late["sign_bytes"])]
    r = await submit_signed(http, message, late["body"], signed)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "TTL_TOO_LONG"), r.text
    assert r.json()["error"]["reason"] == "CH03"


async def test_a_message_refused_at_prepare_has_its_code_and_reason(
    http: httpx.AsyncClient,
) -> None:
    bad = pacs008(Payment("halyk", "kaspi", "1.001"))
    r = await http.post("/v1/iso20022/pacs.008/prepare", json={"message": bad})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "AMOUNT_PRECISION"
    assert r.json()["error"]["reason"] == "AM12"
    assert "pacs002" not in r.json()


async def test_malformed_signatures_are_refused_before_the_ledger(
    http: httpx.AsyncClient,
) -> None:
    message = pacs008(Payment("halyk", "kaspi", "1.00"))
    doc = await prepared(http, message)
    good = signature(core_key("halyk"), doc["sign_bytes"])
    for signatures in (
        [],
        [{"public_key": good["public_key"]}],
        [{**good, "public_key": "zz" * 32}],
        [{**good, "signature": good["signature"][:-2]}],
        [good] * 65,
        "not a list",
    ):
        r = await submit_signed(http, message, doc["body"], signatures)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "INVALID_ARGUMENT", r.text
