"""Inbound traffic classes, per-peer queue bounds and tx gossip budgets (node/p2p/_inbox.py),
over real sockets on 127.0.0.1 (and, for the clock arithmetic, an Inbox on trio's MockClock).

V is the node under test; F floods it, H is an honest peer. Both dial V.
"""

from __future__ import annotations

import itertools
import os

import pytest
import trio
import trio.lowlevel
import trio.testing
from p2p_support import Harness, key, wait_until

from node.errors import ConfigError
from node.p2p import CLASS_OF_KIND, P2PConfig, PeerDisconnected, PeerManager
from node.p2p._inbox import Inbox, TokenBucket
from node.p2p._types import P2PStats
from proto import p2p_pb2

V, F, H = key(1), key(3), key(4)
FRAME = 65536
UNLIMITED = {
    "gossip_bytes_per_s": 1 << 40,
    "gossip_burst_bytes": 1 << 40,
    "gossip_txs_per_s": 10**9,
    "gossip_burst_txs": 10**9,
}


def vote(n: int) -> p2p_pb2.Envelope:
    return p2p_pb2.Envelope(consensus=p2p_pb2.ConsensusMessage(vote=b"vote-%d" % n))


def request(n: int) -> p2p_pb2.Envelope:
    return p2p_pb2.Envelope(block_request=p2p_pb2.BlockRequest(height=n))


def gossip(txs: int, size: int = 8) -> p2p_pb2.Envelope:
    return p2p_pb2.Envelope(tx_gossip=p2p_pb2.TxGossip(txs=[os.urandom(size) for _ in range(txs)]))


async def star(
    harness: Harness, **overrides: object
) -> tuple[PeerManager, PeerManager, PeerManager]:
    """V (with overrides) allows F and H; F and H dial V and are connected, as both ends
    see it (the dialler may register the connection after V does)."""
    v = await harness.start(V, allow=[F, H], **overrides)
    f = await harness.start(F, peers=(harness.address(v),), max_frame_size=FRAME)
    h = await harness.start(H, peers=(harness.address(v),), max_frame_size=FRAME)
    await wait_until(
        lambda: all(v.is_connected(p.node_id) and p.is_connected(v.node_id) for p in (f, h))
    )
    return v, f, h


def queued_send(manager: PeerManager, peer_id: str) -> int:
    return sum(p.queued_bytes for p in manager.peers() if p.peer_id == peer_id)


