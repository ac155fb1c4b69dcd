"""Plain synchronous tests of the engine: feed events, assert outputs."""

from __future__ import annotations

import dataclasses

from engine_fixtures import (
    CHAIN,
    CODEC,
    PARAMS,
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
    MALFORMED_MESSAGE,
    UNKNOWN_VALIDATOR,
    Broadcast,
    CommitBlock,
    CommitReceived,
    Engine,
    HeightCommitted,
    HeightStarted,
    Output,
    PersistLastSigned,
    Proposal,
    ProposalReceived,
    ProposalValueReady,
    ReportEvidence,
    ReportMisbehaviour,
    RequestProposalValue,
    ScheduleTimeout,
    SignedByMe,
    Started,
    Step,
    TimeoutFired,
    Vote,
    VoteReceived,
    VoteType,
    WalEntry,
    WriteWal,
)
from consensus.testing import FakeSigner

PV, PC = VoteType.PREVOTE, VoteType.PRECOMMIT


def broadcasts(outputs: list[Output]) -> list[Proposal | Vote]:
    return [o.message for o in outputs if isinstance(o, Broadcast)]


def own_votes(outputs: list[Output]) -> list[tuple[VoteType, int, bytes]]:
    return [(m.type, m.round, m.block_hash) for m in broadcasts(outputs) if isinstance(m, Vote)]


def others(me: FakeSigner) -> list[FakeSigner]:
    return [s for s in SIGNERS if s != me]


def wal_of(outputs: list[Output]) -> list[WalEntry]:
    return [o.entry for o in outputs if isinstance(o, WriteWal)]


def started(signer: FakeSigner, height: int = 1) -> tuple[Engine, list[Output]]:
    engine = make_engine(signer, height)
    return engine, engine.handle(Started(0))


def test_start_schedules_round_zero_propose_timeout_with_the_empty_block_interval() -> None:
    engine, out = started(not_proposer(1, 0))
    assert out[0] == WriteWal(HeightStarted(1), sync=False)
    timeouts = [o for o in out if isinstance(o, ScheduleTimeout)]
    assert timeouts == [ScheduleTimeout(Step.PROPOSE, 1, 0, 120, 120)]
    assert (engine.height, engine.round, engine.step) == (1, 0, Step.PROPOSE)


def test_proposer_requests_a_value_then_proposes_and_prevotes_it() -> None:
    me = signer_of_proposer(1, 0)
    engine, out = started(me)
    assert RequestProposalValue(1, 0) in out
    value = block(1)
    out = engine.handle(ProposalValueReady(1, 0, value, 5))
    sent = broadcasts(out)
    assert isinstance(sent[0], Proposal)
    assert sent[0].value == value
    assert sent[0].pol_round == -1
    assert own_votes(out) == [(PV, 0, CODEC.value_id(value))]
    # Rule 2: durable before it leaves.
    first_broadcast = next(i for i, o in enumerate(out) if isinstance(o, Broadcast))
    assert isinstance(out[first_broadcast - 2], WriteWal)
    assert out[first_broadcast - 2].sync
    assert isinstance(out[first_broadcast - 1], PersistLastSigned)


def test_stale_value_ready_is_ignored() -> None:
    engine, _ = started(signer_of_proposer(1, 0))
    engine.handle(TimeoutFired(Step.PROPOSE, 1, 0, 200))
    assert engine.handle(ProposalValueReady(1, 0, block(1), 201)) == []


def test_full_happy_round_commits_with_a_verifying_certificate() -> None:
    me = not_proposer(1, 0)
    engine, _ = started(me)
    value = block(1)
    vid = CODEC.value_id(value)
    out = engine.handle(ProposalReceived(proposal(1, 0, value), 1))
    assert own_votes(out) == [(PV, 0, vid)]
    assert wal_of(out)[0] == ProposalReceived(proposal(1, 0, value), 1)
    outputs: list[Output] = []
    for s in others(me):
        outputs += engine.handle(VoteReceived(vote(s, PV, 1, 0, vid), 2))
    assert own_votes(outputs) == [(PC, 0, vid)]
    assert engine.locked == (0, vid)
    commits: list[Output] = []
    for s in others(me):
        commits += engine.handle(VoteReceived(vote(s, PC, 1, 0, vid), 3))
    [commit] = [o for o in commits if isinstance(o, CommitBlock)]
    assert (commit.height, commit.round, commit.value, commit.value_id) == (1, 0, value, vid)
    commit.certificate.verify(VSET, CHAIN, engine._verifier)
    assert engine.step is Step.COMMIT
    # Nothing more happens until the driver says the block is durable.
    assert engine.handle(TimeoutFired(Step.PROPOSE, 1, 0, 500)) == []
    out = engine.handle(HeightCommitted(1, VSET, 10))
    assert out[0] == WriteWal(HeightStarted(2), sync=False)
    assert (engine.height, engine.round, engine.step, engine.locked) == (
        2,
        0,
        Step.PROPOSE,
        (-1, None),
    )


