"""Inputs (things that happened) and effects (things to do) of the node core.

The driver executes a ``handle`` result in order. Effects that name a follow-up input
(``BuildProposal`` -> ``ProposalBuilt``, ``ExecuteBlock`` -> ``BlockExecuted``, ``WriteBlock``
-> ``BlockWritten``, ``UpdateMempool`` -> ``MempoolUpdated``) are answered by the driver
before it executes the next effect: those four are the steps of the commit pipeline and of
proposing, and the core refuses an answer it did not ask for. The engine's own outputs pass
through unchanged (``WriteWal``, ``PersistLastSigned``, ``Broadcast``, ``ScheduleTimeout``,
``ReportEvidence``, ``ReportMisbehaviour``, ``SignRefused``), in the order the engine gave them.

Peers are named by their peer id (hex of the node key), as the P2P layer names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import consensus as cs
from node.blocks import ChainTip
from proto import ledger_pb2

PeerId = str

# ---------------------------------------------------------------- the chain at start


@dataclass(frozen=True, slots=True)
class ChainState:
    """What the store knows when the node starts.

    Attributes:
        tip: the last committed block (height 0: genesis).
        last_commit: the certificate of block tip.height (None at height 0).
        validator_sets: the sets of heights tip.height (when > 0), tip.height + 1 and
            tip.height + 2, by height.
        set_history: (height, set) for the heights evidence may still come from
            (``evidence_max_age_blocks`` back from the next height), in height order; the
            validator_sets are used when it is empty.
    """

    tip: ChainTip
    last_commit: cs.CommitCertificate | None
    validator_sets: dict[int, cs.ValidatorSet]
    set_history: tuple[tuple[int, cs.ValidatorSet], ...] = ()


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class NodeStarted:
    """The node starts: replay the WAL of the current height."""

    now_ms: int
    wal: tuple[cs.WalEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class Tick:
    """A periodic clock tick (a few per second): status, re-gossip, sync, empty blocks."""

    now_ms: int


@dataclass(frozen=True, slots=True)
class PeerConnected:
    """A peer completed its handshake."""

    peer: PeerId
    now_ms: int


@dataclass(frozen=True, slots=True)
class PeerGone:
    """A peer disconnected: whatever it claimed dies with it."""

    peer: PeerId
    now_ms: int


@dataclass(frozen=True, slots=True)
class ConsensusReceived:
    """A decoded proposal or vote from a peer (signature not yet checked)."""

    peer: PeerId
    message: cs.Proposal | cs.Vote
    now_ms: int


@dataclass(frozen=True, slots=True)
class StatusReceived:
    """A peer's claim of its latest committed height."""

    peer: PeerId
    height: int
    now_ms: int


@dataclass(frozen=True, slots=True)
class BlockRequested:
    """A peer asks for a committed block with its certificate."""

    peer: PeerId
    height: int


@dataclass(frozen=True, slots=True)
class BlockReceived:
    """A peer's answer to a block request; value None: it does not have that height.

    certificate is None also when the answer's certificate did not decode.
    """

    peer: PeerId
    height: int
    value: bytes | None
    certificate: cs.CommitCertificate | None
    now_ms: int


@dataclass(frozen=True, slots=True)
class EvidenceReceived:
    """Evidence gossiped by a peer, decoded (not yet verified); bad: pieces that did not
    decode or were past the bound."""

    peer: PeerId
    evidence: tuple[cs.Evidence, ...]
    bad: int
    now_ms: int


@dataclass(frozen=True, slots=True)
class PeerInputBroken:
    """A peer sent bytes that do not decode (counted against it)."""

    peer: PeerId
    detail: str


@dataclass(frozen=True, slots=True)
class TxsAdmitted:
    """The mempool admitted transactions; pending is its size now."""

    pending: int
    now_ms: int


@dataclass(frozen=True, slots=True)
class ProposalBuilt:
    """The driver's answer to ``BuildProposal``: the serialized block."""

    height: int
    round: int
    value: bytes
    now_ms: int


@dataclass(frozen=True, slots=True)
class BlockExecuted:
    """The driver's answer to ``ExecuteBlock``: what the ledger computed for the block.

    Attributes:
        validator_updates: (public key, power) in order; power 0 removes. They take effect
            at height + 2.
        kinds: each transaction's TxBody kind in block order, as the ledger read it
            ("unknown" for one refused before its body was read).
    """

    height: int
    receipts: Sequence[ledger_pb2.Receipt]
    writes: Sequence[tuple[bytes, bytes | None]]
    app_hash: bytes
    validator_updates: Sequence[tuple[bytes, int]]
    now_ms: int
    kinds: Sequence[str]


@dataclass(frozen=True, slots=True)
class BlockWritten:
    """The driver's answer to ``WriteBlock``: the block's write batch is durable."""

    height: int
    now_ms: int


