"""A deterministic simulator of N nodes on a virtual clock and network.

Every node, correct or Byzantine, runs the shipped ``NodeCore`` (node/core/) and its
``Engine`` through ``sim_host.CoreHost``: the same effects the trio driver executes, with
in-memory stand-ins for the WAL, the store, the ledger and the mempool. Values are real
blocks (node/blocks.py); block sync, re-gossip, evidence gossip and empty-block timing are
the core's. A Byzantine node (tests/sim/sim_byzantine.py) lies on its outbound actions:
its own signed messages, its sync answers, and what it sends unasked on its tick.

Everything random comes from one ``random.Random(seed)``, and events with equal times are
ordered by a sequence number, so a seed replays exactly. The network drops, delays,
duplicates and reorders messages and can be partitioned; nodes crash (losing unsynced WAL
records, sometimes leaving a torn tail) and restart from their WAL, guard file and stored
chain, sometimes with a skewed clock; the validator set changes during the run
(tests/sim/sim_scenarios.py builds the scenarios) through the ledger stand-in's updates.

Checks: no two correct nodes decide differently at a height; certificates verify against
their height's set; the core's validator sets are the scenario's; no correct validator is
blamed, penalised for bad sync blocks or evidence, dropped, or double-signs; evidence
(reported or committed in a block) verifies; every message a correct node signs is
justified by Algorithm 1 (tests/sim/sim_monitor.py); a restarted node keeps its lock;
liveness after the heal.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sim_byzantine as byz
from sim_checks import CHAIN_ID, SimChecks
from sim_host import CoreHost, Drop, Outbound, Send, Timer, peer_message
from sim_monitor import ProtocolMonitor, value_id

from consensus import (
    CommitBlock,
    ConsensusParams,
    Engine,
    Proposal,
    SignedByMe,
    SignerUnavailable,
    ValidatorSet,
    Vote,
    WriteWal,
    frame_record,
    parse_records,
)
from consensus.testing import FakeSigner, FakeVerifier
from node import core
from node.consensus_codec import decode_wal_entry

SIM_PARAMS = ConsensusParams(
    timeout_propose_ms=400,
    timeout_prevote_ms=200,
    timeout_precommit_ms=200,
    timeout_delta_ms=100,
    timeout_max_ms=3_000,
    empty_block_interval_ms=100,
)
GOSSIP_MS = 300
TICK_MS = 50
TX_MS = 250  # a transaction reaches a random node's mempool this often
CORE_PARAMS = core.CoreParams(
    empty_block_interval_ms=100,
    status_interval_ms=500,
    regossip_interval_ms=GOSSIP_MS,
    sync=core.SyncParams(
        window=20,
        request_timeout_ms=1_000,
        claim_ttl_ms=3_000,
        max_penalties=3,
        verified_progress_ms=3_000,
    ),
)
RECONNECT_MS = 300  # a dropped peer connects again this much later
EPOCH_MS = 1_000_000_000  # virtual time 0 on the nodes' clocks (a skewed clock stays positive)


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
    # node -> the WAL write after which it is killed (once), dropping the rest of its effects
    kill_after_wal_write: dict[int, int] = field(default_factory=dict)
    down_after_kill_ms: int = 300
    forget_lock_on_restart: bool = False  # a deliberate bug, for the lock check's own test
    valsets: list[tuple[int, list[int]]] = field(default_factory=list)
    twins_until_ms: int = 0  # each twin sees only its half of the correct nodes until then
    # Report codes not counted as blame (the mutant battery, until the engine's fix lands).
    tolerated_blame: frozenset[str] = frozenset()
    script: str | None = None  # a scripted network attack of sim_byzantine (LOCK_SPLIT)
    # node -> (start_ms, end_ms): its signer raises SignerUnavailable in that window
    signer_down: dict[int, tuple[int, int]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.powers)


@dataclass
class SimNode:
    index: int
    signer: FakeSigner
    byzantine: str | None
    key_index: int  # the validator whose key it signs with (a twin shares another's)
    host: CoreHost
    epoch: int = 0
    wal_writes: int = 0
    chain: list[CommitBlock] = field(default_factory=list)  # the stored chain, as decided
    evidence: list[Any] = field(default_factory=list)
    restarts: int = 0
    killed: bool = False
    clock_offset_ms: int = 0
    skewed_restarts: int = 0
    view: set[int] | None = None  # a twin's half of the network, while twins_until_ms
    fresh_wal: list[Any] | None = None  # WAL entries written while restarting
    signer_refusals: int = 0  # SignRefused for SIGNER_UNAVAILABLE (its signer was down)

    @property
    def checked(self) -> bool:
        """Whether the protocol checks hold this node to Algorithm 1."""
        return self.byzantine is None

    @property
    def engine(self) -> Engine | None:
        """The running core's engine (None while crashed or not started)."""
        return self.host.core.engine if self.host.core is not None else None

    @property
    def peer_id(self) -> str:
        """The node's peer id, as the core names peers."""
        return peer_id(self.index)