def test_propose_timeout_prevotes_nil_and_stale_timeouts_are_dropped() -> None:
    engine, _ = started(not_proposer(1, 0))
    assert engine.handle(TimeoutFired(Step.PROPOSE, 1, 5, 100)) == []
    assert engine.handle(TimeoutFired(Step.PROPOSE, 0, 0, 100)) == []
    out = engine.handle(TimeoutFired(Step.PROPOSE, 1, 0, 120))
    assert own_votes(out) == [(PV, 0, b"")]
    assert engine.handle(TimeoutFired(Step.PROPOSE, 1, 0, 121)) == []


def test_nil_quorum_precommits_nil_and_precommit_timeout_moves_to_next_round() -> None:
    me = not_proposer(1, 0)
    engine, _ = started(me)
    engine.handle(TimeoutFired(Step.PROPOSE, 1, 0, 120))
    out: list[Output] = []
    for s in others(me)[:2]:
        out += engine.handle(VoteReceived(vote(s, PV, 1, 0, b""), 130))
    assert own_votes(out) == [(PC, 0, b"")]
    # l.34: a quorum of prevotes of any kind scheduled the prevote timeout first.
    assert any(isinstance(o, ScheduleTimeout) and o.step is Step.PREVOTE for o in out)
    out = []
    for s in others(me)[:2]:
        out += engine.handle(VoteReceived(vote(s, PC, 1, 0, b""), 140))
    [timeout] = [o for o in out if isinstance(o, ScheduleTimeout)]
    assert (timeout.step, timeout.round, timeout.duration_ms) == (Step.PRECOMMIT, 0, 50)
    engine.handle(TimeoutFired(Step.PRECOMMIT, 1, 0, 190))
    assert (engine.round, engine.step) == (1, Step.PROPOSE)


def test_timeouts_grow_linearly_with_the_round_and_stop_at_the_cap() -> None:
    assert PARAMS.timeout_ms(Step.PREVOTE, 0) == 50
    assert PARAMS.timeout_ms(Step.PREVOTE, 3) == 80
    assert PARAMS.timeout_ms(Step.PROPOSE, 1) == 110
    assert PARAMS.timeout_ms(Step.PRECOMMIT, 10_000) == 1_000


def test_f_plus_one_messages_of_a_later_round_skip_to_it() -> None:
    me = not_proposer(1, 0)
    engine, _ = started(me)
    a, b = others(me)[:2]
    engine.handle(VoteReceived(vote(a, PV, 1, 3, b""), 10))
    assert engine.round == 0
    engine.handle(VoteReceived(vote(b, PV, 1, 3, b""), 11))
    assert engine.round == 3


def lock_on_round_zero(me: FakeSigner) -> tuple[Engine, list[WalEntry], bytes]:
    engine, out = started(me)
    wal = wal_of(out)
    value = block(1, b"locked")
    vid = CODEC.value_id(value)
    wal += wal_of(engine.handle(ProposalReceived(proposal(1, 0, value), 1)))
    for s in others(me)[:2]:
        wal += wal_of(engine.handle(VoteReceived(vote(s, PV, 1, 0, vid), 2)))
    assert engine.locked == (0, vid)
    # Precommits do not reach a quorum; the round times out.
    wal += wal_of(engine.handle(VoteReceived(vote(others(me)[0], PC, 1, 0, b""), 3)))
    wal += wal_of(engine.handle(VoteReceived(vote(others(me)[1], PC, 1, 0, b""), 3)))
    wal += wal_of(engine.handle(TimeoutFired(Step.PRECOMMIT, 1, 0, 60)))
    assert engine.round == 1
    return engine, wal, vid


def pick_me_not_proposing_rounds_0_to_2() -> FakeSigner:
    bad = {VSET.proposer(1, 0), VSET.proposer(1, 1), VSET.proposer(1, 2)}
    return next(s for s in SIGNERS if s.public_key not in bad)


