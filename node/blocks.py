"""Blocks: building a proposal from the mempool and judging a proposed one.

The engine treats a block as opaque bytes; this module gives it the two facts it needs
(``ValueCodec``): the block's id (SHA-256 of the serialized header) and whether a
proposed block may be decided at a height (valid(v) of Algorithm 1). Transactions inside a
valid block may still fail the ledger's rules: they are executed and get failure receipts,
as every node computes the same ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from google.protobuf.message import DecodeError

from proto import block_pb2, consensus_pb2

MAX_CLOCK_DRIFT_MS: Final = 30_000


def block_hash_of_header(header: block_pb2.BlockHeader) -> bytes:
    """The block hash: SHA-256 of the serialized header."""
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
) -> bytes:
    """Serialize the block this node proposes for tip.height + 1."""
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
    return block.SerializeToString()


class BlockCodec:
    """The engine's ValueCodec over serialized blocks.

    Args:
        chain_id: the network's chain id.
        tip: returns the current chain tip (the driver updates it after each commit).
        clock_ms: wall clock, to refuse blocks stamped far in the future.
        max_block_bytes, max_block_txs: the genesis limits.
        verify_last_commit: checks the certificate a block carries for the previous height.
    """

    def __init__(
        self,
        *,
        chain_id: str,
        tip: Callable[[], ChainTip],
        clock_ms: Callable[[], int],
        max_block_bytes: int,
        max_block_txs: int,
        verify_last_commit: Callable[[consensus_pb2.CommitCertificate], bool],
    ) -> None:
        self._chain_id = chain_id
        self._tip = tip
        self._clock_ms = clock_ms
        self._max_bytes = max_block_bytes
        self._max_txs = max_block_txs
        self._verify_last_commit = verify_last_commit
        self.last_rejection = ""

    def value_id(self, value: bytes) -> bytes:
        """The block hash; for bytes that do not decode, SHA-256 of the bytes themselves."""
        block = decode_block(value)
        if block is None:
            return hashlib.sha256(value).digest()
        return block_hash_of_header(block.header)

    def is_valid(self, height: int, value: bytes) -> bool:
        """Whether value is a well-formed block that extends the current tip at height."""
        reason = self.rejection(height, value)
        self.last_rejection = reason or ""
        return reason is None

    def rejection(self, height: int, value: bytes) -> str | None:
        """Why value may not be decided at height, or None when it may."""
        if len(value) > self._max_bytes:
            return f"block of {len(value)} bytes exceeds {self._max_bytes}"
        block = decode_block(value)
        if block is None:
            return "block does not decode"
        header = block.header
        tip = self._tip()
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
        if header.time_ms > self._clock_ms() + MAX_CLOCK_DRIFT_MS:
            return "block time is too far in the future"
        if height > 1:
            if not block.HasField("last_commit"):
                return "missing certificate of the previous block"
            cert = block.last_commit
            if cert.height != height - 1 or cert.block_hash != tip.block_hash:
                return "last_commit is not for the previous block"
            if not self._verify_last_commit(cert):
                return "last_commit does not verify"
        return None
