"""Inbound traffic classes, per-peer queues and the tx-gossip budget (docs/p2p.md,
"Traffic classes, queues and budgets").

Rules this module keeps:

1. Every delivered Envelope kind belongs to one class (``CLASS_OF_KIND``): ``consensus``
   (proposals, votes, evidence), ``sync`` (status, block request and response) or ``tx``
   (transaction gossip).
2. Each peer has one queue per class, bounded by frames and by bytes (the frame's size as
   received). Queues and budgets belong to the peer id, not the connection, so a
   duplicate or a reconnecting connection shares them.
3. When a queue is full: consensus and sync make the peer's reader wait (it stops reading
   its socket, so TCP pushes back on that peer only); a tx frame is dropped and counted
   (``tx_queue_full``). A full tx queue therefore never stops consensus or sync traffic.
4. ``inbound`` streams consensus before sync; ``tx_inbound`` streams tx. Within a class
   the peers with something queued are served round robin, each peer's frames in order.
5. Budget: per peer, two token buckets (bytes/s and txs/s, each with a burst). Every tx
   frame pays its size and its count; when the buckets are short the reader waits until
   they have refilled (the peer is throttled: TCP pushes back, and its frames cost the node
   no more than the budget). A frame carrying more txs than the burst is dropped after it
   has paid (``gossip_budget``). A peer whose tx frames found the buckets short for
   ``gossip_drop_after`` seconds in a row is dropped (reason ``gossip_budget``).
   An honest node gossips only transactions whose signatures it verified, so the node
   charges each gossiped tx that fails its signature check ``gossip_invalid_tx_cost`` txs
   of its sender's budget (``charge_invalid``); the debt is capped at what the budget
   refills in ``gossip_drop_after``.
6. So one peer can make the node hold at most the sum of its three byte bounds plus the
   one frame its reader is working on; time is ``trio.current_time`` (MockClock works).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final, Literal

import trio

from node.p2p._errors import PeerDisconnected
from node.p2p._types import P2PConfig, P2PStats
from proto import p2p_pb2

TrafficClass = Literal["consensus", "sync", "tx"]
CLASSES: Final[tuple[TrafficClass, ...]] = ("consensus", "sync", "tx")
CLASS_OF_KIND: Final[dict[str, TrafficClass]] = {
    "consensus": "consensus",
    "evidence": "consensus",
    "status": "sync",
    "block_request": "sync",
    "block_response": "sync",
    "tx_gossip": "tx",
}

Item = tuple[str, p2p_pb2.Envelope]


class TokenBucket:
    """A token bucket whose level may go negative: a debt paid back by waiting."""

    __slots__ = ("burst", "level", "rate", "updated")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.level = burst
        self.updated = now

    def take(self, amount: float, now: float) -> float:
        """Pay amount; returns the seconds to wait until the level is back at zero."""
        self.level = min(self.burst, self.level + (now - self.updated) * self.rate)
        self.updated = now
        self.level -= amount
        return -self.level / self.rate if self.level < 0 else 0.0


@dataclass(slots=True)
class _Queue:
    items: deque[tuple[p2p_pb2.Envelope, int]] = field(default_factory=deque)
    bytes: int = 0
    space: trio.lowlevel.ParkingLot = field(default_factory=trio.lowlevel.ParkingLot)


class _Peer:
    """One peer id's queues, budget and over-budget clock."""

    __slots__ = ("bytes_bucket", "over_since", "queues", "txs_bucket")

    def __init__(self, config: P2PConfig, now: float) -> None:
        self.queues: dict[TrafficClass, _Queue] = {c: _Queue() for c in CLASSES}
        self.bytes_bucket = TokenBucket(config.gossip_bytes_per_s, config.gossip_burst_bytes, now)
        self.txs_bucket = TokenBucket(config.gossip_txs_per_s, config.gossip_burst_txs, now)
        self.over_since: float | None = None

    @property
    def queued_bytes(self) -> int:
        return sum(q.bytes for q in self.queues.values())

    @property
    def queued_frames(self) -> int:
        return sum(len(q.items) for q in self.queues.values())