def test_locked_validator_prevotes_nil_for_a_different_fresh_proposal() -> None:
    me = pick_me_not_proposing_rounds_0_to_2()
    engine, _, _ = lock_on_round_zero(me)
    out = engine.handle(ProposalReceived(proposal(1, 1, block(1, b"other")), 70))
    assert own_votes(out) == [(PV, 1, b"")]


def test_lock_survives_a_restart_from_the_wal() -> None:
    # The test that fails if the lock is forgotten: after a restart from the WAL, a
    # different proposal without a proof of lock must get a nil prevote.
    me = pick_me_not_proposing_rounds_0_to_2()
    old, wal, vid = lock_on_round_zero(me)
    reborn = make_engine(me, last_signed=old.last_signed)
    out = reborn.handle(Started(1_000, wal=tuple(wal)))
    assert reborn.locked == (0, vid)
    assert (reborn.round, reborn.step) == (1, Step.PROPOSE)
    assert not [o for o in out if isinstance(o, PersistLastSigned)], "nothing signed anew"
    assert [o.deadline_ms for o in out if isinstance(o, ScheduleTimeout)] == [1_110]
    out = reborn.handle(ProposalReceived(proposal(1, 1, block(1, b"other")), 1_001))
    assert own_votes(out) == [(PV, 1, b"")]


def test_replay_reuses_signed_messages_and_refuses_conflicts() -> None:
    me = pick_me_not_proposing_rounds_0_to_2()
    old, wal, vid = lock_on_round_zero(me)
    reborn = make_engine(me, last_signed=old.last_signed)
    out = reborn.handle(Started(1_000, wal=tuple(wal)))
    rebroadcast = own_votes(out)
    assert (PV, 0, vid) in rebroadcast
    assert (PC, 0, vid) in rebroadcast
    # A fresh engine without the WAL but with the guard state must refuse to re-sign
    # round 0 differently: it stays silent instead.
    amnesiac = make_engine(me, last_signed=old.last_signed)
    out = amnesiac.handle(Started(1_000))
    out += amnesiac.handle(TimeoutFired(Step.PROPOSE, 1, 0, 1_120))
    assert own_votes(out) == []
    assert any(type(o).__name__ == "SignRefused" for o in out)


def test_relock_with_proof_of_lock_from_a_later_round() -> None:
    me = pick_me_not_proposing_rounds_0_to_2()
    engine, _, _ = lock_on_round_zero(me)
    other_value = block(1, b"other")
    other_id = CODEC.value_id(other_value)
    # +2/3 prevoted other_value in round 1 (the POL); a proposal in round 2 carries it.
    engine.handle(TimeoutFired(Step.PROPOSE, 1, 1, 200))
    for s in others(me):
        engine.handle(VoteReceived(vote(s, PV, 1, 1, other_id), 201))
    for s in others(me):
        engine.handle(VoteReceived(vote(s, PC, 1, 1, b""), 202))
    engine.handle(TimeoutFired(Step.PRECOMMIT, 1, 1, 300))
    assert engine.round == 2
    out = engine.handle(ProposalReceived(proposal(1, 2, other_value, pol_round=1), 301))
    assert own_votes(out) == [(PV, 2, other_id)]


def test_equivocating_voter_yields_verifiable_evidence_once() -> None:
    me = not_proposer(1, 0)
    engine, _ = started(me)
    bad = others(me)[0]
    engine.handle(VoteReceived(vote(bad, PV, 1, 0, b"x" * 32), 1))
    out = engine.handle(VoteReceived(vote(bad, PV, 1, 0, b"y" * 32), 2))
    [report] = [o for o in out if isinstance(o, ReportEvidence)]
    report.evidence.verify(VSET, CHAIN, engine._verifier)
    assert report.evidence.validator == bad.public_key
    out = engine.handle(VoteReceived(vote(bad, PV, 1, 0, b"z" * 32), 3))
    assert not [o for o in out if isinstance(o, ReportEvidence)]


