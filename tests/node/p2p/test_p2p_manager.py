"""PeerManager over real sockets on 127.0.0.1: connecting, exchanging, reconnecting, closing."""

from __future__ import annotations

import itertools
import random
from functools import partial

import pytest
import trio
from p2p_support import CHAIN_ID, Harness, fast_config, in_class_order, key, receive, wait_until

from node.p2p import (
    ListenError,
    OutboundMessageError,
    PeerAddress,
    PeerDisconnected,
    PeerManager,
)
from node.p2p._handshake import perform_handshake
from node.p2p._wire import FrameStream
from proto import p2p_pb2


def every_kind() -> list[p2p_pb2.Envelope]:
    """One Envelope of each kind the node delivers (Ping/Pong are the transport's)."""
    return [
        p2p_pb2.Envelope(tx_gossip=p2p_pb2.TxGossip(txs=[b"tx-1", b"tx-2"])),
        p2p_pb2.Envelope(consensus=p2p_pb2.ConsensusMessage(proposal=b"proposal-bytes")),
        p2p_pb2.Envelope(consensus=p2p_pb2.ConsensusMessage(vote=b"vote-bytes")),
        p2p_pb2.Envelope(
            status=p2p_pb2.StatusMessage(height=9, block_hash=b"h" * 32, earliest_height=1)
        ),
        p2p_pb2.Envelope(block_request=p2p_pb2.BlockRequest(height=5)),
        p2p_pb2.Envelope(
            block_response=p2p_pb2.BlockResponse(height=5, block=b"block", commit=b"commit")
        ),
    ]


async def connected_pair(harness: Harness, **overrides: object) -> tuple[PeerManager, PeerManager]:
    a = await harness.start(key(1), allow=[key(2)], **overrides)
    b = await harness.start(key(2), peers=(harness.address(a),), **overrides)
    await wait_until(lambda: a.is_connected(b.node_id) and b.is_connected(a.node_id))
    return a, b


async def test_two_managers_exchange_every_message_kind(harness: Harness) -> None:
    with trio.fail_after(10):
        a, b = await connected_pair(harness)
        for env in every_kind():
            assert a.send(b.node_id, env)
        got = await receive(b, len(every_kind()))
        assert in_class_order(got) == in_class_order((a.node_id, env) for env in every_kind())
        for env in every_kind():
            assert b.broadcast(env) == 1
        got = await receive(a, len(every_kind()))
        assert in_class_order(got) == in_class_order((b.node_id, env) for env in every_kind())
        [info] = a.peers()
        assert info.peer_id == b.node_id
        assert info.node_key == b.identity.public_key
        assert info.direction == "inbound"
        assert b.peers()[0].direction == "outbound"
        assert info.frames_in == info.frames_out == len(every_kind())
        assert info.bytes_in > 0
        assert info.bytes_out > 0
        assert a.stats.frames_out["consensus"] == 2
        assert b.stats.frames_in["tx_gossip"] == 1
        assert b.stats.bytes_in["block_response"] > len(b"block" + b"commit")
        assert a.stats.bytes_out["handshake"] > 0


async def test_ping_is_answered_and_measures_round_trip(harness: Harness) -> None:
    with trio.fail_after(10):
        a, b = await connected_pair(harness, ping_interval=0.05, idle_timeout=5.0)
        await wait_until(lambda: a.peers()[0].rtt is not None and b.peers()[0].rtt is not None)
        assert b.stats.frames_in["ping"] >= 1
        assert b.stats.frames_out["pong"] >= 1
        # An explicit Ping is answered too, and neither kind reaches the node.
        assert a.send(b.node_id, p2p_pb2.Envelope(ping=p2p_pb2.Ping(nonce=7)))
        await wait_until(lambda: a.stats.frames_in["pong"] >= 2)
        assert a.send(b.node_id, every_kind()[0])
        assert await receive(b, 1) == [(a.node_id, every_kind()[0])]


async def test_four_managers_form_one_mesh_and_exchange(harness: Harness) -> None:
    with trio.fail_after(15):
        keys = [key(n) for n in range(10, 14)]
        allow = frozenset(k.public_key for k in keys)
        managers = [await harness.start(k, allow_list=allow) for k in keys]
        for m, other in itertools.permutations(managers, 2):  # both ends of each pair dial
            m.add_peer(harness.address(other))
        await wait_until(lambda: all(len(m.peers()) == 3 for m in managers))

        def consistent() -> bool:
            for m, other in itertools.permutations(managers, 2):
                mine = {p.peer_id: p.direction for p in m.peers()}
                theirs = {p.peer_id: p.direction for p in other.peers()}
                if m.node_id not in theirs or other.node_id not in mine:
                    return False
                if mine[other.node_id] == theirs[m.node_id]:
                    return False
            return True

        await wait_until(consistent)
        excluded = managers[0]
        for sender in managers:
            for env in every_kind():
                sent = sender.broadcast(env, exclude=[excluded.node_id])
                assert sent == (3 if sender is excluded else 2)
        for receiver in managers[1:]:
            got = await receive(receiver, 3 * len(every_kind()))
            for sender in managers:
                if sender is not receiver:
                    mine = [(pid, env) for pid, env in got if pid == sender.node_id]
                    expected = [(sender.node_id, env) for env in every_kind()]
                    assert in_class_order(mine) == in_class_order(expected)
        assert excluded.inbound_queued_bytes() == {"consensus": 0, "sync": 0, "tx": 0}
        assert all(m.stats.handshake_failures.total() == 0 for m in managers)


