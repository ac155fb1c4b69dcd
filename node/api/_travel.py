"""Travel-rule routes (docs/api.md, "Travel-rule data"): whom a leg seals its travel data
to, and the sealed copies of a committed transfer for their recipients to open.

Neither route decrypts anything: the node holds no private key. Transaction views show a
copy's recipient and size only (node/api/_views.py); the sealed bytes leave only here.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import DecodeError

from node.api import _errors as e
from node.ledger import get_account
from node.ledger._travel import travel_recipients
from node.store import Store
from proto import ledger_pb2


def recipients_doc(store: Store, payer_id: str, payee_id: str) -> dict[str, Any]:
    """GET /v1/travel/recipients: who receives a copy of a payer -> payee leg's data."""
    accounts = []
    for what, account_id in (("payer", payer_id), ("payee", payee_id)):
        account = get_account(store, account_id)
        if account is None:
            raise e.not_found(f"{what}: no account {account_id!r}")
        accounts.append(account)
    try:
        found = travel_recipients(store, accounts[0], accounts[1])
    except ValueError as err:
        raise e.bad_argument(f"{err}: travel-rule data has no recipient for it") from None
    return {
        "payer": payer_id,
        "payee": payee_id,
        "recipients": [
            {
                "account_id": account_id,
                "receives_for": side,
                "travel_key": key.hex() if key else None,
            }
            for account_id, side, key in found
        ],
    }


def copies_doc(store: Store, tx_id: bytes) -> dict[str, Any]:
    """GET /v1/txs/{tx_id}/travel: each leg's sealed copies (hex) of a committed transfer."""
    raw = store.get_tx(tx_id)
    if raw is None:
        raise e.not_found(f"no committed transaction {tx_id.hex()}")
    body = ledger_pb2.TxBody()
    try:
        body.ParseFromString(ledger_pb2.TxEnvelope.FromString(raw).body)
    except DecodeError:
        raise e.not_found(f"transaction {tx_id.hex()} does not decode: no travel data") from None
    legs = body.transfer.legs if body.WhichOneof("kind") == "transfer" else []
    return {
        "tx_id": tx_id.hex(),
        "legs": [
            {
                "index": index,
                "copies": [
                    {"recipient": c.recipient, "sealed": c.sealed.hex()} for c in leg.travel_copies
                ],
            }
            for index, leg in enumerate(legs)
        ],
    }
