"""Messages, sign bytes and commit certificates, as plain frozen dataclasses (evidence is in
consensus/_evidence.py).

Sign bytes are built here from fixed fields, never by re-serializing a protobuf message:
``domain tag + 1-byte chain id length + chain id + payload``, the framing of
``node/keys.py:sign_bytes``. A vote's payload is ``type (1 byte) | height (8, big endian) |
round (4) | hash length (1) | block hash``; a proposal's is ``height (8) | round (4) |
pol_round (4, signed) | id length (1) | value id``. So anyone holding the validator set can
check a certificate or an evidence value with nothing else. docs/consensus.md ("Sign
bytes") has them byte by byte.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Final, Protocol

from consensus._errors import (
    BAD_SIGNATURE,
    DUPLICATE_SIGNER,
    INSUFFICIENT_POWER,
    MALFORMED_MESSAGE,
    UNKNOWN_VALIDATOR,
    InvalidCertificate,
)
from consensus._validators import ValidatorSet

VOTE_DOMAIN: Final = b"tenge/vote/v1\x00"
PROPOSAL_DOMAIN: Final = b"tenge/proposal/v1\x00"

MAX_HEIGHT: Final = (1 << 63) - 1
MAX_ROUND: Final = (1 << 31) - 1
MAX_HASH_SIZE: Final = 64
MAX_KEY_SIZE: Final = 64
MAX_SIGNATURE_SIZE: Final = 128

_VOTE_HEAD = struct.Struct(">BQI")
_PROPOSAL_HEAD = struct.Struct(">QIi")


class VoteType(enum.IntEnum):
    """The two vote kinds (values match proto ``tenge.v1.VoteType``)."""

    PREVOTE = 1
    PRECOMMIT = 2


class Step(enum.IntEnum):
    """The engine's step within a round, ordered; also the kind of a timeout."""

    NEW_HEIGHT = 0
    PROPOSE = 1
    PREVOTE = 2
    PRECOMMIT = 3
    COMMIT = 4


class Signer(Protocol):
    """Signs sign bytes with the local validator key."""

    @property
    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


class Verifier(Protocol):
    """Checks a signature; must return False (never raise) for malformed input."""

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool: ...


class ValueCodec(Protocol):
    """What the engine needs to know about the opaque values (serialized blocks)."""

    def value_id(self, value: bytes) -> bytes:
        """The value's identifier (the block hash); must never raise."""
        ...

    def is_valid(self, height: int, value: bytes, now_ms: int) -> bool:
        """valid(v) of Algorithm 1: may this value be decided at height? Never raises.

        now_ms is the time of the event being processed (during a WAL replay, the recorded
        time of the replayed entry), never a clock read: a replay must re-derive exactly
        the verdicts, and so the lock, of the node's previous life.
        """
        ...


def frame_sign_bytes(domain: bytes, chain_id: str, payload: bytes) -> bytes:
    """Domain tag, length-prefixed chain id, payload (the node/keys.py framing)."""
    cid = chain_id.encode()
    if len(cid) > 255:
        raise ValueError("chain id longer than 255 bytes")
    return domain + bytes((len(cid),)) + cid + payload


def vote_sign_bytes(
    chain_id: str, vote_type: VoteType, height: int, round_: int, block_hash: bytes
) -> bytes:
    """The bytes a vote's signature covers."""
    payload = _VOTE_HEAD.pack(vote_type, height, round_) + bytes((len(block_hash),)) + block_hash
    return frame_sign_bytes(VOTE_DOMAIN, chain_id, payload)


def proposal_sign_bytes(
    chain_id: str, height: int, round_: int, pol_round: int, value_id: bytes
) -> bytes:
    """The bytes a proposal's signature covers (the value enters through its id)."""
    payload = _PROPOSAL_HEAD.pack(height, round_, pol_round) + bytes((len(value_id),)) + value_id
    return frame_sign_bytes(PROPOSAL_DOMAIN, chain_id, payload)


def sign_bytes_position(chain_id: str, message: bytes) -> tuple[int, int, Step]:
    """The (height, round, step) of a vote's or a proposal's sign bytes for chain_id.

    A remote signer uses it to sign only what the engine would: message must be exactly
    what ``vote_sign_bytes`` or ``proposal_sign_bytes`` builds for chain_id, with fields in
    range (rebuilt from the parsed fields and compared byte for byte).

    Raises:
        ValueError: message is not a vote's or a proposal's sign bytes for chain_id.
    """
    domain = next(
        (d for d in (VOTE_DOMAIN, PROPOSAL_DOMAIN) if message.startswith(d)),
        b"",
    )
    prefix = frame_sign_bytes(domain, chain_id, b"")
    if not domain or not message.startswith(prefix):
        raise ValueError("not a vote or proposal of this chain")
    head = _VOTE_HEAD if domain == VOTE_DOMAIN else _PROPOSAL_HEAD
    payload = message[len(prefix) :]
    if len(payload) < head.size + 1:
        raise ValueError("sign bytes too short")
    fields = head.unpack_from(payload)
    digest = payload[head.size + 1 :]
    if len(digest) != payload[head.size] or len(digest) > MAX_HASH_SIZE:
        raise ValueError("bad hash length")
    if domain == VOTE_DOMAIN:
        kind, height, round_ = fields
        if kind not in (VoteType.PREVOTE, VoteType.PRECOMMIT):
            raise ValueError("unknown vote type")
        step = Step.PREVOTE if kind == VoteType.PREVOTE else Step.PRECOMMIT
        rebuilt = vote_sign_bytes(chain_id, VoteType(kind), height, round_, digest)
    else:
        height, round_, pol_round = fields
        if not -1 <= pol_round < round_:
            raise ValueError("pol_round out of range")
        step = Step.PROPOSE
        rebuilt = proposal_sign_bytes(chain_id, height, round_, pol_round, digest)
    if not 1 <= height <= MAX_HEIGHT or not 0 <= round_ <= MAX_ROUND:
        raise ValueError("height or round out of range")
    if rebuilt != message:
        raise ValueError("not in canonical form")
    return height, round_, step


