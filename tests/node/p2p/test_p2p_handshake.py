"""The handshake between two in-memory endpoints: success, and every refusal reason."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio
import trio.testing
from p2p_support import CHAIN_ID, fake_peer, key

from node.keys import KeyPair
from node.p2p import HandshakeError, PeerDisconnected
from node.p2p._handshake import (
    Session,
    encode_hello,
    perform_handshake,
)
from node.p2p._wire import FrameStream
from proto import p2p_pb2

ALICE, BOB, MALLORY = key(1), key(2), key(3)


def allow(*keys: KeyPair) -> Callable[[bytes], bool]:
    allowed = {k.public_key for k in keys}
    return allowed.__contains__


async def run_pair(
    a_kwargs: dict[str, object], b_kwargs: dict[str, object]
) -> tuple[Session | Exception, Session | Exception, FrameStream, FrameStream]:
    """Run both sides; a side that fails closes its stream, as the manager does."""
    left, right = trio.testing.memory_stream_pair()
    frames = (FrameStream(left), FrameStream(right))
    results: list[Session | Exception] = [RuntimeError("not run"), RuntimeError("not run")]

    async def side(i: int, kwargs: dict[str, object]) -> None:
        try:
            results[i] = await perform_handshake(frames[i], **kwargs)  # type: ignore[arg-type]
        except (HandshakeError, PeerDisconnected) as e:
            results[i] = e
            await frames[i].stream.aclose()

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(side, 0, a_kwargs)
            nursery.start_soon(side, 1, b_kwargs)
    return results[0], results[1], frames[0], frames[1]


def side_args(identity: KeyPair, **extra: object) -> dict[str, object]:
    args: dict[str, object] = {
        "identity": identity,
        "chain_id": CHAIN_ID,
        "is_allowed": allow(ALICE, BOB),
    }
    args.update(extra)
    return args


async def test_handshake_authenticates_both_and_keys_match() -> None:
    a, b, fa, fb = await run_pair(side_args(ALICE, expected_key=BOB.public_key), side_args(BOB))
    assert isinstance(a, Session)
    assert isinstance(b, Session)
    assert a.peer_key == BOB.public_key
    assert b.peer_key == ALICE.public_key
    with trio.fail_after(5):
        await fa.send_frame(b"alice to bob")
        assert await fb.receive_frame(1000) == b"alice to bob"
        await fb.send_frame(b"bob to alice")
        assert await fa.receive_frame(1000) == b"bob to alice"


def reason(result: object) -> str:
    assert isinstance(result, HandshakeError), result
    return result.reason


async def test_unknown_key_is_refused() -> None:
    a, m, _, _ = await run_pair(side_args(ALICE), side_args(MALLORY))
    assert reason(a) == "unknown_key"
    assert reason(m) == "refused"  # and the stranger is told so
    assert "unknown_key" in str(m)


async def test_dialled_peer_with_another_key_is_refused() -> None:
    a, m, _, _ = await run_pair(
        side_args(ALICE, expected_key=BOB.public_key, is_allowed=allow(BOB, MALLORY)),
        side_args(MALLORY, is_allowed=allow(ALICE)),
    )
    assert reason(a) == "unexpected_key"
    assert reason(m) == "refused"


async def test_chain_id_mismatch_is_refused_by_both() -> None:
    a, b, _, _ = await run_pair(side_args(ALICE), side_args(BOB, chain_id="other-chain"))
    # Neither got far enough to send a sealed refusal: both decided from the Hello.
    assert reason(a) == "chain_id_mismatch"
    assert reason(b) == "chain_id_mismatch"


async def test_connecting_to_oneself_is_refused() -> None:
    a, b, _, _ = await run_pair(side_args(ALICE), side_args(ALICE))
    assert reason(a) == "self"
    assert reason(b) == "self"


async def refusal_by_alice(**fake: object) -> HandshakeError:
    left, right = trio.testing.memory_stream_pair()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: fake_peer(right, BOB, **fake))  # type: ignore[arg-type]
            with pytest.raises(HandshakeError) as err:
                await perform_handshake(FrameStream(left), **side_args(ALICE))  # type: ignore[arg-type]
    return err.value


async def test_bad_proof_is_refused() -> None:
    assert (await refusal_by_alice(bad_signature=True)).reason == "bad_proof"


async def test_proof_over_the_wrong_message_is_refused() -> None:
    # Signed the bare transcript, without the domain tag, chain id and ephemeral key.
    assert (await refusal_by_alice()).reason == "bad_proof"


async def test_low_order_ephemeral_key_is_refused() -> None:
    left, right = trio.testing.memory_stream_pair()
    with trio.fail_after(5):
        await FrameStream(right).send_frame(encode_hello(CHAIN_ID, bytes(32), BOB.public_key))
        with pytest.raises(HandshakeError) as err:
            await perform_handshake(FrameStream(left), **side_args(ALICE))  # type: ignore[arg-type]
    assert err.value.reason == "malformed"


@pytest.mark.parametrize(
    ("hello", "expected"),
    [
        (b"\xff\xff", "malformed"),
        (
            p2p_pb2.Hello(protocol_version=9, chain_id=CHAIN_ID).SerializeToString(),
            "version_mismatch",
        ),
        (p2p_pb2.Hello(protocol_version=1, chain_id=CHAIN_ID).SerializeToString(), "malformed"),
    ],
)
async def test_bad_hello_is_refused(hello: bytes, expected: str) -> None:
    left, right = trio.testing.memory_stream_pair()
    with trio.fail_after(5):
        await FrameStream(right).send_frame(hello)
        with pytest.raises(HandshakeError) as err:
            await perform_handshake(FrameStream(left), **side_args(ALICE))  # type: ignore[arg-type]
    assert err.value.reason == expected
