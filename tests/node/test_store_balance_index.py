"""The store's balance index (node/store.py rules 9 and 10): the balance at the end of any
height in one seek, from genesis balances on, and unknown before a store had the index."""

from __future__ import annotations

import hashlib
from pathlib import Path

from node.store import META_BALANCES_FROM, BlockCommit, Store
from proto import block_pb2


def bal(account: str, asset: str = "KZT") -> bytes:
    return f"bal/{account}/{asset}".encode()


def amount(value: int) -> bytes:
    return value.to_bytes(16, "big")


def commit(height: int, writes: list[tuple[bytes, bytes | None]]) -> BlockCommit:
    block = block_pb2.Block()
    block.header.height = height
    raw = block.SerializeToString()
    return BlockCommit(
        height=height,
        block=raw,
        block_hash=hashlib.sha256(raw).digest(),
        commit=b"cert",
        receipts=[],
        writes=writes,
        app_hash=b"app-%d" % height,
    )


def test_balances_at_every_height_from_genesis(tmp_path: Path) -> None:
    with Store(tmp_path / "db") as store:
        genesis = [(bal("halyk"), amount(1000)), (bal("kaspi"), amount(5))]
        store.init_genesis(b"g" * 32, genesis, b"app-0")
        store.commit_block(commit(1, [(bal("kaspi"), amount(6))]))  # halyk untouched
        store.commit_block(commit(2, [(bal("halyk"), amount(900)), (bal("kaspi"), amount(106))]))
        store.commit_block(commit(3, [(bal("halyk"), None), (bal("halyk", "USD"), amount(7))]))
        store.commit_block(commit(4, []))
    with Store(tmp_path / "db") as store:  # the index is on disk
        assert [store.balance_at("halyk", "KZT", h) for h in range(5)] == [1000, 1000, 900, 0, 0]
        assert [store.balance_at("kaspi", "KZT", h) for h in range(5)] == [5, 6, 106, 106, 106]
        assert [store.balance_at("halyk", "USD", h) for h in range(5)] == [0, 0, 0, 7, 7]
        assert store.balance_at("nobody", "KZT", 2) == 0
        assert store.balance_changes("halyk", "KZT", 1, 4, limit=10) == {
            2: (1000, 900),
            3: (900, 0),
        }
        assert store.balance_changes("kaspi", "KZT", 2, 2, limit=10) == {2: (6, 106)}
        assert store.balance_changes("kaspi", "KZT", 1, 4, limit=1) == {1: (5, 6)}
        assert store.balances_from == 1


def test_a_store_from_before_the_index_knows_balances_only_from_its_first_new_block(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "db") as store:
        store.init_genesis(b"g" * 32, [(bal("halyk"), amount(1000))], b"app-0")
        store.commit_block(commit(1, [(bal("halyk"), amount(990))]))
        store._db.delete(META_BALANCES_FROM)  # as a database written before the index
        for key, _ in store._db.iterator(prefix=b"ab/"):
            store._db.delete(key)
    with Store(tmp_path / "db") as store:
        assert store.balances_from is None
        assert store.balance_at("halyk", "KZT", 1) is None
        store.commit_block(commit(2, [(bal("halyk"), amount(980))]))
        assert store.balances_from == 2
    with Store(tmp_path / "db") as store:
        assert store.balances_from == 2
        assert store.balance_at("halyk", "KZT", 0) is None
        assert [store.balance_at("halyk", "KZT", h) for h in (1, 2)] == [990, 980]
