"""A deterministic simulator of N consensus engines on a virtual clock and network.

Everything random comes from one ``random.Random(seed)``, and events with equal times are
ordered by a sequence number, so a seed replays exactly. The network drops, delays,
duplicates and reorders messages and can be partitioned; nodes crash and restart from
their (simulated) WAL and guard file; Byzantine nodes wrap their engine's outputs.

Each correct node's driver does what node/ will do: executes outputs in order, keeps the
WAL as framed protobuf records (through node/consensus_codec.py), loses unsynced records
on a crash (sometimes leaving a torn tail), re-gossips its current messages, and asks a
random peer for a missed commit (block sync).
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from consensus import (
    Broadcast,
    CommitBlock,
    CommitReceived,
    ConsensusParams,
    Engine,
    Evidence,
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
    proposal_sign_bytes,
)
from consensus.testing import FakeCodec, FakeSigner, FakeVerifier, fake_block
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

SILENT = "silent"
DOUBLE_VOTE = "double_vote"
EQUIVOCATE = "equivocating_proposer"
RANDOM_VOTES = "random_votes"
BYZANTINE_KINDS = (SILENT, DOUBLE_VOTE, EQUIVOCATE, RANDOM_VOTES)


@dataclass
class Partition:
    """Between start and end, messages cross only inside a group."""

    start_ms: int
    end_ms: int
    groups: list[set[int]]


@dataclass
class Crash:
    """Node crashes at at_ms and restarts down_ms later."""

    node: int
    at_ms: int
    down_ms: int


@dataclass
class Scenario:
    """One simulation run's configuration."""

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

    @property
    def n(self) -> int:
        return len(self.powers)


@dataclass
class SimNode:
    index: int
    signer: FakeSigner
    byzantine: str | None
    engine: Engine | None = None
    epoch: int = 0
    wal: list[bytes] = field(default_factory=list)  # framed records
    wal_synced: int = 0
    wal_writes: int = 0
    guard: LastSigned | None = None
    chain: list[CommitBlock] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    restarts: int = 0
    killed: bool = False


