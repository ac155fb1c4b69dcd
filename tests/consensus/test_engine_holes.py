"""Holes 2b and 2d: a lock rebuilt from the WAL ignores the clock; early messages are
verified before they are buffered; only a validator's own signature names it in a report."""

from __future__ import annotations

import dataclasses

from engine_fixtures import (
    CHAIN,
    SIGNERS,
    VSET,
    block,
    make_engine,
    not_proposer,
    proposal,
    signer_of_proposer,
    vote,
)

from consensus import (
    BAD_SIGNATURE,
    WRONG_PROPOSER,
    Broadcast,
    CommitBlock,
    ConflictingProposal,
    HeightCommitted,
    Output,
    Proposal,
    ProposalReceived,
    ReportEvidence,
    ReportMisbehaviour,
    Started,
    Step,
    TimeoutFired,
    ValidatorSet,
    Vote,
    VoteReceived,
    VoteType,
    WalEntry,
    WriteWal,
    proposal_sign_bytes,
)
from consensus.testing import (
    FakeSigner,
    FakeVerifier,
    TimestampedFakeCodec,
    timestamped_fake_block,
)

PV, PC = VoteType.PREVOTE, VoteType.PRECOMMIT


def own_votes(outputs: list[Output]) -> list[tuple[VoteType, int, bytes]]:
    return [
        (o.message.type, o.message.round, o.message.block_hash)
        for o in outputs
        if isinstance(o, Broadcast) and isinstance(o.message, Vote)
    ]


def reports(outputs: list[Output]) -> list[tuple[str, bytes | None]]:
    return [(o.code, o.validator) for o in outputs if isinstance(o, ReportMisbehaviour)]


def signed_proposal(
    signer: FakeSigner, height: int, round_: int, value: bytes, value_id: bytes
) -> Proposal:
    sig = signer.sign(proposal_sign_bytes(CHAIN, height, round_, -1, value_id))
    return Proposal(height, round_, value, -1, signer.public_key, sig)


# ---------------------------------------------------------------- 2b


def test_lock_rebuilt_from_the_wal_does_not_depend_on_the_clock() -> None:
    codec = TimestampedFakeCodec(max_drift_ms=1_000)
    bad = {VSET.proposer(1, r) for r in range(3)}
    me = next(s for s in SIGNERS if s.public_key not in bad)
    others = [s for s in SIGNERS if s != me]
    t0 = 100_000
    engine = make_engine(me, codec=codec)
    out = engine.handle(Started(t0))
    value = timestamped_fake_block(1, t0, b"locked")
    vid = codec.value_id(value)
    p0 = signed_proposal(signer_of_proposer(1, 0), 1, 0, value, vid)
    out += engine.handle(ProposalReceived(p0, t0 + 1))
    for s in others[:2]:
        out += engine.handle(VoteReceived(vote(s, PV, 1, 0, vid), t0 + 2))
    assert engine.locked == (0, vid)
    for s in others[:2]:
        out += engine.handle(VoteReceived(vote(s, PC, 1, 0, b""), t0 + 3))
    out += engine.handle(TimeoutFired(Step.PRECOMMIT, 1, 0, t0 + 60))
    wal: list[WalEntry] = [o.entry for o in out if isinstance(o, WriteWal)]
    # Restart with the clock 60 s behind the recorded times.
    skewed = t0 - 60_000
    reborn = make_engine(me, codec=codec, last_signed=engine.last_signed)
    reborn.handle(Started(skewed, wal=tuple(wal)))
    assert reborn.locked == (0, vid)
    other = timestamped_fake_block(1, skewed - 5_000, b"other")
    assert codec.is_valid(1, other, skewed)
    p1 = signed_proposal(signer_of_proposer(1, 1), 1, 1, other, codec.value_id(other))
    out = reborn.handle(ProposalReceived(p1, skewed + 1))
    assert own_votes(out) == [(PV, 1, b"")]


