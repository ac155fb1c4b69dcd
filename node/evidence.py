"""Evidence of equivocation on its way from a validator's signature to a block.

The life cycle (docs/consensus.md, "Evidence life cycle"): the engine reports evidence
(``ReportEvidence``) or a peer gossips it; it waits in this node's `EvidencePool`; a
proposer puts ``pool.pending(...)`` into its block; every node judges the block's evidence
with `evidence_rejection` (part of block validity); executing the block records each piece
in ledger state (node/ledger), and the pool forgets it. Evidence older than
``evidence_max_age_blocks`` (genesis) makes a block invalid, and the pool drops it.

Rules this module keeps:

1. Pure: no trio, no clock, no disk. Validator sets of past heights come from the caller,
   as a mapping or a callable (`ValidatorSetHistory` is a ready one); nothing here reads
   the store.
2. Everything is bounded: the pool's size, the evidence of one block, one gossip message.
3. Identity is ``evidence.key`` (kind, validator, height, round, type): one piece per key
   is enough, whatever pair of values it shows.
4. Bad input never raises: a judgement is a reason string (None when valid), a gossip
   message that does not decode is counted, not raised.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import consensus as cs
from consensus._evidence import EvidenceKey
from node.consensus_codec import (
    ConsensusCodecError,
    decode_evidence,
    encode_evidence,
    evidence_from_proto,
    evidence_to_proto,
)
from proto import block_pb2, consensus_pb2, p2p_pb2

#: The most pieces of evidence one block may carry (the same on every node).
MAX_BLOCK_EVIDENCE: Final = 32
#: The most pieces one gossip message may carry; the rest of a longer message is ignored.
MAX_GOSSIP_EVIDENCE: Final = 32
#: How many pieces a pool keeps pending; a full pool refuses new ones.
DEFAULT_POOL_SIZE: Final = 1_000
#: How many committed keys a pool remembers so that a re-gossiped copy is not re-added.
DEFAULT_COMMITTED_MEMORY: Final = 10_000
#: The genesis default of ``params.evidence_max_age_blocks``.
DEFAULT_MAX_AGE_BLOCKS: Final = 100_000

ValidatorSetOf = Mapping[int, cs.ValidatorSet] | Callable[[int], cs.ValidatorSet | None]


def kind_of(evidence: cs.Evidence) -> str:
    """The stable kind name: ``duplicate_vote`` or ``conflicting_proposal``."""
    return "duplicate_vote" if isinstance(evidence, cs.DuplicateVote) else "conflicting_proposal"


def _set_at(validator_set_of: ValidatorSetOf, height: int) -> cs.ValidatorSet | None:
    if callable(validator_set_of):
        return validator_set_of(height)
    return validator_set_of.get(height)


def verify_evidence(
    evidence: cs.Evidence,
    *,
    height: int,
    validator_set_of: ValidatorSetOf,
    chain_id: str,
    verifier: cs.Verifier,
    max_age: int,
) -> str | None:
    """Why evidence may not go into the block at height, or None when it may.

    The evidence must be of a height from ``height - max_age`` to height, and verify
    against the validator set of its own height.

    Args:
        evidence: decoded evidence (not trusted yet).
        height: the height of the block that would carry it (for gossip: the next height).
        validator_set_of: the validator set of a height (mapping or callable; None or
            missing: unknown).
        chain_id: the network's chain id (every signature covers it).
        verifier: checks signatures.
        max_age: ``evidence_max_age_blocks`` of genesis.
    """
    if evidence.height > height:
        return f"evidence of height {evidence.height} is from after block {height}"
    if height - evidence.height > max_age:
        return f"evidence of height {evidence.height} is older than {max_age} blocks"
    valset = _set_at(validator_set_of, evidence.height)
    if valset is None:
        return f"no validator set known for height {evidence.height}"
    try:
        evidence.verify(valset, chain_id, verifier)
    except cs.InvalidEvidence as e:
        return f"evidence does not verify: {e}"
    return None


def evidence_rejection(
    evidence_list: Sequence[cs.Evidence | consensus_pb2.Evidence],
    *,
    height: int,
    validator_set_of: ValidatorSetOf,
    chain_id: str,
    verifier: cs.Verifier,
    max_age: int,
    max_items: int = MAX_BLOCK_EVIDENCE,
) -> str | None:
    """Why the evidence of the block at height makes it invalid, or None when it is valid.

    Each piece must decode, be in canonical form, verify against the validator set of its
    own height (`verify_evidence`), be at most max_age blocks old, and appear once in the
    block (by key); at most max_items pieces. Evidence a previous block committed already
    is allowed (executing it again changes nothing).

    Args:
        evidence_list: the block's ``evidence`` field, or decoded evidence.
        height, validator_set_of, chain_id, verifier, max_age: as in `verify_evidence`.
        max_items: the most pieces one block may carry.
    """
    if len(evidence_list) > max_items:
        return f"{len(evidence_list)} pieces of evidence exceed {max_items}"
    keys: set[EvidenceKey] = set()
    for i, item in enumerate(evidence_list):
        if isinstance(item, consensus_pb2.Evidence):
            try:
                evidence = evidence_from_proto(item)
            except ConsensusCodecError as e:
                return f"evidence[{i}] does not decode: {e}"
            if evidence_to_proto(evidence) != item:
                return f"evidence[{i}] is not in canonical order"
        else:
            evidence = item
        if evidence.key in keys:
            return f"evidence[{i}] repeats an earlier piece of this block"
        keys.add(evidence.key)
        reason = verify_evidence(
            evidence,
            height=height,
            validator_set_of=validator_set_of,
            chain_id=chain_id,
            verifier=verifier,
            max_age=max_age,
        )
        if reason is not None:
            return f"evidence[{i}]: {reason}"
    return None


@dataclass(frozen=True, slots=True)
class BlockEvidenceCheck:
    """The evidence part of block validity, as ``node.blocks.BlockCodec`` calls it.

    ``BlockCodec(..., evidence_check=BlockEvidenceCheck(...))`` calls it last in
    ``rejection`` with the decoded block and its height.
    """

    chain_id: str
    verifier: cs.Verifier
    max_age: int
    validator_set_of: ValidatorSetOf
    max_items: int = MAX_BLOCK_EVIDENCE

    def __call__(self, block: block_pb2.Block, height: int) -> str | None:
        """Why block's evidence makes it invalid at height, or None."""
        return evidence_rejection(
            block.evidence,
            height=height,
            validator_set_of=self.validator_set_of,
            chain_id=self.chain_id,
            verifier=self.verifier,
            max_age=self.max_age,
            max_items=self.max_items,
        )


