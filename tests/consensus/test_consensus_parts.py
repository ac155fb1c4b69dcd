"""Validator sets, certificates, evidence, the sign guard check and WAL framing."""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter

import pytest
from engine_fixtures import CHAIN, CODEC, SIGNERS, VSET, block, proposal, signer_of_proposer, vote

from consensus import (
    BAD_SIGNATURE,
    DUPLICATE_SIGNER,
    INSUFFICIENT_POWER,
    MALFORMED_MESSAGE,
    NOT_CONFLICTING,
    UNKNOWN_VALIDATOR,
    CommitCertificate,
    CommitSig,
    ConflictingProposal,
    DuplicateVote,
    InvalidCertificate,
    InvalidEvidence,
    InvalidValidatorSet,
    LastSigned,
    Step,
    ValidatorSet,
    VoteType,
    WalCorruptError,
    check_sign,
    frame_record,
    parse_records,
    vote_sign_bytes,
)
from consensus.testing import FakeSigner, FakeVerifier

PC = VoteType.PRECOMMIT


def test_thresholds_are_strictly_more_than_two_thirds_and_one_third() -> None:
    vset = ValidatorSet({b"a": 1, b"b": 1, b"c": 1, b"d": 1})
    assert (vset.total_power, vset.quorum, vset.one_third) == (4, 3, 2)
    weighted = ValidatorSet({b"a": 3, b"b": 3, b"c": 3})
    assert (weighted.quorum, weighted.one_third) == (7, 4)


def test_proposer_rotation_is_weighted_spread_and_deterministic() -> None:
    vset = ValidatorSet({b"a": 1, b"b": 2, b"c": 3})
    period = [vset.proposer(h, 0) for h in range(6)]
    assert Counter(period) == {b"a": 1, b"b": 2, b"c": 3}
    # Smooth: the heaviest validator's turns are spread out, never three in a row.
    runs = [len(list(group)) for _, group in itertools.groupby(period + period)]
    assert max(runs) < 3
    # The same on every node and for every copy of the set; (h, r) and (h + r, 0) agree.
    copy = ValidatorSet(dict(vset.items()))
    assert [copy.proposer(h, r) for h in range(9) for r in range(3)] == [
        vset.proposer(h + r, 0) for h in range(9) for r in range(3)
    ]
    assert vset.proposer(1, 0) != vset.proposer(1, 1)


def test_apply_updates_adds_reweights_and_removes() -> None:
    vset = ValidatorSet({b"a": 1, b"b": 1})
    after = vset.apply_updates([(b"c", 5), (b"a", 0), (b"b", 2)])
    assert dict(after.items()) == {b"b": 2, b"c": 5}
    assert dict(vset.items()) == {b"a": 1, b"b": 1}, "the original set is unchanged"
    with pytest.raises(InvalidValidatorSet):
        vset.apply_updates([(b"zz", 0)])
    with pytest.raises(InvalidValidatorSet):
        vset.apply_updates([(b"a", 0), (b"b", 0)])
    with pytest.raises(InvalidValidatorSet):
        ValidatorSet({b"a": -1})


def certificate(signers: list[FakeSigner], block_hash: bytes = b"h" * 32) -> CommitCertificate:
    sigs = tuple(
        CommitSig(s.public_key, s.sign(vote_sign_bytes(CHAIN, PC, 5, 1, block_hash)))
        for s in signers
    )
    return CommitCertificate(5, 1, block_hash, sigs)


def test_certificate_verifies_with_the_validator_set_alone() -> None:
    certificate(SIGNERS[:3]).verify(VSET, CHAIN, FakeVerifier())


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda c: dataclasses.replace(c, signatures=c.signatures[:2]), INSUFFICIENT_POWER),
        (lambda c: dataclasses.replace(c, signatures=c.signatures * 2), DUPLICATE_SIGNER),
        (lambda c: dataclasses.replace(c, round=2), BAD_SIGNATURE),
        (
            lambda c: dataclasses.replace(
                c, signatures=(*c.signatures, CommitSig(b"stranger", b"sig"))
            ),
            UNKNOWN_VALIDATOR,
        ),
    ],
)
def test_certificate_rejections_have_stable_codes(mutate: object, code: str) -> None:
    bad = mutate(certificate(SIGNERS[:3]))  # type: ignore[operator]
    with pytest.raises(InvalidCertificate) as info:
        bad.verify(VSET, CHAIN, FakeVerifier())
    assert info.value.code == code
    with pytest.raises(InvalidCertificate):
        certificate(SIGNERS[:3]).verify(VSET, "other-chain", FakeVerifier())


