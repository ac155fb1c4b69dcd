"""BlockCodec: the block id over every byte, and valid(v) of the engine over serialized
blocks, judged at a given time."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from node.blocks import BlockCodec, ChainTip, block_id, build_block, txs_hash
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
    return block.SerializeToString(deterministic=True)


def test_a_well_formed_block_is_valid_and_its_id_covers_every_byte() -> None:
    codec = _codec()
    raw = _block()
    assert codec.rejection(5, raw, NOW) is None
    assert codec.is_valid(5, raw, NOW)
    header = block_pb2.Block.FromString(raw).header
    assert codec.value_id(raw) == block_id(raw) == hashlib.sha256(raw).digest()
    assert header.txs_hash == txs_hash([b"t1", b"t2"])
    # Header unchanged, last_commit or a transaction changed: another id.
    assert codec.value_id(_with_cert(_cert(block_hash=b"\x05" * 32))) != codec.value_id(raw)
    assert codec.value_id(_with_txs([b"t1", b"t3"])) != codec.value_id(raw)


def _unknown_in(path: str) -> bytes:
    block = block_pb2.Block.FromString(_block())
    unknown = b"\xa8\x06\x01"  # field 101, varint 1
    if path == "block":
        return block.SerializeToString() + unknown
    if path == "header":
        block.header.MergeFromString(unknown)
    elif path == "last_commit":
        block.last_commit.MergeFromString(unknown)
    else:
        block.last_commit.signatures.add(validator=b"v", signature=b"s")
        block.last_commit.signatures[-1].MergeFromString(unknown)
    return block.SerializeToString()


@pytest.mark.parametrize("path", ["block", "header", "last_commit", "commit sig"])
def test_unknown_fields_anywhere_are_refused(path: str) -> None:
    rejection = _codec().rejection(5, _unknown_in(path), NOW)
    assert rejection is not None
    assert "unknown field" in rejection


def test_non_canonical_encodings_are_refused() -> None:
    raw = _block()
    block = block_pb2.Block.FromString(raw)
    # The same fields, the header repeated at the end: parses to the same block.
    doubled = raw + block_pb2.Block(header=block.header).SerializeToString()
    assert block_pb2.Block.FromString(doubled) == block
    assert _codec().rejection(5, doubled, NOW) == "block is not canonically encoded"


def test_block_time_is_judged_at_the_given_time_not_a_clock() -> None:
    raw = _block(time_ms=NOW + 10_000)
    codec = _codec()
    assert codec.is_valid(5, raw, NOW)
    assert not codec.is_valid(5, raw, NOW - 60_000)
    assert codec.last_rejection == "block time is too far in the future"


def test_rejection_takes_an_explicit_tip() -> None:
    other = ChainTip(5, b"\x05" * 32, TIP.app_hash, TIP.time_ms, TIP.validators_hash)
    rejection = _codec().rejection(5, _block(), NOW, tip=other)
    assert rejection is not None
    assert "does not extend" in rejection


def test_undecodable_bytes_have_an_id_and_are_invalid() -> None:
    codec = _codec()
    assert codec.value_id(b"\xff\xff") == hashlib.sha256(b"\xff\xff").digest()
    assert not codec.is_valid(5, b"\xff\xff", NOW)
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
    rejection = _codec(verify).rejection(height, make(), NOW)
    assert rejection is not None
    assert reason in rejection


def test_oversized_block_is_rejected_before_decoding() -> None:
    codec = BlockCodec(
        chain_id="c",
        tip=lambda: TIP,
        max_block_bytes=10,
        max_block_txs=3,
        verify_last_commit=lambda cert: True,
    )
    assert "exceeds" in (codec.rejection(5, _block(), NOW) or "")
