"""Helpers for the engine's unit tests: four fake validators and an engine for one of them."""

from __future__ import annotations

from consensus import (
    ConsensusParams,
    Engine,
    Proposal,
    ValidatorSet,
    Vote,
    VoteType,
    proposal_sign_bytes,
    vote_sign_bytes,
)
from consensus.testing import FakeCodec, FakeSigner, FakeVerifier, fake_block

CHAIN = "unit-chain"
SIGNERS = [FakeSigner.numbered(i) for i in range(4)]
VSET = ValidatorSet({s.public_key: 1 for s in SIGNERS})
CODEC = FakeCodec()
PARAMS = ConsensusParams(
    timeout_propose_ms=100,
    timeout_prevote_ms=50,
    timeout_precommit_ms=50,
    timeout_delta_ms=10,
    timeout_max_ms=1_000,
    empty_block_interval_ms=20,
)


def signer_of_proposer(height: int, round_: int) -> FakeSigner:
    key = VSET.proposer(height, round_)
    return next(s for s in SIGNERS if s.public_key == key)


def not_proposer(height: int, round_: int) -> FakeSigner:
    key = VSET.proposer(height, round_)
    return next(s for s in SIGNERS if s.public_key != key)


def make_engine(signer: FakeSigner, height: int = 1, **kwargs: object) -> Engine:
    kwargs.setdefault("codec", CODEC)
    kwargs.setdefault("validator_set", VSET)
    kwargs.setdefault("params", PARAMS)
    return Engine(
        chain_id=CHAIN,
        height=height,
        verifier=FakeVerifier(),
        signer=signer,
        **kwargs,  # type: ignore[arg-type]
    )


def vote(
    signer: FakeSigner, vote_type: VoteType, height: int, round_: int, block_hash: bytes
) -> Vote:
    sig = signer.sign(vote_sign_bytes(CHAIN, vote_type, height, round_, block_hash))
    return Vote(vote_type, height, round_, block_hash, signer.public_key, sig)


def proposal(height: int, round_: int, value: bytes, pol_round: int = -1) -> Proposal:
    signer = signer_of_proposer(height, round_)
    value_id = CODEC.value_id(value)
    sig = signer.sign(proposal_sign_bytes(CHAIN, height, round_, pol_round, value_id))
    return Proposal(height, round_, value, pol_round, signer.public_key, sig)


def block(height: int, tag: bytes = b"a") -> bytes:
    return fake_block(height, tag)
