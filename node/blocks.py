"""Blocks: building a proposal from the mempool and judging a proposed one.

The engine treats a block as opaque bytes; this module gives it the two facts it needs
(``ValueCodec``): the block's id and whether a proposed block may be decided at a height
and time (valid(v) of Algorithm 1). Transactions inside a valid block may still fail the
ledger's rules: they are executed and get failure receipts, as every node computes the
same ones.

Block id = SHA-256 of the exact serialized Block bytes: header, transactions, last_commit
and every field added later. A valid block is canonical: it holds no unknown field
(anywhere) and is byte for byte what deterministic serialization of its parse gives. So
one id means one byte string, and a relay that alters any byte changes the id, which the
proposer's signature no longer covers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from google.protobuf.message import DecodeError

import consensus as cs
from node.consensus_codec import evidence_to_proto, unknown_field_in
from proto import block_pb2, consensus_pb2

MAX_CLOCK_DRIFT_MS: Final = 30_000


def block_id(value: bytes) -> bytes:
    """The block id (block hash): SHA-256 of the serialized block, every byte of it."""
    return hashlib.sha256(value).digest()


def block_hash_of_header(header: block_pb2.BlockHeader) -> bytes:
    """SHA-256 of the serialized header alone. Not the block id (see ``block_id``)."""
    return hashlib.sha256(header.SerializeToString()).digest()


def txs_hash(txs: Sequence[bytes]) -> bytes:
    """SHA-256 over the SHA-256 of each transaction envelope, in block order."""
    h = hashlib.sha256()
    for raw in txs:
        h.update(hashlib.sha256(raw).digest())
    return h.digest()


def decode_block(value: bytes) -> block_pb2.Block | None:
    """Parse a serialized block, or None when it does not decode."""
    block = block_pb2.Block()
    try:
        block.ParseFromString(value)
    except (DecodeError, RuntimeError, ValueError):
        return None
    return block


@dataclass(frozen=True, slots=True)
class ChainTip:
    """What the next block must build on."""

    height: int  # last committed height
    block_hash: bytes
    app_hash: bytes
    time_ms: int  # time of the last committed block (genesis time at height 0)
    validators_hash: bytes  # of the set that runs height + 1


def build_block(
    *,
    chain_id: str,
    tip: ChainTip,
    txs: Sequence[bytes],
    proposer: bytes,
    now_ms: int,
    last_commit: consensus_pb2.CommitCertificate | None,
    evidence: Sequence[cs.Evidence] = (),
) -> bytes:
    """Serialize the block this node proposes for tip.height + 1.

    evidence: pending equivocation evidence to commit (``EvidencePool.pending``).
    """
    block = block_pb2.Block()
    header = block.header
    header.chain_id = chain_id
    header.height = tip.height + 1
    header.time_ms = max(now_ms, tip.time_ms + 1)
    header.prev_block_hash = tip.block_hash
    header.app_hash = tip.app_hash
    header.txs_hash = txs_hash(txs)
    header.proposer = proposer
    header.validators_hash = tip.validators_hash
    block.txs.extend(txs)
    if last_commit is not None:
        block.last_commit.CopyFrom(last_commit)
    block.evidence.extend(evidence_to_proto(e) for e in evidence)
    return block.SerializeToString(deterministic=True)


class BlockCodec:
    """The engine's ValueCodec over serialized blocks.

    Args:
        chain_id: the network's chain id.
        tip: returns the current chain tip (the node updates it after each commit; a
            deciding state, not a store read).
        max_block_bytes, max_block_txs: the genesis limits.
        verify_last_commit: checks the certificate a block carries for the previous height.
        evidence_check: judges a decoded block's evidence at its height (last step of
            ``rejection``; ``node.evidence.BlockEvidenceCheck``); None: a block must
            carry no evidence.
    """

    def __init__(
        self,
        *,
        chain_id: str,
        tip: Callable[[], ChainTip],
        max_block_bytes: int,
        max_block_txs: int,
        verify_last_commit: Callable[[consensus_pb2.CommitCertificate], bool],
        evidence_check: Callable[[block_pb2.Block, int], str | None] | None = None,
    ) -> None:
        self._chain_id = chain_id
        self._tip = tip
        self._max_bytes = max_block_bytes
        self._max_txs = max_block_txs
        self._verify_last_commit = verify_last_commit
        self._evidence_check = evidence_check
        self.last_rejection = ""

    def value_id(self, value: bytes) -> bytes:
        """The block id: SHA-256 of every byte of value (``block_id``); never raises."""
        return block_id(value)

    def is_valid(self, height: int, value: bytes, now_ms: int) -> bool:
        """Whether value is a canonical block that extends the current tip at height,
        stamped no later than now_ms + MAX_CLOCK_DRIFT_MS."""
        reason = self.rejection(height, value, now_ms)
        self.last_rejection = reason or ""
        return reason is None

    def rejection(
        self, height: int, value: bytes, now_ms: int, tip: ChainTip | None = None
    ) -> str | None:
        """Why value may not be decided at height and time now_ms, or None when it may.

        tip: the tip to extend; None: the codec's current tip.
        """
        if len(value) > self._max_bytes:
            return f"block of {len(value)} bytes exceeds {self._max_bytes}"
        block = decode_block(value)
        if block is None:
            return "block does not decode"
        unknown = unknown_field_in(block)
        if unknown is not None:
            return f"unknown field in {unknown}"
        if block.SerializeToString(deterministic=True) != value:
            return "block is not canonically encoded"
        header = block.header
        tip = tip if tip is not None else self._tip()
        if height != tip.height + 1 or header.height != height:
            return f"block height {header.height} does not extend tip {tip.height}"
        if header.chain_id != self._chain_id:
            return "wrong chain id"
        if header.prev_block_hash != tip.block_hash:
            return "prev_block_hash does not match the tip"
        if header.app_hash != tip.app_hash:
            return "app_hash does not match this node's state"
        if header.validators_hash != tip.validators_hash:
            return "validators_hash does not match"
        if len(block.txs) > self._max_txs:
            return f"{len(block.txs)} transactions exceed {self._max_txs}"
        if header.txs_hash != txs_hash(block.txs):
            return "txs_hash does not match the transactions"
        if header.time_ms <= tip.time_ms:
            return "block time does not advance"
        if header.time_ms > now_ms + MAX_CLOCK_DRIFT_MS:
            return "block time is too far in the future"
        if height > 1:
            if not block.HasField("last_commit"):
                return "missing certificate of the previous block"
            cert = block.last_commit
            if cert.height != height - 1 or cert.block_hash != tip.block_hash:
                return "last_commit is not for the previous block"
            if not self._verify_last_commit(cert):
                return "last_commit does not verify"
        if self._evidence_check is None:
            return "evidence in a block this node cannot judge" if block.evidence else None
        return self._evidence_check(block, height)