async def test_bytes_on_the_wire_are_encrypted(harness: Harness) -> None:
    secret = b"PAY 1000000 KZT FROM ACCOUNT 42 TO MERCHANT 7"
    recorded = bytearray()

    async def pump(src: trio.SocketStream, dst: trio.SocketStream) -> None:
        try:
            while data := await src.receive_some(65536):
                recorded.extend(data)
                await dst.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await trio.aclose_forcefully(dst)

    with trio.fail_after(10):
        b = await harness.start(key(2), allow=[key(1)])
        assert b.listen_port is not None
        target = b.listen_port

        async def relay(client: trio.SocketStream) -> None:
            upstream = await trio.open_tcp_stream("127.0.0.1", target)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(pump, client, upstream)
                nursery.start_soon(pump, upstream, client)

        async with trio.open_nursery() as proxy_nursery:
            listeners = await proxy_nursery.start(
                partial(trio.serve_tcp, relay, 0, host="127.0.0.1")
            )
            proxy_port = listeners[0].socket.getsockname()[1]
            a = await harness.start(
                key(1), peers=(PeerAddress("127.0.0.1", proxy_port, b.identity.public_key),)
            )
            # Both ends: b registers the link when its handshake ends, a when its own does.
            await wait_until(lambda: b.is_connected(a.node_id) and a.is_connected(b.node_id))
            env = p2p_pb2.Envelope(tx_gossip=p2p_pb2.TxGossip(txs=[secret]))
            assert a.send(b.node_id, env)
            assert await receive(b, 1) == [(a.node_id, env)]
            assert len(recorded) > len(secret)
            assert secret not in recorded
            assert secret[:16] not in recorded
            assert env.SerializeToString() not in recorded
            proxy_nursery.cancel_scope.cancel()


async def test_restarted_peer_is_reconnected_after_backoff(harness: Harness) -> None:
    with trio.fail_after(15):
        b1 = await harness.start(key(2), allow=[key(1)])
        port = b1.listen_port
        a = await harness.start(key(1), peers=(harness.address(b1),))
        await wait_until(lambda: a.is_connected(b1.node_id))
        await b1.aclose()
        await wait_until(lambda: not a.is_connected(b1.node_id))
        failures = a.stats.dial_failures
        await wait_until(lambda: a.stats.dial_failures >= failures + 2)  # refused while down
        b2 = await harness.start(key(2), allow=[key(1)], listen_port=port)
        await wait_until(lambda: a.is_connected(b2.node_id) and b2.is_connected(a.node_id))
        assert a.send(b2.node_id, every_kind()[3])
        assert await receive(b2, 1) == [(a.node_id, every_kind()[3])]
        assert a.stats.connections["outbound"] == 2


async def test_aclose_is_idempotent_and_leaves_no_tasks() -> None:
    with trio.fail_after(10):
        a = PeerManager(fast_config(allow_list=frozenset({key(2).public_key})), key(1))
        b = PeerManager(fast_config(), key(2))
        async with trio.open_nursery() as nursery:
            port = await nursery.start(a.run)
            await nursery.start(b.run)
            b.add_peer(PeerAddress("127.0.0.1", port, a.identity.public_key))
            await wait_until(lambda: a.is_connected(b.node_id))
            await a.aclose()
            await a.aclose()
            await b.aclose()
            await b.aclose()
            assert not nursery.child_tasks
        assert a.peers() == []
        assert b.peers() == []
        assert a.stats.disconnects["cancelled"] == 1
        with pytest.raises(trio.EndOfChannel):
            await a.inbound.receive()


async def test_aclose_before_run_closes_the_inbound_channel() -> None:
    with trio.fail_after(5):
        manager = PeerManager(fast_config(), key(1))
        await manager.aclose()
        await manager.aclose()
        with pytest.raises(trio.EndOfChannel):
            await manager.inbound.receive()