def test_timestamped_codec_refuses_values_from_the_future() -> None:
    codec = TimestampedFakeCodec(max_drift_ms=10)
    value = timestamped_fake_block(3, 1_000)
    assert codec.is_valid(3, value, 990)
    assert not codec.is_valid(3, value, 989)
    assert not codec.is_valid(4, value, 5_000)
    assert not codec.is_valid(3, b"short", 5_000)


# ---------------------------------------------------------------- 2d


def _next_height_setup() -> tuple[FakeSigner, FakeSigner, FakeSigner]:
    """me, X and Y: none of them proposes (2, 0)."""
    proposer = VSET.proposer(2, 0)
    me, x, y = [s for s in SIGNERS if s.public_key != proposer][:3]
    return me, x, y


def test_forged_next_height_votes_never_displace_genuine_ones() -> None:
    me, x, y = _next_height_setup()
    engine = make_engine(me)
    engine.handle(Started(0))
    value = block(2)
    vid = engine._codec.value_id(value)
    for i in range(100):
        forged = dataclasses.replace(vote(x, PV, 2, 0, vid), signature=bytes([i % 256]) * 32)
        out = engine.handle(VoteReceived(forged, 1, sender=b"liar"))
        assert reports(out) == [(BAD_SIGNATURE, None)]
    assert engine.handle(ProposalReceived(proposal(2, 0, value), 2)) == []
    for s in (x, y):
        assert engine.handle(VoteReceived(vote(s, PV, 2, 0, vid), 3)) == []
    out = engine.handle(HeightCommitted(1, VSET, 4))
    # me + X + Y prevoted: a quorum of 3 of 4, so this validator precommits.
    assert own_votes(out) == [(PV, 0, vid), (PC, 0, vid)]


def test_next_height_buffer_deduplicates_before_counting() -> None:
    me, x, y = _next_height_setup()
    engine = make_engine(me)
    engine.handle(Started(0))
    value = block(2)
    vid = engine._codec.value_id(value)
    engine.handle(ProposalReceived(proposal(2, 0, value), 2))
    for _ in range(50):
        engine.handle(VoteReceived(vote(x, PV, 2, 0, vid), 3))
    engine.handle(VoteReceived(vote(y, PV, 2, 0, vid), 3))
    engine.handle(VoteReceived(vote(x, PC, 2, 0, vid), 3))
    engine.handle(HeightCommitted(1, VSET, 4))
    assert x.public_key in engine._votes.get(0, PC).by_validator


def test_next_height_messages_are_checked_against_the_next_set() -> None:
    newcomer = FakeSigner.numbered(50)
    leaver = SIGNERS[3]
    next_set = ValidatorSet({s.public_key: 1 for s in [*SIGNERS[:3], newcomer]})
    me = next(s for s in SIGNERS[:3] if s.public_key != next_set.proposer(2, 0))
    engine = make_engine(me, next_validator_set=next_set)
    engine.handle(Started(0))
    out = engine.handle(VoteReceived(vote(leaver, PV, 2, 0, b""), 1, sender=b"p"))
    assert [code for code, _ in reports(out)] == ["UNKNOWN_VALIDATOR"]
    assert engine.handle(VoteReceived(vote(newcomer, PV, 2, 0, b""), 1)) == []
    engine.handle(HeightCommitted(1, next_set, 2))
    assert engine.validator_set == next_set
    assert newcomer.public_key in engine._votes.get(0, PV).by_validator


def test_following_validator_set_runs_the_height_after() -> None:
    me, _, _ = _next_height_setup()
    following = ValidatorSet({s.public_key: 2 for s in SIGNERS})
    engine = make_engine(me)
    engine.handle(Started(0))
    engine.handle(HeightCommitted(1, VSET, 2, following_validator_set=following))
    assert engine.next_validator_set == following
    engine.handle(HeightCommitted(1, VSET, 2))  # stale: ignored
    assert engine.next_validator_set == following