@dataclass(frozen=True, slots=True)
class MempoolUpdated:
    """The driver's answer to ``UpdateMempool``; pending is the mempool's size after it."""

    height: int
    pending: int
    now_ms: int


Input = (
    NodeStarted
    | Tick
    | PeerConnected
    | PeerGone
    | ConsensusReceived
    | StatusReceived
    | BlockRequested
    | BlockReceived
    | EvidenceReceived
    | PeerInputBroken
    | TxsAdmitted
    | ProposalBuilt
    | BlockExecuted
    | BlockWritten
    | MempoolUpdated
    | cs.TimeoutFired
)

# ---------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True)
class BuildProposal:
    """Reap the mempool and build the block for (height, round) on tip, carrying evidence;
    answer ProposalBuilt."""

    height: int
    round: int
    tip: ChainTip
    last_commit: cs.CommitCertificate | None
    evidence: tuple[cs.Evidence, ...] = ()


@dataclass(frozen=True, slots=True)
class ExecuteBlock:
    """Run the ledger over the decided block; answer BlockExecuted."""

    height: int
    time_ms: int
    txs: tuple[bytes, ...]
    app_hash: bytes  # the app hash before the block
    evidence: tuple[bytes, ...] = ()  # serialized tenge.v1.Evidence, as the block carries it


@dataclass(frozen=True, slots=True)
class WriteBlock:
    """Write the block, its certificate, receipts and state in ONE synced batch; answer
    BlockWritten. validator_sets: the set that a later height runs, serialized by the driver.
    """

    height: int
    value: bytes
    block_hash: bytes
    certificate: cs.CommitCertificate
    receipts: Sequence[ledger_pb2.Receipt]
    writes: Sequence[tuple[bytes, bytes | None]]
    app_hash: bytes
    validator_sets: tuple[tuple[int, cs.ValidatorSet], ...]


@dataclass(frozen=True, slots=True)
class UpdateMempool:
    """Drop the included transactions and re-check the rest; answer MempoolUpdated.

    included: the ids whose receipt speaks for the tx (``Receipt.speaks_for_tx``); a copy
        refused for its envelope is not here, so the real pending transaction stays.
    written: the state keys the block wrote (None: re-check every pending transaction).
    """

    height: int
    included: tuple[bytes, ...]
    next_height: int
    written: tuple[bytes, ...] | None


@dataclass(frozen=True, slots=True)
class BlockCommitted:
    """A block is durable and the mempool updated: tell the API, the event stream, metrics."""

    height: int
    round: int
    block_hash: bytes
    app_hash: bytes
    time_ms: int
    receipts: Sequence[ledger_pb2.Receipt]
    kinds: tuple[str, ...]  # the TxBody kind of each transaction ("unknown" if undecodable)
    synced: bool  # decided through block sync rather than by taking part
    latency_ms: int  # from proposing (or deciding) to durable


@dataclass(frozen=True, slots=True)
class SendStatus:
    """Send our status (peer None: to every peer)."""

    peer: PeerId | None
    height: int
    block_hash: bytes


@dataclass(frozen=True, slots=True)
class RequestBlock:
    """Ask peer for block height with its certificate."""

    peer: PeerId
    height: int


@dataclass(frozen=True, slots=True)
class ServeBlock:
    """Answer a block request from the store (have False: answer that we lack it)."""

    peer: PeerId
    height: int
    have: bool


@dataclass(frozen=True, slots=True)
class Relay:
    """Send a proposal or vote (ours or another's) to every peer: re-gossip."""

    message: cs.Proposal | cs.Vote


@dataclass(frozen=True, slots=True)
class GossipEvidence:
    """Send evidence new to this node to every peer."""

    evidence: tuple[cs.Evidence, ...]


@dataclass(frozen=True, slots=True)
class PeerPenalised:
    """A peer's input was wrong; code is stable. Counted and logged."""

    peer: PeerId
    code: str
    detail: str


@dataclass(frozen=True, slots=True)
class WakeAt:
    """Send a Tick at at_ms (wall clock, Unix ms): the proposer collects until then."""

    at_ms: int


@dataclass(frozen=True, slots=True)
class DropPeer:
    """Disconnect the peer (it keeps failing); reason is a stable code."""

    peer: PeerId
    reason: str


Effect = (
    cs.WriteWal
    | cs.PersistLastSigned
    | cs.Broadcast
    | cs.ScheduleTimeout
    | cs.ReportEvidence
    | cs.ReportMisbehaviour
    | cs.SignRefused
    | BuildProposal
    | ExecuteBlock
    | WriteBlock
    | UpdateMempool
    | BlockCommitted
    | SendStatus
    | RequestBlock
    | ServeBlock
    | Relay
    | GossipEvidence
    | PeerPenalised
    | DropPeer
    | WakeAt
)
