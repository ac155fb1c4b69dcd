"""Strangers, garbage, bad proofs, oversized frames, silent and slow peers, on real sockets.

In each test a well-behaved peer G stays connected to the manager under attack, A, and
still exchanges messages after the misbehaving connection was closed.
"""

from __future__ import annotations

import os

import pytest
import trio
from p2p_support import CHAIN_ID, Harness, fake_peer, key, receive, wait_until

from node.keys import KeyPair
from node.p2p import PeerAddress, PeerDisconnected, PeerManager
from node.p2p._handshake import perform_handshake
from node.p2p._wire import HEADER, FrameStream
from proto import p2p_pb2

GOOD, RAW, STRANGER = key(2), key(5), key(9)
TX = p2p_pb2.Envelope(tx_gossip=p2p_pb2.TxGossip(txs=[b"still working"]))


async def attacked_pair(harness: Harness, **overrides: object) -> tuple[PeerManager, PeerManager]:
    """A allows GOOD and RAW; G (GOOD) dials A and is connected."""
    a = await harness.start(key(1), allow=[GOOD, RAW], **overrides)
    g = await harness.start(GOOD, peers=(harness.address(a),))
    await wait_until(lambda: a.is_connected(g.node_id) and g.is_connected(a.node_id))
    return a, g


async def assert_still_serving(a: PeerManager, g: PeerManager) -> None:
    assert a.is_connected(g.node_id)
    assert a.send(g.node_id, TX)
    assert await receive(g, 1) == [(a.node_id, TX)]
    assert g.send(a.node_id, TX)
    assert await receive(a, 1) == [(g.node_id, TX)]


async def read_until_closed(stream: trio.abc.Stream) -> None:
    """Drain what the manager sent until it closes the connection; then close ours."""
    try:
        while await stream.receive_some(65536):
            pass
    except trio.BrokenResourceError:
        pass
    finally:
        await stream.aclose()


async def raw_session(a: PeerManager, identity: KeyPair = RAW) -> FrameStream:
    """A raw connection to a that completed the real handshake as identity."""
    assert a.listen_port is not None
    stream = await trio.open_tcp_stream("127.0.0.1", a.listen_port)
    frames = FrameStream(stream)
    await perform_handshake(
        frames, identity=identity, chain_id=CHAIN_ID, is_allowed=lambda _key: True
    )
    await wait_until(lambda: a.is_connected(identity.public_key.hex()))
    return frames


async def test_unknown_key_is_refused_in_both_directions(harness: Harness) -> None:
    with trio.fail_after(10):
        a, g = await attacked_pair(harness)
        # A stranger dials A: A refuses it, and the stranger learns it was refused.
        s = await harness.start(STRANGER, peers=(harness.address(a),))
        await wait_until(lambda: a.stats.handshake_failures["unknown_key"] >= 1)
        await wait_until(lambda: s.stats.handshake_failures["refused"] >= 1)
        # A dials the address it was given for RAW, but a stranger answers there.
        impostor = await harness.start(STRANGER, allow=[key(1)])
        assert impostor.listen_port is not None
        a.add_peer(PeerAddress("127.0.0.1", impostor.listen_port, RAW.public_key))
        await wait_until(lambda: a.stats.handshake_failures["unexpected_key"] >= 1)
        await wait_until(lambda: impostor.stats.handshake_failures["refused"] >= 1)
        assert [p.peer_id for p in a.peers()] == [g.node_id]
        assert s.peers() == []
        assert impostor.peers() == []
        assert a.stats.connections.total() == 1
        await assert_still_serving(a, g)


@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        (b"GET / HTTP/1.1\r\nHost: validator\r\n\r\n", "oversized_frame"),
        (HEADER.pack(6) + b"\xff\xfe\xfd\xfc\xfb\xfa", "malformed"),
        (
            HEADER.pack(2) + p2p_pb2.Hello(protocol_version=2).SerializeToString(),
            "version_mismatch",
        ),
        (HEADER.pack(12) + bytes(12), "malformed"),
    ],
    ids=["http", "junk-frame", "future-version", "zeros"],
)
async def test_garbage_instead_of_a_handshake_is_refused(
    harness: Harness, garbage: bytes, reason: str
) -> None:
    with trio.fail_after(10):
        a, g = await attacked_pair(harness)
        assert a.listen_port is not None
        stream = await trio.open_tcp_stream("127.0.0.1", a.listen_port)
        await stream.send_all(garbage)
        await read_until_closed(stream)
        await wait_until(lambda: a.stats.handshake_failures[reason] == 1)
        await assert_still_serving(a, g)


@pytest.mark.parametrize("bad_signature", [True, False], ids=["wrong-message", "bare-transcript"])
async def test_bad_proof_is_refused(harness: Harness, bad_signature: bool) -> None:
    with trio.fail_after(10):
        a, g = await attacked_pair(harness)
        assert a.listen_port is not None
        stream = await trio.open_tcp_stream("127.0.0.1", a.listen_port)
        await fake_peer(stream, RAW, bad_signature=bad_signature)
        await read_until_closed(stream)
        await wait_until(lambda: a.stats.handshake_failures["bad_proof"] == 1)
        assert not a.is_connected(RAW.public_key.hex())
        await assert_still_serving(a, g)


async def test_silent_connection_times_out_in_the_handshake(harness: Harness) -> None:
    with trio.fail_after(10):
        a, g = await attacked_pair(harness, handshake_timeout=0.2)
        assert a.listen_port is not None
        stream = await trio.open_tcp_stream("127.0.0.1", a.listen_port)
        await read_until_closed(stream)  # A's Hello, then A hangs up
        assert a.stats.handshake_failures["timeout"] == 1
        await assert_still_serving(a, g)


