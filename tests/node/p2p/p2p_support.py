"""Helpers of the p2p tests: keys, fast configs, polling, a harness that runs managers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import trio

from node.keys import KeyPair
from node.p2p import CLASS_OF_KIND, P2PConfig, PeerAddress, PeerManager
from node.p2p._handshake import (
    HANDSHAKE_MAX_FRAME,
    EphemeralKey,
    decode_hello,
    derive_keys,
    encode_hello,
    transcript_hash,
)
from node.p2p._wire import CipherState, FrameStream
from proto import p2p_pb2

CHAIN_ID = "tenge-p2p-test"


def key(n: int) -> KeyPair:
    """A deterministic node key; lower n does not mean a lower public key."""
    return KeyPair.from_seed(bytes([n]) * 32)


def fast_config(**overrides: Any) -> P2PConfig:
    """A config with short backoff and timeouts suited to tests on 127.0.0.1."""
    settings: dict[str, Any] = {
        "chain_id": CHAIN_ID,
        "backoff_initial": 0.02,
        "backoff_max": 0.2,
        "handshake_timeout": 3.0,
        "connect_timeout": 3.0,
    }
    settings.update(overrides)
    return P2PConfig(**settings)


async def wait_until(predicate: Callable[[], bool]) -> None:
    """Poll predicate until true; the test's fail_after is the deadline."""
    while True:
        if predicate():
            return
        await trio.sleep(0.005)


async def receive(manager: PeerManager, count: int) -> list[tuple[str, p2p_pb2.Envelope]]:
    """The next count messages a manager delivers, from ``inbound`` and ``tx_inbound``
    (compare lists of several classes with ``in_class_order``)."""
    got: list[tuple[str, p2p_pb2.Envelope]] = []
    while len(got) < count:
        for stream in (manager.inbound, manager.tx_inbound):
            try:
                got.append(stream.receive_nowait())
                break
            except trio.WouldBlock:
                continue
        else:
            await trio.sleep(0.002)
    return got


def in_class_order(
    items: Iterable[tuple[str, p2p_pb2.Envelope]],
) -> list[tuple[str, p2p_pb2.Envelope]]:
    """items stably sorted by traffic class (consensus, sync, tx): the order the node
    reads a burst in, each class in arrival order."""
    rank = {"consensus": 0, "sync": 1, "tx": 2}
    return sorted(items, key=lambda item: rank[CLASS_OF_KIND[item[1].WhichOneof("kind") or ""]])


class Harness:
    """Starts managers in one nursery and closes them all at the end of a test."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        self.managers: list[PeerManager] = []

    async def start(
        self, identity: KeyPair, allow: Iterable[KeyPair] = (), **overrides: Any
    ) -> PeerManager:
        """Run a manager that also allows the keys in allow."""
        allowed = frozenset(k.public_key for k in allow) | overrides.pop("allow_list", frozenset())
        manager = PeerManager(fast_config(allow_list=allowed, **overrides), identity)
        await self.nursery.start(manager.run)
        self.managers.append(manager)
        return manager

    @staticmethod
    def address(manager: PeerManager) -> PeerAddress:
        assert manager.listen_port is not None
        return PeerAddress("127.0.0.1", manager.listen_port, manager.identity.public_key)

    async def aclose(self) -> None:
        for manager in self.managers:
            await manager.aclose()


async def fake_peer(
    stream: trio.abc.Stream, identity: KeyPair, *, bad_signature: bool = False, eph: bytes = b""
) -> None:
    """A peer that follows the handshake up to its proof, failing where told to.

    Without bad_signature it signs the bare transcript (no domain tag, chain id or
    ephemeral key), which is just as wrong; either way the peer must refuse it.
    """
    frames = FrameStream(stream)
    own = EphemeralKey()
    own_eph = eph or own.public
    hello = encode_hello(CHAIN_ID, own_eph, identity.public_key)
    await frames.send_frame(hello)
    peer_hello = await frames.receive_frame(HANDSHAKE_MAX_FRAME)
    peer_eph = decode_hello(peer_hello, CHAIN_ID).ephemeral_key
    shared = own.agree(peer_eph)
    transcript = transcript_hash(own_eph, hello, peer_eph, peer_hello)
    send_key, _ = derive_keys(shared, transcript, own_eph, peer_eph)
    frames.send_cipher = CipherState(send_key)
    signature = identity.sign(b"something else entirely" if bad_signature else transcript)
    proof = p2p_pb2.AuthProof(node_key=identity.public_key, signature=signature)
    await frames.send_frame(proof.SerializeToString())
