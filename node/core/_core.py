"""The node's deciding logic as one pure state machine beside the consensus engine.

Rules this module keeps:

1. ``NodeCore.handle(input) -> list[effect]`` is synchronous and deterministic: no trio,
   no disk, no clock (time comes in every input), no randomness. The trio driver
   (node/driver.py) only executes the effects, so the seeded simulation runs this code, not
   a copy of it.
2. The core owns the engine; it is the only caller of ``engine.handle``. Engine outputs pass
   through in order, except ``RequestProposalValue`` (answered by the proposing rule below)
   and ``CommitBlock`` (which starts the commit pipeline).
3. The commit pipeline is explicit steps, one at a time: ``ExecuteBlock`` -> ``BlockExecuted``
   -> ``WriteBlock`` -> ``BlockWritten`` (durable) -> ``UpdateMempool`` -> ``MempoolUpdated``
   -> ``BlockCommitted`` and the engine's next height. Nothing is announced before the block
   is durable. An answer for a step the core did not ask for is a bug (``NodeCoreError``).
4. The chain tip, the last certificate and the validator sets of the heights around the tip
   are explicit state; block validity gets the tip and the time as arguments.
5. An accepted validator update always takes effect at H + 2: ``set(H + 2) =
   set(H + 1).apply_updates(updates of H)``; a set consensus refuses here means the ledger
   accepted what it must refuse, and the core stops the node rather than run the old set.
6. Proposing: at round 0 with an empty mempool the proposer waits until transactions arrive
   or ``empty_block_interval_ms`` has passed since the last commit. With transactions it
   collects until ``block_interval_ms`` has passed since the last commit (asking for a
   ``WakeAt`` then), unless a full block is already pending: fewer, larger blocks spread
   the per-block cost (votes, signatures, the write) over more payments. Other rounds
   build at once.
7. A committed block takes out of the mempool only the tx ids its receipts speak for
   (``Receipt.speaks_for_tx``, node/ledger/_ledger.py rule 6).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, assert_never

import consensus as cs
from node import consensus_codec as codec
from node.blocks import BlockCodec, ChainTip, decode_block
from node.core._events import (
    BlockCommitted,
    BlockExecuted,
    BlockReceived,
    BlockRequested,
    BlockWritten,
    BuildProposal,
    ChainState,
    ConsensusReceived,
    DropPeer,
    Effect,
    EvidenceReceived,
    ExecuteBlock,
    GossipEvidence,
    Input,
    MempoolUpdated,
    NodeStarted,
    PeerConnected,
    PeerGone,
    PeerId,
    PeerInputBroken,
    PeerPenalised,
    ProposalBuilt,
    Relay,
    RequestBlock,
    SendStatus,
    ServeBlock,
    StatusReceived,
    Tick,
    TxsAdmitted,
    UpdateMempool,
    WakeAt,
    WriteBlock,
)
from node.core._keyring import KeyRing
from node.core._sync import BAD_SYNC_BLOCK, BlockSync, SyncParams
from node.core._valsets import validators_hash
from node.errors import NodeError
from node.evidence import (
    DEFAULT_MAX_AGE_BLOCKS,
    BlockEvidenceCheck,
    EvidencePool,
    ValidatorSetHistory,
    verify_evidence,
)
from proto import consensus_pb2

UNDECODABLE_MESSAGE: Final = "UNDECODABLE_MESSAGE"
BAD_EVIDENCE: Final = "BAD_EVIDENCE"
# Kinds whose effect on pending transactions is limited to the accounts they touch.
_BALANCE_ONLY_KINDS: Final = frozenset({"transfer", "issue", "redeem"})


class NodeCoreError(NodeError):
    """An internal invariant of the node core broke: a bug, the node must stop."""


@dataclass(frozen=True, slots=True)
class CoreParams:
    """Timing and bounds of the node core (milliseconds and counts)."""

    empty_block_interval_ms: int = 5_000
    block_interval_ms: int = 0  # rule 6: a proposer collects this long after a commit
    status_interval_ms: int = 2_000
    regossip_interval_ms: int = 1_000
    max_block_bytes: int = 4 * 1024 * 1024
    max_block_txs: int = 10_000
    evidence_max_age_blocks: int = DEFAULT_MAX_AGE_BLOCKS
    sync: SyncParams = field(default_factory=SyncParams)


@dataclass(slots=True)
class _Deciding:
    """A decided block moving through the commit pipeline."""

    commit: cs.CommitBlock
    time_ms: int
    txs: tuple[bytes, ...]
    evidence: tuple[bytes, ...]
    synced: bool
    started_ms: int
    result: BlockExecuted | None = None
    written: bool = False


class NodeCore:
    """The node's state machine: engine, chain tip, commit pipeline, block sync, gossip.

    Args:
        chain_id: the network's chain id.
        chain: the store's view at start (tip, last certificate, validator sets).
        verifier: checks signatures (Ed25519 in the node, fast fakes in simulations).
        signer: the validator key; None for an observer.
        consensus_params: the engine's timeouts and bounds.
        params: the core's own timing and bounds.
        last_signed: the persisted double-sign guard state.
        codec: the engine's value codec; by default blocks (node/blocks.py).
    """

    def __init__(
        self,
        *,
        chain_id: str,
        chain: ChainState,
        verifier: cs.Verifier,
        signer: cs.Signer | None,
        consensus_params: cs.ConsensusParams,
        params: CoreParams,
        last_signed: cs.LastSigned | None = None,
        codec: cs.ValueCodec | None = None,
    ) -> None:
        self._chain_id = chain_id
        self._params = params
        self._verifier = verifier
        self._tip = chain.tip
        self._last_commit = chain.last_commit
        self._sets = dict(chain.validator_sets)
        height = self._tip.height + 1
        for needed in (height, height + 1):
            if needed not in self._sets:
                raise NodeCoreError(f"no validator set for height {needed}")
        max_age = params.evidence_max_age_blocks
        history = chain.set_history or tuple(sorted(self._sets.items()))
        self.set_history = ValidatorSetHistory(history)
        self.evidence_pool = EvidencePool(max_age=max_age)
        self.codec: cs.ValueCodec = codec or BlockCodec(
            chain_id=chain_id,
            tip=lambda: self._tip,
            max_block_bytes=params.max_block_bytes,
            max_block_txs=params.max_block_txs,
            verify_last_commit=self._verify_last_commit,
            evidence_check=BlockEvidenceCheck(chain_id, verifier, max_age, self.set_history),
        )
        self._signer = signer
        self._select_key(height)
        self.engine = cs.Engine(
            chain_id=chain_id,
            height=height,
            validator_set=self._sets[height],
            next_validator_set=self._sets[height + 1],
            verifier=verifier,
            codec=self.codec,
            signer=signer,
            params=consensus_params,
            last_signed=last_signed,
        )
        self.sync = BlockSync(params.sync)
        self._pending_txs = 0
        self._last_commit_ms = 0
        self._wake_ms = 0  # the collection window's end a WakeAt was asked for (rule 6)
        self._last_status_ms: int | None = None
        self._last_regossip_ms = 0
        self._awaiting: tuple[int, int] | None = None  # a RequestProposalValue to answer
        self._building: tuple[int, int] | None = None  # a BuildProposal sent, not answered
        self._built_ms: dict[int, int] = {}
        self._deciding: _Deciding | None = None
        self._out: list[Effect] = []

    # ------------------------------------------------------------ read-only state

    @property
    def tip(self) -> ChainTip:
        """The last committed block."""
        return self._tip

    def validator_set(self, height: int) -> cs.ValidatorSet | None:
        """The validator set of height, if the core still (or already) knows it."""
        return self._sets.get(height)

    def catching_up(self, now_ms: int) -> bool:
        """Whether the network is ahead of this node by more than one block (health)."""
        valset = self._sets[self._tip.height + 1]
        f_plus_one = (len(valset) - 1) // 3 + 1
        return self.sync.catching_up(self._tip.height, now_ms, f_plus_one=f_plus_one)

    # ------------------------------------------------------------ entry point

    def handle(self, event: Input) -> list[Effect]:
        """Process one input and return the effects to execute, in order."""
        self._out = []
        match event:
            case NodeStarted():
                self._last_commit_ms = event.now_ms
                self._engine(cs.Started(event.now_ms, event.wal), event.now_ms)
            case Tick():
                self._on_tick(event.now_ms)
            case PeerConnected():
                self._out.append(SendStatus(event.peer, self._tip.height, self._tip.block_hash))
            case PeerGone():
                self.sync.forget(event.peer)
            case ConsensusReceived():
                self._on_consensus(event)
            case StatusReceived():
                self.sync.on_status(event.peer, event.height, event.now_ms)
                if event.height > self._tip.height:
                    self._sync_requests(event.now_ms)
            case BlockRequested():
                have = 1 <= event.height <= self._tip.height
                self._out.append(ServeBlock(event.peer, event.height, have))
            case BlockReceived():
                self._on_block_received(event)
            case EvidenceReceived():
                self._on_evidence_received(event)
            case PeerInputBroken():
                self._out.append(PeerPenalised(event.peer, UNDECODABLE_MESSAGE, event.detail))
            case TxsAdmitted():
                self._pending_txs = event.pending
                self._maybe_build(event.now_ms)
            case ProposalBuilt():
                self._on_proposal_built(event)
            case cs.TimeoutFired():
                self._engine(event, event.now_ms)
            case BlockExecuted():
                self._on_block_executed(event)
            case BlockWritten():
                self._on_block_written(event)
            case MempoolUpdated():
                self._on_mempool_updated(event)
            case _:
                assert_never(event)
        out, self._out = self._out, []
        return out

    # ------------------------------------------------------------ the engine

    def _select_key(self, height: int) -> None:
        """Before the engine starts height: with a key ring (a rotation in progress), sign
        with the key the height's validator set holds (node/core/_keyring.py)."""
        if isinstance(self._signer, KeyRing):
            self._signer.select(self._sets[height])

    def _engine(self, event: cs.Event, now_ms: int) -> list[cs.Output]:
        """Run the engine on event; pass its outputs on, starting the pipeline on a decision."""
        outputs = self.engine.handle(event)
        decided: cs.CommitBlock | None = None
        for out in outputs:
            match out:
                case cs.RequestProposalValue(height=height, round=round_):
                    self._awaiting = (height, round_)
                case cs.CommitBlock():
                    decided = out
                case cs.ReportEvidence(evidence=evidence):
                    self._new_evidence(evidence)
                case _:
                    self._out.append(out)
        if decided is not None:
            self._start_commit(decided, synced=isinstance(event, cs.CommitReceived), now_ms=now_ms)
        else:
            self._maybe_build(now_ms)
        return outputs

    def _on_consensus(self, event: ConsensusReceived) -> None:
        sender = _peer_bytes(event.peer)
        message = event.message
        if isinstance(message, cs.Proposal):
            self._engine(cs.ProposalReceived(message, event.now_ms, sender), event.now_ms)
        else:
            self._engine(cs.VoteReceived(message, event.now_ms, sender), event.now_ms)

    # ------------------------------------------------------------ proposing

    def _maybe_build(self, now_ms: int) -> None:
        """Rule 6: answer a RequestProposalValue when it is time."""
        if self._awaiting is None or self._building is not None or self._deciding is not None:
            return
        height, round_ = self._awaiting
        if height != self._tip.height + 1 or self.engine.height != height:
            self._awaiting = None
            return
        due = self._last_commit_ms + self._params.empty_block_interval_ms
        if round_ == 0 and self._pending_txs == 0 and now_ms < due:
            return
        ready = self._last_commit_ms + self._params.block_interval_ms
        if round_ == 0 and now_ms < ready and self._pending_txs < self._params.max_block_txs:
            if self._wake_ms != ready:  # one wake-up per collection window
                self._wake_ms = ready
                self._out.append(WakeAt(ready))
            return
        self._awaiting = None
        self._building = (height, round_)
        self.evidence_pool.prune(height)
        evidence = tuple(self.evidence_pool.pending())
        self._out.append(BuildProposal(height, round_, self._tip, self._last_commit, evidence))

    def _on_proposal_built(self, event: ProposalBuilt) -> None:
        if self._building != (event.height, event.round):
            raise NodeCoreError(f"ProposalBuilt for {event.height}/{event.round} not asked for")
        self._building = None
        self._built_ms.setdefault(event.height, event.now_ms)
        ready = cs.ProposalValueReady(event.height, event.round, event.value, event.now_ms)
        self._engine(ready, event.now_ms)

    # ------------------------------------------------------------ the commit pipeline

    def _start_commit(self, decided: cs.CommitBlock, *, synced: bool, now_ms: int) -> None:
        block = decode_block(decided.value)
        if block is None:  # the engine decides only values that passed is_valid
            raise NodeCoreError(f"decided block {decided.height} does not decode")
        self._awaiting = None
        evidence = tuple(e.SerializeToString(deterministic=True) for e in block.evidence)
        self._deciding = _Deciding(
            commit=decided,
            time_ms=block.header.time_ms,
            txs=tuple(block.txs),
            evidence=evidence,
            synced=synced,
            started_ms=now_ms,
        )
        self._out.append(
            ExecuteBlock(
                decided.height, block.header.time_ms, tuple(block.txs), self._tip.app_hash, evidence
            )
        )

    def _step(self, height: int, step: str) -> _Deciding:
        deciding = self._deciding
        if deciding is None or deciding.commit.height != height:
            raise NodeCoreError(f"{step} for height {height}, which is not being committed")
        return deciding

    def _on_block_executed(self, event: BlockExecuted) -> None:
        deciding = self._step(event.height, "BlockExecuted")
        if deciding.result is not None:
            raise NodeCoreError(f"block {event.height} executed twice")
        deciding.result = event
        height = event.height
        following = self._sets[height + 1]
        if event.validator_updates:
            try:
                following = following.apply_updates(event.validator_updates)
            except cs.InvalidValidatorSet as e:  # rule 5
                raise NodeCoreError(
                    f"block {height}: the ledger accepted a validator update that consensus "
                    f"refuses ({e}); stopping rather than running the old set"
                ) from e
        self._sets[height + 2] = following
        self.set_history.record(height + 2, following)
        self.set_history.prune(height + 1 - self._params.evidence_max_age_blocks)
        commit = deciding.commit
        self._out.append(
            WriteBlock(
                height=height,
                value=commit.value,
                block_hash=commit.value_id,
                certificate=commit.certificate,
                receipts=event.receipts,
                writes=event.writes,
                app_hash=event.app_hash,
                validator_sets=((height + 2, following),),
            )
        )

    def _on_block_written(self, event: BlockWritten) -> None:
        deciding = self._step(event.height, "BlockWritten")
        result = deciding.result
        if result is None or deciding.written:
            raise NodeCoreError(f"BlockWritten for block {event.height} out of order")
        deciding.written = True
        height = event.height
        commit = deciding.commit
        self._tip = ChainTip(
            height=height,
            block_hash=commit.value_id,
            app_hash=result.app_hash,
            time_ms=deciding.time_ms,
            validators_hash=validators_hash(self._sets[height + 1]),
        )
        self._last_commit = commit.certificate
        for old in [h for h in self._sets if h < height]:
            del self._sets[old]  # the set of `height` stays: it verifies the last commit
        self.evidence_pool.mark_committed(codec.decode_evidence(e).key for e in deciding.evidence)
        self.evidence_pool.prune(height + 1)
        kinds = _kinds_of(result, len(deciding.txs))
        written: tuple[bytes, ...] | None = tuple(key for key, _ in result.writes)
        if any(kind not in _BALANCE_ONLY_KINDS for kind in kinds):
            # Rules, accounts or licences changed, some with effects that come with height
            # rather than a write (a licence's expiry): re-check every pending transaction.
            written = None
        # Only a receipt that speaks for its tx id takes that id out of the mempool: a copy
        # refused for its envelope (junk signatures) leaves the real transaction pending.
        included = tuple(r.tx_id for r in result.receipts if r.speaks_for_tx)
        self._out.append(UpdateMempool(height, included, height + 1, written))

    def _on_mempool_updated(self, event: MempoolUpdated) -> None:
        deciding = self._step(event.height, "MempoolUpdated")
        if not deciding.written or deciding.result is None:
            raise NodeCoreError(f"MempoolUpdated for block {event.height} before it is durable")
        self._deciding = None
        self._pending_txs = event.pending
        self._last_commit_ms = event.now_ms
        height = event.height
        commit = deciding.commit
        started = self._built_ms.pop(height, deciding.started_ms)
        for old in [h for h in self._built_ms if h < height]:
            del self._built_ms[old]
        self._out.append(
            BlockCommitted(
                height=height,
                round=commit.round,
                block_hash=commit.value_id,
                app_hash=deciding.result.app_hash,
                time_ms=deciding.time_ms,
                receipts=deciding.result.receipts,
                kinds=_kinds_of(deciding.result, len(deciding.txs)),
                synced=deciding.synced,
                latency_ms=max(0, event.now_ms - started),
            )
        )
        self._out.append(SendStatus(None, height, commit.value_id))
        self._select_key(height + 1)
        self._engine(
            cs.HeightCommitted(
                height,
                self._sets[height + 1],
                event.now_ms,
                following_validator_set=self._sets[height + 2],
            ),
            event.now_ms,
        )
        self._feed_synced(event.now_ms)

    def _verify_last_commit(self, cert_pb: consensus_pb2.CommitCertificate) -> bool:
        """Block validity: does the block's certificate prove the tip?"""
        try:
            cert = codec.certificate_from_proto(cert_pb)
        except codec.ConsensusCodecError:
            return False
        valset = self._sets.get(cert.height)
        if valset is None:
            return False
        try:
            cert.verify(valset, self._chain_id, self._verifier)
        except cs.ConsensusError:
            return False
        return True

    # ------------------------------------------------------------ evidence

    def _new_evidence(self, evidence: cs.Evidence) -> None:
        """Verified evidence (the engine's or a peer's): keep it, report it, gossip it."""
        if self.evidence_pool.add(evidence):
            self._out.append(cs.ReportEvidence(evidence))
            self._out.append(GossipEvidence((evidence,)))

    def _on_evidence_received(self, event: EvidenceReceived) -> None:
        if event.bad:
            self._out.append(
                PeerPenalised(event.peer, BAD_EVIDENCE, f"{event.bad} undecodable pieces")
            )
        for evidence in event.evidence:
            if evidence.key in self.evidence_pool:
                continue
            if evidence.height > self._tip.height + 1:
                continue  # a peer ahead of us: judged once we get there (our engine or gossip)
            reason = verify_evidence(
                evidence,
                height=self._tip.height + 1,
                validator_set_of=self.set_history,
                chain_id=self._chain_id,
                verifier=self._verifier,
                max_age=self._params.evidence_max_age_blocks,
            )
            if reason is not None:
                self._out.append(PeerPenalised(event.peer, BAD_EVIDENCE, reason))
                continue
            self._new_evidence(evidence)

    # ------------------------------------------------------------ sync, gossip, status

    def _on_tick(self, now_ms: int) -> None:
        interval = self._params.status_interval_ms
        if self._last_status_ms is None or not 0 <= now_ms - self._last_status_ms < interval:
            self._last_status_ms = now_ms
            self._out.append(SendStatus(None, self._tip.height, self._tip.block_hash))
        regossip = self._params.regossip_interval_ms
        quiet = not 0 <= now_ms - self._last_commit_ms < regossip
        due = not 0 <= now_ms - self._last_regossip_ms < regossip  # a clock set back: due now
        if quiet and due and self._deciding is None:
            self._last_regossip_ms = now_ms
            self._out.extend(Relay(m) for m in self.engine.gossip_messages())
        self._sync_requests(now_ms)
        self._feed_synced(now_ms)
        self._maybe_build(now_ms)

    def _sync_requests(self, now_ms: int) -> None:
        for peer, code, detail in self.sync.expire(self._tip.height, now_ms):
            self._penalise(peer, code, detail)
        requests = self.sync.requests(self._tip.height, now_ms)
        self._out.extend(RequestBlock(peer, height) for peer, height in requests)

    def _penalise(self, peer: PeerId, code: str, detail: str) -> None:
        self._out.append(PeerPenalised(peer, code, detail))
        if self.sync.penalise(peer):
            self.sync.forget(peer)
            self._out.append(DropPeer(peer, code))

    def _on_block_received(self, event: BlockReceived) -> None:
        penalty = self.sync.on_response(
            event.peer, event.height, event.value, event.certificate, self.codec.value_id
        )
        if penalty is not None:
            self._penalise(event.peer, *penalty)
            self._sync_requests(event.now_ms)  # ask someone else at once
            return
        self._feed_synced(event.now_ms)

    def _feed_synced(self, now_ms: int) -> None:
        """Hand the engine the synced block of its height, if one was accepted."""
        engine = self.engine
        if self._deciding is not None or engine.step in (cs.Step.NEW_HEIGHT, cs.Step.COMMIT):
            return
        synced = self.sync.take(engine.height)
        if synced is None:
            return
        event = cs.CommitReceived(
            synced.value, synced.certificate, now_ms, _peer_bytes(synced.peer)
        )
        outputs = self._engine(event, now_ms)
        if any(isinstance(out, cs.CommitBlock) for out in outputs):
            self.sync.verified(synced.peer, now_ms)
            return
        # The engine refused it (a certificate that does not verify, an invalid block):
        # penalise that peer and ask someone else (rule 3 of node/core/_sync.py).
        self._penalise(synced.peer, BAD_SYNC_BLOCK, f"block {synced.height} failed verification")
        self._sync_requests(now_ms)


def _peer_bytes(peer: PeerId) -> bytes:
    """The engine's sender bytes for a peer id (hex of the node key)."""
    try:
        return bytes.fromhex(peer)
    except ValueError:
        return peer.encode()


def _kinds_of(executed: BlockExecuted, txs: int) -> tuple[str, ...]:
    """The block's tx kinds as the ledger read them; all "unknown" (so every pending
    transaction is re-checked) if the driver's answer does not give one per transaction."""
    kinds = tuple(executed.kinds)
    return kinds if len(kinds) == txs else ("unknown",) * txs