class ValidatorSetHistory:
    """The validator set of each height, kept as the heights where it changed.

    A set changes rarely, so max_age heights of history cost a few entries. Record every
    height in increasing order (or only the heights where the set changes); ``at`` answers
    for any height from the first recorded one to the last.
    """

    __slots__ = ("_heights", "_last", "_sets")

    def __init__(self, sets: Iterable[tuple[int, cs.ValidatorSet]] = ()) -> None:
        self._heights: list[int] = []
        self._sets: list[cs.ValidatorSet] = []
        self._last = 0
        for height, valset in sets:
            self.record(height, valset)

    def record(self, height: int, valset: cs.ValidatorSet) -> None:
        """The set that runs height (and every later height until the next record).

        Raises:
            ValueError: height is not after the last recorded height.
        """
        if self._heights and height <= self._last:
            raise ValueError(f"height {height} is not after {self._last}")
        self._last = height
        if not self._sets or self._sets[-1] != valset:
            self._heights.append(height)
            self._sets.append(valset)

    def at(self, height: int) -> cs.ValidatorSet | None:
        """The set of height, or None outside the recorded range."""
        if not self._heights or not self._heights[0] <= height <= self._last:
            return None
        return self._sets[bisect.bisect_right(self._heights, height) - 1]

    def __call__(self, height: int) -> cs.ValidatorSet | None:
        return self.at(height)

    def prune(self, below: int) -> None:
        """Forget the sets only heights below ``below`` used."""
        cut = bisect.bisect_right(self._heights, below) - 1
        if cut > 0:
            del self._heights[:cut]
            del self._sets[:cut]
        if self._heights and self._heights[0] < below <= self._last:
            self._heights[0] = below


