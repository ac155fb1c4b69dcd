"""Hole 2a: the block id covers every byte, so an altered relay copy never shadows the real one.

The engine runs with the node's real BlockCodec at height 2 (a block that carries a
certificate of height 1); a relay alters the proposer's proposal and keeps its signature.
"""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from engine_fixtures import (
    CHAIN,
    CODEC,
    PARAMS,
    SIGNERS,
    VSET,
    make_engine,
    not_proposer,
    signer_of_proposer,
    vote,
)

from consensus import (
    BAD_SIGNATURE,
    Broadcast,
    CommitBlock,
    ConflictingProposal,
    Output,
    Proposal,
    ProposalReceived,
    ReportEvidence,
    ReportMisbehaviour,
    Started,
    Vote,
    VoteReceived,
    VoteType,
    proposal_sign_bytes,
)
from consensus.testing import FakeCodec, FakeVerifier, fake_block
from node import consensus_codec as codec
from node.blocks import BlockCodec, ChainTip, build_block
from proto import block_pb2, consensus_pb2

PV, PC = VoteType.PREVOTE, VoteType.PRECOMMIT
NOW = 1_767_225_600_000
TIP = ChainTip(
    height=1,
    block_hash=b"\x01" * 32,
    app_hash=b"\xaa" * 32,
    time_ms=NOW - 1_000,
    validators_hash=b"\x0f" * 32,
)


def _verify_last_commit(cert_pb: consensus_pb2.CommitCertificate) -> bool:
    try:
        codec.certificate_from_proto(cert_pb).verify(VSET, CHAIN, FakeVerifier())
    except Exception:
        return False
    return True


def _codec() -> BlockCodec:
    return BlockCodec(
        chain_id=CHAIN,
        tip=lambda: TIP,
        max_block_bytes=100_000,
        max_block_txs=10,
        verify_last_commit=_verify_last_commit,
    )


def _last_commit() -> consensus_pb2.CommitCertificate:
    votes = [vote(s, PC, 1, 0, TIP.block_hash) for s in SIGNERS[:3]]
    return consensus_pb2.CommitCertificate(
        height=1,
        round=0,
        block_hash=TIP.block_hash,
        signatures=[
            consensus_pb2.CommitSig(validator=v.validator, signature=v.signature) for v in votes
        ],
    )


def _real_block() -> bytes:
    return build_block(
        chain_id=CHAIN,
        tip=TIP,
        txs=[b"tx-1", b"tx-2"],
        proposer=VSET.proposer(2, 0),
        now_ms=NOW,
        last_commit=_last_commit(),
    )


def _fewer_commit_sigs() -> bytes:
    block = block_pb2.Block.FromString(_real_block())
    del block.last_commit.signatures[-1]  # 2 of 4: no longer a quorum
    return block.SerializeToString()


def _unknown_field() -> bytes:
    return _real_block() + b"\xa8\x06\x01"  # field 101, varint 1


def _changed_tx() -> bytes:
    block = block_pb2.Block.FromString(_real_block())
    block.txs[1] = b"tx-evil"
    return block.SerializeToString()


def _signed(value: bytes) -> Proposal:
    key = VSET.proposer(2, 0)
    signer = next(s for s in SIGNERS if s.public_key == key)
    value_id = _codec().value_id(value)
    sig = signer.sign(proposal_sign_bytes(CHAIN, 2, 0, -1, value_id))
    return Proposal(2, 0, value, -1, key, sig)


def _own_votes(outputs: list[Output]) -> list[tuple[VoteType, int, bytes]]:
    return [
        (o.message.type, o.message.round, o.message.block_hash)
        for o in outputs
        if isinstance(o, Broadcast) and isinstance(o.message, Vote)
    ]


ALTERED = {
    "changed last_commit": _fewer_commit_sigs,
    "unknown field": _unknown_field,
    "changed tx": _changed_tx,
}


