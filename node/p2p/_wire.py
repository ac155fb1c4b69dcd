"""Frames and frame encryption.

A frame is a 4-byte big-endian length followed by that many bytes. Before the handshake
completes the bytes are a plaintext protobuf message; afterwards they are a
ChaCha20-Poly1305 ciphertext followed by its 16-byte tag, sealed with the sender's
direction key, the 4-byte length header as associated data, and a 12-byte nonce made of
four zero bytes and a 64-bit big-endian counter that starts at 0 and grows by one per
frame. The length is checked against the limit before any of the body is read.

The AEAD is the IETF ChaCha20-Poly1305 of RFC 8439, computed by libsodium through PyNaCl:
byte for byte what pycryptodome's ``ChaCha20_Poly1305`` produces (a test checks this),
and about seven times faster per small frame (3.4 µs against 23 µs to seal 250 bytes),
since pycryptodome builds a cipher object for every nonce.
"""

from __future__ import annotations

import struct
from typing import Final

import nacl.bindings
import nacl.exceptions
import trio

from node.p2p._errors import PeerDisconnected, PeerProtocolError

HEADER: Final = struct.Struct(">I")
TAG_SIZE: Final = 16
KEY_SIZE: Final = 32
_MAX_COUNTER: Final = 2**64 - 1
_READ_CHUNK: Final = 65536


class CipherState:
    """One direction of a session: a key and the counter of the next nonce."""

    __slots__ = ("_counter", "_key")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_SIZE:
            raise ValueError("a ChaCha20-Poly1305 key is 32 bytes")
        self._key = key
        self._counter = 0

    def _next_nonce(self) -> bytes:
        if self._counter >= _MAX_COUNTER:
            raise PeerProtocolError("nonce_exhausted", "the session used every nonce")
        nonce = b"\x00\x00\x00\x00" + self._counter.to_bytes(8, "big")
        self._counter += 1
        return nonce

    def seal(self, header: bytes, plaintext: bytes) -> bytes:
        """Encrypt plaintext for the frame with this header; returns ciphertext || tag."""
        return nacl.bindings.crypto_aead_chacha20poly1305_ietf_encrypt(
            plaintext, header, self._next_nonce(), self._key
        )

    def open(self, header: bytes, sealed: bytes) -> bytes:
        """Decrypt and authenticate one frame body.

        Raises:
            PeerProtocolError: ``decrypt_failed`` when the tag does not verify.
        """
        if len(sealed) < TAG_SIZE:
            raise PeerProtocolError("decrypt_failed", "frame shorter than its tag")
        try:
            return nacl.bindings.crypto_aead_chacha20poly1305_ietf_decrypt(
                sealed, header, self._next_nonce(), self._key
            )
        except nacl.exceptions.CryptoError as e:
            raise PeerProtocolError("decrypt_failed", "authentication tag mismatch") from e


def sealed_size(plaintext_size: int) -> int:
    """The frame body size of a sealed plaintext of this size."""
    return plaintext_size + TAG_SIZE


class FrameStream:
    """Length-prefixed frames over a trio stream, with optional sealing.

    Exactly one task may call ``receive_frame`` and one task ``send_frame`` at a time
    (the per-peer reader and writer). Counts raw bytes both ways.
    """

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self._buffer = bytearray()
        self.send_cipher: CipherState | None = None
        self.recv_cipher: CipherState | None = None
        self.bytes_in = 0
        self.bytes_out = 0

    async def _fill(self, size: int) -> None:
        while len(self._buffer) < size:
            try:
                data = await self.stream.receive_some(max(_READ_CHUNK, size - len(self._buffer)))
            except trio.BrokenResourceError as e:
                raise PeerDisconnected("broken", str(e.__cause__ or e)) from e
            if not data:
                raise PeerDisconnected("eof", "the peer closed the connection")
            self.bytes_in += len(data)
            self._buffer += data

    async def receive_frame(self, max_size: int) -> bytes:
        """Read one frame body (decrypted when a receive cipher is set).

        Raises:
            PeerDisconnected: the stream ended or broke.
            PeerProtocolError: ``oversized_frame`` when the announced length exceeds
                max_size, ``decrypt_failed`` when a sealed frame does not authenticate.
        """
        await self._fill(HEADER.size)
        header = bytes(self._buffer[: HEADER.size])
        (length,) = HEADER.unpack(header)
        if length > max_size:
            raise PeerProtocolError(
                "oversized_frame", f"announced {length} bytes, limit {max_size}"
            )
        await self._fill(HEADER.size + length)
        body = bytes(self._buffer[HEADER.size : HEADER.size + length])
        del self._buffer[: HEADER.size + length]
        if self.recv_cipher is not None:
            return self.recv_cipher.open(header, body)
        return body

    def encode_frame(self, payload: bytes) -> bytes:
        """The wire bytes of one frame (sealed when a send cipher is set)."""
        if self.send_cipher is None:
            return HEADER.pack(len(payload)) + payload
        header = HEADER.pack(sealed_size(len(payload)))
        return header + self.send_cipher.seal(header, payload)

    async def send_frame(self, payload: bytes) -> int:
        """Write one frame; returns the number of bytes put on the wire.

        Raises:
            PeerDisconnected: the stream broke or was closed.
        """
        wire = self.encode_frame(payload)
        await self.send_wire(wire)
        return len(wire)

    async def send_wire(self, wire: bytes) -> None:
        """Write bytes already framed by ``encode_frame`` (one or more frames).

        Raises:
            PeerDisconnected: the stream broke or was closed.
        """
        try:
            await self.stream.send_all(wire)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as e:
            raise PeerDisconnected("broken", str(e.__cause__ or e)) from e
        self.bytes_out += len(wire)
