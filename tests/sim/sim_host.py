"""One simulated node: the shipped ``NodeCore`` (and its ``Engine``) with in-memory stand-ins
for what node/driver.py does with the disk, the ledger and the mempool.

``CoreHost.handle(input)`` runs the core and executes its effects the way the trio driver
does: the four questions (build a proposal, execute, write, update the mempool) are answered
at once, in order; everything that leaves the node comes back as ``Outbound`` actions for the
simulator's network and clock. The WAL is kept as framed protobuf records (through
node/consensus_codec.py) so a crash can cut it where the disk would.

The ledger stand-in is deterministic: the app hash chains the transactions' hash, and the
validator updates of a height come from the scenario (``updates_at``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import consensus as cs
from consensus.testing import FakeVerifier
from node import consensus_codec as codec
from node import core
from node.blocks import ChainTip, build_block, decode_block
from node.consensus_codec import decode_wal_entry, encode_wal_entry
from proto import ledger_pb2

GENESIS_APP_HASH = b"\x00" * 32


@dataclass(frozen=True, slots=True)
class Send:
    """Send payload to peer (None: every peer). Payloads: Proposal, Vote, a sync tuple
    ("status", height) / ("request", height) / ("response", height, value, certificate),
    or ("evidence", evidence tuple)."""

    peer: str | None
    payload: Any
    own: bool = False  # a message this node's engine signed and broadcasts (not a relay)


@dataclass(frozen=True, slots=True)
class Timer:
    """Feed input back to this node at deadline_ms of its own clock."""

    deadline_ms: int
    input: core.Input


@dataclass(frozen=True, slots=True)
class Drop:
    """The core drops peer (disconnect)."""

    peer: str
    reason: str


Outbound = Send | Timer | Drop


@dataclass
class StoredBlock:
    value: bytes
    block_id: bytes
    certificate: cs.CommitCertificate
    app_hash: bytes
    time_ms: int
    round: int


@dataclass
class CoreHost:
    """A node's durable state and its running core (None while crashed)."""

    signer: cs.Signer | None
    chain_id: str
    genesis_sets: tuple[cs.ValidatorSet, cs.ValidatorSet]  # heights 1 and 2
    consensus_params: cs.ConsensusParams
    params: core.CoreParams
    updates_at: Callable[[int], Sequence[tuple[bytes, int]]] = lambda height: ()
    genesis_time_ms: int = 0
    blocks: list[StoredBlock] = field(default_factory=list)
    sets: dict[int, cs.ValidatorSet] = field(default_factory=dict)  # height -> set
    wal: list[bytes] = field(default_factory=list)  # framed records
    wal_synced: int = 0
    guard: cs.LastSigned | None = None
    mempool: list[bytes] = field(default_factory=list)
    core: core.NodeCore | None = None
    # Observers the simulator installs: every effect before and after it is executed.
    on_effect: Callable[[core.Effect], None] = lambda effect: None
    after_effect: Callable[[core.Effect], None] = lambda effect: None

    def __post_init__(self) -> None:
        self.sets.setdefault(1, self.genesis_sets[0])
        self.sets.setdefault(2, self.genesis_sets[1])

    # ---- life

    def start(self, now_ms: int) -> list[Outbound]:
        """(Re)start the core from the stored chain and the WAL."""
        height = len(self.blocks)
        if height:
            last = self.blocks[-1]
            tip = ChainTip(
                height,
                last.block_id,
                last.app_hash,
                last.time_ms,
                core.validators_hash(self.sets[height + 1]),
            )
            last_commit: cs.CommitCertificate | None = last.certificate
        else:
            tip = ChainTip(
                0, b"", GENESIS_APP_HASH, self.genesis_time_ms, core.validators_hash(self.sets[1])
            )
            last_commit = None
        sets = {h: self.sets[h] for h in (height, height + 1, height + 2) if h in self.sets}
        # As node/service.py: the stored sets evidence may still come from.
        oldest = max(1, height + 1 - self.params.evidence_max_age_blocks)
        history = tuple(sorted((h, s) for h, s in self.sets.items() if h >= oldest))
        self.core = core.NodeCore(
            chain_id=self.chain_id,
            chain=core.ChainState(tip, last_commit, sets, history),
            verifier=FakeVerifier(),
            signer=self.signer,
            consensus_params=self.consensus_params,
            params=self.params,
            last_signed=self.guard,
        )
        entries = tuple(decode_wal_entry(frame[8:]) for frame in self.wal)
        return self.handle(core.NodeStarted(now_ms, entries))

    def crash(self) -> None:
        """Stop the core; the WAL keeps only what the simulator decides survived (the
        mempool, in memory, is lost)."""
        self.core = None
        self.mempool = []

    def add_txs(self, txs: Sequence[bytes]) -> list[Outbound]:
        """Admit transactions to the mempool (no checks: the ledger stand-in takes any)."""
        self.mempool.extend(txs)
        return self.handle(core.TxsAdmitted(len(self.mempool), self._clock))

    @property
    def height(self) -> int:
        """The last committed height."""
        return len(self.blocks)

    # ---- the driver

    def handle(self, event: core.Input) -> list[Outbound]:
        """Run the core on event and execute its effects; return what leaves the node."""
        if self.core is None:
            return []
        out: list[Outbound] = []
        self._execute(self.core.handle(event), out)
        return out

    def _execute(self, effects: list[core.Effect], out: list[Outbound]) -> None:
        node_core = self.core
        for effect in effects:
            if self.core is not node_core:
                return  # crashed while executing
            self.on_effect(effect)
            match effect:
                case cs.WriteWal():
                    self._write_wal(effect)
                case cs.PersistLastSigned():
                    self.guard = cs.LastSigned(
                        effect.height, effect.round, effect.step, effect.sign_bytes_hash
                    )
                case cs.Broadcast(message=message):
                    out.append(Send(None, message, own=True))
                case core.Relay(message=message):
                    out.append(Send(None, message))
                case core.GossipEvidence():
                    out.append(Send(None, ("evidence", effect.evidence)))
                case cs.ScheduleTimeout():
                    fired = cs.TimeoutFired(
                        effect.step, effect.height, effect.round, effect.deadline_ms
                    )
                    out.append(Timer(effect.deadline_ms, fired))
                case core.BuildProposal():
                    self._answer(self._build(effect), out)
                case core.ExecuteBlock():
                    self._answer(self._run_ledger(effect), out)
                case core.WriteBlock():
                    self._write_block(effect)
                    self._answer(core.BlockWritten(effect.height, self._clock), out)
                case core.UpdateMempool():
                    included = set(effect.included)
                    self.mempool = [tx for tx in self.mempool if _tx_id(tx) not in included]
                    updated = core.MempoolUpdated(effect.height, len(self.mempool), self._clock)
                    self._answer(updated, out)
                case core.SendStatus():
                    out.append(Send(effect.peer, ("status", effect.height)))
                case core.RequestBlock():
                    out.append(Send(effect.peer, ("request", effect.height)))
                case core.ServeBlock():
                    stored = self.blocks[effect.height - 1] if effect.have else None
                    value = stored.value if stored is not None else None
                    cert = stored.certificate if stored is not None else None
                    out.append(Send(effect.peer, ("response", effect.height, value, cert)))
                case core.DropPeer():
                    out.append(Drop(effect.peer, effect.reason))
                case (
                    core.BlockCommitted()
                    | core.PeerPenalised()
                    | cs.ReportEvidence()
                    | cs.ReportMisbehaviour()
                    | cs.SignRefused()
                ):
                    pass  # observed through on_effect
                case _:
                    raise AssertionError(f"unhandled effect {effect!r}")
            self.after_effect(effect)

    _clock: int = 0

    def _answer(self, event: core.Input, out: list[Outbound]) -> None:
        assert self.core is not None
        self._execute(self.core.handle(event), out)

    def set_clock(self, now_ms: int) -> None:
        """The simulator's clock for this node (answers carry it as their time)."""
        self._clock = now_ms

    def _build(self, effect: core.BuildProposal) -> core.ProposalBuilt:
        last = codec.certificate_to_proto(effect.last_commit) if effect.last_commit else None
        proposer = self.signer.public_key if self.signer is not None else b""
        value = build_block(
            chain_id=self.chain_id,
            tip=effect.tip,
            txs=list(self.mempool),
            proposer=proposer,
            now_ms=self._clock,
            last_commit=last,
            evidence=effect.evidence,
        )
        return core.ProposalBuilt(effect.height, effect.round, value, self._clock)

    def _run_ledger(self, effect: core.ExecuteBlock) -> core.BlockExecuted:
        digest = hashlib.sha256(effect.app_hash)
        for raw in effect.txs:
            digest.update(hashlib.sha256(raw).digest())
        app_hash = digest.digest()
        writes = [(b"app/%d" % effect.height, app_hash)]
        receipts = [
            ledger_pb2.Receipt(
                tx_id=_tx_id(raw), index=i, code=ledger_pb2.OK, authorised=True, speaks_for_tx=True
            )
            for i, raw in enumerate(effect.txs)
        ]
        updates = list(self.updates_at(effect.height))
        kinds = ("unknown",) * len(effect.txs)  # the simulator's txs are opaque bytes
        return core.BlockExecuted(
            effect.height, receipts, writes, app_hash, updates, self._clock, kinds
        )

    def _write_block(self, effect: core.WriteBlock) -> None:
        if effect.height != len(self.blocks) + 1:
            raise AssertionError(f"write of block {effect.height} after {len(self.blocks)}")
        block = decode_block(effect.value)
        assert block is not None
        commit = effect.certificate
        self.blocks.append(
            StoredBlock(
                effect.value,
                effect.block_hash,
                commit,
                effect.app_hash,
                block.header.time_ms,
                commit.round,
            )
        )
        for height, valset in effect.validator_sets:
            self.sets[height] = valset

    def _write_wal(self, effect: cs.WriteWal) -> None:
        record = cs.frame_record(encode_wal_entry(effect.entry))
        if isinstance(effect.entry, cs.HeightStarted):
            self.wal = [record]
            self.wal_synced = 1
            return
        self.wal.append(record)
        if effect.sync:
            self.wal_synced = len(self.wal)


def _tx_id(raw: bytes) -> bytes:
    return hashlib.sha256(raw).digest()


def peer_message(peer: str, payload: Any, now_ms: int) -> core.Input | None:
    """The core input for a payload another host sent (the P2P boundary of the simulator)."""
    if isinstance(payload, cs.Proposal | cs.Vote):
        return core.ConsensusReceived(peer, payload, now_ms)
    kind = payload[0]
    if kind == "status":
        return core.StatusReceived(peer, payload[1], now_ms)
    if kind == "request":
        return core.BlockRequested(peer, payload[1])
    if kind == "response":
        _, height, value, certificate = payload
        return core.BlockReceived(peer, height, value, certificate, now_ms)
    if kind == "evidence":
        return core.EvidenceReceived(peer, tuple(payload[1]), 0, now_ms)
    return None
