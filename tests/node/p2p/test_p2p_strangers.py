"""Strangers at the handshake: refused before any cryptography, bounded per source and in
total, and never able to keep an allow-listed peer out (real sockets on 127.0.0.0/8)."""

from __future__ import annotations

import contextlib

import pytest
import trio
from p2p_support import CHAIN_ID, Harness, key, wait_until

from node.keys import KeyPair
from node.p2p import PeerManager, _handshake
from node.p2p._handshake import HANDSHAKE_MAX_FRAME, EphemeralKey, encode_hello
from node.p2p._wire import CipherState, FrameStream

GOOD, STRANGER = key(2), key(9)


async def idle_from(port: int, source: str) -> trio.SocketStream:
    """A TCP connection to port from source that never sends a byte."""
    sock = trio.socket.socket()
    await sock.bind((source, 0))
    await sock.connect(("127.0.0.1", port))
    return trio.SocketStream(sock)


async def open_idle(a: PeerManager, sources: list[str], count: int) -> list[trio.SocketStream]:
    assert a.listen_port is not None
    return [await idle_from(a.listen_port, sources[i % len(sources)]) for i in range(count)]


async def close_all(streams: list[trio.SocketStream]) -> None:
    for s in streams:
        await trio.aclose_forcefully(s)


@pytest.mark.parametrize(
    "sources",
    [["127.0.0.1"], [f"127.0.0.{2 + i}" for i in range(50)]],
    ids=["the-peer's-own-source", "fifty-sources"],
)
async def test_200_idle_strangers_do_not_keep_an_allowed_peer_out(
    harness: Harness, sources: list[str]
) -> None:
    with trio.fail_after(20):
        a = await harness.start(key(1), allow=[GOOD], handshake_timeout=60.0)
        strangers = await open_idle(a, sources, 200)
        g = await harness.start(GOOD, peers=(harness.address(a),))
        await wait_until(lambda: a.is_connected(g.node_id) and g.is_connected(a.node_id))
        await close_all(strangers)


async def test_pending_handshakes_are_capped_per_source_and_in_total(harness: Harness) -> None:
    with trio.fail_after(20):
        a = await harness.start(
            key(1), allow=[GOOD], handshake_timeout=60.0, max_pending_per_source=4
        )
        one = await open_idle(a, ["127.0.0.2"], 10)
        await wait_until(lambda: a.stats.handshake_failures["evicted_source"] == 6)
        assert a.pending_strangers() == 4
        many = await open_idle(a, [f"127.0.0.{3 + i}" for i in range(30)], 90)
        await wait_until(lambda: a.stats.handshake_failures["evicted_total"] == 94 - 64)
        assert a.pending_strangers() == a.config.max_pending_handshakes
        await close_all(one + many)


async def test_unknown_key_in_hello_is_refused_before_any_dh_or_signature(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_agree, real_sign = EphemeralKey.agree, KeyPair.sign

    def agree(self: EphemeralKey, peer: bytes) -> bytes:
        calls.append("dh")
        return real_agree(self, peer)

    def sign(self: KeyPair, message: bytes) -> bytes:
        calls.append("sign")
        return real_sign(self, message)

    def verify(*args: object) -> bool:
        calls.append("verify")
        return False

    monkeypatch.setattr(EphemeralKey, "agree", agree)
    monkeypatch.setattr(KeyPair, "sign", sign)
    monkeypatch.setattr(_handshake, "verify", verify)
    with trio.fail_after(10):
        a = await harness.start(key(1), allow=[GOOD])
        assert a.listen_port is not None
        stream = await trio.open_tcp_stream("127.0.0.1", a.listen_port)
        frames = FrameStream(stream)
        hello = encode_hello(CHAIN_ID, EphemeralKey().public, STRANGER.public_key)
        await frames.send_frame(hello)
        await frames.receive_frame(HANDSHAKE_MAX_FRAME)  # A's plaintext Hello
        with contextlib.suppress(Exception):
            while await stream.receive_some(65536):
                pass
        await wait_until(lambda: a.stats.handshake_failures["unknown_key"] == 1)
        assert calls == []
        await stream.aclose()


async def test_proof_for_another_key_than_the_hello_claimed_is_refused(harness: Harness) -> None:
    other = key(5)
    with trio.fail_after(10):
        a = await harness.start(key(1), allow=[GOOD, other])
        assert a.listen_port is not None
        stream = await trio.open_tcp_stream("127.0.0.1", a.listen_port)
        frames = FrameStream(stream)
        own = EphemeralKey()
        hello = encode_hello(CHAIN_ID, own.public, GOOD.public_key)  # claims GOOD
        await frames.send_frame(hello)
        peer_hello = await frames.receive_frame(HANDSHAKE_MAX_FRAME)
        peer_eph = _handshake.decode_hello(peer_hello, CHAIN_ID).ephemeral_key
        transcript = _handshake.transcript_hash(own.public, hello, peer_eph, peer_hello)
        send_key, _ = _handshake.derive_keys(own.agree(peer_eph), transcript, own.public, peer_eph)
        frames.send_cipher = CipherState(send_key)
        # A valid proof, but by the other allowed key.
        await frames.send_frame(_handshake.encode_proof(other, CHAIN_ID, transcript, own.public))
        await wait_until(lambda: a.stats.handshake_failures["claim_mismatch"] == 1)
        assert a.peers() == []
        await trio.aclose_forcefully(stream)
