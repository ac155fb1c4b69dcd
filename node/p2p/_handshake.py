"""The authenticated key exchange that opens every connection (DESIGN.md §6).

Both sides run the same steps; there is no initiator or responder role:

1. Send ``Hello{protocol_version, chain_id, ephemeral_key, node_key}`` in plaintext,
   read the peer's. A different version or chain id, or a malformed key, ends the
   handshake. The claimed node key is checked at once (not ours, the one we dialled, on
   the allow-list) so a stranger costs no X25519, HKDF or signature work; the Hello
   bytes are in the transcript, so the proof of step 5 covers the claimed key.
2. ``shared = X25519(own ephemeral secret, peer ephemeral key)``; an all-zero result
   (a low-order point) ends the handshake.
3. Order the two Hello frames by their ephemeral keys (lower first) and hash them:
   ``transcript = SHA-256(TRANSCRIPT_TAG || len || hello_low || len || hello_high)``,
   using the exact bytes that crossed the wire.
4. ``HKDF-SHA256(shared, salt=transcript, info=KEY_INFO)`` gives two 32-byte keys; the
   side with the lower ephemeral key sends with the first and receives with the second.
5. Send ``AuthProof{node_key, signature}`` sealed with the new key, where the signature
   covers ``sign_bytes(HANDSHAKE_DOMAIN, chain_id, transcript || own ephemeral key)``:
   binding the sender's own ephemeral key stops a reflected proof.
6. Read the peer's proof: its key must be the one claimed in its Hello (so also not ours,
   the one we dialled, allow-listed), and its signature must verify.
7. Send a sealed ``AuthResult``: accepted, or refused with the reason code (then close).
   Read the peer's; the connection is live only when both accepted. So the refused side
   learns it was refused and backs off, instead of redialling a door that stays shut.

The caller bounds the whole exchange with a timeout.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from Crypto.Hash import SHA256
from Crypto.Protocol.DH import import_x25519_public_key, key_agreement
from Crypto.Protocol.KDF import HKDF
from Crypto.PublicKey import ECC
from google.protobuf.message import DecodeError

from node.keys import PUBLIC_KEY_SIZE, KeyPair, sign_bytes, verify
from node.p2p._errors import HandshakeError, PeerDisconnected, PeerProtocolError
from node.p2p._wire import HEADER, CipherState, FrameStream
from proto import p2p_pb2

PROTOCOL_VERSION: Final = 1
HANDSHAKE_DOMAIN: Final = b"tenge/p2p/handshake/v1\x00"
TRANSCRIPT_TAG: Final = b"tenge/p2p/transcript/v1\x00"
KEY_INFO: Final = b"tenge/p2p/session-keys/v1"
HANDSHAKE_MAX_FRAME: Final = 1024
X25519_KEY_SIZE: Final = 32


@dataclass(frozen=True, slots=True)
class Session:
    """The outcome of a handshake: who the peer is (its verified node key)."""

    peer_key: bytes


class EphemeralKey:
    """A fresh X25519 key pair for one connection."""

    __slots__ = ("_private", "public")

    def __init__(self) -> None:
        self._private = ECC.generate(curve="Curve25519")
        self.public: bytes = self._private.public_key().export_key(format="raw")

    def agree(self, peer_public: bytes) -> bytes:
        """The X25519 shared secret with peer_public.

        Raises:
            HandshakeError: ``malformed`` for a key that is not a usable curve point.
        """
        if len(peer_public) != X25519_KEY_SIZE:
            raise HandshakeError("malformed", "ephemeral key is not 32 bytes")
        try:
            peer = import_x25519_public_key(peer_public)
            shared = bytes(key_agreement(eph_priv=self._private, eph_pub=peer, kdf=bytes))
        except ValueError as e:
            raise HandshakeError("malformed", "ephemeral key is not a valid point") from e
        if not any(shared):
            raise HandshakeError("malformed", "ephemeral key is a low-order point")
        return shared


def encode_hello(chain_id: str, ephemeral_public: bytes, node_key: bytes) -> bytes:
    """The plaintext Hello frame body this node sends, claiming node_key."""
    hello = p2p_pb2.Hello(
        protocol_version=PROTOCOL_VERSION,
        chain_id=chain_id,
        ephemeral_key=ephemeral_public,
        node_key=node_key,
    )
    return hello.SerializeToString()


def decode_hello(raw: bytes, chain_id: str) -> p2p_pb2.Hello:
    """Parse and check the peer's Hello.

    Raises:
        HandshakeError: ``malformed``, ``version_mismatch`` or ``chain_id_mismatch``.
    """
    hello = p2p_pb2.Hello()
    try:
        hello.ParseFromString(raw)
    except DecodeError as e:
        raise HandshakeError("malformed", "Hello does not decode") from e
    if hello.protocol_version != PROTOCOL_VERSION:
        raise HandshakeError("version_mismatch", f"peer speaks version {hello.protocol_version}")
    if hello.chain_id != chain_id:
        raise HandshakeError("chain_id_mismatch", f"peer is on chain {hello.chain_id!r}")
    if len(hello.ephemeral_key) != X25519_KEY_SIZE:
        raise HandshakeError("malformed", "ephemeral key is not 32 bytes")
    if len(hello.node_key) != PUBLIC_KEY_SIZE:
        raise HandshakeError("malformed", "claimed node key is not 32 bytes")
    return hello


def check_claimed_key(
    key: bytes,
    *,
    own_key: bytes,
    expected_key: bytes | None,
    is_allowed: Callable[[bytes], bool],
) -> None:
    """Check the node key a peer claims (in its Hello or its proof); cheap, no crypto.

    Raises:
        HandshakeError: ``malformed``, ``self``, ``unexpected_key`` or ``unknown_key``.
    """
    if len(key) != PUBLIC_KEY_SIZE:
        raise HandshakeError("malformed", "node key is not 32 bytes")
    if key == own_key:
        raise HandshakeError("self", "the peer presented this node's own key")
    if expected_key is not None and key != expected_key:
        raise HandshakeError("unexpected_key", f"dialled {expected_key.hex()}, met {key.hex()}")
    if not is_allowed(key):
        raise HandshakeError("unknown_key", f"node key {key.hex()} is not allow-listed")


def transcript_hash(own_eph: bytes, own_hello: bytes, peer_eph: bytes, peer_hello: bytes) -> bytes:
    """Hash of both Hello frames in canonical order (lower ephemeral key first)."""
    ordered = sorted([(own_eph, own_hello), (peer_eph, peer_hello)])
    digest = hashlib.sha256(TRANSCRIPT_TAG)
    for _, raw in ordered:
        digest.update(len(raw).to_bytes(4, "big"))
        digest.update(raw)
    return digest.digest()


def derive_keys(
    shared: bytes, transcript: bytes, own_eph: bytes, peer_eph: bytes
) -> tuple[bytes, bytes]:
    """The (send, receive) keys of this side of the session."""
    keys = HKDF(shared, 32, transcript, SHA256, num_keys=2, context=KEY_INFO)
    low_to_high, high_to_low = bytes(keys[0]), bytes(keys[1])
    if own_eph < peer_eph:
        return low_to_high, high_to_low
    return high_to_low, low_to_high


def proof_message(chain_id: str, transcript: bytes, signer_eph: bytes) -> bytes:
    """The bytes a node signs to prove its node key in this handshake."""
    return sign_bytes(HANDSHAKE_DOMAIN, chain_id, transcript + signer_eph)


def encode_proof(identity: KeyPair, chain_id: str, transcript: bytes, own_eph: bytes) -> bytes:
    """The AuthProof frame body (before sealing)."""
    signature = identity.sign(proof_message(chain_id, transcript, own_eph))
    return p2p_pb2.AuthProof(node_key=identity.public_key, signature=signature).SerializeToString()


def check_proof(
    raw: bytes,
    *,
    own_key: bytes,
    chain_id: str,
    transcript: bytes,
    peer_eph: bytes,
    expected_key: bytes | None,
    is_allowed: Callable[[bytes], bool],
    claimed_key: bytes | None = None,
) -> bytes:
    """Parse and verify the peer's AuthProof; returns the peer's node key.

    Args:
        claimed_key: the key of the peer's Hello; the proof must be for that key.

    Raises:
        HandshakeError: ``malformed``, ``self``, ``unexpected_key``, ``unknown_key``,
            ``claim_mismatch`` or ``bad_proof``.
    """
    proof = p2p_pb2.AuthProof()
    try:
        proof.ParseFromString(raw)
    except DecodeError as e:
        raise HandshakeError("malformed", "AuthProof does not decode") from e
    key = proof.node_key
    check_claimed_key(key, own_key=own_key, expected_key=expected_key, is_allowed=is_allowed)
    if claimed_key is not None and key != claimed_key:
        raise HandshakeError("claim_mismatch", "the proof is for another key than the Hello's")
    if not verify(key, proof_message(chain_id, transcript, peer_eph), proof.signature):
        raise HandshakeError("bad_proof", f"node key {key.hex()}: signature does not verify")
    return key


async def perform_handshake(
    frames: FrameStream,
    *,
    identity: KeyPair,
    chain_id: str,
    is_allowed: Callable[[bytes], bool],
    expected_key: bytes | None = None,
    on_claimed_key: Callable[[bytes], None] | None = None,
) -> Session:
    """Run the handshake on frames and install the session ciphers on it.

    Args:
        frames: a fresh connection's frame stream.
        identity: this node's key.
        chain_id: the chain both sides must be on.
        is_allowed: the allow-list check for the peer's node key.
        expected_key: when dialling, the node key the peer must present.
        on_claimed_key: called with the peer's claimed key once it passed the cheap
            checks, before any cryptography (the manager moves the connection to its
            pool of listed peers); it may raise HandshakeError to refuse.

    Returns:
        The session; frames now seals and opens every later frame.

    Raises:
        HandshakeError: the peer was refused (the reason says why).
        PeerDisconnected: the connection ended during the handshake.
        PeerProtocolError: a frame was oversized or did not decrypt.
    """
    eph = EphemeralKey()
    own_hello = encode_hello(chain_id, eph.public, identity.public_key)
    await frames.send_frame(own_hello)
    peer_hello_raw = await frames.receive_frame(HANDSHAKE_MAX_FRAME)
    peer_hello = decode_hello(peer_hello_raw, chain_id)
    claimed_key = peer_hello.node_key
    try:
        check_claimed_key(
            claimed_key,
            own_key=identity.public_key,
            expected_key=expected_key,
            is_allowed=is_allowed,
        )
    except HandshakeError as refusal:
        # No session keys yet: the refusal goes in plaintext, so the dialler backs off.
        await _send_refusal(frames, refusal)
        raise
    if on_claimed_key is not None:
        on_claimed_key(claimed_key)
    peer_eph = peer_hello.ephemeral_key
    if peer_eph == eph.public:
        raise HandshakeError("self", "the peer echoed this node's ephemeral key")
    shared = eph.agree(peer_eph)
    transcript = transcript_hash(eph.public, own_hello, peer_eph, peer_hello_raw)
    send_key, recv_key = derive_keys(shared, transcript, eph.public, peer_eph)
    frames.send_cipher = CipherState(send_key)
    recv_cipher = CipherState(recv_key)
    await frames.send_frame(encode_proof(identity, chain_id, transcript, eph.public))
    sealed = await frames.receive_frame(HANDSHAKE_MAX_FRAME)
    try:
        peer_proof = recv_cipher.open(HEADER.pack(len(sealed)), sealed)
    except PeerProtocolError:
        _raise_if_plain_refusal(sealed)
        raise
    frames.recv_cipher = recv_cipher
    try:
        peer_key = check_proof(
            peer_proof,
            own_key=identity.public_key,
            chain_id=chain_id,
            transcript=transcript,
            peer_eph=peer_eph,
            expected_key=expected_key,
            is_allowed=is_allowed,
            claimed_key=claimed_key,
        )
    except HandshakeError as refusal:
        await _send_refusal(frames, refusal)
        raise
    await frames.send_frame(p2p_pb2.AuthResult(accepted=True).SerializeToString())
    check_result(await frames.receive_frame(HANDSHAKE_MAX_FRAME))
    return Session(peer_key=peer_key)


async def _send_refusal(frames: FrameStream, refusal: HandshakeError) -> None:
    refused = p2p_pb2.AuthResult(accepted=False, reason=refusal.reason)
    with contextlib.suppress(PeerDisconnected):
        await frames.send_frame(refused.SerializeToString())


def _raise_if_plain_refusal(raw: bytes) -> None:
    """A frame that did not decrypt may be the plaintext refusal of a listener that
    refused our Hello before any key exchange; raise ``refused`` for it."""
    result = p2p_pb2.AuthResult()
    try:
        result.ParseFromString(raw)
    except DecodeError:
        return
    if not result.accepted and result.reason:
        raise HandshakeError("refused", f"the peer refused this node: {result.reason[:64]!r}")


def check_result(raw: bytes) -> None:
    """Parse the peer's AuthResult.

    Raises:
        HandshakeError: ``malformed``, or ``refused`` when the peer refused this node.
    """
    result = p2p_pb2.AuthResult()
    try:
        result.ParseFromString(raw)
    except DecodeError as e:
        raise HandshakeError("malformed", "AuthResult does not decode") from e
    if not result.accepted:
        raise HandshakeError("refused", f"the peer refused this node: {result.reason[:64]!r}")
