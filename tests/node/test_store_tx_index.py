"""The tx index nobody can squat (node/store.py rules 1-5), on a real LevelDB."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest

from node.store import TX, BlockCommit, Store, StoreError
from proto import block_pb2, ledger_pb2

TX_ID = hashlib.sha256(b"the victim's body").digest()
SETTLED = {"authorised": True, "speaks_for_tx": True}
BODY_ONLY = {"authorised": False, "speaks_for_tx": True}
ENVELOPE = {"authorised": False, "speaks_for_tx": False}


def _receipt(height: int, index: int, code: int, standing: dict[str, bool]) -> ledger_pb2.Receipt:
    accounts = ["alice"] if standing["authorised"] else []
    return ledger_pb2.Receipt(
        tx_id=TX_ID, height=height, index=index, code=code, accounts=accounts, **standing
    )


def _write(store: Store, *receipts: ledger_pb2.Receipt) -> None:
    height = store.height + 1
    block = block_pb2.Block()
    block.header.height = height
    block.txs.extend(b"tx-%d-%d" % (height, r.index) for r in receipts)
    raw = block.SerializeToString()
    store.commit_block(
        BlockCommit(
            height=height,
            block=raw,
            block_hash=hashlib.sha256(raw).digest(),
            commit=b"cert",
            receipts=receipts,
            writes=[],
            app_hash=b"app",
        )
    )


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Store(tmp_path / "db") as s:
        s.init_genesis(b"g" * 32, [], b"app-0")
        yield s


def _entry(store: Store) -> tuple[int, int, int, bool] | None:
    loc = store.find_tx(TX_ID)
    return None if loc is None else (loc.height, loc.index, loc.code, loc.settled)


def test_an_envelope_refusal_is_kept_in_its_block_but_indexed_nowhere(store: Store) -> None:
    junk = _receipt(1, 0, ledger_pb2.INVALID_SIGNATURE, ENVELOPE)
    junk.accounts.append("alice")  # even if a receipt named an account, it stays off
    _write(store, junk)
    assert _entry(store) is None
    assert store.get_tx(TX_ID) is None
    assert store.account_history("alice") == []
    assert [r.code for r in store.get_receipts(1)] == [ledger_pb2.INVALID_SIGNATURE]
    _write(store, _receipt(2, 0, ledger_pb2.OK, SETTLED))
    assert _entry(store) == (2, 0, ledger_pb2.OK, True)
    assert [e.height for e in store.account_history("alice")] == [2]


@pytest.mark.parametrize(
    ("code", "standing"),
    [
        (ledger_pb2.DUPLICATE, BODY_ONLY),
        (ledger_pb2.EXPIRED, BODY_ONLY),
        (ledger_pb2.UNKNOWN_ACCOUNT, BODY_ONLY),
        (ledger_pb2.INVALID_SIGNATURE, ENVELOPE),
        (ledger_pb2.INSUFFICIENT_FUNDS, SETTLED),  # cannot happen (seen), and still no move
    ],
)
def test_a_settled_entry_is_never_moved(store: Store, code: int, standing: dict[str, bool]) -> None:
    _write(store, _receipt(1, 0, ledger_pb2.OK, SETTLED))
    _write(store, _receipt(2, 0, code, standing))
    _write(store, _receipt(3, 1, ledger_pb2.FROZEN, SETTLED), _receipt(3, 2, code, standing))
    assert _entry(store) == (1, 0, ledger_pb2.OK, True)
    assert store.get_tx(TX_ID) == b"tx-1-0"


def test_a_body_refusal_is_the_latest_verdict_until_one_settles(store: Store) -> None:
    _write(store, _receipt(1, 0, ledger_pb2.TTL_TOO_LONG, BODY_ONLY))
    assert _entry(store) == (1, 0, ledger_pb2.TTL_TOO_LONG, False)
    _write(store, _receipt(2, 0, ledger_pb2.UNKNOWN_ACCOUNT, BODY_ONLY))
    _write(store, _receipt(3, 0, ledger_pb2.INVALID_SIGNATURE, ENVELOPE))
    assert _entry(store) == (2, 0, ledger_pb2.UNKNOWN_ACCOUNT, False), "a junk copy moves nothing"
    _write(store, _receipt(4, 0, ledger_pb2.OK, SETTLED))
    assert _entry(store) == (4, 0, ledger_pb2.OK, True)
    _write(store, _receipt(5, 0, ledger_pb2.EXPIRED, BODY_ONLY))
    assert _entry(store) == (4, 0, ledger_pb2.OK, True)


def test_within_one_block_the_same_rules_hold(store: Store) -> None:
    _write(
        store,
        _receipt(1, 0, ledger_pb2.INVALID_SIGNATURE, ENVELOPE),
        _receipt(1, 1, ledger_pb2.UNKNOWN_ACCOUNT, BODY_ONLY),
        _receipt(1, 2, ledger_pb2.OK, SETTLED),
        _receipt(1, 3, ledger_pb2.DUPLICATE, BODY_ONLY),
    )
    assert _entry(store) == (1, 2, ledger_pb2.OK, True)


def test_entries_from_before_the_settled_flag_read_and_ok_ones_stay_final(
    store: Store,
) -> None:
    _write(store, _receipt(1, 0, ledger_pb2.INVALID_SIGNATURE, ENVELOPE))
    store._db.put(TX + TX_ID, struct.pack(">QII", 1, 0, ledger_pb2.INVALID_SIGNATURE))
    assert _entry(store) == (1, 0, ledger_pb2.INVALID_SIGNATURE, False)
    _write(store, _receipt(2, 0, ledger_pb2.OK, SETTLED))
    assert _entry(store) == (2, 0, ledger_pb2.OK, True)
    store._db.put(TX + TX_ID, struct.pack(">QII", 2, 0, ledger_pb2.OK))
    assert _entry(store) == (2, 0, ledger_pb2.OK, True)
    _write(store, _receipt(3, 0, ledger_pb2.EXPIRED, BODY_ONLY))
    assert _entry(store) == (2, 0, ledger_pb2.OK, True)


def test_a_corrupt_entry_is_an_error_to_read_and_is_overwritten_by_a_verdict(
    store: Store,
) -> None:
    _write(store)
    store._db.put(TX + TX_ID, b"\x01\x02\x03")
    with pytest.raises(StoreError, match="3 bytes"):
        store.find_tx(TX_ID)
    _write(store, _receipt(2, 0, ledger_pb2.OK, SETTLED))
    assert _entry(store) == (2, 0, ledger_pb2.OK, True)
