"""Mempool over the real ledger and a real LevelDB store."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.genesis import parse_genesis
from node.keys import KeyPair
from node.ledger import Ledger, genesis_app_hash, genesis_state
from node.ledger.txbuild import build_tx, sign_envelope, transfer
from node.mempool import Mempool
from node.store import BlockCommit, Store
from proto import genesis_pb2, ledger_pb2

CHAIN = "tenge-mempool"


def key(name: str) -> KeyPair:
    return KeyPair.from_seed(hashlib.sha256(name.encode()).digest())


def _genesis() -> genesis_pb2.Genesis:
    accounts = [
        {"account_id": "nbk", "role": "CENTRAL_BANK", "zone": "NATIONAL"},
        {"account_id": "bank-a", "role": "COMMERCIAL_BANK", "zone": "NATIONAL"},
        {
            "account_id": "alice",
            "role": "CUSTOMER",
            "zone": "NATIONAL",
            "kyc_tier": 2,
            "balances": {"KZT": "1000"},
        },
        {"account_id": "bob", "role": "CUSTOMER", "zone": "NATIONAL", "kyc_tier": 2},
    ]
    for a in accounts:
        a["public_keys"] = [key(str(a["account_id"])).public_key.hex()]
    return parse_genesis(
        {
            "chain_id": CHAIN,
            "genesis_time_ms": 1_767_225_600_000,
            "params": {"max_tx_ttl": 20},
            "validators": [{"public_key": key("v").public_key.hex(), "power": 1}],
            "limits": [
                {"kyc_tier": 2, "per_payment": "0", "daily_outflow": "0", "holding_cap": "0"}
            ],
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
    )


def pay(amount: int, nonce: int, expires: int = 10) -> bytes:
    body = build_tx(
        CHAIN,
        "alice",
        transfer(("alice", "bob", "KZT", amount)),
        nonce=nonce,
        expires_at_height=expires,
    )
    return sign_envelope(body, CHAIN, [key("alice")])


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Store, Ledger]]:
    genesis = _genesis()
    with Store(tmp_path / "db") as store:
        store.init_genesis(b"g", genesis_state(genesis), genesis_app_hash(genesis))
        yield store, Ledger(genesis, store)


def test_admission_dedup_and_fifo_reap(world: tuple[Store, Ledger]) -> None:
    _, ledger = world
    pool = Mempool(ledger, max_txs=10, max_bytes=1 << 20)
    txs = [pay(10, n) for n in range(3)]
    first = pool.add(txs[0], next_height=1)
    assert first.ok
    assert first.added
    again = pool.add(txs[0], next_height=1)
    assert again.ok
    assert not again.added, "resubmission is idempotent, not a second entry"
    for raw in txs[1:]:
        assert pool.add(raw, next_height=1).added
    assert len(pool) == 3
    assert pool.reap(max_txs=2, max_bytes=1 << 20) == txs[:2]
    assert pool.reap(max_txs=10, max_bytes=len(txs[0])) == txs[:1]


def test_refusals_carry_the_ledger_code(world: tuple[Store, Ledger]) -> None:
    _, ledger = world
    pool = Mempool(ledger, max_txs=10, max_bytes=1 << 20)
    bad = pool.add(b"\xff\x00garbage", next_height=1)
    assert bad.code == ledger_pb2.MALFORMED
    assert pool.add(pay(10, 1, expires=0), next_height=1).code == ledger_pb2.EXPIRED
    assert len(pool) == 0
    assert pool.results[ledger_pb2.MALFORMED] == 1


def test_full_by_count_and_by_bytes(world: tuple[Store, Ledger]) -> None:
    _, ledger = world
    pool = Mempool(ledger, max_txs=2, max_bytes=1 << 20)
    assert pool.add(pay(1, 1), next_height=1).added
    assert pool.add(pay(1, 2), next_height=1).added
    full = pool.add(pay(1, 3), next_height=1)
    assert full.code == ledger_pb2.MEMPOOL_FULL
    assert "mempool full" in full.message
    one = pay(1, 4)
    small = Mempool(ledger, max_txs=100, max_bytes=len(one) + 10)
    assert small.add(one, next_height=1).added
    assert small.add(pay(1, 5), next_height=1).code == ledger_pb2.MEMPOOL_FULL


def test_update_drops_included_and_rechecks_the_rest(world: tuple[Store, Ledger]) -> None:
    store, ledger = world
    pool = Mempool(ledger, max_txs=10, max_bytes=1 << 20)
    spend_all = pay(1000, 1)
    overdraw = pay(600, 2)
    late = pay(1, 3, expires=1)
    for raw in (spend_all, overdraw, late):
        assert pool.add(raw, next_height=1).added
    result = ledger.execute_block(
        height=1, time_ms=1_767_225_601_000, txs=[spend_all], prev_app_hash=store.app_hash
    )
    assert result.receipts[0].code == ledger_pb2.OK
    store.commit_block(
        BlockCommit(
            height=1,
            block=b"b",
            block_hash=b"h",
            commit=b"c",
            receipts=result.receipts,
            writes=result.writes,
            app_hash=result.app_hash,
        )
    )
    dropped = pool.update([r.tx_id for r in result.receipts], next_height=2)
    # alice now has nothing (overdraw fails re-check) and `late` expired at height 1.
    assert dropped == 2
    assert len(pool) == 0
    assert pool.size_bytes == 0


class _CountingChecker:
    """The real ledger, counting how often the mempool asks it."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.calls = 0

    def check_tx(self, raw: bytes, *, next_height: int):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.ledger.check_tx(raw, next_height=next_height)


def test_update_rechecks_only_what_the_block_touched(world: tuple[Store, Ledger]) -> None:
    _, ledger = world
    checker = _CountingChecker(ledger)
    pool = Mempool(checker, max_txs=10, max_bytes=1 << 20)
    pool.add(pay(10, 1, expires=10), next_height=1)
    soon = pay(10, 2, expires=1)
    pool.add(soon, next_height=1)
    checker.calls = 0
    assert pool.update([], next_height=2, touched={"bob"}) == 1  # only the expiring one
    assert checker.calls == 1
    assert len(pool) == 1
    checker.calls = 0
    pool.update([], next_height=2, touched={"alice"})
    assert checker.calls == 1
    checker.calls = 0
    pool.update([], next_height=2, touched=None)
    assert checker.calls == 1
