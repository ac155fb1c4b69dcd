"""node/consensus_codec.py: both evidence kinds round-trip; garbage and unknown fields are
refused with ConsensusCodecError and nothing else."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from engine_fixtures import CHAIN, CODEC, SIGNERS, VSET, block, proposal, vote
from hypothesis import given
from hypothesis import strategies as st

from consensus import (
    ConflictingProposal,
    DuplicateVote,
    Evidence,
    Proposal,
    Vote,
    VoteType,
)
from consensus.testing import FakeVerifier
from node.consensus_codec import (
    MALFORMED_CONSENSUS_MESSAGE,
    ConsensusCodecError,
    certificate_from_proto,
    decode_evidence,
    encode_evidence,
    evidence_from_proto,
    evidence_to_proto,
    proposal_from_proto,
    proposal_to_proto,
    vote_from_proto,
    vote_to_proto,
)
from proto import consensus_pb2 as pb

UNKNOWN = b"\xa8\x06\x01"  # field 101, varint 1
heights = st.integers(1, (1 << 63) - 1)
rounds = st.integers(0, (1 << 31) - 1)
keys = st.binary(min_size=1, max_size=64)
sigs = st.binary(min_size=1, max_size=128)
hashes = st.binary(max_size=64)
ids = st.binary(min_size=1, max_size=64)


@st.composite
def duplicate_votes(draw: st.DrawFn) -> DuplicateVote:
    vote_type = draw(st.sampled_from(VoteType))
    height, round_, key = draw(heights), draw(rounds), draw(keys)
    a, b = draw(st.lists(hashes, min_size=2, max_size=2, unique=True))
    return DuplicateVote.of(
        Vote(vote_type, height, round_, a, key, draw(sigs)),
        Vote(vote_type, height, round_, b, key, draw(sigs)),
    )


@st.composite
def conflicting_proposals(draw: st.DrawFn) -> ConflictingProposal:
    height, round_, key = draw(heights), draw(rounds), draw(keys)
    pol = st.integers(-1, round_ - 1)
    id_a, id_b = draw(st.lists(ids, min_size=2, max_size=2, unique=True))
    a = Proposal(height, round_, b"", draw(pol), key, draw(sigs))
    b = Proposal(height, round_, b"", draw(pol), key, draw(sigs))
    return ConflictingProposal.of(a, id_a, b, id_b)


@given(st.one_of(duplicate_votes(), conflicting_proposals()))
def test_evidence_round_trips_deterministically(evidence: Evidence) -> None:
    data = encode_evidence(evidence)
    assert decode_evidence(data) == evidence
    assert encode_evidence(decode_evidence(data)) == data
    assert decode_evidence(data).key == evidence.key


@given(st.binary(max_size=300))
def test_garbage_evidence_raises_only_the_codec_error(data: bytes) -> None:
    try:
        evidence = decode_evidence(data)
    except ConsensusCodecError as e:
        code = e.code
    else:
        code = MALFORMED_CONSENSUS_MESSAGE
        assert decode_evidence(encode_evidence(evidence)) == evidence
    assert code == MALFORMED_CONSENSUS_MESSAGE


def test_evidence_of_no_kind_or_with_bad_fields_is_refused() -> None:
    empty = pb.Evidence()
    bad_id = pb.Evidence(
        conflicting_proposal=pb.ConflictingProposalEvidence(
            height=1,
            round=0,
            proposer=b"k",
            pol_round_a=-1,
            signature_a=b"s",
            pol_round_b=-1,
            value_id_b=b"x",
            signature_b=b"t",
        )
    )
    bad_pol = pb.Evidence(
        conflicting_proposal=pb.ConflictingProposalEvidence(
            height=1,
            round=0,
            proposer=b"k",
            pol_round_a=0,
            value_id_a=b"a",
            signature_a=b"s",
            pol_round_b=-1,
            value_id_b=b"x",
            signature_b=b"t",
        )
    )
    for msg in (empty, bad_id, bad_pol):
        with pytest.raises(ConsensusCodecError):
            evidence_from_proto(msg)


def test_real_evidence_verifies_after_a_round_trip() -> None:
    one, two = proposal(2, 1, block(2, b"1")), proposal(2, 1, block(2, b"2"))
    evidence = ConflictingProposal.of(
        one, CODEC.value_id(one.value), two, CODEC.value_id(two.value)
    )
    decode_evidence(encode_evidence(evidence)).verify(VSET, CHAIN, FakeVerifier())
    votes = DuplicateVote.of(
        vote(SIGNERS[1], VoteType.PREVOTE, 2, 0, b"h" * 32),
        vote(SIGNERS[1], VoteType.PREVOTE, 2, 0, b""),
    )
    decode_evidence(encode_evidence(votes)).verify(VSET, CHAIN, FakeVerifier())


def _with_unknown(msg: pb.Vote | pb.Proposal | pb.CommitCertificate | pb.Evidence) -> None:
    msg.MergeFromString(UNKNOWN)


def test_unknown_fields_are_refused_in_every_consensus_message() -> None:
    v = vote_to_proto(vote(SIGNERS[1], VoteType.PREVOTE, 2, 0, b""))
    _with_unknown(v)
    p = proposal_to_proto(proposal(2, 0, block(2)))
    _with_unknown(p)
    cert = pb.CommitCertificate(height=2, round=0, block_hash=b"h")
    cert.signatures.add(validator=b"v", signature=b"s").MergeFromString(UNKNOWN)
    cases: list[Callable[[], object]] = [
        lambda: vote_from_proto(v),
        lambda: proposal_from_proto(p),
        lambda: certificate_from_proto(cert),
    ]
    duplicate = evidence_to_proto(
        DuplicateVote.of(
            vote(SIGNERS[1], VoteType.PREVOTE, 2, 0, b"h" * 32),
            vote(SIGNERS[1], VoteType.PREVOTE, 2, 0, b""),
        )
    )
    duplicate.duplicate_vote.vote_b.MergeFromString(UNKNOWN)
    cases.append(lambda: decode_evidence(duplicate.SerializeToString()))
    for decode in cases:
        with pytest.raises(ConsensusCodecError) as info:
            decode()
        assert "unknown field" in str(info.value)