def test_evidence_verifies_and_rejects_non_conflicts() -> None:
    a = vote(SIGNERS[0], PC, 3, 0, b"x" * 32)
    b = vote(SIGNERS[0], PC, 3, 0, b"")
    evidence = DuplicateVote.of(a, b)
    assert DuplicateVote.of(b, a) == evidence
    evidence.verify(VSET, CHAIN, FakeVerifier())
    with pytest.raises(InvalidEvidence) as info:
        DuplicateVote.of(a, a).verify(VSET, CHAIN, FakeVerifier())
    assert info.value.code == NOT_CONFLICTING
    other_round = vote(SIGNERS[0], PC, 3, 1, b"")
    with pytest.raises(InvalidEvidence):
        DuplicateVote.of(a, other_round).verify(VSET, CHAIN, FakeVerifier())
    forged = dataclasses.replace(b, signature=b"\x01" * 32)
    with pytest.raises(InvalidEvidence) as info:
        DuplicateVote.of(a, forged).verify(VSET, CHAIN, FakeVerifier())
    assert info.value.code == BAD_SIGNATURE


def test_conflicting_proposal_evidence_verifies_and_rejects_non_conflicts() -> None:
    one, two = proposal(3, 1, block(3, b"one")), proposal(3, 1, block(3, b"two"), pol_round=0)
    id_one, id_two = (CODEC.value_id(p.value) for p in (one, two))
    evidence = ConflictingProposal.of(one, id_one, two, id_two)
    assert ConflictingProposal.of(two, id_two, one, id_one) == evidence
    assert evidence.value_id_a < evidence.value_id_b
    evidence.verify(VSET, CHAIN, FakeVerifier())
    assert evidence.validator == signer_of_proposer(3, 1).public_key
    assert evidence.key == ("conflicting_proposal", evidence.validator, 3, 1, 1)
    assert (evidence.height, evidence.round) == (3, 1)
    same = ConflictingProposal.of(one, id_one, one, id_one)
    bad = {
        NOT_CONFLICTING: same,
        BAD_SIGNATURE: dataclasses.replace(evidence, signature_b=b"\x01" * 32),
        UNKNOWN_VALIDATOR: dataclasses.replace(evidence, proposer=b"\x07" * 32),
        MALFORMED_MESSAGE: dataclasses.replace(evidence, pol_round_a=1),
    }
    for code, wrong in bad.items():
        with pytest.raises(InvalidEvidence) as info:
            wrong.verify(VSET, CHAIN, FakeVerifier())
        assert info.value.code == code
    with pytest.raises(InvalidEvidence):
        evidence.verify(VSET, "other-chain", FakeVerifier())


def test_duplicate_vote_key_names_kind_validator_slot_and_type() -> None:
    a = vote(SIGNERS[1], PC, 3, 2, b"x" * 32)
    evidence = DuplicateVote.of(a, vote(SIGNERS[1], PC, 3, 2, b""))
    assert evidence.key == ("duplicate_vote", SIGNERS[1].public_key, 3, 2, 2)
    assert (evidence.validator, evidence.height, evidence.round) == (a.validator, 3, 2)


def test_sign_check_allows_progress_and_identical_resigning_only() -> None:
    last = LastSigned(5, 2, Step.PREVOTE, b"h1")
    assert check_sign(None, 1, 0, Step.PROPOSE, b"x") is None
    assert check_sign(last, 5, 2, Step.PRECOMMIT, b"x") is None
    assert check_sign(last, 5, 3, Step.PROPOSE, b"x") is None
    assert check_sign(last, 6, 0, Step.PROPOSE, b"x") is None
    assert check_sign(last, 5, 2, Step.PREVOTE, b"h1") is None
    assert "conflicting" in (check_sign(last, 5, 2, Step.PREVOTE, b"h2") or "")
    assert "regression" in (check_sign(last, 5, 1, Step.PRECOMMIT, b"x") or "")
    assert "regression" in (check_sign(last, 4, 9, Step.PRECOMMIT, b"x") or "")


def test_wal_framing_round_trips_and_drops_only_a_torn_tail() -> None:
    records = [b"one", b"two" * 100, b"three"]
    image = b"".join(frame_record(r) for r in records)
    parsed = parse_records(image)
    assert (parsed.records, parsed.valid_length, parsed.torn_tail) == (records, len(image), False)
    for cut in range(1, len(frame_record(b"three"))):
        torn = parse_records(image[:-cut])
        assert torn.records == records[:2]
        assert torn.torn_tail
    flipped = bytearray(image)
    flipped[-1] ^= 0xFF  # the last record's payload: a torn write
    assert parse_records(bytes(flipped)).records == records[:2]
    assert parse_records(image + bytes(16)).records == records, "zero-filled tail"


def test_wal_corruption_before_the_tail_raises() -> None:
    image = bytearray(b"".join(frame_record(r) for r in (b"one", b"two", b"three")))
    image[9] ^= 0xFF  # inside the first payload
    with pytest.raises(WalCorruptError) as info:
        parse_records(bytes(image))
    assert info.value.offset == 0