@pytest.mark.parametrize("alter", ALTERED.values(), ids=list(ALTERED))
def test_an_altered_copy_first_never_shadows_the_real_proposal(alter: object) -> None:
    me = not_proposer(2, 0)
    engine = make_engine(me, height=2, codec=_codec())
    engine.handle(Started(NOW))
    real = _signed(_real_block())
    altered = dataclasses.replace(real, value=alter())  # type: ignore[operator]
    out = engine.handle(ProposalReceived(altered, NOW + 1, sender=b"relay"))
    assert _own_votes(out) == []
    assert [(o.code, o.validator) for o in out if isinstance(o, ReportMisbehaviour)] == [
        (BAD_SIGNATURE, None)
    ]
    out = engine.handle(ProposalReceived(real, NOW + 2, sender=b"proposer"))
    real_id = _codec().value_id(real.value)
    assert _own_votes(out) == [(PV, 0, real_id)]
    others = [s for s in SIGNERS if s != me]
    for s in others:
        out += engine.handle(VoteReceived(vote(s, PV, 2, 0, real_id), NOW + 3))
    for s in others:
        out += engine.handle(VoteReceived(vote(s, PC, 2, 0, real_id), NOW + 4))
    [decided] = [o for o in out if isinstance(o, CommitBlock)]
    assert decided.value == real.value


class PrefixIdCodec:
    """A codec whose id covers only a value's first 12 bytes (as the header-only id did):
    the engine alone must still keep an altered copy from shadowing the real value."""

    def value_id(self, value: bytes) -> bytes:
        return hashlib.sha256(value[:12]).digest()

    def is_valid(self, height: int, value: bytes, now_ms: int) -> bool:
        return FakeCodec().is_valid(height, value, now_ms) and not value[12:].startswith(b"bad")


def test_the_engine_alone_keeps_an_invalid_copy_with_the_same_id_from_shadowing() -> None:
    codec = PrefixIdCodec()
    me = not_proposer(1, 0)
    engine = make_engine(me, codec=codec)
    engine.handle(Started(0))
    real_value = fake_block(1, b"good")
    signer = signer_of_proposer(1, 0)
    sig = signer.sign(proposal_sign_bytes(CHAIN, 1, 0, -1, codec.value_id(real_value)))
    real = Proposal(1, 0, real_value, -1, signer.public_key, sig)
    altered = dataclasses.replace(real, value=fake_block(1, b"bad"))
    # The altered copy arrives first (same id, the proposer's signature verifies): the
    # node prevotes nil, but must still decide the real value when it arrives.
    assert _own_votes(engine.handle(ProposalReceived(altered, 1))) == [(PV, 0, b"")]
    engine.handle(ProposalReceived(real, 2))
    others = [s for s in SIGNERS if s != me]
    out: list[Output] = []
    for s in others:
        out += engine.handle(VoteReceived(vote(s, PV, 1, 0, codec.value_id(real_value)), 3))
    for s in others:
        out += engine.handle(VoteReceived(vote(s, PC, 1, 0, codec.value_id(real_value)), 4))
    [decided] = [o for o in out if isinstance(o, CommitBlock)]
    assert decided.value == real_value


def test_invalid_values_cannot_fill_a_round() -> None:
    me = not_proposer(1, 0)
    engine = make_engine(me, params=dataclasses.replace(PARAMS, max_proposals_per_round=2))
    engine.handle(Started(0))
    signer = signer_of_proposer(1, 0)

    def signed(value: bytes) -> Proposal:
        sig = signer.sign(proposal_sign_bytes(CHAIN, 1, 0, -1, CODEC.value_id(value)))
        return Proposal(1, 0, value, -1, signer.public_key, sig)

    out: list[Output] = []
    for n in range(3):
        out += engine.handle(ProposalReceived(signed(fake_block(2, b"%d" % n)), 1))
    good = fake_block(1, b"good")
    out += engine.handle(ProposalReceived(signed(good), 2))
    assert CODEC.value_id(good) in engine._proposals[0]
    evidence = [o.evidence for o in out if isinstance(o, ReportEvidence)]
    assert len(evidence) == 1
    assert isinstance(evidence[0], ConflictingProposal)
