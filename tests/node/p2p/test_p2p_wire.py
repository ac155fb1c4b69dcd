"""Frames, frame sealing, Envelope decoding, the duplicate rule and config checks."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from Crypto.Cipher import ChaCha20_Poly1305
from hypothesis import given
from hypothesis import strategies as st

from node.errors import ConfigError
from node.p2p import (
    P2PConfig,
    PeerAddress,
    PeerDisconnected,
    PeerProtocolError,
    decode_envelope,
    keep_new_connection,
)
from node.p2p._wire import HEADER, CipherState, FrameStream
from proto import p2p_pb2

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))


def test_sealed_frames_open_in_order_and_reject_tampering() -> None:
    sender, receiver = CipherState(KEY_A), CipherState(KEY_A)
    header = HEADER.pack(21)
    first = sender.seal(header, b"first")
    second = sender.seal(header, b"second")
    assert b"first" not in first
    assert first[:5] != second[:5]
    assert receiver.open(header, first) == b"first"
    with pytest.raises(PeerProtocolError) as replay:
        receiver.open(header, first)  # nonce 1 expected: a replayed frame fails
    assert replay.value.reason == "decrypt_failed"


def test_sealing_is_rfc8439_chacha20_poly1305_with_a_counter_nonce() -> None:
    state = CipherState(KEY_A)
    header = HEADER.pack(4 + 16)
    state.seal(header, b"zero")
    sealed = state.seal(header, b"one!")
    nonce = bytes(4) + (1).to_bytes(8, "big")
    reference = ChaCha20_Poly1305.new(key=KEY_A, nonce=nonce)
    reference.update(header)
    ciphertext, tag = reference.encrypt_and_digest(b"one!")
    assert sealed == ciphertext + tag


@pytest.mark.parametrize("flip", [0, 3, -1])
def test_a_flipped_bit_fails_authentication(flip: int) -> None:
    header = HEADER.pack(20)
    sealed = bytearray(CipherState(KEY_A).seal(header, b"abcd"))
    sealed[flip] ^= 1
    with pytest.raises(PeerProtocolError) as err:
        CipherState(KEY_A).open(header, bytes(sealed))
    assert err.value.reason == "decrypt_failed"


def test_wrong_key_or_header_fails_authentication() -> None:
    header = HEADER.pack(20)
    sealed = CipherState(KEY_A).seal(header, b"abcd")
    with pytest.raises(PeerProtocolError):
        CipherState(KEY_B).open(header, sealed)
    with pytest.raises(PeerProtocolError):
        CipherState(KEY_A).open(HEADER.pack(21), sealed)
    with pytest.raises(PeerProtocolError):
        CipherState(KEY_A).open(header, b"short")


async def test_frames_round_trip_plain_then_sealed() -> None:
    with trio.fail_after(5):
        left, right = trio.testing.memory_stream_pair()
        a, b = FrameStream(left), FrameStream(right)
        await a.send_frame(b"hello")
        assert await b.receive_frame(100) == b"hello"
        a.send_cipher, b.recv_cipher = CipherState(KEY_A), CipherState(KEY_A)
        wire = await a.send_frame(b"secret" * 10)
        assert wire == HEADER.size + 60 + 16
        assert await b.receive_frame(100) == b"secret" * 10
        assert a.bytes_out == b.bytes_in == 4 + 5 + wire


async def test_oversized_frame_is_refused_from_its_header() -> None:
    with trio.fail_after(5):
        left, right = trio.testing.memory_stream_pair()
        await left.send_all(HEADER.pack(1001))  # no body follows: it must not wait for one
        with pytest.raises(PeerProtocolError) as err:
            await FrameStream(right).receive_frame(1000)
        assert err.value.reason == "oversized_frame"


@pytest.mark.parametrize("sent", [b"", b"\x00\x00", b"\x00\x00\x00\x09abc"])
async def test_end_of_stream_mid_frame_is_a_disconnect(sent: bytes) -> None:
    with trio.fail_after(5):
        left, right = trio.testing.memory_stream_pair()
        await left.send_all(sent)
        await left.aclose()
        with pytest.raises(PeerDisconnected) as err:
            await FrameStream(right).receive_frame(1000)
        assert err.value.reason == "eof"


def test_decode_envelope_names_the_kind() -> None:
    env = p2p_pb2.Envelope(block_request=p2p_pb2.BlockRequest(height=7))
    decoded, kind = decode_envelope(env.SerializeToString())
    assert kind == "block_request"
    assert decoded.block_request.height == 7


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "unknown_kind"),
        (b"\xff\xff\xff", "undecodable"),
        (b"\x0a\x05abc", "undecodable"),  # truncated length-delimited field
        (b"\x98\x06\x01", "unknown_kind"),  # field 99: unknown to this version
    ],
)
def test_decode_envelope_refuses_bad_input(raw: bytes, reason: str) -> None:
    with pytest.raises(PeerProtocolError) as err:
        decode_envelope(raw)
    assert err.value.reason == reason


@given(st.binary(max_size=256))
def test_decode_envelope_never_raises_anything_else(raw: bytes) -> None:
    reason = None
    try:
        _, kind = decode_envelope(raw)
    except PeerProtocolError as e:
        reason = e.reason
    if reason is None:
        assert kind in p2p_pb2.Envelope.DESCRIPTOR.oneofs_by_name["kind"].fields_by_name
    else:
        assert reason in {"undecodable", "unknown_kind"}


@pytest.mark.parametrize(
    ("a_existing", "a_new"), [("outbound", "inbound"), ("inbound", "outbound")]
)
def test_both_sides_keep_the_same_of_two_connections(a_existing: str, a_new: str) -> None:
    low, high = sorted([KEY_A, KEY_B])
    flip = {"inbound": "outbound", "outbound": "inbound"}
    # The connection A holds as a_existing is, seen from B, the other direction.
    for a, b in ((low, high), (high, low)):
        a_keeps_new = keep_new_connection(a, b, a_existing, a_new)  # type: ignore[arg-type]
        b_keeps_new = keep_new_connection(b, a, flip[a_new], flip[a_existing])  # type: ignore[arg-type]
        a_kept = a_new if a_keeps_new else a_existing
        b_kept = flip[a_existing] if b_keeps_new else flip[a_new]
        assert flip[a_kept] == b_kept
        assert (a_kept == "outbound") == (a < b)  # dialled by the lower key


def test_same_direction_duplicate_keeps_the_newer() -> None:
    assert keep_new_connection(KEY_A, KEY_B, "inbound", "inbound")
    assert keep_new_connection(KEY_B, KEY_A, "outbound", "outbound")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"chain_id": ""}, "chain_id"),
        ({"listen_port": 70000}, "listen_port"),
        ({"allow_list": frozenset({b"short"})}, "allow_list"),
        ({"peers": (PeerAddress("h", 1, b"x"),)}, "peers"),
        ({"peers": (PeerAddress("h", 0, KEY_A),)}, "peers"),
        ({"max_frame_size": 10}, "max_frame_size"),
        ({"send_queue_frames": 0}, "send_queue_frames"),
        ({"send_queue_bytes": 1024, "max_frame_size": 4096}, "send_queue_bytes"),
        ({"handshake_timeout": 0}, "handshake_timeout"),
        ({"idle_timeout": 1.0, "ping_interval": 2.0}, "idle_timeout"),
        ({"backoff_max": 0.1, "backoff_initial": 1.0}, "backoff_max"),
    ],
)
def test_config_errors_name_the_field(changes: dict[str, object], field: str) -> None:
    config = P2PConfig(**{"chain_id": "c", **changes})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=f"p2p.{field}"):
        config.validate()


def test_default_config_is_valid() -> None:
    P2PConfig(chain_id="tenge-main").validate()