def test_bad_input_becomes_misbehaviour_never_an_exception() -> None:
    me = not_proposer(1, 0)
    engine, _ = started(me)
    peer = others(me)[0]
    good = vote(peer, PV, 1, 0, b"")
    cases = {
        BAD_SIGNATURE: dataclasses.replace(good, signature=b"\x00" * 32),
        UNKNOWN_VALIDATOR: vote(FakeSigner.numbered(99), PV, 1, 0, b""),
        MALFORMED_MESSAGE: dataclasses.replace(good, round=-1),
    }
    for code, bad in cases.items():
        [report] = engine.handle(VoteReceived(bad, 1, sender=b"peer-7"))
        assert isinstance(report, ReportMisbehaviour)
        assert (report.code, report.sender, report.validator) == (code, b"peer-7", None)
    wrong = proposal(1, 0, block(1))
    wrong = dataclasses.replace(wrong, proposer=peer.public_key)
    if peer.public_key != VSET.proposer(1, 0):
        # Another key in the proposer field: its signature fails, so only the peer is blamed
        # (test_engine_holes.py covers WRONG_PROPOSER with the intruder's own signature).
        [report] = engine.handle(ProposalReceived(wrong, 1))
        assert isinstance(report, ReportMisbehaviour)
        assert (report.code, report.validator) == (BAD_SIGNATURE, None)
    garbage = Vote(7, "x", None, 5, b"", b"")  # type: ignore[arg-type]
    [report] = engine.handle(VoteReceived(garbage, 1))
    assert isinstance(report, ReportMisbehaviour)
    assert (report.code, report.validator) == (MALFORMED_MESSAGE, None)


def test_messages_for_the_next_height_are_buffered_and_old_ones_ignored() -> None:
    me = not_proposer(2, 0)
    engine, _ = started(me, height=1)
    value = block(2)
    vid = CODEC.value_id(value)
    early = [VoteReceived(vote(s, PV, 2, 0, vid), 1) for s in others(me)]
    early_proposal = ProposalReceived(proposal(2, 0, value), 1)
    for event in [early_proposal, *early]:
        assert engine.handle(event) == []
    assert engine.handle(VoteReceived(vote(others(me)[0], PV, 5, 0, vid), 1)) == []
    out = engine.handle(HeightCommitted(1, VSET, 2))
    # The buffered proposal and prevotes are processed at once: prevote, then precommit.
    assert own_votes(out) == [(PV, 0, vid), (PC, 0, vid)]
    assert engine.handle(VoteReceived(vote(others(me)[0], PV, 1, 0, vid), 3)) == []


def test_commit_received_from_sync_is_verified() -> None:
    me = not_proposer(1, 0)
    helper, _ = started(me)
    value = block(1)
    vid = CODEC.value_id(value)
    helper.handle(ProposalReceived(proposal(1, 0, value), 1))
    for s in others(me):
        helper.handle(VoteReceived(vote(s, PV, 1, 0, vid), 2))
    commit = next(
        o
        for s in others(me)
        for o in helper.handle(VoteReceived(vote(s, PC, 1, 0, vid), 3))
        if isinstance(o, CommitBlock)
    )
    laggard, _ = started(others(me)[0])
    [report] = laggard.handle(CommitReceived(block(1, b"forged"), commit.certificate, 5))
    assert isinstance(report, ReportMisbehaviour)
    assert report.validator is None
    short = dataclasses.replace(commit.certificate, signatures=commit.certificate.signatures[:2])
    [report] = laggard.handle(CommitReceived(value, short, 5))
    assert isinstance(report, ReportMisbehaviour)
    assert report.validator is None
    [decided] = laggard.handle(CommitReceived(value, commit.certificate, 6))
    assert isinstance(decided, CommitBlock)
    assert decided.value_id == vid


def test_observer_without_a_key_follows_and_never_signs() -> None:
    engine = make_engine(FakeSigner(b"observer-key"))
    out = engine.handle(Started(0))
    value = block(1)
    vid = CODEC.value_id(value)
    out += engine.handle(ProposalReceived(proposal(1, 0, value), 1))
    for s in SIGNERS[:3]:
        out += engine.handle(VoteReceived(vote(s, PV, 1, 0, vid), 2))
    for s in SIGNERS[:3]:
        out += engine.handle(VoteReceived(vote(s, PC, 1, 0, vid), 3))
    assert broadcasts(out) == []
    assert any(isinstance(o, CommitBlock) for o in out)


def test_wal_entries_of_another_height_are_not_replayed() -> None:
    me = not_proposer(2, 0)
    engine = make_engine(me, height=2)
    stale: tuple[WalEntry, ...] = (HeightStarted(1), SignedByMe(vote(me, PV, 1, 0, b"")))
    out = engine.handle(Started(0, wal=stale))
    assert out[0] == WriteWal(HeightStarted(2), sync=False)
