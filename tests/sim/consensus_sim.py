"""A deterministic simulator of N consensus engines on a virtual clock and network.

Everything random comes from one ``random.Random(seed)``, and events with equal times are
ordered by a sequence number, so a seed replays exactly. The network drops, delays,
duplicates and reorders messages and can be partitioned; nodes crash and restart from
their (simulated) WAL and guard file; Byzantine nodes (tests/sim/sim_byzantine.py) wrap
their engine's outputs, forge, lie to block sync or run as twins; the validator set changes
during the run (tests/sim/sim_scenarios.py builds the scenarios).

Each correct node's driver (``Simulation.execute``, the one place that executes outputs)
does what node/ does: executes outputs in order, keeps the WAL as framed protobuf records
(through node/consensus_codec.py), loses unsynced records on a crash (sometimes leaving a
torn tail), re-gossips its current messages, and asks a random peer for a missed commit.

Checks: no two correct nodes decide differently at a height; no correct validator is
blamed or double-signs; certificates and evidence verify against their height's set;
every message a correct node signs is justified by Algorithm 1 (tests/sim/sim_monitor.py);
a restarted node keeps its lock; liveness after the heal.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import inspect
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sim_byzantine as byz
from sim_monitor import ProtocolMonitor, certificate_error, lock_in_wal, sim_codec, sim_value

from consensus import (
    Broadcast,
    CommitBlock,
    CommitReceived,
    ConsensusParams,
    Engine,
    HeightCommitted,
    HeightStarted,
    InvalidCertificate,
    InvalidEvidence,
    LastSigned,
    Output,
    PersistLastSigned,
    Proposal,
    ProposalReceived,
    ProposalValueReady,
    ReportEvidence,
    ReportMisbehaviour,
    RequestProposalValue,
    ScheduleTimeout,
    SignedByMe,
    SignRefused,
    Started,
    Step,
    TimeoutFired,
    ValidatorSet,
    Vote,
    VoteReceived,
    VoteType,
    WriteWal,
    frame_record,
    parse_records,
)
from consensus.testing import FakeSigner, FakeVerifier
from node.consensus_codec import decode_wal_entry, encode_wal_entry

CHAIN_ID = "sim-chain"
SIM_PARAMS = ConsensusParams(
    timeout_propose_ms=400,
    timeout_prevote_ms=200,
    timeout_precommit_ms=200,
    timeout_delta_ms=100,
    timeout_max_ms=3_000,
    empty_block_interval_ms=100,
)
GOSSIP_MS = 300
SYNC_MS = 500
SYNC_BATCH = 20
EPOCH_MS = 1_000_000_000  # virtual time 0 on the nodes' clocks (a skewed clock stays positive)

# The engine's constructor and HeightCommitted learn the sets of later heights (issue 10).
_ENGINE_TAKES_NEXT = "next_validator_set" in inspect.signature(Engine.__init__).parameters
_COMMITTED_FIELDS = {f.name for f in dataclasses.fields(HeightCommitted)}


@dataclass
class Partition:
    """Between start and end, messages cross only inside a group."""

    start_ms: int
    end_ms: int
    groups: list[set[int]]


@dataclass
class Crash:
    """Node crashes at at_ms and restarts down_ms later (with its clock skewed by skew_ms)."""

    node: int
    at_ms: int
    down_ms: int
    skew_ms: int = 0


@dataclass
class Scenario:
    """One simulation run's configuration.

    powers holds one entry per validator key (0: not in the set at height 1); valsets
    lists (first height, powers) changes, each such set in force from that height on.
    """

    seed: int
    powers: list[int]
    byzantine: dict[int, str] = field(default_factory=dict)
    drop: float = 0.0
    duplicate: float = 0.0
    delay_ms: tuple[int, int] = (2, 40)
    partitions: list[Partition] = field(default_factory=list)
    crashes: list[Crash] = field(default_factory=list)
    heal_ms: int = 0  # no network faults after this time
    heights_after_heal: int = 2
    liveness_budget_ms: int = 40_000
    # node -> the WAL write after which it is killed (once), dropping the rest of its outputs
    kill_after_wal_write: dict[int, int] = field(default_factory=dict)
    down_after_kill_ms: int = 300
    forget_lock_on_restart: bool = False  # a deliberate bug, for the lock check's own test
    valsets: list[tuple[int, list[int]]] = field(default_factory=list)
    twins_until_ms: int = 0  # each twin sees only its half of the correct nodes until then
    # Report codes not counted as blame (the mutant battery, until the engine's fix lands).
    tolerated_blame: frozenset[str] = frozenset()
    script: str | None = None  # a scripted network attack of sim_byzantine (LOCK_SPLIT)

    @property
    def n(self) -> int:
        return len(self.powers)


@dataclass
class SimNode:
    index: int
    signer: FakeSigner
    byzantine: str | None
    key_index: int  # the validator whose key it signs with (a twin shares another's)
    engine: Engine | None = None
    epoch: int = 0
    wal: list[bytes] = field(default_factory=list)  # framed records
    wal_synced: int = 0
    wal_writes: int = 0
    guard: LastSigned | None = None
    chain: list[CommitBlock] = field(default_factory=list)
    evidence: list[Any] = field(default_factory=list)
    restarts: int = 0
    killed: bool = False
    clock_offset_ms: int = 0
    skewed_restarts: int = 0
    view: set[int] | None = None  # a twin's half of the network, while twins_until_ms

    @property
    def checked(self) -> bool:
        """Whether the protocol checks hold this node to Algorithm 1."""
        return self.byzantine is None


class Simulation:
    """Runs a Scenario; ``run()`` returns the list of violated properties (empty = pass)."""

    def __init__(self, scenario: Scenario) -> None:
        self.sc = scenario
        self.rng = random.Random(scenario.seed)
        self.now = 0
        self._queue: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = 0
        self.chain_id = CHAIN_ID
        self.codec = sim_codec()
        self.verifier = FakeVerifier()
        n = scenario.n
        signers = [FakeSigner.numbered(i) for i in range(n)]
        self.keys = [s.public_key for s in signers]
        self._vsets: list[tuple[int, ValidatorSet]] = [
            (height, self._make_set(powers))
            for height, powers in [(1, scenario.powers), *sorted(scenario.valsets)]
        ]
        self.vset = self.vset_at(1)
        self.index_of = {key: i for i, key in enumerate(self.keys)}
        self.nodes = [SimNode(i, signers[i], scenario.byzantine.get(i), i) for i in range(n)]
        for original in [i for i, kind in sorted(scenario.byzantine.items()) if kind == byz.TWINS]:
            self.nodes.append(SimNode(len(self.nodes), signers[original], byz.TWINS, original))
        self.correct = [node for node in self.nodes if node.byzantine is None]
        self.monitor = ProtocolMonitor(CHAIN_ID, self.vset_at)
        self.violations: list[str] = []
        self.signed: dict[tuple[int, int, int, int], bytes] = {}
        self.max_round = 0
        self.heal_height = 0
        byz.split_twin_views(self)
        self.script = byz.start_script(self)

    def _make_set(self, powers: list[int]) -> ValidatorSet:
        return ValidatorSet({self.keys[i]: p for i, p in enumerate(powers) if p > 0})

    def vset_at(self, height: int) -> ValidatorSet:
        """The validator set of height (the ledger's answer, here fixed by the scenario)."""
        current = self._vsets[0][1]
        for first, vset in self._vsets:
            if first <= height:
                current = vset
        return current

    def is_correct_key(self, key: bytes | None) -> bool:
        index = self.index_of.get(key or b"")
        return index is not None and self.nodes[index].byzantine is None

    # ------------------------------------------------------------ scheduling

    def at(self, time_ms: int, action: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (time_ms, self._seq, action))

    def run(self) -> list[str]:
        """Run to the liveness goal or the budget; return the violations found."""
        sc = self.sc
        for node in self.nodes:
            if node.byzantine != byz.SILENT:
                self.at(0, lambda node=node: self.start(node))
                self.at(GOSSIP_MS + node.index, lambda node=node: self.gossip(node))
                self.at(SYNC_MS + node.index, lambda node=node: self.sync(node))
        for crash in sc.crashes:
            self.at(crash.at_ms, lambda c=crash: self.crash(self.nodes[c.node], c.down_ms, c))
        self.at(sc.heal_ms, self._mark_heal)
        deadline = sc.heal_ms + sc.liveness_budget_ms
        goal: int | None = None
        while self._queue:
            time_ms, _, action = heapq.heappop(self._queue)
            if time_ms > deadline:
                break
            self.now = time_ms
            action()
            if self.violations:
                return self.violations
            if time_ms >= sc.heal_ms:
                if goal is None:
                    goal = self.heal_height + sc.heights_after_heal
                kills_done = all(self.nodes[i].restarts for i in sc.kill_after_wal_write)
                if kills_done and all(len(n.chain) >= goal for n in self.correct):
                    break
        self.check_final(goal)
        return self.violations

    def _mark_heal(self) -> None:
        self.heal_height = max(len(n.chain) for n in self.correct)
        for node in self.nodes:
            node.clock_offset_ms = 0  # the operators fix the clocks: liveness from here on

    # ------------------------------------------------------------ node life

    def clock_now(self) -> int:
        """The time on a clock without skew."""
        return EPOCH_MS + self.now

    def clock(self, node: SimNode) -> int:
        """The node's own clock (virtual time plus its skew)."""
        return EPOCH_MS + self.now + node.clock_offset_ms

    def new_engine(self, node: SimNode) -> Engine:
        height = len(node.chain) + 1
        extra: dict[str, Any] = {}
        if _ENGINE_TAKES_NEXT:
            extra["next_validator_set"] = self.vset_at(height + 1)
        return Engine(
            chain_id=CHAIN_ID,
            height=height,
            validator_set=self.vset_at(height),
            verifier=self.verifier,
            codec=self.codec,
            signer=node.signer,
            params=SIM_PARAMS,
            last_signed=node.guard,
            **extra,
        )

    def start(self, node: SimNode) -> None:
        node.engine = self.new_engine(node)
        self.feed(node, Started(self.clock(node)))

    def crash(self, node: SimNode, down_ms: int, crash: Crash | None = None) -> None:
        if node.engine is None:
            return
        node.engine = None
        node.epoch += 1
        # Unsynced records may be lost: keep a random prefix, sometimes with a torn tail.
        keep = self.rng.randint(node.wal_synced, len(node.wal))
        image = b"".join(node.wal[:keep])
        if keep < len(node.wal) and self.rng.random() < 0.5:
            torn = node.wal[keep]
            image += torn[: self.rng.randint(1, len(torn) - 1)]
        parsed = parse_records(image)
        node.wal = [frame_record(p) for p in parsed.records]
        if node.byzantine == byz.AMNESIA:
            node.wal = []  # the disk is replaced; only the guard file survives
        node.wal_synced = len(node.wal)
        skew = crash.skew_ms if crash is not None else 0
        self.at(self.now + down_ms, lambda: self.restart(node, skew))

    def restart(self, node: SimNode, skew_ms: int = 0) -> None:
        node.restarts += 1
        node.clock_offset_ms = skew_ms if self.now < self.sc.heal_ms else 0
        node.skewed_restarts += skew_ms != 0
        entries = tuple(decode_wal_entry(frame[8:]) for frame in node.wal)
        engine = node.engine = self.new_engine(node)
        outputs = engine.handle(Started(self.clock(node), wal=entries))
        if self.sc.forget_lock_on_restart:
            engine._locked_round = -1  # the deliberate bug under test
            engine._locked_id = None
            engine._locked_value = None
        fresh = tuple(out.entry for out in outputs if isinstance(out, WriteWal))
        if node.checked and node.signer.public_key in engine.validator_set:
            self.check_lock_kept(node, engine, entries + fresh)
        self.execute(node, outputs)

    def check_lock_kept(self, node: SimNode, engine: Engine, entries: tuple[Any, ...]) -> None:
        """After a restart, the lock is the one of the last own precommit in the WAL."""
        expected = lock_in_wal(engine.height, entries)
        if engine.locked != expected:
            self.violations.append(
                f"LOCK LOST: node {node.index} at height {engine.height}: its WAL holds a "
                f"precommit locking round {expected[0]}, after restart {engine.locked[0]}"
            )

    # ------------------------------------------------------------ the driver

    def feed(self, node: SimNode, event: Any) -> None:
        if node.engine is None:
            return
        self.execute(node, node.engine.handle(event))

    def execute(self, node: SimNode, outputs: list[Output]) -> None:
        """The node's driver: execute the engine's outputs in order."""
        epoch = node.epoch
        for out in outputs:
            if node.epoch != epoch:
                return  # killed while executing
            match out:
                case WriteWal():
                    if isinstance(out.entry, SignedByMe):
                        self.signing(node, out.entry.message)
                    self.write_wal(node, out)
                case PersistLastSigned():
                    node.guard = LastSigned(out.height, out.round, out.step, out.sign_bytes_hash)
                case Broadcast():
                    self.broadcast(node, out.message)
                case ScheduleTimeout():
                    if out.step is Step.PROPOSE and node.checked:
                        self.violation(
                            self.monitor.entered_round(node.index, out.height, out.round)
                        )
                    event = TimeoutFired(out.step, out.height, out.round, out.deadline_ms)
                    when = out.deadline_ms - EPOCH_MS - node.clock_offset_ms
                    self.at(when, lambda e=event: self.fire(node, epoch, e))
                case RequestProposalValue():
                    payload = b"n%d r%d" % (node.index, out.round)
                    value = sim_value(out.height, self.clock(node), payload)
                    delay = self.rng.randint(0, 30)
                    self.at(
                        self.now + delay,
                        lambda o=out, v=value: self.fire(
                            node, epoch, ProposalValueReady(o.height, o.round, v, self.clock(node))
                        ),
                    )
                case CommitBlock():
                    self.commit(node, out)
                case ReportEvidence():
                    self.evidence(node, out.evidence)
                case ReportMisbehaviour():
                    culprit = out.validator if out.validator is not None else out.sender
                    tolerated = out.code in self.sc.tolerated_blame
                    if node.checked and self.is_correct_key(culprit) and not tolerated:
                        index = self.index_of[culprit or b""]
                        self.violations.append(
                            f"BLAME: node {node.index} blamed correct node {index}: "
                            f"{out.code} {out.detail}"
                        )
                case SignRefused():
                    if node.checked:
                        self.violations.append(
                            f"SIGN REFUSED: node {node.index} sign refused: {out.reason}"
                        )

    def violation(self, message: str | None) -> None:
        if message is not None:
            self.violations.append(message)

    def signing(self, node: SimNode, message: Proposal | Vote) -> None:
        """node's engine signed message (it is about to become durable, then leave)."""
        if node.checked:
            self.violation(self.monitor.signed(node.index, message))

    def fire(self, node: SimNode, epoch: int, event: Any) -> None:
        if node.epoch == epoch:
            self.feed(node, event)

    def write_wal(self, node: SimNode, out: WriteWal) -> None:
        record = frame_record(encode_wal_entry(out.entry))
        if isinstance(out.entry, HeightStarted):
            node.wal = [record]
            node.wal_synced = 1
        else:
            node.wal.append(record)
            if out.sync:
                node.wal_synced = len(node.wal)
        node.wal_writes += 1
        kill_at = self.sc.kill_after_wal_write.get(node.index)
        if kill_at is not None and node.wal_writes == kill_at and not node.killed:
            node.killed = True
            self.crash(node, self.sc.down_after_kill_ms)
        elif node.byzantine == byz.AMNESIA and isinstance(out.entry, SignedByMe):  # noqa: SIM102
            if self.rng.random() < 0.08:  # draw only after a signature (replays stay exact)
                self.crash(node, self.rng.randint(20, 200))

    def commit(self, node: SimNode, out: CommitBlock) -> None:
        if out.height != len(node.chain) + 1:
            self.violations.append(f"ORDER: node {node.index} committed height {out.height}")
            return
        vset = self.vset_at(out.height)
        error = certificate_error(out.certificate, vset, CHAIN_ID)
        try:
            out.certificate.verify(vset, CHAIN_ID, self.verifier)
        except InvalidCertificate as e:
            error = error or str(e)
        if error is not None or out.certificate.height != out.height:
            self.violations.append(
                f"CERTIFICATE: node {node.index} height {out.height}: bad certificate {error}"
            )
        if out.certificate.block_hash != self.codec.value_id(out.value):
            self.violations.append(
                f"CERTIFICATE: node {node.index} height {out.height}: certificate mismatch"
            )
        if node.checked:
            for other in self.correct:
                if len(other.chain) >= out.height:
                    theirs = other.chain[out.height - 1]
                    if theirs.value_id != out.value_id:
                        self.violations.append(
                            f"SAFETY: nodes {other.index} and {node.index} committed different "
                            f"blocks at height {out.height}"
                        )
        self.max_round = max(self.max_round, out.round)
        node.chain.append(out)
        self.feed(node, self.height_committed(out.height, node))

    def height_committed(self, height: int, node: SimNode) -> HeightCommitted:
        """HeightCommitted with the sets of height + 1 (and height + 2 once it takes them)."""
        extra: dict[str, Any] = {}
        if "following_validator_set" in _COMMITTED_FIELDS:
            extra["following_validator_set"] = self.vset_at(height + 2)
        return HeightCommitted(height, self.vset_at(height + 1), self.clock(node), **extra)

    def evidence(self, node: SimNode, evidence: Any) -> None:
        try:
            evidence.verify(self.vset_at(evidence.height), CHAIN_ID, self.verifier)
        except InvalidEvidence as e:
            self.violations.append(f"EVIDENCE: node {node.index}: does not verify: {e}")
            return
        if node.checked and self.is_correct_key(evidence.validator):
            culprit = self.index_of[evidence.validator]
            self.violations.append(
                f"BLAME: node {node.index} has evidence against correct {culprit}"
            )
        node.evidence.append(evidence)

    def gossip(self, node: SimNode) -> None:
        if node.engine is not None:
            own_key = node.signer.public_key
            lies = node.byzantine not in (None, byz.TWINS, byz.AMNESIA)
            for message in node.engine.gossip_messages():
                signer = message.validator if isinstance(message, Vote) else message.proposer
                if not (lies and signer == own_key):  # a liar's own messages: broadcast()
                    self.send_all(node, message)
            if node.byzantine is not None:
                byz.tick(self, node)
        self.at(self.now + GOSSIP_MS, lambda: self.gossip(node))

    def sync(self, node: SimNode) -> None:
        """Block sync: ask a random peer for the commits this node lacks (a batch)."""
        self.at(self.now + SYNC_MS, lambda: self.sync(node))
        if node.engine is None:
            return
        peer = self.rng.randrange(len(self.nodes))
        source = self.nodes[peer]
        if peer == node.index or source.byzantine == byz.SILENT:
            return
        first = node.engine.height
        if source.byzantine is not None:
            for answer in byz.sync_lies(self, source, first):
                self.transmit(peer, node.index, answer)
            return
        for height in range(first, min(len(source.chain), first + SYNC_BATCH - 1) + 1):
            block = source.chain[height - 1]
            self.transmit(peer, node.index, block)

    # ------------------------------------------------------------ network

    def broadcast(self, node: SimNode, message: Proposal | Vote) -> None:
        if node.byzantine is None or node.byzantine == byz.AMNESIA:
            self.record_signature(node, message)
            self.send_all(node, message)
        else:
            byz.broadcast(self, node, message)

    def random_hash(self) -> bytes:
        return self.rng.randbytes(32)

    def record_signature(self, node: SimNode, message: Proposal | Vote) -> None:
        if isinstance(message, Vote):
            step = 2 if message.type is VoteType.PREVOTE else 3
            digest = hashlib.sha256(message.sign_bytes(CHAIN_ID)).digest()
        else:
            step = 1
            value_id = self.codec.value_id(message.value)
            digest = hashlib.sha256(message.sign_bytes(CHAIN_ID, value_id)).digest()
        key = (node.index, message.height, message.round, step)
        previous = self.signed.setdefault(key, digest)
        if previous != digest:
            self.violations.append(
                f"DOUBLE SIGN: by node {node.index} at height {message.height} round "
                f"{message.round} step {Step(step).name}"
            )

    def send_all(self, node: SimNode, message: Any) -> None:
        for peer in range(len(self.nodes)):
            if peer != node.index:
                self.transmit(node.index, peer, message)

    def blocked(self, src: int, dst: int) -> bool:
        """Whether a partition or a twin's view stops src -> dst now."""
        now = self.now
        for part in self.sc.partitions:
            active = part.start_ms <= now < part.end_ms
            if active and not any(src in g and dst in g for g in part.groups):
                return True
        if now < self.sc.twins_until_ms:
            a, b = self.nodes[src], self.nodes[dst]
            if (a.view is not None and dst not in a.view) or (
                b.view is not None and src not in b.view
            ):
                return True
        return False

    def transmit(self, src: int, dst: int, payload: Any) -> None:
        sc = self.sc
        now = self.now
        if self.blocked(src, dst):
            return
        if self.script is not None and now < sc.heal_ms and self.script.drops(self, dst, payload):
            return
        faulty = now < sc.heal_ms
        if faulty and self.rng.random() < sc.drop:
            return
        copies = 2 if faulty and self.rng.random() < sc.duplicate else 1
        for _ in range(copies):
            delay = self.rng.randint(*sc.delay_ms)
            if faulty and self.rng.random() < 0.05:
                delay *= 10  # a slow path: reorders behind later messages
            self.at(now + delay, lambda: self.deliver(dst, src, payload))

    def deliver(self, dst: int, src: int, payload: Any) -> None:
        node = self.nodes[dst]
        if node.engine is None or node.byzantine == byz.SILENT:
            return
        sender = bytes([src])
        now = self.clock(node)
        if isinstance(payload, Vote | Proposal) and node.checked:
            self.monitor.delivered(dst, payload)
        if isinstance(payload, Vote):
            self.feed(node, VoteReceived(payload, now, sender))
        elif isinstance(payload, Proposal):
            self.feed(node, ProposalReceived(payload, now, sender))
        else:  # a CommitBlock served by block sync
            self.feed(node, CommitReceived(payload.value, payload.certificate, now, sender))

    # ------------------------------------------------------------ final checks

    def check_final(self, goal: int | None) -> None:
        heights = [len(n.chain) for n in self.correct]
        if goal is not None and min(heights) < goal:
            self.violations.append(
                f"LIVENESS: correct nodes at heights {heights} after "
                f"{self.sc.liveness_budget_ms} ms past the heal; wanted {goal}"
            )
        for height in range(1, max(heights) + 1):
            ids = {n.chain[height - 1].value_id for n in self.correct if len(n.chain) >= height}
            if len(ids) > 1:
                self.violations.append(f"SAFETY: {len(ids)} different blocks at height {height}")
