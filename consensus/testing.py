"""Fast fake keys and a fake block codec for simulations, tests and benchmarks.

Fake signatures are keyed BLAKE2b digests: anyone holding the public key could forge them,
which is fine for a simulator in which Byzantine nodes only ever sign with their own keys.
Never use these in a node.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Final

FAKE_SIGNATURE_SIZE: Final = 32
_BLOCK_MAGIC: Final = b"blk1"
_BLOCK_HEAD = struct.Struct(">4sQ")
_TIMED_MAGIC: Final = b"blkT"
_TIMED_HEAD = struct.Struct(">4sQq")


@dataclass(frozen=True, slots=True)
class FakeSigner:
    """A validator key whose signature is BLAKE2b(message, key=public_key)."""

    public_key: bytes

    @classmethod
    def numbered(cls, index: int) -> FakeSigner:
        """The index-th fake validator key (32 bytes, deterministic)."""
        return cls(hashlib.sha256(b"fake-validator-%d" % index).digest())

    def sign(self, message: bytes) -> bytes:
        """The fake signature of message."""
        return hashlib.blake2b(
            message, key=self.public_key, digest_size=FAKE_SIGNATURE_SIZE
        ).digest()


class FakeVerifier:
    """Checks FakeSigner signatures; counts calls."""

    def __init__(self) -> None:
        self.calls = 0

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        """True when signature is public_key's fake signature of message."""
        self.calls += 1
        if not 0 < len(public_key) <= 64:
            return False
        expected = hashlib.blake2b(
            message, key=public_key, digest_size=FAKE_SIGNATURE_SIZE
        ).digest()
        return signature == expected


class FakeCodec:
    """Values are ``b"blk1" | height (8 bytes) | payload``; the id is their SHA-256.

    A value is valid at height h when it carries the magic and h, whatever the time.
    """

    def value_id(self, value: bytes) -> bytes:
        """SHA-256 of the value."""
        return hashlib.sha256(value).digest()

    def is_valid(self, height: int, value: bytes, now_ms: int = 0) -> bool:
        """Whether value is a fake block for height (now_ms is ignored)."""
        if len(value) < _BLOCK_HEAD.size:
            return False
        magic, value_height = _BLOCK_HEAD.unpack_from(value)
        return bool(magic == _BLOCK_MAGIC and value_height == height)


def fake_block(height: int, payload: bytes = b"") -> bytes:
    """A fake block that FakeCodec considers valid at height."""
    return _BLOCK_HEAD.pack(_BLOCK_MAGIC, height) + payload


class TimestampedFakeCodec:
    """A FakeCodec whose values carry a time: for clock-skew tests.

    Values are ``b"blkT" | height (8 bytes) | time_ms (8, signed) | payload``
    (``timestamped_fake_block``); the id is their SHA-256. A value is valid at height h and
    time now_ms when it carries the magic and h, and time_ms <= now_ms + max_drift_ms, the
    rule a real block's time obeys (node/blocks.py). So a node whose clock runs behind
    judges a fresh value invalid, as a real node would.

    Args:
        max_drift_ms: how far ahead of now a value's time may be.
    """

    def __init__(self, max_drift_ms: int = 1_000) -> None:
        self.max_drift_ms = max_drift_ms

    def value_id(self, value: bytes) -> bytes:
        """SHA-256 of the value."""
        return hashlib.sha256(value).digest()

    def is_valid(self, height: int, value: bytes, now_ms: int) -> bool:
        """Whether value is a timestamped fake block for height, not too far in the future."""
        if len(value) < _TIMED_HEAD.size:
            return False
        magic, value_height, time_ms = _TIMED_HEAD.unpack_from(value)
        return bool(
            magic == _TIMED_MAGIC
            and value_height == height
            and time_ms <= now_ms + self.max_drift_ms
        )


def timestamped_fake_block(height: int, time_ms: int, payload: bytes = b"") -> bytes:
    """A value for TimestampedFakeCodec, stamped time_ms."""
    return _TIMED_HEAD.pack(_TIMED_MAGIC, height, time_ms) + payload