async def flood(sender: PeerManager, target: str, make: object, every: int = 0) -> None:
    """Send make() to target as fast as its send queue drains (until cancelled); with
    every, a consensus vote after each every frames (the flooder's own consensus)."""
    for n in itertools.count():
        await wait_until(lambda: queued_send(sender, target) <= 512 * 1024)
        sender.send(target, make())  # type: ignore[operator]
        if every and n % every == every - 1:
            sender.send(target, vote(10_000 + n // every))
        await trio.lowlevel.checkpoint()


def test_every_delivered_kind_has_a_traffic_class() -> None:
    kinds = {f.name for f in p2p_pb2.Envelope.DESCRIPTOR.oneofs_by_name["kind"].fields}
    assert set(CLASS_OF_KIND) == kinds - {"ping", "pong"}


async def test_tx_flood_with_a_stalled_tx_consumer_delays_no_consensus(
    harness: Harness,
) -> None:
    """F floods tx gossip while the node's tx consumer is slow (20 ms a frame); H's votes
    and F's own votes all arrive, in order, while only a few tx frames are processed, and
    F never has more queued than the tx queue's byte bound."""
    tx_bytes = 4 * FRAME
    with trio.fail_after(30):
        v, f, h = await star(
            harness, max_frame_size=FRAME, tx_queue_frames=64, tx_queue_bytes=tx_bytes, **UNLIMITED
        )
        processed = 0
        peak = 0

        async def slow_tx_consumer() -> None:
            nonlocal processed
            async for _ in v.tx_inbound:
                await trio.sleep(0.02)
                processed += 1

        async def watch_bound() -> None:
            nonlocal peak
            while True:
                peak = max(peak, v.inbound_queued(f.node_id)["tx"][1])
                await trio.sleep(0.001)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(slow_tx_consumer)
            nursery.start_soon(watch_bound)
            nursery.start_soon(flood, f, v.node_id, lambda: gossip(1, 60_000), 5)
            await wait_until(lambda: v.stats.frames_dropped["tx_queue_full"] >= 20)
            got: dict[str, list[p2p_pb2.Envelope]] = {h.node_id: [], f.node_id: []}
            for n in range(200):
                assert h.send(v.node_id, vote(n))
                if n % 10 == 0:
                    await trio.sleep(0.001)
            while len(got[h.node_id]) < 200 or len(got[f.node_id]) < 20:
                peer_id, env = await v.inbound.receive()
                got[peer_id].append(env)
            frames_processed = processed
            nursery.cancel_scope.cancel()
        assert got[h.node_id] == [vote(n) for n in range(200)]
        assert got[f.node_id][:20] == [vote(10_000 + n) for n in range(20)]
        # The slow tx consumer handled at most ~one frame per 20 ms meanwhile: the votes
        # did not wait behind the flood (which kept V's tx queue full).
        assert frames_processed < v.stats.frames_in["tx_gossip"] // 4
        assert v.stats.frames_dropped["tx_queue_full"] >= 20
        assert 0 < peak <= tx_bytes
        assert v.stats.max_inbound_bytes <= tx_bytes + 16 * 1024 * 1024


async def test_consensus_is_read_before_sync_and_peers_take_turns(harness: Harness) -> None:
    with trio.fail_after(20):
        v, f, h = await star(harness)
        for n in range(50):
            assert h.send(v.node_id, request(n))
        for n in range(50):
            assert h.send(v.node_id, vote(n))
            assert f.send(v.node_id, vote(100 + n))
        await wait_until(
            lambda: (
                v.inbound_queued(h.node_id)["consensus"][0] == 50
                and v.inbound_queued(h.node_id)["sync"][0] == 50
                and v.inbound_queued(f.node_id)["consensus"][0] == 50
            )
        )
        got = [v.inbound.receive_nowait() for _ in range(150)]
        with pytest.raises(trio.WouldBlock):
            v.inbound.receive_nowait()
        kinds = [env.WhichOneof("kind") for _, env in got]
        assert kinds == ["consensus"] * 100 + ["block_request"] * 50
        senders = [pid for pid, _ in got[:100]]
        assert senders[:2] in ([h.node_id, f.node_id], [f.node_id, h.node_id])
        assert all(senders[i] != senders[i + 1] for i in range(99))  # round robin
        assert [env for pid, env in got[:100] if pid == h.node_id] == [vote(n) for n in range(50)]
        assert [env for _, env in got[100:]] == [request(n) for n in range(50)]


async def test_full_consensus_queue_pauses_that_peer_only(harness: Harness) -> None:
    """F's consensus queue is full (its reader waits, nothing is lost); H's vote sent
    after it is read within the next few items, not after F's backlog."""
    with trio.fail_after(20):
        v, f, h = await star(harness, consensus_queue_frames=4)
        for n in range(300):
            assert f.send(v.node_id, vote(n))
        await wait_until(lambda: v.stats.inbound_waits["consensus"] >= 1)
        assert v.inbound_queued(f.node_id)["consensus"][0] == 4
        assert h.send(v.node_id, vote(7777))
        await wait_until(lambda: v.inbound_queued(h.node_id)["consensus"][0] == 1)
        got = [await v.inbound.receive() for _ in range(301)]
        assert (h.node_id, vote(7777)) in got[:6]
        assert [env for pid, env in got if pid == f.node_id] == [vote(n) for n in range(300)]
        assert max(p.inbound_frames for p in v.peers()) == 0


async def test_gossip_over_budget_is_throttled_and_honest_gossip_is_not(
    harness: Harness,
) -> None:
    rate, burst = 400, 100
    with trio.fail_after(30):
        v, f, h = await star(
            harness, gossip_txs_per_s=rate, gossip_burst_txs=burst, gossip_drop_after=600.0
        )
        delivered: dict[str, int] = {f.node_id: 0, h.node_id: 0}

        async def consume() -> None:
            async for peer_id, env in v.tx_inbound:
                delivered[peer_id] += len(env.tx_gossip.txs)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume)
            start = trio.current_time()
            nursery.start_soon(flood, f, v.node_id, lambda: gossip(5))
            for _ in range(10):  # H: 10 txs/s, far under budget
                assert h.send(v.node_id, gossip(1))
                await trio.sleep(0.1)
            elapsed = trio.current_time() - start
            flooded = delivered[f.node_id]
            nursery.cancel_scope.cancel()
        assert v.stats.gossip_throttled > 0
        assert delivered[h.node_id] == 10
        # F got through at most its burst plus the rate over the time (one frame slack).
        assert burst * 0.5 < flooded <= burst + rate * elapsed + 5
        assert f.stats.frames_out["tx_gossip"] * 5 > 2 * flooded  # it really tried harder
        assert v.is_connected(f.node_id)


async def test_peer_staying_over_budget_is_dropped_with_its_reason(harness: Harness) -> None:
    with trio.fail_after(30):
        v, f, h = await star(
            harness, gossip_txs_per_s=100, gossip_burst_txs=50, gossip_drop_after=0.5
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(drain, v)
            nursery.start_soon(flood, f, v.node_id, lambda: gossip(10))
            await wait_until(lambda: v.stats.disconnects["gossip_budget"] >= 1)
            nursery.cancel_scope.cancel()
        assert v.stats.peers_dropped["gossip_budget"] >= 1
        assert v.is_connected(h.node_id)
        assert h.send(v.node_id, vote(1))
        assert await v.inbound.receive() == (h.node_id, vote(1))


async def drain(manager: PeerManager) -> None:
    async for _ in manager.tx_inbound:
        pass


async def test_frame_with_more_txs_than_the_burst_is_dropped(harness: Harness) -> None:
    with trio.fail_after(20):
        v, f, _h = await star(harness, gossip_txs_per_s=1000, gossip_burst_txs=10)
        too_many, fits = gossip(11), gossip(10)
        assert f.send(v.node_id, too_many)
        assert f.send(v.node_id, fits)
        assert await v.tx_inbound.receive() == (f.node_id, fits)
        assert v.stats.frames_dropped["gossip_budget"] == 1
        assert v.stats.frames_in["tx_gossip"] == 2


def test_token_bucket_pays_debt_by_waiting() -> None:
    bucket = TokenBucket(rate=10.0, burst=20.0, now=0.0)
    assert bucket.take(20, now=0.0) == 0.0
    assert bucket.take(5, now=0.0) == pytest.approx(0.5)
    assert bucket.take(0, now=0.5) == 0.0  # the debt was paid by waiting
    assert bucket.take(20, now=100.0) == 0.0  # refills to the burst, not beyond
    assert bucket.take(1, now=100.0) == pytest.approx(0.1)


async def test_inbox_drops_a_peer_after_drop_after_seconds_over_budget(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """On the MockClock: a peer sending 100 txs per frame against 100 txs/s (burst 100)
    pays one second per frame and is dropped once it has been over budget for 5 s."""
    config = P2PConfig(
        chain_id="c",
        gossip_txs_per_s=100,
        gossip_burst_txs=100,
        gossip_drop_after=5.0,
    )
    stats = P2PStats()
    inbox = Inbox(config, stats)
    env = gossip(100)
    start = trio.current_time()
    passed = 0

    async def keep_sending() -> None:
        nonlocal passed
        for _ in range(100):
            await inbox.put("peer", "tx_gossip", env, env.ByteSize())
            passed += 1
            inbox.tx_inbound.receive_nowait()

    with pytest.raises(PeerDisconnected) as raised:
        await keep_sending()
    assert raised.value.reason == "gossip_budget"
    assert 5.0 <= trio.current_time() - start <= 6.0 + 1e-6
    assert passed == 6  # the burst, then one per second
    assert stats.peers_dropped["gossip_budget"] == 1
    assert stats.gossip_throttled == 5


async def test_invalid_gossip_is_charged_to_its_sender(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """On the MockClock: 10 forged txs at cost 100 each put the peer 1,000 txs in debt
    (10 s at 100 txs/s): its next frame waits that long, capped at gossip_drop_after."""
    config = P2PConfig(
        chain_id="c",
        gossip_txs_per_s=100,
        gossip_burst_txs=100,
        gossip_drop_after=5.0,
        gossip_invalid_tx_cost=100,
    )
    stats = P2PStats()
    inbox = Inbox(config, stats)
    env = gossip(1)
    await inbox.put("liar", "tx_gossip", env, env.ByteSize())
    await inbox.put("honest", "tx_gossip", env, env.ByteSize())
    assert stats.gossip_throttled == 0
    inbox.charge_invalid("liar", 10)
    start = trio.current_time()
    await inbox.put("honest", "tx_gossip", env, env.ByteSize())
    assert trio.current_time() == start  # only the liar pays
    await inbox.put("liar", "tx_gossip", env, env.ByteSize())
    waited = trio.current_time() - start
    assert 5.0 <= waited <= 5.0 + 0.02  # the debt is capped at 5 s of budget
    assert stats.gossip_invalid_txs == 10
    assert stats.gossip_throttled == 1
    inbox.charge_invalid("liar", 0)
    assert stats.gossip_invalid_txs == 10


async def test_manager_charges_the_peer_that_sent_forged_gossip(harness: Harness) -> None:
    with trio.fail_after(20):
        v, f, h = await star(harness, gossip_txs_per_s=1000, gossip_burst_txs=1000)
        assert f.send(v.node_id, gossip(1))
        assert (await v.tx_inbound.receive())[0] == f.node_id
        v.charge_invalid_gossip(f.node_id, 50)  # 5,000 txs of debt: 5 s at 1,000 txs/s
        honest = gossip(1)
        assert f.send(v.node_id, gossip(1))
        assert h.send(v.node_id, honest)
        assert await v.tx_inbound.receive() == (h.node_id, honest)  # H does not wait
        await wait_until(lambda: v.stats.gossip_throttled == 1)
        assert v.inbound_queued(f.node_id)["tx"] == (0, 0)  # F's frame waits in its reader
        assert v.stats.gossip_invalid_txs == 50


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tx_queue_bytes", 1024),
        ("consensus_queue_bytes", 1024),
        ("gossip_burst_bytes", 1024),
        ("gossip_txs_per_s", 0),
        ("sync_queue_frames", 0),
        ("gossip_drop_after", 0.0),
        ("gossip_invalid_tx_cost", -1),
    ],
)
def test_bad_inbound_settings_are_refused(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"p2p.{field}:"):
        P2PConfig(chain_id="c", **{field: value}).validate()  # type: ignore[arg-type]
