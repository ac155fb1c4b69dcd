"""A signer that cannot sign (SignerUnavailable) and the sign-bytes position a remote signer
checks before it signs."""

from __future__ import annotations

import contextlib

import pytest
from engine_fixtures import CHAIN, make_engine, not_proposer
from hypothesis import given
from hypothesis import strategies as st

from consensus import (
    SIGNER_UNAVAILABLE,
    Broadcast,
    PersistLastSigned,
    SignerUnavailable,
    SignRefused,
    Started,
    Step,
    TimeoutFired,
    VoteType,
    proposal_sign_bytes,
    sign_bytes_position,
    vote_sign_bytes,
)
from consensus.testing import FakeSigner


class SwitchSigner:
    """A FakeSigner that raises SignerUnavailable while down is set."""

    def __init__(self, signer: FakeSigner) -> None:
        self._signer = signer
        self.public_key = signer.public_key
        self.down = True

    def sign(self, message: bytes) -> bytes:
        if self.down:
            raise SignerUnavailable("no connection to the signer")
        return self._signer.sign(message)


def test_an_unavailable_signer_is_a_refusal_not_a_crash_and_the_engine_signs_later() -> None:
    signer = SwitchSigner(not_proposer(1, 0))
    engine = make_engine(signer)  # type: ignore[arg-type]
    out = engine.handle(Started(1_000))
    out += engine.handle(TimeoutFired(Step.PROPOSE, 1, 0, 1_100))
    refused = [o for o in out if isinstance(o, SignRefused)]
    assert [(o.height, o.round, o.step) for o in refused] == [(1, 0, Step.PREVOTE)]
    assert refused[0].reason.startswith(SIGNER_UNAVAILABLE)
    assert not [o for o in out if isinstance(o, Broadcast | PersistLastSigned)]
    assert engine.last_signed is None, "nothing was signed, so nothing is recorded"
    # Back up: the next step's vote is signed and persisted.
    signer.down = False
    out = engine.handle(TimeoutFired(Step.PREVOTE, 1, 0, 1_200))
    out = [o for o in out if isinstance(o, PersistLastSigned | Broadcast)]
    assert out, "the engine did not sign once its signer was back"


def test_positions_of_the_engines_own_sign_bytes() -> None:
    block_hash = b"\x07" * 32
    assert sign_bytes_position(
        CHAIN, vote_sign_bytes(CHAIN, VoteType.PREVOTE, 5, 2, block_hash)
    ) == (5, 2, Step.PREVOTE)
    assert sign_bytes_position(CHAIN, vote_sign_bytes(CHAIN, VoteType.PRECOMMIT, 5, 2, b"")) == (
        5,
        2,
        Step.PRECOMMIT,
    )
    assert sign_bytes_position(CHAIN, proposal_sign_bytes(CHAIN, 9, 3, 1, block_hash)) == (
        9,
        3,
        Step.PROPOSE,
    )


@pytest.mark.parametrize(
    ("message", "why"),
    [
        (vote_sign_bytes("other-chain", VoteType.PREVOTE, 5, 0, b""), "not a vote or proposal"),
        (vote_sign_bytes(CHAIN + "x", VoteType.PREVOTE, 5, 0, b""), "not a vote or proposal"),
        (vote_sign_bytes(CHAIN, VoteType.PREVOTE, 5, 0, b"\x01" * 32) + b"x", "hash length"),
        (vote_sign_bytes(CHAIN, VoteType.PREVOTE, 5, 0, b"\x01" * 32)[:-1], "hash length"),
        (vote_sign_bytes(CHAIN, VoteType.PREVOTE, 0, 0, b""), "out of range"),
        (vote_sign_bytes(CHAIN, 3, 5, 0, b""), "unknown vote type"),  # type: ignore[arg-type]
        (proposal_sign_bytes(CHAIN, 5, 1, 1, b""), "pol_round"),
        (proposal_sign_bytes(CHAIN, 5, 0, -2, b""), "pol_round"),
        (b"tenge/tx/v1\x00" + bytes((len(CHAIN),)) + CHAIN.encode(), "not a vote or proposal"),
        (b"", "not a vote or proposal"),
    ],
)
def test_anything_else_is_refused(message: bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        sign_bytes_position(CHAIN, message)


@given(st.binary(max_size=120))
def test_garbage_never_raises_anything_but_value_error(raw: bytes) -> None:
    for message in (raw, vote_sign_bytes(CHAIN, VoteType.PREVOTE, 1, 0, b"")[:20] + raw):
        with contextlib.suppress(ValueError):
            sign_bytes_position(CHAIN, message)
