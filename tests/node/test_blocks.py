"""BlockCodec: valid(v) of the engine over serialized blocks."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from node.blocks import BlockCodec, ChainTip, block_hash_of_header, build_block, txs_hash
from proto import block_pb2, consensus_pb2

NOW = 1_767_225_600_000
TIP = ChainTip(
    height=4,
    block_hash=b"\x04" * 32,
    app_hash=b"\xaa" * 32,
    time_ms=NOW - 1000,
    validators_hash=b"\x0f" * 32,
)


def _cert(height: int = 4, block_hash: bytes = TIP.block_hash) -> consensus_pb2.CommitCertificate:
    return consensus_pb2.CommitCertificate(height=height, round=0, block_hash=block_hash)


def _codec(verify: bool = True) -> BlockCodec:
    return BlockCodec(
        chain_id="c",
        tip=lambda: TIP,
        clock_ms=lambda: NOW,
        max_block_bytes=10_000,
        max_block_txs=3,
        verify_last_commit=lambda cert: verify,
    )


def _block(**changes: object) -> bytes:
    raw = build_block(
        chain_id="c",
        tip=TIP,
        txs=[b"t1", b"t2"],
        proposer=b"p" * 32,
        now_ms=NOW,
        last_commit=_cert(),
    )
    block = block_pb2.Block.FromString(raw)
    for name, value in changes.items():
        setattr(block.header, name, value)
    return block.SerializeToString()


def test_a_well_formed_block_is_valid_and_its_id_is_the_header_hash() -> None:
    codec = _codec()
    raw = _block()
    assert codec.rejection(5, raw) is None
    assert codec.is_valid(5, raw)
    header = block_pb2.Block.FromString(raw).header
    assert codec.value_id(raw) == block_hash_of_header(header)
    assert header.txs_hash == txs_hash([b"t1", b"t2"])


def test_undecodable_bytes_have_an_id_and_are_invalid() -> None:
    codec = _codec()
    assert codec.value_id(b"\xff\xff") == hashlib.sha256(b"\xff\xff").digest()
    assert not codec.is_valid(5, b"\xff\xff")
    assert codec.last_rejection == "block does not decode"


def _with_txs(txs: list[bytes]) -> bytes:
    block = block_pb2.Block.FromString(_block())
    del block.txs[:]
    block.txs.extend(txs)
    return block.SerializeToString()


def _with_cert(cert: consensus_pb2.CommitCertificate | None) -> bytes:
    block = block_pb2.Block.FromString(_block())
    block.ClearField("last_commit")
    if cert is not None:
        block.last_commit.CopyFrom(cert)
    return block.SerializeToString()


CASES: list[tuple[str, Callable[[], bytes], int, bool, str]] = [
    ("height", lambda: _block(height=6), 5, True, "does not extend"),
    ("wrong height asked", lambda: _block(), 6, True, "does not extend"),
    ("chain", lambda: _block(chain_id="other"), 5, True, "wrong chain id"),
    ("prev", lambda: _block(prev_block_hash=b"x" * 32), 5, True, "prev_block_hash"),
    ("app", lambda: _block(app_hash=b"x" * 32), 5, True, "app_hash"),
    ("valset", lambda: _block(validators_hash=b"x" * 32), 5, True, "validators_hash"),
    ("txs hash", lambda: _with_txs([b"t1", b"evil"]), 5, True, "txs_hash"),
    ("too many", lambda: _with_txs([b"a", b"b", b"c", b"d"]), 5, True, "exceed"),
    ("time back", lambda: _block(time_ms=TIP.time_ms), 5, True, "does not advance"),
    ("future", lambda: _block(time_ms=NOW + 60_000), 5, True, "future"),
    ("no cert", lambda: _with_cert(None), 5, True, "missing certificate"),
    ("cert height", lambda: _with_cert(_cert(height=3)), 5, True, "not for the previous"),
    ("cert fails", lambda: _block(), 5, False, "does not verify"),
]


@pytest.mark.parametrize(
    ("name", "make", "height", "verify", "reason"), CASES, ids=[c[0] for c in CASES]
)
def test_each_defect_is_rejected_with_its_reason(
    name: str, make: Callable[[], bytes], height: int, verify: bool, reason: str
) -> None:
    rejection = _codec(verify).rejection(height, make())
    assert rejection is not None
    assert reason in rejection


def test_oversized_block_is_rejected_before_decoding() -> None:
    codec = BlockCodec(
        chain_id="c",
        tip=lambda: TIP,
        clock_ms=lambda: NOW,
        max_block_bytes=10,
        max_block_txs=3,
        verify_last_commit=lambda cert: True,
    )
    assert "exceeds" in (codec.rejection(5, _block()) or "")