class EvidencePool:
    """Evidence this node knows and no block has committed yet, in arrival order.

    Add only verified evidence: the engine's ``ReportEvidence`` is verified; check gossip
    with `verify_evidence` (height: the next height) first.

    Args:
        max_age: ``evidence_max_age_blocks`` of genesis.
        max_size: the most pending pieces; a full pool refuses new ones (the older
            evidence is the one a block needs first).
        committed_memory: how many committed keys to remember against re-gossip.
    """

    def __init__(
        self,
        *,
        max_age: int = DEFAULT_MAX_AGE_BLOCKS,
        max_size: int = DEFAULT_POOL_SIZE,
        committed_memory: int = DEFAULT_COMMITTED_MEMORY,
    ) -> None:
        self._max_age = max_age
        self._max_size = max_size
        self._memory = committed_memory
        self._pending: dict[EvidenceKey, cs.Evidence] = {}
        # key -> evidence height, oldest first (O(1) eviction, unlike a dict's first key)
        self._committed: OrderedDict[EvidenceKey, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, key: object) -> bool:
        return key in self._pending

    def add(self, evidence: cs.Evidence) -> bool:
        """Keep evidence until a block commits it; True when it is new to the pool.

        False for a key pending or committed already, or when the pool is full.
        """
        key = evidence.key
        if key in self._pending or key in self._committed:
            return False
        if len(self._pending) >= self._max_size:
            return False
        self._pending[key] = evidence
        return True

    def pending(self, max_items: int = MAX_BLOCK_EVIDENCE) -> list[cs.Evidence]:
        """Up to max_items pending pieces, oldest first: what a proposer puts in its block.

        Call ``prune(height)`` first so that none is too old for the block at height.
        """
        out: list[cs.Evidence] = []
        for evidence in self._pending.values():
            if len(out) >= max_items:
                break
            out.append(evidence)
        return out

    def mark_committed(self, keys: Iterable[EvidenceKey]) -> None:
        """A block committed these keys: drop them and refuse later copies."""
        for key in keys:
            evidence = self._pending.pop(key, None)
            self._committed[key] = key[2] if evidence is None else evidence.height
        while len(self._committed) > self._memory:
            self._committed.popitem(last=False)

    def prune(self, height: int) -> None:
        """Drop what the block at height could no longer carry (older than max_age)."""
        oldest = height - self._max_age
        for key in [k for k, ev in self._pending.items() if ev.height < oldest]:
            del self._pending[key]
        for key in [k for k, h in self._committed.items() if h < oldest]:
            del self._committed[key]


def evidence_gossip(evidence_list: Sequence[cs.Evidence]) -> list[p2p_pb2.Envelope]:
    """P2P envelopes announcing evidence, at most MAX_GOSSIP_EVIDENCE pieces each."""
    out = []
    for start in range(0, len(evidence_list), MAX_GOSSIP_EVIDENCE):
        chunk = evidence_list[start : start + MAX_GOSSIP_EVIDENCE]
        out.append(
            p2p_pb2.Envelope(
                evidence=p2p_pb2.EvidenceGossip(evidence=[encode_evidence(e) for e in chunk])
            )
        )
    return out


def evidence_from_gossip(msg: p2p_pb2.EvidenceGossip) -> tuple[list[cs.Evidence], int]:
    """Decode the pieces of a gossip message (verify each before trusting it).

    Returns:
        The decoded pieces (at most MAX_GOSSIP_EVIDENCE) and how many did not decode or
        were past the bound (for the peer's penalty).
    """
    decoded: list[cs.Evidence] = []
    bad = max(0, len(msg.evidence) - MAX_GOSSIP_EVIDENCE)
    for raw in msg.evidence[:MAX_GOSSIP_EVIDENCE]:
        try:
            decoded.append(decode_evidence(raw))
        except ConsensusCodecError:
            bad += 1
    return decoded, bad
