"""The trio driver: the one task that owns the node core and executes its effects.

Rules this module keeps:

1. Only ``ConsensusDriver.run`` calls ``core.handle``; every other task feeds it through ONE
   bounded memory channel (the inbox), so the core sees one input at a time.
2. Effects run in the order the core gave them. A synced WAL write and the last-signed record
   are durable before the next effect, so no own signed message leaves before it is on disk.
   The four effects that ask a question (build, execute, write, update the mempool) are
   answered at once, before the next effect.
3. Before a decided block executes, the signatures its transactions carry that this node
   has not verified yet (transactions gossiped too late, or never) are verified in worker
   threads, ``VERIFY_AHEAD_THREADS`` parts at once; execution then finds every verdict in
   the signature cache. The event loop serves other tasks meanwhile.
4. This module decides nothing: what to sign, commit, ask or drop is the core's (node/core/).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol, assert_never

import trio

import consensus as cs
from node import consensus_codec as codec
from node import core
from node import peer_messages as pm
from node.blocks import build_block
from node.evidence import evidence_gossip, kind_of
from node.ledger import Ledger
from node.mempool import Mempool
from node.store import BlockCommit, Store
from proto import p2p_pb2

log = logging.getLogger("tenge.consensus")

INBOX_SIZE: Final = 4096
TICK_S: Final = 0.2
EVIDENCE_ROOM_BYTES: Final = 1024  # room kept in a proposal per piece of evidence it carries
VERIFY_AHEAD_THREADS: Final = 2  # rule 3: parts of a block's unverified signatures at once
VERIFY_AHEAD_MIN_TXS: Final = 16  # fewer unverified than this: verify inline (no thread hop)


def now_ms() -> int:
    """Wall-clock time in Unix milliseconds (block times are wall-clock)."""
    return time.time_ns() // 1_000_000


class Network(Protocol):
    """What the driver needs from the P2P layer."""

    def broadcast(self, envelope: p2p_pb2.Envelope, exclude: tuple[str, ...] = ()) -> int: ...
    def send(self, peer_id: str, envelope: p2p_pb2.Envelope) -> bool: ...
    def disconnect(self, peer_id: str, reason: str) -> bool: ...


class Wal(Protocol):
    """The consensus WAL file (node/wal.py)."""

    def execute(self, output: cs.WriteWal) -> None: ...


class SignGuardFile(Protocol):
    """The persisted last-signed record (node/signguard.py)."""

    def persist(self, last: cs.LastSigned) -> None: ...


@dataclass(slots=True)
class DriverStats:
    """Counters the metrics module exports."""

    height: int = 0
    round: int = 0
    step: int = 0
    misbehaviour: dict[str, int] = field(default_factory=dict)
    penalties: dict[str, int] = field(default_factory=dict)
    drops: dict[str, int] = field(default_factory=dict)
    timeouts: dict[str, int] = field(default_factory=dict)
    sign_refusals: int = 0
    signer_unavailable: int = 0  # steps skipped because the signer could not sign
    verified_ahead: int = 0  # block envelopes whose signatures admission had not verified
    blocks_synced: int = 0
    last_commit_monotonic: float = 0.0


class ConsensusDriver:
    """Feeds the node core and executes its effects: WAL, peers, ledger, store, mempool."""

    def __init__(
        self,
        *,
        node_core: core.NodeCore,
        chain_id: str,
        store: Store,
        ledger: Ledger,
        mempool: Mempool,
        network: Network,
        wal: Wal | None,
        guard: SignGuardFile | None,
        proposer_key: bytes,
        on_commit: Callable[[core.BlockCommitted], None] = lambda info: None,
        on_timeout: Callable[[str], None] = lambda step: None,
        on_evidence: Callable[[cs.Evidence], None] = lambda evidence: None,
        on_evidence_committed: Callable[[str], None] = lambda kind: None,
        on_write_batch: Callable[[float], None] = lambda seconds: None,
        max_block_txs: int,
        max_block_bytes: int,
        commit_gate: trio.Lock | None = None,
    ) -> None:
        self.core = node_core
        self._chain_id, self._store, self._ledger, self._mempool = chain_id, store, ledger, mempool
        self._net, self._wal, self._guard, self._proposer_key = network, wal, guard, proposer_key
        self._on_commit, self._on_timeout = on_commit, on_timeout
        self._on_evidence, self._on_write_batch = on_evidence, on_write_batch
        self._on_evidence_committed = on_evidence_committed
        self._max_block_txs, self._max_block_bytes = max_block_txs, max_block_bytes
        # Held from a block's write until the mempool has its update (node/admission.py).
        self._commit_gate = commit_gate or trio.Lock()
        self._gate_held = False
        self._inbox_send, self._inbox = trio.open_memory_channel[core.Input](INBOX_SIZE)
        self._txs_signalled = False
        self.stats = DriverStats(height=store.height)
        self._nursery: trio.Nursery | None = None

    # ---- inputs from other tasks ----

    @property
    def catching_up(self) -> bool:
        """The core's judgement: is the network ahead of us (see node/core/_sync.py)?"""
        return self.core.catching_up(now_ms())

    def txs_available(self) -> None:
        """The mempool admitted transactions (one signal per batch reaches the core)."""
        if not self._txs_signalled:
            self._txs_signalled = True
            self._post(core.TxsAdmitted(len(self._mempool), now_ms()))

    async def on_peer_message(self, peer_id: str, env: p2p_pb2.Envelope) -> None:
        """Hand one consensus, status or block-sync message from a peer to the core."""
        event = pm.core_input(peer_id, env, now_ms())
        if event is not None:
            await self._inbox_send.send(event)

    def peer_connected(self, peer_id: str) -> None:
        self._post(core.PeerConnected(peer_id, now_ms()))

    def peer_gone(self, peer_id: str) -> None:
        self._post(core.PeerGone(peer_id, now_ms()))

    def _post(self, event: core.Input) -> None:
        try:
            self._inbox_send.send_nowait(event)
        except trio.WouldBlock:
            assert self._nursery is not None
            self._nursery.start_soon(self._inbox_send.send, event)

    # ---- the core's task ----

    async def run(
        self,
        wal_entries: tuple[cs.WalEntry, ...] = (),
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Start the core (replaying the WAL) and process inputs until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self.stats.last_commit_monotonic = trio.current_time()
            await self._handle(core.NodeStarted(now_ms(), wal_entries))
            nursery.start_soon(self._ticker)
            task_status.started()
            async for event in self._inbox:
                if isinstance(event, core.TxsAdmitted):
                    self._txs_signalled = False
                    event = core.TxsAdmitted(len(self._mempool), event.now_ms)
                await self._handle(event)

    async def _handle(self, event: core.Input) -> None:
        await self._execute(self.core.handle(event))
        self.stats.round = self.core.engine.round
        self.stats.step = int(self.core.engine.step)

    async def _ticker(self) -> None:
        while True:
            await trio.sleep(TICK_S)
            await self._inbox_send.send(core.Tick(now_ms()))

    async def _wake(self, at_ms: int) -> None:
        await trio.sleep(max(0, at_ms - now_ms()) / 1000)
        await self._inbox_send.send(core.Tick(now_ms()))

    async def _timer(self, out: cs.ScheduleTimeout) -> None:
        await trio.sleep(out.duration_ms / 1000)
        await self._inbox_send.send(cs.TimeoutFired(out.step, out.height, out.round, now_ms()))

    def _count_timeout(self, fired: cs.TimeoutFired) -> None:
        """A timeout that moved consensus (the engine logs exactly those; the timer of a
        step that was already over fires too, and the engine drops it uncounted)."""
        name = fired.step.name.lower()
        self.stats.timeouts[name] = self.stats.timeouts.get(name, 0) + 1
        self._on_timeout(name)

    async def _execute(self, effects: list[core.Effect]) -> None:
        for out in effects:
            match out:
                case cs.WriteWal(entry=entry, sync=sync):
                    if isinstance(entry, cs.TimeoutFired):
                        self._count_timeout(entry)
                    if self._wal is not None:
                        if sync or isinstance(entry, cs.HeightStarted):
                            await trio.to_thread.run_sync(self._wal.execute, out)
                        else:
                            self._wal.execute(out)
                case cs.PersistLastSigned():
                    if self._guard is not None:
                        last = cs.LastSigned(out.height, out.round, out.step, out.sign_bytes_hash)
                        await trio.to_thread.run_sync(self._guard.persist, last)
                case cs.Broadcast(message=message) | core.Relay(message=message):
                    self._net.broadcast(pm.consensus_envelope(message))
                case cs.ScheduleTimeout():
                    assert self._nursery is not None
                    self._nursery.start_soon(self._timer, out)
                case core.BuildProposal():
                    await self._handle(self._build(out))
                case core.ExecuteBlock():
                    await self._verify_ahead(out.txs)
                    result = self._ledger.execute_block(
                        height=out.height,
                        time_ms=out.time_ms,
                        txs=list(out.txs),
                        prev_app_hash=out.app_hash,
                        evidence=out.evidence,
                    )
                    for evidence in result.evidence:
                        self._on_evidence_committed(kind_of(evidence))
                    updates = [(v.public_key, v.power) for v in result.validator_updates]
                    executed = core.BlockExecuted(
                        out.height,
                        result.receipts,
                        result.writes,
                        result.app_hash,
                        updates,
                        now_ms(),
                        result.kinds,
                    )
                    await self._handle(executed)
                case core.WriteBlock():
                    await self._write(out)
                case core.UpdateMempool():
                    self._mempool.update(
                        out.included, next_height=out.next_height, written=out.written
                    )
                    self._release_gate()  # checks may run again: pool and state agree
                    await self._handle(
                        core.MempoolUpdated(out.height, len(self._mempool), now_ms())
                    )
                case core.BlockCommitted():
                    self._committed(out)
                case core.SendStatus(peer=peer):
                    env = pm.status_envelope(out.height, out.block_hash)
                    _ = self._net.broadcast(env) if peer is None else self._net.send(peer, env)
                case core.RequestBlock(peer=peer, height=height):
                    self._net.send(peer, pm.block_request_envelope(height))
                case core.ServeBlock(peer=peer, height=height, have=have):
                    block = self._store.get_block(height) if have else None
                    commit = self._store.get_commit(height) if block is not None else None
                    self._net.send(peer, pm.block_response_envelope(height, block, commit))
                case core.PeerPenalised(peer=peer, code=code, detail=detail):
                    self.stats.penalties[code] = self.stats.penalties.get(code, 0) + 1
                    level = logging.DEBUG if code == core.UNDECODABLE_MESSAGE else logging.INFO
                    log.log(level, "peer %s: %s: %s", peer[:12], code, detail)
                case core.GossipEvidence(evidence=evidence_list):
                    for env in evidence_gossip(evidence_list):
                        self._net.broadcast(env)
                case core.WakeAt(at_ms=at_ms):
                    assert self._nursery is not None
                    self._nursery.start_soon(self._wake, at_ms)
                case core.DropPeer(peer=peer, reason=reason):
                    self.stats.drops[reason] = self.stats.drops.get(reason, 0) + 1
                    log.warning("dropping peer %s: %s", peer[:12], reason)
                    self._net.disconnect(peer, reason)
                case cs.ReportEvidence(evidence=evidence):
                    self._on_evidence(evidence)
                    log.warning(
                        "evidence: validator %s equivocated",
                        evidence.validator.hex()[:16],
                        extra={"height": evidence.height},
                    )
                case cs.ReportMisbehaviour(code=code, detail=detail, sender=sender):
                    self.stats.misbehaviour[code] = self.stats.misbehaviour.get(code, 0) + 1
                    who = sender.hex()[:12] if sender else "-"
                    log.info("misbehaviour %s from %s: %s", code, who, detail)
                case cs.SignRefused() if out.reason.startswith(cs.SIGNER_UNAVAILABLE):
                    self.stats.signer_unavailable += 1
                    log.info(
                        "not signing at step %s: %s",
                        out.step.name,
                        out.reason,
                        extra={"height": out.height, "round": out.round},
                    )
                case cs.SignRefused():
                    self.stats.sign_refusals += 1
                    log.error(
                        "double-sign guard refused to sign at step %s: %s",
                        out.step.name,
                        out.reason,
                        extra={"height": out.height, "round": out.round},
                    )
                case _:
                    assert_never(out)

    async def _verify_ahead(self, txs: Sequence[bytes]) -> None:
        """Rule 3: fill the signature cache for the block's envelopes it lacks."""
        ledger = self._ledger
        todo = ledger.unverified(txs)
        self.stats.verified_ahead += len(todo)
        if len(todo) < VERIFY_AHEAD_MIN_TXS:
            return  # execution verifies these few inline
        parts = [todo[i::VERIFY_AHEAD_THREADS] for i in range(VERIFY_AHEAD_THREADS)]
        outcomes: list[list[tuple[bytes, int]]] = []

        async def verify(part: list[tuple[bytes, bytes]]) -> None:
            outcomes.append(await trio.to_thread.run_sync(ledger.verify_detached, part))

        async with trio.open_nursery() as nursery:
            for part in parts:
                nursery.start_soon(verify, part)
        for found in outcomes:
            ledger.remember_signatures(found)

    def _build(self, out: core.BuildProposal) -> core.ProposalBuilt:
        room = self._max_block_bytes - len(out.evidence) * EVIDENCE_ROOM_BYTES
        txs = self._mempool.reap(max_txs=self._max_block_txs, max_bytes=room)
        last = codec.certificate_to_proto(out.last_commit) if out.last_commit else None
        value = build_block(
            chain_id=self._chain_id,
            tip=out.tip,
            txs=txs,
            proposer=self._proposer_key,
            now_ms=now_ms(),
            last_commit=last,
            evidence=out.evidence,
        )
        return core.ProposalBuilt(out.height, out.round, value, now_ms())

    async def _write(self, out: core.WriteBlock) -> None:
        commit = BlockCommit(
            height=out.height,
            block=out.value,
            block_hash=out.block_hash,
            commit=codec.encode_certificate(out.certificate),
            receipts=out.receipts,
            writes=out.writes,
            app_hash=out.app_hash,
            validator_sets=[(h, core.validator_set_to_bytes(v)) for h, v in out.validator_sets],
        )
        # No admission check sees a half-done commit: the gate is held from the write until
        # the mempool's update, which releases it (a synced block's commit may follow in
        # the same chain of effects and take it again).
        await self._commit_gate.acquire()
        self._gate_held = True
        try:
            started = trio.current_time()
            await trio.to_thread.run_sync(self._store.commit_block, commit)
            self._on_write_batch(trio.current_time() - started)
            await self._handle(core.BlockWritten(out.height, now_ms()))
        finally:
            self._release_gate()

    def _release_gate(self) -> None:
        if self._gate_held:
            self._gate_held = False
            self._commit_gate.release()

    def _committed(self, info: core.BlockCommitted) -> None:
        self.stats.height = info.height
        self.stats.last_commit_monotonic = trio.current_time()
        self.stats.blocks_synced += info.synced
        self._mempool.committed(len(info.kinds), now_s=trio.current_time(), synced=info.synced)
        log.info(
            "committed block %s with %d txs",
            info.block_hash.hex()[:16],
            len(info.kinds),
            extra={"height": info.height, "round": info.round},
        )
        self._on_commit(info)