async def test_handshakes_beyond_the_limit_evict_the_oldest_stranger(harness: Harness) -> None:
    with trio.fail_after(10):
        a, g = await attacked_pair(harness, max_pending_handshakes=1)
        assert a.listen_port is not None
        first = await trio.open_tcp_stream("127.0.0.1", a.listen_port)
        await wait_until(lambda: a._pending_handshakes == 1)  # A waits for first's Hello
        second = await trio.open_tcp_stream("127.0.0.1", a.listen_port)
        await read_until_closed(first)
        assert a.stats.handshake_failures["evicted_total"] == 1
        await second.aclose()
        await wait_until(lambda: a.stats.handshake_failures["disconnected"] == 1)
        await assert_still_serving(a, g)


async def send_oversized(frames: FrameStream) -> None:
    await frames.stream.send_all(HEADER.pack(70_000))


async def send_unauthenticated(frames: FrameStream) -> None:
    await frames.stream.send_all(HEADER.pack(40) + os.urandom(40))


async def send_undecodable(frames: FrameStream) -> None:
    await frames.send_frame(b"\xff\xff\xff\xff")


async def send_empty_envelope(frames: FrameStream) -> None:
    await frames.send_frame(p2p_pb2.Envelope().SerializeToString())


@pytest.mark.parametrize(
    ("misbehave", "reason"),
    [
        (send_oversized, "oversized_frame"),
        (send_unauthenticated, "decrypt_failed"),
        (send_undecodable, "undecodable"),
        (send_empty_envelope, "unknown_kind"),
    ],
    ids=["oversized", "forged", "undecodable", "unknown-kind"],
)
async def test_authenticated_peer_breaking_frame_rules_is_dropped(
    harness: Harness, misbehave: object, reason: str
) -> None:
    with trio.fail_after(10):
        a, g = await attacked_pair(harness, max_frame_size=65536, send_queue_bytes=65536)
        frames = await raw_session(a)
        await misbehave(frames)  # type: ignore[operator]
        await read_until_closed(frames.stream)
        await wait_until(lambda: a.stats.disconnects[reason] == 1)
        assert a.stats.frames_dropped[reason] == 1
        assert not a.is_connected(RAW.public_key.hex())
        assert a.inbound_queued(RAW.public_key.hex())["consensus"] == (0, 0)  # nothing delivered
        await assert_still_serving(a, g)


async def test_peer_that_goes_silent_is_dropped(harness: Harness) -> None:
    with trio.fail_after(10):
        a, g = await attacked_pair(harness, ping_interval=0.05, idle_timeout=0.3)
        frames = await raw_session(a)
        await read_until_closed(frames.stream)
        assert a.stats.disconnects["idle_timeout"] == 1
        assert a.stats.frames_out["ping"] >= 1
        await assert_still_serving(a, g)


async def test_peer_that_stops_reading_is_dropped_with_bounded_memory(harness: Harness) -> None:
    limit = 256 * 1024
    big = p2p_pb2.Envelope(tx_gossip=p2p_pb2.TxGossip(txs=[os.urandom(60_000)]))
    with trio.fail_after(20):
        a, g = await attacked_pair(harness, max_frame_size=65536, send_queue_bytes=limit)
        frames = await raw_session(a)  # completes the handshake, then never reads again
        raw_id = RAW.public_key.hex()
        received = 0

        async def drain_g() -> None:
            nonlocal received
            async for _ in g.tx_inbound:
                received += 1

        async with trio.open_nursery() as nursery:
            nursery.start_soon(drain_g)
            sent = 0

            def queued(peer_id: str) -> int:
                return sum(p.queued_bytes for p in a.peers() if p.peer_id == peer_id)

            while a.is_connected(raw_id):
                assert queued(raw_id) <= limit
                assert a.broadcast(big) == 2 or not a.is_connected(raw_id)
                sent += 1
                await wait_until(lambda: queued(g.node_id) == 0)  # G keeps up; RAW does not
            assert a.stats.disconnects["send_queue_full"] == 1
            assert a.stats.frames_dropped["send_queue_full"] == 1
            assert a.stats.max_queued_bytes <= limit
            assert a.broadcast(TX) == 1  # only G is left
            await wait_until(lambda: received == sent + 1)
            nursery.cancel_scope.cancel()
        with pytest.raises((PeerDisconnected, trio.BrokenResourceError)):
            await drain_frames(frames)
        await frames.stream.aclose()


async def drain_frames(frames: FrameStream) -> None:
    while True:
        await frames.receive_frame(1 << 20)


async def test_slow_node_loses_nothing_and_buffers_at_most_the_sync_queue(
    harness: Harness,
) -> None:
    with trio.fail_after(10):
        a, g = await attacked_pair(harness, sync_queue_frames=4)
        envs = [p2p_pb2.Envelope(block_request=p2p_pb2.BlockRequest(height=h)) for h in range(200)]
        for env in envs:
            assert g.send(a.node_id, env)
        await wait_until(lambda: a.inbound_queued(g.node_id)["sync"][0] == 4)
        await trio.sleep(0.05)
        assert a.inbound_queued(g.node_id)["sync"][0] == 4  # the reader waits; TCP holds the rest
        assert a.stats.inbound_waits["sync"] >= 1
        got = await receive(a, len(envs))
        assert got == [(g.node_id, env) for env in envs]
