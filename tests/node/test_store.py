from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from node.store import BlockCommit, Store, StoreError, StoreLockedError, parse_cursor
from proto import block_pb2, ledger_pb2


def _block(height: int, txs: list[bytes]) -> tuple[bytes, bytes]:
    block = block_pb2.Block()
    block.header.height = height
    block.header.chain_id = "test"
    block.txs.extend(txs)
    header = block.header.SerializeToString()
    return block.SerializeToString(), hashlib.sha256(header).digest()


def _commit(
    height: int, accounts: list[str], writes: list[tuple[bytes, bytes | None]]
) -> BlockCommit:
    txs = [f"tx-{height}-{i}".encode() for i in range(len(accounts))]
    raw, block_hash = _block(height, txs)
    receipts = []
    for i, account in enumerate(accounts):
        receipts.append(
            ledger_pb2.Receipt(
                tx_id=hashlib.sha256(txs[i]).digest(),
                height=height,
                index=i,
                code=ledger_pb2.OK if i % 2 == 0 else ledger_pb2.INSUFFICIENT_FUNDS,
                accounts=[account],
                authorised=True,
                speaks_for_tx=True,
            )
        )
    return BlockCommit(
        height=height,
        block=raw,
        block_hash=block_hash,
        commit=b"cert-%d" % height,
        receipts=receipts,
        writes=writes,
        app_hash=b"app-%d" % height,
    )


def test_commit_then_reopen_sees_everything(tmp_path: Path) -> None:
    with Store(tmp_path / "db") as store:
        store.init_genesis(b"g" * 32, [(b"k1", b"v1"), (b"k2", b"v2")], b"app-0")
        store.commit_block(_commit(1, ["alice", "bob"], [(b"k1", b"v1b"), (b"k2", None)]))
    with Store(tmp_path / "db") as store:
        assert store.height == 1
        assert store.app_hash == b"app-1"
        assert store.get(b"k1") == b"v1b"
        assert store.get(b"k2") is None
        block = block_pb2.Block()
        block.ParseFromString(store.get_block(1) or b"")
        assert block.header.height == 1
        assert store.height_of(store.block_hash) == 1
        assert store.get_commit(1) == b"cert-1"
        receipts = store.get_receipts(1)
        assert [r.index for r in receipts] == [0, 1]
        loc = store.find_tx(receipts[1].tx_id)
        assert loc is not None
        assert (loc.height, loc.index, loc.code) == (1, 1, ledger_pb2.INSUFFICIENT_FUNDS)
        assert store.get_tx(receipts[0].tx_id) == b"tx-1-0"


def test_the_state_version_changes_with_every_state_write_and_only_then(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "db") as store:
        versions = [store.state_version]
        store.init_genesis(b"g" * 32, [(b"k1", b"v1")], b"app-0")
        versions.append(store.state_version)
        assert store.get(b"k1") == b"v1"
        assert store.get(b"nope") is None
        assert store.state_version == versions[-1]  # reads (and cache fills) are no writes
        store.commit_block(_commit(1, ["alice"], [(b"k1", b"v1b")]))
        versions.append(store.state_version)
        assert None not in versions
        assert len(set(versions)) == 3


def test_blocks_must_follow_the_stored_height(tmp_path: Path) -> None:
    with Store(tmp_path / "db") as store:
        store.init_genesis(b"g" * 32, [], b"app-0")
        with pytest.raises(StoreError, match="does not follow"):
            store.commit_block(_commit(2, [], []))
        store.commit_block(_commit(1, [], []))
        with pytest.raises(StoreError, match="does not follow"):
            store.commit_block(_commit(1, [], []))
        assert store.height == 1


def test_genesis_mismatch_is_refused(tmp_path: Path) -> None:
    with Store(tmp_path / "db") as store:
        store.init_genesis(b"g" * 32, [(b"k", b"v")], b"app-0")
        store.init_genesis(b"g" * 32, [(b"k", b"other")], b"app-0")  # same genesis: no-op
        assert store.get(b"k") == b"v"
        with pytest.raises(StoreError, match="another genesis"):
            store.init_genesis(b"h" * 32, [], b"app-0")


def test_account_history_pages_in_chain_order(tmp_path: Path) -> None:
    with Store(tmp_path / "db") as store:
        store.init_genesis(b"g" * 32, [], b"app-0")
        for height in range(1, 6):
            store.commit_block(_commit(height, ["alice", "bob", "alice"], []))
        # "alice" must not see "alice2" entries either
        store.commit_block(_commit(6, ["alice2"], []))
        seen = []
        cursor = None
        while True:
            page = store.account_history("alice", after=cursor, limit=3)
            if not page:
                break
            seen.extend((e.height, e.index) for e in page)
            cursor = page[-1].cursor
        assert seen == [(h, i) for h in range(1, 6) for i in (0, 2)]
        assert store.account_history("nobody") == []
        assert [e.height for e in store.account_history("alice2")] == [6]


@pytest.mark.parametrize(
    "cursor", ["", "1", "a-1", "1-b", "-1-1", "1--1", "99999999999999999999-1"]
)
def test_malformed_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(ValueError, match="malformed cursor"):
        parse_cursor(cursor)


def test_second_process_cannot_open_a_locked_store(tmp_path: Path) -> None:
    with Store(tmp_path / "db"):
        code = (
            "import sys\n"
            "from node.store import Store, StoreLockedError\n"
            "try:\n"
            f"    Store({str(tmp_path / 'db')!r})\n"
            "except StoreLockedError as e:\n"
            "    print(e); sys.exit(7)\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 7, proc.stderr
        assert "locked by another process" in proc.stdout


def test_same_process_second_open_is_locked(tmp_path: Path) -> None:
    with Store(tmp_path / "db"), pytest.raises(StoreLockedError):
        Store(tmp_path / "db")


def test_a_duplicate_receipt_does_not_move_the_original_in_the_tx_index(tmp_path: Path) -> None:
    with Store(tmp_path / "db") as store:
        store.init_genesis(b"g" * 32, [], b"app-0")
        first = _commit(1, ["alice"], [])
        store.commit_block(first)
        tx_id = first.receipts[0].tx_id
        dup = _commit(2, ["alice"], [])
        dup.receipts[0].tx_id = tx_id
        dup.receipts[0].code = ledger_pb2.DUPLICATE
        store.commit_block(dup)
        loc = store.find_tx(tx_id)
        assert loc is not None
        assert (loc.height, loc.index, loc.code) == (1, 0, ledger_pb2.OK)