async def test_peer_callbacks_fire_on_connect_and_disconnect(harness: Harness) -> None:
    events: list[tuple[str, str]] = []
    with trio.fail_after(10):
        a = PeerManager(
            fast_config(allow_list=frozenset({key(2).public_key})),
            key(1),
            on_peer_connected=lambda pid: events.append(("up", pid)),
            on_peer_disconnected=lambda pid: events.append(("down", pid)),
        )
        await harness.nursery.start(a.run)
        harness.managers.append(a)
        b = await harness.start(key(2), peers=(harness.address(a),))
        await wait_until(lambda: ("up", b.node_id) in events)
        await b.aclose()
        await wait_until(lambda: ("down", b.node_id) in events)
        assert events == [("up", b.node_id), ("down", b.node_id)]


async def test_port_in_use_is_a_listen_error(harness: Harness) -> None:
    with trio.fail_after(5):
        a = await harness.start(key(1))
        b = PeerManager(fast_config(listen_port=a.listen_port), key(2))
        with pytest.raises(ListenError, match="cannot listen"):
            await harness.nursery.start(b.run)


async def test_sending_an_empty_or_oversized_envelope_is_the_callers_error(
    harness: Harness,
) -> None:
    with trio.fail_after(10):
        a, b = await connected_pair(harness, max_frame_size=4096, send_queue_bytes=8192)
        with pytest.raises(OutboundMessageError, match="no message kind"):
            a.send(b.node_id, p2p_pb2.Envelope())
        big = p2p_pb2.Envelope(tx_gossip=p2p_pb2.TxGossip(txs=[b"x" * 4096]))
        with pytest.raises(OutboundMessageError, match="exceeds max_frame_size"):
            a.broadcast(big)
        assert not a.send("00" * 32, every_kind()[0])
        assert a.stats.frames_dropped["not_connected"] == 1
        assert a.is_connected(b.node_id)


async def test_run_twice_is_refused(harness: Harness) -> None:
    with trio.fail_after(5):
        a = await harness.start(key(1))
        with pytest.raises(RuntimeError, match="twice"):
            await a.run()


def test_backoff_doubles_with_jitter_and_is_bounded() -> None:
    manager = PeerManager(
        fast_config(backoff_initial=0.5, backoff_max=30.0), key(1), rng=random.Random(4)
    )
    for failures in range(40):
        base = min(30.0, 0.5 * 2**failures)
        delays = [manager._backoff(failures) for _ in range(50)]
        assert all(base / 2 <= d <= base for d in delays)
        assert len(set(delays)) > 1  # jittered, so peers do not redial in lockstep


async def test_removing_a_key_from_the_allow_list_drops_that_peer(harness: Harness) -> None:
    with trio.fail_after(10):
        a, b = await connected_pair(harness)
        c = await harness.start(key(3), peers=(harness.address(a),))
        a.set_allow_list([key(2).public_key, key(3).public_key])
        await wait_until(lambda: a.is_connected(c.node_id))
        a.set_allow_list([key(3).public_key])
        await wait_until(lambda: not a.is_connected(b.node_id))
        await wait_until(lambda: a.stats.disconnects["not_allowed"] == 1)
        assert a.is_connected(c.node_id)
        # b keeps redialling and is now refused at the handshake.
        await wait_until(lambda: a.stats.handshake_failures["unknown_key"] >= 1)
        await wait_until(lambda: b.stats.handshake_failures["refused"] >= 1)


@pytest.mark.parametrize(("listener_seed", "dialler_seed"), [(1, 2), (2, 1)])
async def test_a_second_connection_between_a_pair_follows_the_lower_key_rule(
    harness: Harness, listener_seed: int, dialler_seed: int
) -> None:
    with trio.fail_after(10):
        a = await harness.start(key(listener_seed), allow=[key(dialler_seed)])
        b = await harness.start(key(dialler_seed), peers=(harness.address(a),))
        await wait_until(lambda: b.is_connected(a.node_id))
        assert b.listen_port is not None
        # A second connection from A's identity to B: inbound at B, while B's first one
        # is outbound. B keeps the one dialled by the lower key.
        stream = await trio.open_tcp_stream("127.0.0.1", b.listen_port)
        frames = FrameStream(stream)
        await perform_handshake(
            frames, identity=a.identity, chain_id=CHAIN_ID, is_allowed=lambda _key: True
        )
        await wait_until(lambda: b.stats.disconnects["duplicate"] == 1)
        b_is_lower = b.identity.public_key < a.identity.public_key
        [info] = b.peers()
        assert info.direction == ("outbound" if b_is_lower else "inbound")
        if b_is_lower:  # the new connection was the one closed
            with pytest.raises(PeerDisconnected):
                await frames.receive_frame(1 << 20)
        else:  # the first one was closed; A sees it end
            await wait_until(lambda: not a.is_connected(b.node_id))
        await stream.aclose()
