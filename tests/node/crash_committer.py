"""Subprocess for test_crash.py: commits blocks of random transfers until it is killed.

Usage: python crash_committer.py DB_DIR SEED. Prints "height N" after each durable commit.
Each block also issues fresh KZT to a bank and redeems some, so supply changes too. Every
transfer carries a UETR and an end-to-end id (`payment_ids`), which the store indexes in
the block's one write batch.
"""

from __future__ import annotations

import hashlib
import random
import sys
import uuid
from pathlib import Path
from typing import Any

from node.genesis import parse_genesis
from node.keys import KeyPair
from node.ledger import Ledger, genesis_app_hash, genesis_state
from node.ledger.txbuild import PaymentIds, build_tx, sign_envelope, transfer
from node.store import BlockCommit, Store
from proto import block_pb2, ledger_pb2

CHAIN = "tenge-crash"
CUSTOMERS = 40
T0 = 1_767_225_600_000
MAX_BLOCKS = 5_000


def key(name: str) -> KeyPair:
    return KeyPair.from_seed(hashlib.sha256(name.encode()).digest())


def customers() -> list[str]:
    return [f"cust-{i:03d}" for i in range(CUSTOMERS)]


def genesis_doc() -> dict[str, Any]:
    accounts: list[dict[str, Any]] = [
        {"account_id": "nbk", "role": "CENTRAL_BANK", "zone": "NATIONAL"},
        {"account_id": "bank-a", "role": "COMMERCIAL_BANK", "zone": "NATIONAL"},
    ]
    accounts += [
        {
            "account_id": name,
            "role": "CUSTOMER",
            "zone": "NATIONAL",
            "kyc_tier": 2,
            "balances": {"KZT": "1000000"},
        }
        for name in customers()
    ]
    for account in accounts:
        account["public_keys"] = [key(account["account_id"]).public_key.hex()]
    return {
        "chain_id": CHAIN,
        "genesis_time_ms": T0,
        "params": {"max_tx_ttl": 50},
        "validators": [{"public_key": key("val").public_key.hex(), "power": 1}],
        "limits": [{"kyc_tier": 2, "per_payment": "0", "daily_outflow": "0", "holding_cap": "0"}],
        "accounts": accounts,
        "assets": [
            {
                "code": "KZT",
                "decimals": 2,
                "issuer": "nbk",
                "kind": "CBDC",
                "payment_zones": ["NATIONAL", "CRYPTOCITY"],
            }
        ],
    }


def payment_ids(nonce: int) -> PaymentIds:
    """The UETR and end-to-end id of the transfer with this nonce."""
    digest = hashlib.sha256(b"uetr-%d" % nonce).digest()[:16]
    return PaymentIds(end_to_end_id=f"E2E-{nonce}", uetr=uuid.UUID(bytes=digest, version=4).bytes)


def block_txs(rng: random.Random, height: int) -> list[bytes]:
    names = customers()
    txs = []
    nonce = height * 1_000
    for _ in range(rng.randint(20, 120)):
        payer, payee = rng.sample(names, 2)
        nonce += 1
        # Some overdraw on purpose: they fail with INSUFFICIENT_FUNDS and move nothing.
        amount = rng.randint(1, 400_000)
        body = build_tx(
            CHAIN,
            payer,
            transfer((payer, payee, "KZT", amount, payment_ids(nonce))),
            nonce=nonce,
            expires_at_height=height + 5,
        )
        txs.append(sign_envelope(body, CHAIN, [key(payer)]))
    nonce += 1
    issue = ledger_pb2.Issue(asset="KZT", to="bank-a", amount=rng.randint(1, 10_000))
    body = build_tx(CHAIN, "nbk", issue, nonce=nonce, expires_at_height=height + 5)
    txs.append(sign_envelope(body, CHAIN, [key("nbk")]))
    nonce += 1
    redeem = ledger_pb2.Redeem(asset="KZT", amount=rng.randint(1, 5_000))
    body = build_tx(CHAIN, "bank-a", redeem, nonce=nonce, expires_at_height=height + 5)
    txs.append(sign_envelope(body, CHAIN, [key("bank-a")]))
    return txs


def main() -> None:
    db, seed = Path(sys.argv[1]), int(sys.argv[2])
    genesis = parse_genesis(genesis_doc())
    with Store(db) as store:
        store.init_genesis(b"crash-genesis", genesis_state(genesis), genesis_app_hash(genesis))
        ledger = Ledger(genesis, store)
        rng = random.Random(seed)
        for _ in range(MAX_BLOCKS):
            height = store.height + 1
            txs = block_txs(rng, height)
            block = block_pb2.Block()
            block.header.chain_id = CHAIN
            block.header.height = height
            block.header.time_ms = T0 + height * 1000
            block.header.app_hash = store.app_hash
            block.txs.extend(txs)
            result = ledger.execute_block(
                height=height, time_ms=block.header.time_ms, txs=txs, prev_app_hash=store.app_hash
            )
            store.commit_block(
                BlockCommit(
                    height=height,
                    block=block.SerializeToString(),
                    block_hash=hashlib.sha256(block.header.SerializeToString()).digest(),
                    commit=b"cert",
                    receipts=result.receipts,
                    writes=result.writes,
                    app_hash=result.app_hash,
                )
            )
            print(f"height {height}", flush=True)


if __name__ == "__main__":
    main()