@dataclass(frozen=True, slots=True)
class Vote:
    """A signed prevote or precommit; an empty block_hash is a vote for nil."""

    type: VoteType
    height: int
    round: int
    block_hash: bytes
    validator: bytes
    signature: bytes

    def sign_bytes(self, chain_id: str) -> bytes:
        """The bytes this vote's signature covers."""
        return vote_sign_bytes(chain_id, self.type, self.height, self.round, self.block_hash)

    def shape_error(self) -> str | None:
        """Why this vote is malformed (field types and ranges), or None."""
        if not isinstance(self.type, VoteType):
            return "unknown vote type"
        return _shape_error(
            self.height, self.round, self.block_hash, self.validator, self.signature
        )


@dataclass(frozen=True, slots=True)
class Proposal:
    """A signed proposal of value for (height, round); pol_round is validRound (-1: none)."""

    height: int
    round: int
    value: bytes
    pol_round: int
    proposer: bytes
    signature: bytes

    def sign_bytes(self, chain_id: str, value_id: bytes) -> bytes:
        """The bytes this proposal's signature covers, given its value's id."""
        return proposal_sign_bytes(chain_id, self.height, self.round, self.pol_round, value_id)

    def shape_error(self) -> str | None:
        """Why this proposal is malformed, or None."""
        if not isinstance(self.value, bytes):
            return "value is not bytes"
        if not isinstance(self.pol_round, int) or not -1 <= self.pol_round < self.round:
            return "pol_round must be -1 or a round before the proposal's round"
        return _shape_error(self.height, self.round, b"", self.proposer, self.signature)


def _shape_error(
    height: object, round_: object, block_hash: object, key: object, signature: object
) -> str | None:
    if not isinstance(height, int) or not 1 <= height <= MAX_HEIGHT:
        return "height out of range"
    if not isinstance(round_, int) or not 0 <= round_ <= MAX_ROUND:
        return "round out of range"
    if not isinstance(block_hash, bytes) or len(block_hash) > MAX_HASH_SIZE:
        return "block hash too long"
    if not isinstance(key, bytes) or not 0 < len(key) <= MAX_KEY_SIZE:
        return "bad validator key size"
    if not isinstance(signature, bytes) or not 0 < len(signature) <= MAX_SIGNATURE_SIZE:
        return "bad signature size"
    return None


@dataclass(frozen=True, slots=True)
class CommitSig:
    """One validator's precommit signature inside a certificate."""

    validator: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class CommitCertificate:
    """+2/3 of the voting power precommitted block_hash at (height, round)."""

    height: int
    round: int
    block_hash: bytes
    signatures: tuple[CommitSig, ...]

    def verify(self, validator_set: ValidatorSet, chain_id: str, verifier: Verifier) -> None:
        """Check that the certificate proves a commit under validator_set.

        Raises:
            InvalidCertificate: malformed fields, an unknown or repeated signer, a bad
                signature, or signers holding 2/3 of the power or less.
        """
        if not self.block_hash:
            raise InvalidCertificate(MALFORMED_MESSAGE, "a certificate cannot be for nil")
        error = _shape_error(self.height, self.round, self.block_hash, b"k", b"s")
        if error is not None:
            raise InvalidCertificate(MALFORMED_MESSAGE, error)
        message = vote_sign_bytes(
            chain_id, VoteType.PRECOMMIT, self.height, self.round, self.block_hash
        )
        seen: set[bytes] = set()
        power = 0
        for sig in self.signatures:
            if sig.validator in seen:
                raise InvalidCertificate(DUPLICATE_SIGNER, f"{sig.validator.hex()} twice")
            seen.add(sig.validator)
            weight = validator_set.power(sig.validator)
            if weight == 0:
                raise InvalidCertificate(UNKNOWN_VALIDATOR, f"{sig.validator.hex()}")
            if not verifier.verify(sig.validator, message, sig.signature):
                raise InvalidCertificate(BAD_SIGNATURE, f"from {sig.validator.hex()}")
            power += weight
        if power < validator_set.quorum:
            raise InvalidCertificate(
                INSUFFICIENT_POWER, f"power {power} of {validator_set.total_power}"
            )
