"""docs/api.md, "Signing a transaction", is enough to sign for the node from any language.

The transaction is built from that page alone: the body with the generated protobuf
classes (what any language's protobuf gives), the sign bytes framed as the page says, and
the signature made with the `cryptography` package's Ed25519 (OpenSSL), neither PyNaCl
nor node.keys. The worked example's hex values are read out of the page and checked, so
the page cannot drift from the code, and a real node commits both the page's request as
printed and a new transaction signed by these rules.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Final

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from live_node import DOCS_CHAIN_ID, LiveNode

from proto import ledger_pb2 as pb

API_DOC: Final = Path(__file__).parents[2] / "docs" / "api.md"

# The page's rules (step 3 of "Signing a transaction").
TX_DOMAIN_TAG: Final = b"tenge/tx/v1\x00"

# The worked example's fields, as its prose and byte table state them.
PAYER: Final = "alice.bank-a"
BANK: Final = "bank-a"
AMOUNT: Final = 12345
REFERENCE: Final = "invoice 77"
NONCE: Final = 1
EXPIRES_AT: Final = 500


def worked_example() -> tuple[dict[str, str], dict[str, str]]:
    """The example's `name  value` lines and its JSON request, read from docs/api.md."""
    text = API_DOC.read_text()
    section = text.split("### Worked example", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```text\n(.*?)```", section, re.S)
    request = re.search(r"```json\n(.*?)```", section, re.S)
    assert block is not None, "docs/api.md lost its worked example"
    assert request is not None, "docs/api.md lost the worked example's request"
    values = {}
    for line in block.group(1).splitlines():
        name, value = re.split(r"\s{2,}", line.strip())
        values[name] = value
    return values, json.loads(request.group(1))


def sign_bytes(chain_id: str, body: bytes) -> bytes:
    """domain tag | chain-id length (one byte) | chain id (UTF-8) | body bytes."""
    cid = chain_id.encode()
    return TX_DOMAIN_TAG + bytes([len(cid)]) + cid + body


def payment_body(chain_id: str, amount: int, nonce: int, expires_at: int, reference: str) -> bytes:
    leg = pb.TransferLeg(payer=PAYER, payee=BANK, asset="KZT", amount=amount)
    body = pb.TxBody(
        chain_id=chain_id,
        nonce=nonce,
        expires_at_height=expires_at,
        signer=PAYER,
        transfer=pb.Transfer(legs=[leg], reference=reference),
    )
    return body.SerializeToString()


def envelope(body: bytes, key: Ed25519PrivateKey, message: bytes) -> bytes:
    signature = pb.Signature(
        public_key=key.public_key().public_bytes_raw(), signature=key.sign(message)
    )
    return pb.TxEnvelope(body=body, signatures=[signature]).SerializeToString()


def example_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(worked_example()[0]["seed"]))


def test_the_worked_example_follows_from_the_rules() -> None:
    values, request = worked_example()
    assert TX_DOMAIN_TAG.hex() in API_DOC.read_text()  # the tag the page spells out
    key = example_key()
    assert key.public_key().public_bytes_raw().hex() == values["public key"]
    assert values["chain id"] == DOCS_CHAIN_ID
    body = payment_body(DOCS_CHAIN_ID, AMOUNT, NONCE, EXPIRES_AT, REFERENCE)
    assert body.hex() == values["body"]
    message = sign_bytes(DOCS_CHAIN_ID, body)
    assert message.hex() == values["sign bytes"]
    assert key.sign(message).hex() == values["signature"]  # Ed25519 is deterministic
    assert hashlib.sha256(body).hexdigest() == values["tx_id"]
    raw = envelope(body, key, message)
    assert raw.hex() == values["envelope"]
    assert request == {"tx": base64.b64encode(raw).decode()}


def test_the_node_frames_sign_bytes_as_the_page_says() -> None:
    """The node's own framing gives the page's bytes (a second line of defence)."""
    from node.keys import TX_DOMAIN
    from node.keys import sign_bytes as node_sign_bytes

    body = bytes.fromhex(worked_example()[0]["body"])
    assert TX_DOMAIN == TX_DOMAIN_TAG
    assert node_sign_bytes(TX_DOMAIN, DOCS_CHAIN_ID, body) == sign_bytes(DOCS_CHAIN_ID, body)


def fund_the_example_account(live: LiveNode, public_key: bytes) -> None:
    """central-bank issues to bank-a; bank-a registers alice.bank-a with the page's key and
    pays it (the harness signs these; only the customer's payments follow the page)."""
    live.send("central-bank", pb.Issue(asset="KZT", to=BANK, amount=1_000_000), nonce=1)
    account = pb.RegisterAccount(
        account_id=PAYER,
        role=pb.CUSTOMER,
        zone=pb.NATIONAL,
        kyc_tier=1,
        public_keys=[public_key],
    )
    live.send(BANK, account, nonce=2)
    pay = pb.Transfer(legs=[pb.TransferLeg(payer=BANK, payee=PAYER, asset="KZT", amount=100_000)])
    live.send(BANK, pay, nonce=3)


def balance(live: LiveNode, account: str) -> int:
    response = httpx.get(f"{live.api}/v1/accounts/{account}", timeout=10)
    assert response.status_code == 200, response.text
    return int(response.json()["balances"].get("KZT", "0"))


@pytest.mark.integration
def test_a_live_node_commits_transactions_signed_from_the_page(live: LiveNode) -> None:
    values, request = worked_example()
    key = example_key()
    fund_the_example_account(live, key.public_key().public_bytes_raw())
    assert live.height() < EXPIRES_AT - 10, "the example expires at height 500"

    # The page's request, byte for byte.
    response = httpx.post(f"{live.api}/v1/txs?wait=commit", json=request, timeout=40)
    assert response.status_code == 200, response.text
    committed = response.json()
    assert committed["code"] == "OK", committed
    assert committed["tx_id"] == values["tx_id"]
    assert balance(live, PAYER) == 100_000 - AMOUNT

    # A new transaction, by the page's rules alone.
    body = payment_body(DOCS_CHAIN_ID, 500, 2, live.height() + 50, "by the rules")
    response = live.submit(envelope(body, key, sign_bytes(DOCS_CHAIN_ID, body)))
    assert response.status_code == 200, response.text
    assert response.json()["code"] == "OK", response.text
    assert response.json()["tx_id"] == hashlib.sha256(body).hexdigest()
    assert balance(live, PAYER) == 100_000 - AMOUNT - 500
    looked_up = httpx.get(f"{live.api}/v1/txs/{hashlib.sha256(body).hexdigest()}", timeout=10)
    assert looked_up.json()["tx"]["signer"] == PAYER

    # The framing matters: without the chain id's length byte the signature is refused.
    body = payment_body(DOCS_CHAIN_ID, 500, 3, live.height() + 50, "unframed")
    unframed = TX_DOMAIN_TAG + DOCS_CHAIN_ID.encode() + body
    response = live.submit(envelope(body, key, unframed), wait=False)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "INVALID_SIGNATURE"
