"""The consensus driver: the one task that owns the engine and does its I/O.

Rules this module keeps:

1. Only ``ConsensusDriver.run`` calls ``engine.handle``; every other task feeds it through
   ONE bounded memory channel (the inbox), so the engine sees one event at a time.
2. Outputs run in the order the engine gave them. A synced WAL write and the last-signed
   record are durable before the next output, so no own signed message leaves the node
   before it is on disk.
3. Nothing is acknowledged as committed before the block's write batch is durable: commit
   waiters, the event stream and the mempool see a height only after ``Store.commit_block``.
4. Bad input from peers never stops the driver: it is decoded at the boundary and dropped
   (and counted) when it does not decode; the engine reports the rest as misbehaviour.
   Any other exception is a bug and stops the node rather than risk a double sign.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Protocol, TypeVar, assert_never

import trio
from google.protobuf.message import DecodeError

import consensus as cs
from node import consensus_codec as codec
from node.blocks import ChainTip, build_block, decode_block
from node.ledger import BlockResult, Ledger, get_validators
from node.mempool import Mempool
from node.store import BlockCommit, Store
from proto import consensus_pb2, ledger_pb2, p2p_pb2

log = logging.getLogger("tenge.consensus")

INBOX_SIZE: Final = 4096
STATUS_INTERVAL_S: Final = 2.0
SYNC_WINDOW: Final = 8  # block requests in flight while catching up
SYNC_REQUEST_TIMEOUT_S: Final = 5.0
REGOSSIP_INTERVAL_S: Final = 1.0


def now_ms() -> int:
    """Wall-clock time in Unix milliseconds (block times are wall-clock)."""
    return time.time_ns() // 1_000_000


class Network(Protocol):
    """What the driver needs from the P2P layer."""

    def broadcast(self, envelope: p2p_pb2.Envelope, exclude: tuple[str, ...] = ()) -> int: ...
    def send(self, peer_id: str, envelope: p2p_pb2.Envelope) -> bool: ...


class Wal(Protocol):
    """The consensus WAL file (node/wal.py)."""

    def execute(self, output: cs.WriteWal) -> None: ...


class SignGuardFile(Protocol):
    """The persisted last-signed record (node/signguard.py)."""

    def persist(self, last: cs.LastSigned) -> None: ...


@dataclass(slots=True)
class CommitInfo:
    """A committed block as the API and metrics see it."""

    height: int
    block_hash: bytes
    app_hash: bytes
    time_ms: int
    round: int
    receipts: list[ledger_pb2.Receipt]
    num_txs: int
    kinds: list[str]  # the TxBody kind of each transaction ("unknown" if undecodable)
    commit_latency_s: float


@dataclass(slots=True)
class DriverStats:
    """Counters the metrics module exports."""

    height: int = 0
    round: int = 0
    step: int = 0
    misbehaviour: dict[str, int] = field(default_factory=dict)
    timeouts: dict[str, int] = field(default_factory=dict)
    undecodable_messages: int = 0
    sign_refusals: int = 0
    blocks_synced: int = 0
    last_commit_monotonic: float = 0.0


class ConsensusDriver:
    """Feeds the engine, executes its outputs, commits blocks and serves block sync."""

    def __init__(
        self,
        *,
        engine: cs.Engine,
        chain_id: str,
        store: Store,
        ledger: Ledger,
        mempool: Mempool,
        network: Network,
        wal: Wal | None,
        guard: SignGuardFile | None,
        validator_key: bytes | None,
        validator_sets: Callable[[int], cs.ValidatorSet],
        tip: Callable[[], ChainTip],
        on_commit: Callable[[CommitInfo, BlockResult], None],
        empty_block_interval_ms: int,
        on_timeout: Callable[[str], None] = lambda step: None,
        on_evidence: Callable[[cs.Evidence], None] = lambda evidence: None,
        on_write_batch: Callable[[float], None] = lambda seconds: None,
        max_block_txs: int,
        max_block_bytes: int,
    ) -> None:
        self._engine = engine
        self._chain_id = chain_id
        self._store = store
        self._ledger = ledger
        self._mempool = mempool
        self._net = network
        self._wal = wal
        self._guard = guard
        self._validator_key = validator_key
        self._validator_sets = validator_sets
        self._tip = tip
        self._on_commit = on_commit
        self._on_timeout = on_timeout
        self._on_evidence_hook = on_evidence
        self._on_write_batch = on_write_batch
        self._empty_interval_s = empty_block_interval_ms / 1000
        self._max_block_txs = max_block_txs
        self._max_block_bytes = max_block_bytes
        self._inbox_send, self._inbox = trio.open_memory_channel[cs.Event | _Regossip](INBOX_SIZE)
        self._txs_waiting = trio.Event()
        self._peer_heights: dict[str, int] = {}
        self._sync_pending: dict[int, float] = {}
        self._sync_wakeup = trio.Event()
        self._synced: dict[int, tuple[bytes, cs.CommitCertificate, bytes | None]] = {}
        self._proposal_started: dict[int, float] = {}
        self.stats = DriverStats(height=store.height)
        self._nursery: trio.Nursery | None = None

    # ---- inputs from other tasks ----

    @property
    def catching_up(self) -> bool:
        """True while a peer reports a height more than one block ahead of ours."""
        best = max(self._peer_heights.values(), default=0)
        return best > self._store.height + 1

    def txs_available(self) -> None:
        """The mempool admitted a transaction: a waiting proposer may go on."""
        self._txs_waiting.set()

    async def on_peer_message(self, peer_id: str, env: p2p_pb2.Envelope) -> None:
        """Handle one consensus, status or sync message from a peer."""
        kind = env.WhichOneof("kind")
        if kind == "consensus":
            await self._on_consensus(peer_id, env.consensus)
        elif kind == "status":
            self._peer_heights[peer_id] = env.status.height
            if env.status.height > self._store.height:
                self._sync_wakeup.set()
        elif kind == "block_request":
            self._serve_block(peer_id, env.block_request.height)
        elif kind == "block_response":
            await self._on_block_response(peer_id, env.block_response)

    def peer_connected(self, peer_id: str) -> None:
        """Tell a new peer where we are."""
        self._net.send(peer_id, self._status_envelope())

    def peer_gone(self, peer_id: str) -> None:
        """Forget a disconnected peer's height."""
        self._peer_heights.pop(peer_id, None)

    async def _on_consensus(self, peer_id: str, msg: p2p_pb2.ConsensusMessage) -> None:
        sender = bytes.fromhex(peer_id) if _is_hex(peer_id) else peer_id.encode()
        which = msg.WhichOneof("message")
        event: cs.Event
        try:
            if which == "proposal":
                proposal = codec.proposal_from_proto(_parse(consensus_pb2.Proposal, msg.proposal))
                event = cs.ProposalReceived(proposal, now_ms(), sender)
            elif which == "vote":
                vote = codec.vote_from_proto(_parse(consensus_pb2.Vote, msg.vote))
                event = cs.VoteReceived(vote, now_ms(), sender)
            else:
                raise codec.ConsensusCodecError(codec.MALFORMED_CONSENSUS_MESSAGE, "empty")
        except codec.ConsensusCodecError as e:
            self.stats.undecodable_messages += 1
            log.debug("undecodable consensus message from %s: %s", peer_id[:12], e)
            return
        await self._inbox_send.send(event)

    # ---- the engine's task ----

    async def run(
        self,
        wal_entries: tuple[cs.WalEntry, ...] = (),
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Start the engine (replaying its WAL) and process events until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self.stats.last_commit_monotonic = trio.current_time()
            await self._execute(self._engine.handle(cs.Started(now_ms(), wal_entries)))
            nursery.start_soon(self._status_loop)
            nursery.start_soon(self._sync_loop)
            nursery.start_soon(self._regossip_loop)
            task_status.started()
            async for event in self._inbox:
                if isinstance(event, _Regossip):
                    self._regossip(event)
                    continue
                await self._execute(self._engine.handle(event))
                self.stats.round = self._engine.round
                self.stats.step = int(self._engine.step)

    async def _execute(self, outputs: list[cs.Output]) -> None:
        for out in outputs:
            match out:
                case cs.WriteWal(entry=entry, sync=sync):
                    if self._wal is not None:
                        if sync or isinstance(entry, cs.HeightStarted):
                            await trio.to_thread.run_sync(self._wal.execute, out)
                        else:
                            self._wal.execute(out)
                case cs.PersistLastSigned():
                    if self._guard is not None:
                        last = cs.LastSigned(out.height, out.round, out.step, out.sign_bytes_hash)
                        await trio.to_thread.run_sync(self._guard.persist, last)
                case cs.Broadcast(message=message):
                    self._net.broadcast(_consensus_envelope(message))
                case cs.ScheduleTimeout():
                    assert self._nursery is not None
                    self._nursery.start_soon(self._timer, out)
                case cs.RequestProposalValue(height=height, round=round_):
                    assert self._nursery is not None
                    self._nursery.start_soon(self._propose, height, round_)
                case cs.CommitBlock():
                    await self._commit(out)
                case cs.ReportEvidence(evidence=evidence):
                    self._on_evidence(evidence)
                case cs.ReportMisbehaviour(code=code, detail=detail, sender=sender):
                    self.stats.misbehaviour[code] = self.stats.misbehaviour.get(code, 0) + 1
                    log.info(
                        "misbehaviour %s from %s: %s",
                        code,
                        sender.hex()[:12] if sender else "-",
                        detail,
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

    async def _timer(self, out: cs.ScheduleTimeout) -> None:
        await trio.sleep(out.duration_ms / 1000)
        name = out.step.name.lower()
        self.stats.timeouts[name] = self.stats.timeouts.get(name, 0) + 1
        self._on_timeout(name)
        await self._inbox_send.send(cs.TimeoutFired(out.step, out.height, out.round, now_ms()))

    async def _propose(self, height: int, round_: int) -> None:
        """Answer RequestProposalValue once there are txs or the empty-block interval passed."""
        if round_ == 0 and len(self._mempool) == 0:
            deadline = self.stats.last_commit_monotonic + self._empty_interval_s
            with trio.move_on_at(deadline):
                while len(self._mempool) == 0:
                    self._txs_waiting = trio.Event()
                    await self._txs_waiting.wait()
        if self._store.height + 1 != height:
            return  # the height moved on meanwhile
        tip = self._tip()
        txs = self._mempool.reap(max_txs=self._max_block_txs, max_bytes=self._max_block_bytes)
        last_commit = None
        if height > 1:
            raw = self._store.get_commit(height - 1)
            if raw is not None:
                last_commit = consensus_pb2.CommitCertificate()
                last_commit.ParseFromString(raw)
        value = build_block(
            chain_id=self._chain_id,
            tip=tip,
            txs=txs,
            proposer=self._validator_key or b"",
            now_ms=now_ms(),
            last_commit=last_commit,
        )
        self._proposal_started[height] = trio.current_time()
        await self._inbox_send.send(cs.ProposalValueReady(height, round_, value, now_ms()))

    async def _commit(self, out: cs.CommitBlock) -> None:
        started = trio.current_time()
        block = decode_block(out.value)
        if block is None:  # the engine only decides values that passed is_valid
            raise RuntimeError(f"decided block {out.height} does not decode")
        result = self._ledger.execute_block(
            height=out.height,
            time_ms=block.header.time_ms,
            txs=list(block.txs),
            prev_app_hash=self._store.app_hash,
        )
        current = self._validator_sets(out.height + 1)
        upcoming = current  # set(H + 2) = set(H + 1) unless this block updated it
        if result.validator_updates:
            upcoming = self._validators_after(result, fallback=upcoming)
        commit = BlockCommit(
            height=out.height,
            block=out.value,
            block_hash=out.value_id,
            commit=codec.encode_certificate(out.certificate),
            receipts=result.receipts,
            writes=result.writes,
            app_hash=result.app_hash,
            validator_sets=[(out.height + 2, validator_set_to_bytes(upcoming))],
        )
        write_started = trio.current_time()
        await trio.to_thread.run_sync(self._store.commit_block, commit)
        self._on_write_batch(trio.current_time() - write_started)
        kinds = [_tx_kind(raw) for raw in block.txs]
        touched: set[str] | None = {a for r in result.receipts for a in r.accounts}
        if any(kind not in _BALANCE_ONLY_KINDS for kind in kinds):
            touched = None  # rules or accounts changed: check every pending transaction
        self._mempool.update(
            (r.tx_id for r in result.receipts), next_height=out.height + 1, touched=touched
        )
        self._sync_pending.pop(out.height, None)
        now = trio.current_time()
        proposal_started = self._proposal_started.pop(out.height, None)
        info = CommitInfo(
            height=out.height,
            block_hash=out.value_id,
            app_hash=result.app_hash,
            time_ms=block.header.time_ms,
            round=out.round,
            receipts=result.receipts,
            num_txs=len(block.txs),
            kinds=kinds,
            commit_latency_s=(now - proposal_started) if proposal_started else now - started,
        )
        self.stats.height = out.height
        self.stats.last_commit_monotonic = now
        log.info(
            "committed block %s with %d txs",
            out.value_id.hex()[:16],
            len(block.txs),
            extra={"height": out.height, "round": out.round},
        )
        self._on_commit(info, result)
        self._net.broadcast(self._status_envelope())
        outputs = self._engine.handle(cs.HeightCommitted(out.height, current, now_ms()))
        await self._execute(outputs)
        if self._mempool:
            self._txs_waiting.set()
        if self._synced:
            assert self._nursery is not None
            self._nursery.start_soon(self._feed_synced)

    def _validators_after(self, result: BlockResult, fallback: cs.ValidatorSet) -> cs.ValidatorSet:
        """The ledger's validator set after this block: it runs height + 2."""
        changed = dict(result.writes)
        validators = get_validators(_StateAfter(self._store, changed))
        try:
            return cs.ValidatorSet({v.public_key: v.power for v in validators if v.power > 0})
        except cs.InvalidValidatorSet as e:
            log.error("ledger validator set is unusable (%s); keeping the current one", e)
            return fallback

    def _on_evidence(self, evidence: cs.Evidence) -> None:
        self._on_evidence_hook(evidence)
        log.warning(
            "evidence: validator %s equivocated",
            evidence.validator.hex()[:16],
            extra={"height": evidence.height, "round": evidence.vote_a.round},
        )

    # ---- status and block sync ----

    def _status_envelope(self) -> p2p_pb2.Envelope:
        env = p2p_pb2.Envelope()
        env.status.height = self._store.height
        env.status.block_hash = self._store.block_hash
        env.status.earliest_height = 1 if self._store.height else 0
        return env

    async def _regossip_loop(self) -> None:
        """Every REGOSSIP_INTERVAL_S without a commit, ask the engine task to re-send."""
        while True:
            await trio.sleep(REGOSSIP_INTERVAL_S)
            quiet = trio.current_time() - self.stats.last_commit_monotonic
            if quiet >= REGOSSIP_INTERVAL_S:
                await self._inbox_send.send(_Regossip(self._store.height + 1))

    def _regossip(self, tick: _Regossip) -> None:
        """Re-send the engine's current proposals and own votes (lost messages, new peers)."""
        if tick.height != self._store.height + 1:
            return
        for message in self._engine.gossip_messages():
            self._net.broadcast(_consensus_envelope(message))

    async def _status_loop(self) -> None:
        while True:
            self._net.broadcast(self._status_envelope())
            await trio.sleep(STATUS_INTERVAL_S)

    def _serve_block(self, peer_id: str, height: int) -> None:
        env = p2p_pb2.Envelope()
        env.block_response.height = height
        block = self._store.get_block(height) if height <= self._store.height else None
        commit = self._store.get_commit(height) if block is not None else None
        if block is not None and commit is not None:
            env.block_response.block = block
            env.block_response.commit = commit
        self._net.send(peer_id, env)

    async def _on_block_response(self, peer_id: str, resp: p2p_pb2.BlockResponse) -> None:
        mine = self._store.height
        if not resp.block or not mine < resp.height <= mine + SYNC_WINDOW:
            return  # stale, too far ahead, or the peer lacks that height
        try:
            certificate = codec.decode_certificate(resp.commit)
        except codec.ConsensusCodecError:
            self.stats.undecodable_messages += 1
            return
        sender = bytes.fromhex(peer_id) if _is_hex(peer_id) else None
        self._synced[resp.height] = (resp.block, certificate, sender)
        await self._feed_synced()

    async def _feed_synced(self) -> None:
        """Hand the engine the synced block for the next height, if it has arrived."""
        mine = self._store.height
        for stale in [h for h in self._synced if h <= mine]:
            del self._synced[stale]
        ready = self._synced.pop(mine + 1, None)
        if ready is not None:
            block, certificate, sender = ready
            self.stats.blocks_synced += 1
            await self._inbox_send.send(cs.CommitReceived(block, certificate, now_ms(), sender))

    async def _sync_loop(self) -> None:
        """Ask peers that are ahead for the next blocks, a bounded window at a time."""
        while True:
            with trio.move_on_after(1.0):
                await self._sync_wakeup.wait()
            self._sync_wakeup = trio.Event()
            mine = self._store.height
            ahead = [(h, p) for p, h in self._peer_heights.items() if h > mine]
            if not ahead:
                self._sync_pending.clear()
                continue
            now = trio.current_time()
            for stale in [
                h
                for h, t in self._sync_pending.items()
                if h <= mine or now - t > SYNC_REQUEST_TIMEOUT_S
            ]:
                del self._sync_pending[stale]
            best = max(h for h, _ in ahead)
            for height in range(mine + 1, min(best, mine + SYNC_WINDOW) + 1):
                if height in self._sync_pending:
                    continue
                peers = [p for h, p in ahead if h >= height]
                peer = peers[height % len(peers)]
                env = p2p_pb2.Envelope()
                env.block_request.height = height
                if self._net.send(peer, env):
                    self._sync_pending[height] = now


class _StateAfter:
    """Committed state with one block's writes applied on top (before they are stored)."""

    def __init__(self, store: Store, writes: dict[bytes, bytes | None]) -> None:
        self._store = store
        self._writes = writes

    def get(self, key: bytes) -> bytes | None:
        if key in self._writes:
            return self._writes[key]
        return self._store.get(key)


_BALANCE_ONLY_KINDS: Final = frozenset({"transfer", "issue", "redeem"})


def _tx_kind(raw: bytes) -> str:
    """The TxBody kind of a serialized envelope ("unknown" when it does not decode)."""
    try:
        body = ledger_pb2.TxBody.FromString(ledger_pb2.TxEnvelope.FromString(raw).body)
    except (DecodeError, RuntimeError, ValueError):
        return "unknown"
    return body.WhichOneof("kind") or "unknown"


@dataclass(frozen=True, slots=True)
class _Regossip:
    """Inbox marker: re-send the engine's gossip messages (handled in the engine's task)."""

    height: int


def _consensus_envelope(message: cs.Proposal | cs.Vote) -> p2p_pb2.Envelope:
    env = p2p_pb2.Envelope()
    if isinstance(message, cs.Proposal):
        env.consensus.proposal = codec.proposal_to_proto(message).SerializeToString()
    else:
        env.consensus.vote = codec.vote_to_proto(message).SerializeToString()
    return env


_Msg = TypeVar("_Msg", consensus_pb2.Proposal, consensus_pb2.Vote)


def _parse(cls: type[_Msg], raw: bytes) -> _Msg:
    msg = cls()
    try:
        msg.ParseFromString(raw)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise codec.ConsensusCodecError(codec.MALFORMED_CONSENSUS_MESSAGE, str(e)) from e
    return msg


def validator_set_to_bytes(valset: cs.ValidatorSet) -> bytes:
    """Serialized ``tenge.v1.ValidatorSet`` (keys in the set's deterministic order)."""
    msg = ledger_pb2.ValidatorSet(
        validators=[ledger_pb2.Validator(public_key=k, power=valset.power(k)) for k in valset]
    )
    return msg.SerializeToString(deterministic=True)


def validator_set_from_bytes(raw: bytes) -> cs.ValidatorSet:
    """The consensus validator set of a serialized ``tenge.v1.ValidatorSet``."""
    msg = ledger_pb2.ValidatorSet.FromString(raw)
    return cs.ValidatorSet({v.public_key: v.power for v in msg.validators})


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


def validators_hash(valset_bytes: bytes) -> bytes:
    """The hash a block header carries for the validator set that runs it."""
    return hashlib.sha256(valset_bytes).digest()