def test_bad_signatures_never_name_a_validator() -> None:
    me = not_proposer(1, 0)
    engine = make_engine(me)
    engine.handle(Started(0))
    peer = next(s for s in SIGNERS if s != me)
    forged_vote = dataclasses.replace(vote(peer, PV, 1, 0, b""), signature=b"\x00" * 32)
    assert reports(engine.handle(VoteReceived(forged_vote, 1, b"p"))) == [(BAD_SIGNATURE, None)]
    real = proposal(1, 0, block(1))
    forged = dataclasses.replace(real, signature=b"\x00" * 32)
    assert reports(engine.handle(ProposalReceived(forged, 1, b"p"))) == [(BAD_SIGNATURE, None)]


def test_wrong_proposer_is_named_only_with_its_own_valid_signature() -> None:
    me = not_proposer(1, 0)
    engine = make_engine(me)
    engine.handle(Started(0))
    intruder = next(s for s in SIGNERS if s.public_key != VSET.proposer(1, 0) and s != me)
    value = block(1, b"intruder")
    real = signed_proposal(intruder, 1, 0, value, engine._codec.value_id(value))
    forged = dataclasses.replace(real, signature=b"\x00" * 32)
    assert reports(engine.handle(ProposalReceived(forged, 1, b"p"))) == [(BAD_SIGNATURE, None)]
    out = engine.handle(ProposalReceived(real, 1, b"p"))
    assert reports(out) == [(WRONG_PROPOSER, intruder.public_key)]


def test_conflicting_proposals_yield_verifiable_evidence_once() -> None:
    me = not_proposer(1, 0)
    engine = make_engine(me)
    engine.handle(Started(0))
    first = proposal(1, 0, block(1, b"one"))
    second = proposal(1, 0, block(1, b"two"))
    third = proposal(1, 0, block(1, b"three"))
    assert not [
        o for o in engine.handle(ProposalReceived(first, 1)) if isinstance(o, ReportEvidence)
    ]
    out = engine.handle(ProposalReceived(second, 2, b"relay"))
    [report] = [o for o in out if isinstance(o, ReportEvidence)]
    evidence = report.evidence
    assert isinstance(evidence, ConflictingProposal)
    evidence.verify(VSET, CHAIN, FakeVerifier())
    assert (evidence.validator, evidence.height, evidence.round) == (first.proposer, 1, 0)
    assert reports(out) == []
    out = engine.handle(ProposalReceived(third, 3))
    assert not [o for o in out if isinstance(o, ReportEvidence)]


def test_buffered_messages_are_logged_with_the_time_they_are_processed() -> None:
    # A replay judges validity at each entry's recorded time: a buffered message must be
    # recorded with the time it was processed (HeightCommitted), not the time it arrived.
    me, _, _ = _next_height_setup()
    engine = make_engine(me)
    engine.handle(Started(0))
    early = ProposalReceived(proposal(2, 0, block(2)), 5, sender=b"p")
    assert engine.handle(early) == []
    out = engine.handle(HeightCommitted(1, VSET, 9_000))
    logged = [o.entry for o in out if isinstance(o, WriteWal)]
    assert dataclasses.replace(early, now_ms=9_000) in logged


def test_a_committed_value_stamped_ahead_of_this_clock_is_decided_once_time_catches_up() -> None:
    codec = TimestampedFakeCodec(max_drift_ms=1_000)
    me = not_proposer(1, 0)
    others = [s for s in SIGNERS if s != me]
    engine = make_engine(me, codec=codec)
    engine.handle(Started(0))
    value = timestamped_fake_block(1, 5_000)  # 5 s ahead of this node's clock
    vid = codec.value_id(value)
    engine.handle(ProposalReceived(signed_proposal(signer_of_proposer(1, 0), 1, 0, value, vid), 1))
    out: list[Output] = []
    for s in others:
        out += engine.handle(VoteReceived(vote(s, PC, 1, 0, vid), 2))
    assert engine.step is not Step.COMMIT
    engine.handle(TimeoutFired(Step.PRECOMMIT, 1, 0, 3_000))  # too early still: round 1
    assert engine.step is not Step.COMMIT
    out = engine.handle(TimeoutFired(Step.PROPOSE, 1, 1, 4_500))
    [decided] = [o for o in out if isinstance(o, CommitBlock)]
    assert (decided.round, decided.value) == (0, value)