class Simulation:
    """Runs a Scenario; ``run()`` returns the list of violated properties (empty = pass)."""

    def __init__(self, scenario: Scenario) -> None:
        self.sc = scenario
        self.rng = random.Random(scenario.seed)
        self.now = 0
        self._queue: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = 0
        self.codec = FakeCodec()
        self.verifier = FakeVerifier()
        signers = [FakeSigner.numbered(i) for i in range(scenario.n)]
        self.vset = ValidatorSet(
            {s.public_key: p for s, p in zip(signers, scenario.powers, strict=True)}
        )
        self.index_of = {s.public_key: i for i, s in enumerate(signers)}
        self.nodes = [SimNode(i, signers[i], scenario.byzantine.get(i)) for i in range(scenario.n)]
        self.correct = [node for node in self.nodes if node.byzantine is None]
        self.violations: list[str] = []
        self.signed: dict[tuple[int, int, int, int], bytes] = {}
        self.max_round = 0
        self.heal_height = 0

    # ------------------------------------------------------------ scheduling

    def at(self, time_ms: int, action: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (time_ms, self._seq, action))

    def run(self) -> list[str]:
        """Run to the liveness goal or the budget; return the violations found."""
        sc = self.sc
        for node in self.nodes:
            if node.byzantine != SILENT:
                self.at(0, lambda node=node: self.start(node))
                self.at(GOSSIP_MS + node.index, lambda node=node: self.gossip(node))
                self.at(SYNC_MS + node.index, lambda node=node: self.sync(node))
        for crash in sc.crashes:
            self.at(crash.at_ms, lambda c=crash: self.crash(self.nodes[c.node], c.down_ms))
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

    # ------------------------------------------------------------ node life

    def new_engine(self, node: SimNode) -> Engine:
        return Engine(
            chain_id=CHAIN_ID,
            height=len(node.chain) + 1,
            validator_set=self.vset,
            verifier=self.verifier,
            codec=self.codec,
            signer=node.signer,
            params=SIM_PARAMS,
            last_signed=node.guard,
        )

    def start(self, node: SimNode) -> None:
        node.engine = self.new_engine(node)
        self.feed(node, Started(self.now))

    def crash(self, node: SimNode, down_ms: int) -> None:
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
        node.wal_synced = len(node.wal)
        self.at(self.now + down_ms, lambda: self.restart(node))

    def restart(self, node: SimNode) -> None:
        node.restarts += 1
        entries = tuple(decode_wal_entry(frame[8:]) for frame in node.wal)
        engine = node.engine = self.new_engine(node)
        outputs = engine.handle(Started(self.now, wal=entries))
        if self.sc.forget_lock_on_restart:
            engine._locked_round = -1  # the deliberate bug under test
            engine._locked_id = None
            engine._locked_value = None
        fresh = tuple(out.entry for out in outputs if isinstance(out, WriteWal))
        self.check_lock_kept(node, engine, entries + fresh)
        self.execute(node, outputs)

    def check_lock_kept(self, node: SimNode, engine: Engine, entries: tuple[Any, ...]) -> None:
        """After a restart, the lock is the one of the last own precommit for a value in the
        WAL (with what the replay itself signed anew).

        Every precommit that left the node is durable first, so this also means: a validator
        that precommitted v in round r is still locked on v from round r.
        """
        expected: tuple[int, bytes | None] = (-1, None)
        for entry in entries:
            if isinstance(entry, HeightStarted):
                expected = (-1, None)
            elif isinstance(entry, SignedByMe) and isinstance(entry.message, Vote):
                vote = entry.message
                durable = vote.height == engine.height and vote.type is VoteType.PRECOMMIT
                if durable and vote.block_hash:
                    expected = (vote.round, vote.block_hash)
        if engine.locked != expected:
            self.violations.append(
                f"node {node.index} lost its lock at height {engine.height}: its WAL holds a "
                f"precommit locking round {expected[0]}, after restart {engine.locked[0]}"
            )

    # ------------------------------------------------------------ the driver

    def feed(self, node: SimNode, event: Any) -> None:
        if node.engine is None:
            return
        self.execute(node, node.engine.handle(event))

    def execute(self, node: SimNode, outputs: list[Output]) -> None:
        epoch = node.epoch
        for out in outputs:
            if node.epoch != epoch:
                return  # killed while executing
            match out:
                case WriteWal():
                    self.write_wal(node, out)
                case PersistLastSigned():
                    node.guard = LastSigned(out.height, out.round, out.step, out.sign_bytes_hash)
                case Broadcast():
                    self.broadcast(node, out.message)
                case ScheduleTimeout():
                    event = TimeoutFired(out.step, out.height, out.round, out.deadline_ms)
                    self.at(out.deadline_ms, lambda e=event: self.fire(node, epoch, e))
                case RequestProposalValue():
                    value = fake_block(out.height, b"n%d r%d" % (node.index, out.round))
                    delay = self.rng.randint(0, 30)
                    self.at(
                        self.now + delay,
                        lambda o=out, v=value: self.fire(
                            node, epoch, ProposalValueReady(o.height, o.round, v, self.now)
                        ),
                    )
                case CommitBlock():
                    self.commit(node, out)
                case ReportEvidence():
                    self.evidence(node, out.evidence)
                case ReportMisbehaviour():
                    culprit = out.validator if out.validator is not None else out.sender
                    index = self.index_of.get(culprit or b"")
                    blamed_correct = index is not None and self.nodes[index].byzantine is None
                    if node.byzantine is None and blamed_correct:
                        self.violations.append(
                            f"node {node.index} blamed correct node {index}: {out.code}"
                        )
                case SignRefused():
                    if node.byzantine is None:
                        self.violations.append(f"node {node.index} sign refused: {out.reason}")

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

    def commit(self, node: SimNode, out: CommitBlock) -> None:
        if out.height != len(node.chain) + 1:
            self.violations.append(f"node {node.index} committed height {out.height} out of order")
            return
        try:
            out.certificate.verify(self.vset, CHAIN_ID, self.verifier)
        except InvalidCertificate as e:
            self.violations.append(f"node {node.index} height {out.height}: bad certificate {e}")
        if out.certificate.block_hash != self.codec.value_id(out.value):
            self.violations.append(f"node {node.index} height {out.height}: certificate mismatch")
        if node.byzantine is None:
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
        self.feed(node, HeightCommitted(out.height, self.vset, self.now))

    def evidence(self, node: SimNode, evidence: Evidence) -> None:
        try:
            evidence.verify(self.vset, CHAIN_ID, self.verifier)
        except InvalidEvidence as e:
            self.violations.append(f"node {node.index}: evidence does not verify: {e}")
            return
        culprit = self.index_of[evidence.validator]
        if node.byzantine is None and self.nodes[culprit].byzantine is None:
            self.violations.append(f"node {node.index} has evidence against correct {culprit}")
        node.evidence.append(evidence)

    def gossip(self, node: SimNode) -> None:
        if node.engine is not None:
            for message in node.engine.gossip_messages():
                self.send_all(node, message)
        self.at(self.now + GOSSIP_MS, lambda: self.gossip(node))

    def sync(self, node: SimNode) -> None:
        """Block sync: ask a random peer for the commits this node lacks (a batch)."""
        self.at(self.now + SYNC_MS, lambda: self.sync(node))
        if node.engine is None:
            return
        peer = self.rng.randrange(self.sc.n)
        source = self.nodes[peer]
        if peer == node.index or source.byzantine is not None:
            return
        first = node.engine.height
        for height in range(first, min(len(source.chain), first + SYNC_BATCH - 1) + 1):
            block = source.chain[height - 1]
            self.transmit(peer, node.index, block)

    # ------------------------------------------------------------ network

    def broadcast(self, node: SimNode, message: Proposal | Vote) -> None:
        if node.byzantine is None:
            self.record_signature(node, message)
            self.send_all(node, message)
            return
        kind = node.byzantine
        if kind == DOUBLE_VOTE and isinstance(message, Vote):
            other_hash = b"" if message.block_hash else self.random_hash()
            twin = self.sign_vote(node, message, other_hash)
            self.send_all(node, message)
            self.send_all(node, twin)
        elif kind == RANDOM_VOTES and isinstance(message, Vote):
            self.send_all(node, self.sign_vote(node, message, self.random_hash()))
        elif kind == EQUIVOCATE and isinstance(message, Proposal):
            value = fake_block(message.height, b"evil %d" % self.rng.randrange(1 << 30))
            sign_bytes = proposal_sign_bytes(
                CHAIN_ID, message.height, message.round, -1, self.codec.value_id(value)
            )
            twin = Proposal(
                message.height,
                message.round,
                value,
                -1,
                message.proposer,
                node.signer.sign(sign_bytes),
            )
            for peer in range(self.sc.n):
                if peer != node.index:
                    self.transmit(node.index, peer, message if peer % 2 else twin)
        else:
            self.send_all(node, message)

    def sign_vote(self, node: SimNode, vote: Vote, block_hash: bytes) -> Vote:
        unsigned = Vote(vote.type, vote.height, vote.round, block_hash, vote.validator, b"")
        return Vote(
            vote.type,
            vote.height,
            vote.round,
            block_hash,
            vote.validator,
            node.signer.sign(unsigned.sign_bytes(CHAIN_ID)),
        )

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
                f"DOUBLE SIGN by correct node {node.index} at height {message.height} round "
                f"{message.round} step {Step(step).name}"
            )

    def send_all(self, node: SimNode, message: Proposal | Vote) -> None:
        for peer in range(self.sc.n):
            if peer != node.index:
                self.transmit(node.index, peer, message)

    def transmit(self, src: int, dst: int, payload: Any) -> None:
        sc = self.sc
        now = self.now
        for part in sc.partitions:
            active = part.start_ms <= now < part.end_ms
            if active and not any(src in g and dst in g for g in part.groups):
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
        if node.engine is None or node.byzantine == SILENT:
            return
        sender = bytes([src])
        if isinstance(payload, Vote):
            self.feed(node, VoteReceived(payload, self.now, sender))
        elif isinstance(payload, Proposal):
            self.feed(node, ProposalReceived(payload, self.now, sender))
        else:  # a CommitBlock served by block sync
            self.feed(node, CommitReceived(payload.value, payload.certificate, self.now, sender))

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