def peer_id(index: int) -> str:
    """The peer id of node index (hex, as the P2P layer names peers)."""
    return f"{index:02x}"


class DownSigner:
    """A FakeSigner that cannot sign between start_ms and end_ms of the virtual clock."""

    def __init__(self, signer: FakeSigner, window: tuple[int, int], now: Callable[[], int]):
        self._signer = signer
        self._window = window
        self._now = now
        self.public_key = signer.public_key

    def sign(self, message: bytes) -> bytes:
        start, end = self._window
        if start <= self._now() < end:
            raise SignerUnavailable("the simulated signer is down")
        return self._signer.sign(message)


class _BlockIds:
    """The value ids of the simulation: block ids."""

    value_id = staticmethod(value_id)


class Simulation(SimChecks):
    """Runs a Scenario; ``run()`` returns the list of violated properties (empty = pass)."""

    def __init__(self, scenario: Scenario) -> None:
        self.sc = scenario
        self.rng = random.Random(scenario.seed)
        self.now = 0
        self._queue: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = 0
        self.chain_id = CHAIN_ID
        self.codec = _BlockIds()
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
        kinds = [(i, scenario.byzantine.get(i), i) for i in range(n)]
        for original in [i for i, kind in sorted(scenario.byzantine.items()) if kind == byz.TWINS]:
            kinds.append((len(kinds), byz.TWINS, original))
        self.nodes = [self._node(i, signers[k], kind, k) for i, kind, k in kinds]
        self.correct = [node for node in self.nodes if node.byzantine is None]
        self.monitor = ProtocolMonitor(CHAIN_ID, self.vset_at, self._prev_id)
        self.violations: list[str] = []
        self.signed: dict[tuple[int, int, int, int], bytes] = {}
        self.max_round = 0
        self.heal_height = 0
        self._cut: dict[tuple[int, int], int] = {}  # (a, b) -> reconnect time (a dropped b)
        self._txs = 0
        self.gap_peers: set[tuple[int, str]] = set()
        byz.split_twin_views(self)
        self.script = byz.start_script(self)

    def _node(self, index: int, signer: FakeSigner, kind: str | None, key: int) -> SimNode:
        window = self.sc.signer_down.get(index)
        host = CoreHost(
            signer=signer if window is None else DownSigner(signer, window, lambda: self.now),
            chain_id=CHAIN_ID,
            genesis_sets=(self.vset_at(1), self.vset_at(2)),
            consensus_params=SIM_PARAMS,
            params=CORE_PARAMS,
            updates_at=self.updates_at,
        )
        node = SimNode(index, signer, kind, key, host)
        host.on_effect = lambda effect: self.observe(node, effect)
        host.after_effect = lambda effect: self.after(node, effect)
        return node

    def _make_set(self, powers: list[int]) -> ValidatorSet:
        return ValidatorSet({self.keys[i]: p for i, p in enumerate(powers) if p > 0})

    def vset_at(self, height: int) -> ValidatorSet:
        """The validator set of height (the ledger's answer, here fixed by the scenario)."""
        current = self._vsets[0][1]
        for first, vset in self._vsets:
            if first <= height:
                current = vset
        return current

    def updates_at(self, height: int) -> list[tuple[bytes, int]]:
        """The ledger's validator updates of block height: set(h + 2) - set(h + 1)."""
        before, after = self.vset_at(height + 1), self.vset_at(height + 2)
        updates = []
        for key in sorted(set(before) | set(after)):
            power = after.power(key) if key in after else 0
            if power != (before.power(key) if key in before else 0):
                updates.append((key, power))
        return updates

    def _prev_id(self, node: int, height: int) -> bytes:
        chain = self.nodes[node].chain
        return chain[height - 2].value_id if height >= 2 and len(chain) >= height - 1 else b""

    def is_correct_key(self, key: bytes | None) -> bool:
        index = self.index_of.get(key or b"")
        return index is not None and self.nodes[index].byzantine is None

    def is_correct_peer(self, peer: str) -> bool:
        index = int(peer, 16)
        return index < len(self.nodes) and self.nodes[index].byzantine is None

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
                self.at(TICK_MS + node.index, lambda node=node: self.tick(node))
                self.at(GOSSIP_MS + node.index, lambda node=node: self.byz_tick(node))
        self.at(TX_MS, self.new_tx)
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
            ahead = node.clock_offset_ms > 0
            node.clock_offset_ms = 0  # the operators fix the clocks: liveness from here on
            if ahead and node.host.core is not None:
                # A clock set back: the operator restarts the node cleanly (WAL intact), as
                # the core's timers and sync requests stamped by the old clock would wait
                # out the whole step (a known gap of node/core/_sync.py: a request sent
                # "in the future" never times out until the clock passes it).
                node.host.crash()
                node.epoch += 1
                self.restart(node)

    # ------------------------------------------------------------ node life

    def clock_now(self) -> int:
        """The time on a clock without skew."""
        return EPOCH_MS + self.now

    def clock(self, node: SimNode) -> int:
        """The node's own clock (virtual time plus its skew)."""
        return EPOCH_MS + self.now + node.clock_offset_ms

    def start(self, node: SimNode) -> None:
        node.host.set_clock(self.clock(node))
        epoch = node.epoch
        self.dispatch(node, epoch, node.host.start(self.clock(node)))

    def crash(self, node: SimNode, down_ms: int, crash: Crash | None = None) -> None:
        host = node.host
        if host.core is None:
            return
        host.crash()
        node.epoch += 1
        # Unsynced records may be lost: keep a random prefix, sometimes with a torn tail.
        keep = self.rng.randint(host.wal_synced, len(host.wal))
        image = b"".join(host.wal[:keep])
        if keep < len(host.wal) and self.rng.random() < 0.5:
            torn = host.wal[keep]
            image += torn[: self.rng.randint(1, len(torn) - 1)]
        host.wal = [frame_record(p) for p in parse_records(image).records]
        if node.byzantine == byz.AMNESIA:
            host.wal = []  # the disk is replaced; only the guard file survives
        host.wal_synced = len(host.wal)
        skew = crash.skew_ms if crash is not None else 0
        self.at(self.now + down_ms, lambda: self.restart(node, skew))

    def restart(self, node: SimNode, skew_ms: int = 0) -> None:
        node.restarts += 1
        node.clock_offset_ms = skew_ms if self.now < self.sc.heal_ms else 0
        node.skewed_restarts += skew_ms != 0
        host = node.host
        entries = tuple(core_wal_entries(host.wal))
        node.fresh_wal = []
        host.set_clock(self.clock(node))
        epoch = node.epoch
        out = host.start(self.clock(node))
        fresh, node.fresh_wal = tuple(node.fresh_wal), None
        engine = node.engine
        if engine is None:  # killed again while starting
            return
        if self.sc.forget_lock_on_restart:
            engine._locked_round = -1  # the deliberate bug under test
            engine._locked_id = None
            engine._locked_value = None
        if node.checked and node.signer.public_key in engine.validator_set:
            self.check_lock_kept(node, engine, entries + fresh)
        self.dispatch(node, epoch, out)
        for other in self.nodes:  # its peers reconnect: a fresh status exchange
            if other is not node:
                self.feed(other, core.PeerConnected(node.peer_id, self.clock(other)))

    # ------------------------------------------------------------ the host's actions

    def feed(self, node: SimNode, event: core.Input) -> None:
        """Hand node's core one input (its time must be the node's clock)."""
        if node.host.core is None:
            return
        node.host.set_clock(self.clock(node))
        epoch = node.epoch
        self.dispatch(node, epoch, node.host.handle(event))

    def dispatch(self, node: SimNode, epoch: int, actions: list[Outbound]) -> None:
        """What leaves the node: messages onto the network, timers onto the clock."""
        liar = node.byzantine not in (None, byz.TWINS, byz.AMNESIA)
        for action in actions:
            match action:
                case Timer():
                    when = action.deadline_ms - EPOCH_MS - node.clock_offset_ms
                    event = action.input
                    self.at(max(when, self.now), lambda e=event: self.fire(node, epoch, e))
                case Drop():
                    self.disconnect(node, int(action.peer, 16))
                case Send(payload=Proposal() | Vote() as message):
                    if action.own and node.byzantine is not None:
                        self.broadcast(node, message)
                    elif not (liar and _signer(message) == node.signer.public_key):
                        self.send_all(node, message)  # a liar's own messages: broadcast()
                case Send(peer=str(peer), payload=("response", height, _, _)) if node.byzantine:
                    self.transmit(node.index, int(peer, 16), byz.sync_lie(self, node, height))
                case Send(peer=None):
                    self.send_all(node, action.payload)
                case Send(peer=str(peer)):
                    self.transmit(node.index, int(peer, 16), action.payload)

    def fire(self, node: SimNode, epoch: int, event: core.Input) -> None:
        if node.epoch == epoch:
            self.feed(node, event)

    def tick(self, node: SimNode) -> None:
        self.at(self.now + TICK_MS, lambda: self.tick(node))
        self.feed(node, core.Tick(self.clock(node)))

    def byz_tick(self, node: SimNode) -> None:
        self.at(self.now + GOSSIP_MS, lambda: self.byz_tick(node))
        if node.byzantine is not None and node.engine is not None:
            byz.tick(self, node)

    def new_tx(self) -> None:
        self.at(self.now + TX_MS, self.new_tx)
        node = self.nodes[self.rng.randrange(len(self.nodes))]
        self._txs += 1
        if node.host.core is not None:
            node.host.set_clock(self.clock(node))
            self.dispatch(node, node.epoch, node.host.add_txs([b"tx %d" % self._txs]))

    def disconnect(self, node: SimNode, peer: int) -> None:
        """node dropped peer: nothing crosses between them until they reconnect."""
        self._cut[(node.index, peer)] = self.now + RECONNECT_MS
        self.feed(node, core.PeerGone(peer_id(peer), self.clock(node)))

        def reconnect() -> None:
            self._cut.pop((node.index, peer), None)
            self.feed(node, core.PeerConnected(peer_id(peer), self.clock(node)))

        self.at(self.now + RECONNECT_MS, reconnect)

    # ------------------------------------------------------------ what the core does

    def after(self, node: SimNode, effect: core.Effect) -> None:
        """An effect was executed: a WAL write may be where the node is killed."""
        if not isinstance(effect, WriteWal):
            return
        node.wal_writes += 1
        kill_at = self.sc.kill_after_wal_write.get(node.index)
        if kill_at is not None and node.wal_writes == kill_at and not node.killed:
            node.killed = True
            self.crash(node, self.sc.down_after_kill_ms)
        elif node.byzantine == byz.AMNESIA and isinstance(effect.entry, SignedByMe):  # noqa: SIM102
            if self.rng.random() < 0.08:  # draw only after a signature (replays stay exact)
                self.crash(node, self.rng.randint(20, 200))

    # ------------------------------------------------------------ network

    def broadcast(self, node: SimNode, message: Proposal | Vote) -> None:
        """A Byzantine node's engine signed message: what it sends instead."""
        if node.byzantine in (byz.TWINS, byz.AMNESIA):
            self.send_all(node, message)
        else:
            byz.broadcast(self, node, message)

    def random_hash(self) -> bytes:
        return self.rng.randbytes(32)

    def send_all(self, node: SimNode, message: Any) -> None:
        for peer in range(len(self.nodes)):
            if peer != node.index:
                self.transmit(node.index, peer, message)

    def blocked(self, src: int, dst: int) -> bool:
        """Whether a partition, a dropped connection or a twin's view stops src -> dst now."""
        now = self.now
        if (src, dst) in self._cut or (dst, src) in self._cut:
            return True
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
        cut = (src, dst) in self._cut or (dst, src) in self._cut
        if node.host.core is None or node.byzantine == byz.SILENT or cut:
            return
        if isinstance(payload, Vote | Proposal) and node.checked:
            self.monitor.delivered(dst, payload)
        event = peer_message(peer_id(src), payload, self.clock(node))
        if event is not None:
            self.feed(node, event)

    # ------------------------------------------------------------ final checks


def _signer(message: Proposal | Vote) -> bytes:
    return message.validator if isinstance(message, Vote) else message.proposer


def core_wal_entries(wal: list[bytes]) -> list[Any]:
    """The WAL entries of framed records (as the host replays them)."""
    return [decode_wal_entry(frame[8:]) for frame in wal]