class Inbox:
    """The per-peer, per-class inbound queues of one PeerManager (see the module rules)."""

    def __init__(self, config: P2PConfig, stats: P2PStats) -> None:
        self._config = config
        self._stats = stats
        self._limits: dict[TrafficClass, tuple[int, int]] = {
            "consensus": (config.consensus_queue_frames, config.consensus_queue_bytes),
            "sync": (config.sync_queue_frames, config.sync_queue_bytes),
            "tx": (config.tx_queue_frames, config.tx_queue_bytes),
        }
        self._peers: dict[str, _Peer] = {}
        self._ready: dict[TrafficClass, deque[str]] = {c: deque() for c in CLASSES}
        main, tx = trio.lowlevel.ParkingLot(), trio.lowlevel.ParkingLot()
        self._consumers: dict[TrafficClass, trio.lowlevel.ParkingLot] = {
            "consensus": main,
            "sync": main,
            "tx": tx,
        }
        self.closed = False
        self.inbound = InboundStream(self, ("consensus", "sync"), main)
        self.tx_inbound = InboundStream(self, ("tx",), tx)

    def _peer(self, peer_id: str) -> _Peer:
        peer = self._peers.get(peer_id)
        if peer is None:
            peer = self._peers[peer_id] = _Peer(self._config, trio.current_time())
        return peer

    def queued(self, peer_id: str) -> dict[TrafficClass, tuple[int, int]]:
        """``{class: (frames, bytes)}`` queued from peer_id."""
        peer = self._peers.get(peer_id)
        if peer is None:
            return {c: (0, 0) for c in CLASSES}
        return {c: (len(q.items), q.bytes) for c, q in peer.queues.items()}

    def queued_total(self, peer_id: str) -> tuple[int, int]:
        """``(frames, bytes)`` queued from peer_id over every class."""
        peer = self._peers.get(peer_id)
        return (0, 0) if peer is None else (peer.queued_frames, peer.queued_bytes)

    def queued_bytes_by_class(self) -> dict[str, int]:
        """Bytes queued from every peer, by class."""
        totals: dict[str, int] = dict.fromkeys(CLASSES, 0)
        for peer in self._peers.values():
            for cls, queue in peer.queues.items():
                totals[cls] += queue.bytes
        return totals

    async def put(self, peer_id: str, kind: str, envelope: p2p_pb2.Envelope, size: int) -> None:
        """Queue one received Envelope of size bytes from peer_id, by the rules above.

        Raises:
            trio.ClosedResourceError: the inbox is closed (the manager stopped).
            PeerDisconnected: ``gossip_budget``: the peer stayed over its budget.
        """
        cls = CLASS_OF_KIND.get(kind, "sync")
        peer = self._peer(peer_id)
        if cls == "tx" and not await self._pay(peer, size, len(envelope.tx_gossip.txs)):
            return
        frames, max_bytes = self._limits[cls]
        queue = peer.queues[cls]
        while len(queue.items) >= frames or queue.bytes + size > max_bytes:
            if self.closed:
                raise trio.ClosedResourceError("the inbox is closed")
            if cls == "tx":
                self._stats.frames_dropped["tx_queue_full"] += 1
                return
            self._stats.inbound_waits[cls] += 1
            await queue.space.park()
        if self.closed:
            raise trio.ClosedResourceError("the inbox is closed")
        if not queue.items:
            self._ready[cls].append(peer_id)
        queue.items.append((envelope, size))
        queue.bytes += size
        self._stats.max_inbound_bytes = max(self._stats.max_inbound_bytes, peer.queued_bytes)
        self._consumers[cls].unpark_all()

    async def _pay(self, peer: _Peer, size: int, txs: int) -> bool:
        """Charge one tx frame to the peer's budget, waiting while it is short; whether the
        frame may be queued."""
        now = trio.current_time()
        wait = max(peer.bytes_bucket.take(size, now), peer.txs_bucket.take(txs, now))
        too_many = txs > self._config.gossip_burst_txs
        if wait <= 0 and not too_many:
            peer.over_since = None
            return True
        if peer.over_since is None:
            peer.over_since = now
        elif now - peer.over_since >= self._config.gossip_drop_after:
            peer.over_since = None
            self._stats.peers_dropped["gossip_budget"] += 1
            raise PeerDisconnected(
                "gossip_budget",
                f"over its tx gossip budget for {self._config.gossip_drop_after:g} s",
            )
        if wait > 0:
            self._stats.gossip_throttled += 1
            await trio.sleep(wait)
        if too_many:
            self._stats.frames_dropped["gossip_budget"] += 1
            return False
        return True

    def charge_invalid(self, peer_id: str, txs: int) -> None:
        """peer_id gossiped txs transactions whose signatures do not verify: take
        ``gossip_invalid_tx_cost`` txs of budget for each (rule 5)."""
        if txs <= 0:
            return
        self._stats.gossip_invalid_txs += txs
        bucket = self._peer(peer_id).txs_bucket
        floor = -bucket.rate * self._config.gossip_drop_after
        bucket.level = max(floor, bucket.level - txs * self._config.gossip_invalid_tx_cost)

    def pop(self, classes: tuple[TrafficClass, ...]) -> Item | None:
        """The next item of the first class in classes that has one (round robin over
        peers within the class); None when all are empty."""
        for cls in classes:
            ready = self._ready[cls]
            if not ready:
                continue
            peer_id = ready.popleft()
            queue = self._peers[peer_id].queues[cls]
            envelope, size = queue.items.popleft()
            queue.bytes -= size
            if queue.items:
                ready.append(peer_id)
            queue.space.unpark_all()
            return peer_id, envelope
        return None

    def close(self) -> None:
        """Refuse further items and wake every waiter; queued items can still be read."""
        self.closed = True
        for lot in set(self._consumers.values()):
            lot.unpark_all()
        for peer in self._peers.values():
            for queue in peer.queues.values():
                queue.space.unpark_all()


class InboundStream:
    """An async-iterable stream of ``(peer_id, Envelope)`` over some traffic classes, the
    first class first. ``receive`` raises ``trio.EndOfChannel`` once the manager stopped
    and everything queued was read."""

    def __init__(
        self, inbox: Inbox, classes: tuple[TrafficClass, ...], lot: trio.lowlevel.ParkingLot
    ) -> None:
        self._inbox = inbox
        self._classes = classes
        self._lot = lot

    @property
    def classes(self) -> tuple[TrafficClass, ...]:
        """The traffic classes this stream delivers, in priority order."""
        return self._classes

    def receive_nowait(self) -> Item:
        """The next item without waiting.

        Raises:
            trio.WouldBlock: nothing queued.
            trio.EndOfChannel: nothing queued and the manager stopped.
        """
        item = self._inbox.pop(self._classes)
        if item is not None:
            return item
        if self._inbox.closed:
            raise trio.EndOfChannel
        raise trio.WouldBlock

    async def receive(self) -> Item:
        """The next item, waiting for one."""
        await trio.lowlevel.checkpoint_if_cancelled()
        while True:
            try:
                item = self.receive_nowait()
            except trio.WouldBlock:
                await self._lot.park()
                continue
            await trio.lowlevel.cancel_shielded_checkpoint()
            return item

    def __aiter__(self) -> InboundStream:
        return self

    async def __anext__(self) -> Item:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None