def byzantine_by_power(rng: random.Random, powers: list[int]) -> list[int]:
    """As many validators as possible whose total power stays strictly below 1/3."""
    total = sum(powers)
    order = list(range(len(powers)))
    rng.shuffle(order)
    chosen: list[int] = []
    power = 0
    for index in order:
        if 3 * (power + powers[index]) < total:
            chosen.append(index)
            power += powers[index]
    return chosen


def random_scenario(seed: int, n: int) -> Scenario:
    """A scenario mixing every fault kind, derived from the seed alone."""
    rng = random.Random(seed * 7919 + n)
    powers = [1] * n if rng.random() < 0.5 else [rng.randint(1, 4) for _ in range(n)]
    byzantine = {i: rng.choice(BYZANTINE_KINDS) for i in byzantine_by_power(rng, powers)}
    heal_ms = rng.randint(2_000, 6_000)
    correct = [i for i in range(n) if i not in byzantine]
    partitions = []
    for _ in range(rng.randint(0, 2)):
        start = rng.randint(0, heal_ms - 500)
        end = rng.randint(start + 200, heal_ms)
        members = list(range(n))
        rng.shuffle(members)
        cut = rng.randint(1, n - 1)
        partitions.append(Partition(start, end, [set(members[:cut]), set(members[cut:])]))
    crashes = [
        Crash(rng.choice(correct), rng.randint(0, heal_ms - 300), rng.randint(50, 1_000))
        for _ in range(rng.randint(0, 2))
    ]
    return Scenario(
        seed=seed,
        powers=powers,
        byzantine=byzantine,
        drop=rng.choice((0.0, 0.05, 0.2)),
        duplicate=rng.choice((0.0, 0.1)),
        delay_ms=(1, rng.choice((20, 60, 150))),
        partitions=partitions,
        crashes=crashes,
        heal_ms=heal_ms,
    )
