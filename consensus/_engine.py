"""The Tendermint consensus engine as a pure state machine.

This module implements Algorithm 1 of "The latest gossip on BFT consensus" (Buchman, Kwon,
Milosevic, 2018); comments of the form ``l.22`` cite the algorithm's lines. Rules it keeps:

1. Every rule that decides what this validator signs lives in this module (the state, its
   bookkeeping and the signing path are in consensus/_state.py). ``handle`` is
   synchronous and deterministic: no clock (time comes in every event), no randomness, no
   I/O. The driver in node/ executes the returned outputs in order.
2. Every message this validator signs passes the double-sign check first and is preceded,
   in the outputs, by ``WriteWal(SignedByMe, sync=True)`` and ``PersistLastSigned``: it is
   durable before it can leave the node.
3. Every input that changed the state is written to the WAL before the outputs it caused,
   so replaying the WAL of the current height rebuilds the same state, lock and valid value
   included. During a replay, a message already signed is taken from the WAL, not signed
   again.
4. Bad input from peers never raises out of ``handle``: it becomes ``ReportMisbehaviour``
   (or ``ReportEvidence`` for an equivocation). Any exception is a bug; the node must stop.
5. Each ``_enter_*`` starts with the (height, round, step) guard, so entering twice or
   entering the past does nothing. Stale timeouts and messages are dropped.
6. A decided height waits for ``HeightCommitted`` (the block is durable) before height + 1
   starts; messages for height + 1 that arrive early are buffered once their signature
   verifies against the set of height + 1, a bounded number per validator, without
   duplicates. Messages of older heights are ignored.
7. Validity (valid(v)) is judged at the time of the event being processed, never a clock:
   a WAL replay re-derives the same verdicts, so the same lock and valid value. A verdict
   is cached on the entry of the exact bytes judged, and an invalid value never takes the
   place of a valid one. A report names a validator only when its own valid signature
   proves the fault.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Final, assert_never

from consensus._errors import (
    BAD_SIGNATURE,
    INVALID_CERTIFICATE,
    INVALID_VALUE,
    MALFORMED_MESSAGE,
    UNKNOWN_VALIDATOR,
    VALUE_MISMATCH,
    WRONG_PROPOSER,
    InvalidCertificate,
)
from consensus._events import (
    CommitBlock,
    CommitReceived,
    Event,
    HeightCommitted,
    HeightStarted,
    Output,
    ProposalReceived,
    ProposalValueReady,
    RequestProposalValue,
    ScheduleTimeout,
    SignedByMe,
    Started,
    TimeoutFired,
    VoteReceived,
    WalEntry,
)
from consensus._evidence import ConflictingProposal, DuplicateVote
from consensus._signguard import LastSigned
from consensus._state import NIL, VOTE_STEP, EngineState, FutureKey, Proposed
from consensus._types import (
    CommitCertificate,
    Step,
    Vote,
    VoteType,
)
from consensus._votes import AddResult

# The time a certified value (CommitReceived) is judged at: later than any block time.
CERTIFIED_NOW_MS: Final = 1 << 62


class Engine(EngineState):
    """One validator's (or observer's) consensus state machine for one chain.

    Args:
        chain_id: the chain id covered by every signature.
        height: the height to run (the last committed height + 1).
        validator_set: the validator set of that height.
        next_validator_set: the set of height + 1 (None: the same); early messages for
            height + 1 are verified against it.
        verifier: checks peers' signatures.
        codec: value ids and validity of the opaque values.
        signer: the local validator key; None for a node that only follows.
        params: timeouts and bounds.
        last_signed: the persisted double-sign guard state (node/signguard.py).
    """

    # ------------------------------------------------------------ entry point

    def handle(self, event: Event) -> list[Output]:
        """Process one event and return the outputs to execute, in order."""
        self._out = []
        match event:
            case Started():
                self._on_started(event)
            case ProposalReceived():
                self._now = event.now_ms
                self._on_proposal(event, verified=False)
            case VoteReceived():
                self._now = event.now_ms
                self._on_vote(event, verified=False)
            case TimeoutFired():
                self._now = event.now_ms
                self._on_timeout(event)
            case ProposalValueReady():
                self._now = event.now_ms
                self._on_value_ready(event)
            case CommitReceived():
                self._now = event.now_ms
                self._on_commit_received(event)
            case HeightCommitted():
                self._now = event.now_ms
                self._on_height_committed(event)
            case _:
                assert_never(event)
        out, self._out = self._out, []
        return out

    # ------------------------------------------------------------ start and replay

    def _on_started(self, event: Started) -> None:
        if self._step is not Step.NEW_HEIGHT or self._decided is not None:
            return
        self._now = event.now_ms
        replay: list[WalEntry] | None = None
        for index, entry in enumerate(event.wal):
            if isinstance(entry, HeightStarted):
                replay = list(event.wal[index + 1 :]) if entry.height == self._height else None
        if replay is None:
            self._log(HeightStarted(self._height))
            self._enter_propose(0)  # l.10: upon start do StartRound(0)
            self._evaluate(None)
            return
        self._replay(replay, event.now_ms)

    def _replay(self, entries: list[WalEntry], now_ms: int) -> None:
        for entry in entries:
            if isinstance(entry, SignedByMe):
                message = entry.message
                if isinstance(message, Vote):
                    step = VOTE_STEP[message.type]
                    sign_bytes = message.sign_bytes(self._chain_id)
                else:
                    step = Step.PROPOSE
                    value_id = self._codec.value_id(message.value)
                    sign_bytes = message.sign_bytes(self._chain_id, value_id)
                self._replay_own[(message.round, step)] = message
                mine = LastSigned(
                    message.height, message.round, step, hashlib.sha256(sign_bytes).digest()
                )
                if self._last_signed is None or mine.position > self._last_signed.position:
                    self._last_signed = mine
        self._replaying = True
        try:
            self._enter_propose(0)
            self._evaluate(None)
            for entry in entries:
                match entry:
                    case ProposalReceived():
                        self._now = entry.now_ms
                        self._on_proposal(entry, verified=True)
                    case VoteReceived():
                        self._now = entry.now_ms
                        self._on_vote(entry, verified=True)
                    case TimeoutFired():
                        self._now = entry.now_ms
                        self._on_timeout(entry)
                    case ProposalValueReady():
                        self._now = entry.now_ms
                        self._on_value_ready(entry)
                    case SignedByMe() | HeightStarted():
                        pass
                    case _:
                        assert_never(entry)
        finally:
            self._replaying = False
            self._replay_own = {}
        self._now = now_ms
        if self._decided is not None:
            return
        for (step, round_), duration in sorted(self._pending_timeouts.items()):
            if round_ == self._round:
                self._emit(ScheduleTimeout(step, self._height, round_, duration, now_ms + duration))
        if self._awaiting_value is not None:
            self._emit(RequestProposalValue(*self._awaiting_value))

    # ------------------------------------------------------------ messages

    def _buffer_future(self, event: ProposalReceived | VoteReceived) -> None:
        """Keep a message of height + 1, once its signature verifies against that set.

        Only verified messages are counted against their signer's bound, and a copy of a
        message already kept is dropped, so forgeries in a validator's name never displace
        its genuine messages (rule 6).
        """
        vset = self._next_vset
        if isinstance(event, ProposalReceived):
            p = event.proposal
            signer, round_, signature = p.proposer, p.round, p.signature
            value_id = self._codec.value_id(p.value)
            key: FutureKey = ("proposal", round_, signer, 0, value_id)
            message = p.sign_bytes(self._chain_id, value_id)
        else:
            v = event.vote
            signer, round_, signature = v.validator, v.round, v.signature
            key = ("vote", round_, signer, int(v.type), v.block_hash)
            message = v.sign_bytes(self._chain_id)
        if round_ > self._params.max_round_ahead or key in self._future:
            return
        if signer not in vset:
            self._misbehaviour(UNKNOWN_VALIDATOR, "next-height signer", event.sender)
            return
        count = self._future_count.get(signer, 0)
        if count >= self._params.max_future_per_validator:
            return
        if not self._verifier.verify(signer, message, signature):
            self._misbehaviour(BAD_SIGNATURE, "next-height message", event.sender)
            return
        if isinstance(event, ProposalReceived) and signer != vset.proposer(
            self._height + 1, round_
        ):
            self._misbehaviour(WRONG_PROPOSER, f"round {round_}", event.sender, signer)
            return
        self._future_count[signer] = count + 1
        self._future[key] = event

    def _on_proposal(self, event: ProposalReceived, *, verified: bool) -> None:
        proposal = event.proposal
        error = proposal.shape_error()
        if error is not None:
            self._misbehaviour(MALFORMED_MESSAGE, f"proposal: {error}", event.sender)
            return
        if proposal.height != self._height or self._step is Step.NEW_HEIGHT:
            if proposal.height == self._height + 1:
                self._buffer_future(event)
            return
        if self._decided is not None or proposal.round > self._round + self._params.max_round_ahead:
            return
        if proposal.proposer not in self._vset:
            self._misbehaviour(UNKNOWN_VALIDATOR, "proposal signer", event.sender)
            return
        value_id = self._codec.value_id(proposal.value)
        in_round = self._proposals.get(proposal.round, {})
        existing = in_round.get(value_id)
        if existing is not None and existing.proposal.value == proposal.value:
            return  # a copy of what we hold
        if not verified and not self._verifier.verify(
            proposal.proposer, proposal.sign_bytes(self._chain_id, value_id), proposal.signature
        ):
            # Rule 4 and hole 2d: a bad signature blames the sending peer, never the key.
            self._misbehaviour(BAD_SIGNATURE, "proposal", event.sender)
            return
        if proposal.proposer != self._vset.proposer(proposal.height, proposal.round):
            self._misbehaviour(
                WRONG_PROPOSER, f"round {proposal.round}", event.sender, proposal.proposer
            )
            return
        entry = Proposed(proposal, value_id)
        if existing is not None:
            # Same id, other bytes (a codec whose id does not cover every byte): the new
            # copy replaces the one we hold only if that one is invalid and it is valid.
            if not self._judge(existing) and self._judge(entry):
                entry.valid = True
                in_round[value_id] = entry
                self._log(event)
                self._evaluate(proposal.round)
            return
        if in_round:
            first = next(iter(in_round.values()))
            self._report_evidence(
                ConflictingProposal.of(first.proposal, first.value_id, proposal, value_id)
            )
            if len(in_round) >= self._params.max_proposals_per_round:
                # Full: an invalid value held gives way to a valid one, never the reverse,
                # so invalid values cannot fill the round.
                invalid = [k for k, held in in_round.items() if not self._judge(held)]
                if invalid and self._judge(entry):
                    entry.valid = True
                    del in_round[invalid[0]]
                    in_round[value_id] = entry
                    self._log(event)
                    self._evaluate(proposal.round)
                return
        self._proposals.setdefault(proposal.round, {})[value_id] = entry
        self._log(event)
        self._add_sender(proposal.round, proposal.proposer, proposal)
        self._evaluate(proposal.round)

    def _on_vote(self, event: VoteReceived, *, verified: bool) -> None:
        vote = event.vote
        error = vote.shape_error()
        if error is not None:
            self._misbehaviour(MALFORMED_MESSAGE, f"vote: {error}", event.sender)
            return
        if vote.height != self._height or self._step is Step.NEW_HEIGHT:
            if vote.height == self._height + 1:
                self._buffer_future(event)
            return
        if self._decided is not None or vote.round > self._round + self._params.max_round_ahead:
            return
        if vote.validator not in self._vset:
            self._misbehaviour(UNKNOWN_VALIDATOR, "vote signer", event.sender)
            return
        if self._votes.get(vote.round, vote.type).has(vote):
            return
        if not verified and not self._verifier.verify(
            vote.validator, vote.sign_bytes(self._chain_id), vote.signature
        ):
            self._misbehaviour(BAD_SIGNATURE, "vote", event.sender)
            return
        result, other = self._votes.add(vote, countable=self._matters(vote.block_hash))
        if other is not None:
            self._report_evidence(DuplicateVote.of(other, vote))
        if result is AddResult.CONFLICT:
            return
        self._log(event)
        self._add_sender(vote.round, vote.validator, vote)
        self._evaluate(vote.round)

    def _on_timeout(self, event: TimeoutFired) -> None:
        if event.height != self._height or self._decided is not None:
            return
        self._pending_timeouts.pop((event.step, event.round), None)
        if event.round != self._round:
            return  # stale (rule 5)
        if event.step is Step.PROPOSE and self._step is Step.PROPOSE:
            # l.57-60: OnTimeoutPropose: broadcast PREVOTE nil, step <- prevote.
            self._log(event)
            self._prevote(NIL)
        elif event.step is Step.PREVOTE and self._step is Step.PREVOTE:
            # l.61-64: OnTimeoutPrevote: broadcast PRECOMMIT nil, step <- precommit.
            self._log(event)
            self._precommit(NIL)
        elif event.step is Step.PRECOMMIT:
            # l.65-67: OnTimeoutPrecommit: StartRound(round_p + 1).
            self._log(event)
            self._enter_propose(self._round + 1)
        else:
            return
        self._evaluate(None)

    def _on_value_ready(self, event: ProposalValueReady) -> None:
        if self._awaiting_value != (event.height, event.round) or self._step is not Step.PROPOSE:
            return  # stale: the round moved on
        self._awaiting_value = None
        self._log(event)
        # l.18-19: proposal <- getValue(); broadcast PROPOSAL with validRound_p (= -1 here).
        self._propose(event.value, self._codec.value_id(event.value), -1)
        self._evaluate(self._round)

    def _on_commit_received(self, event: CommitReceived) -> None:
        certificate = event.certificate
        if certificate.height != self._height or self._decided is not None:
            return
        if self._step is Step.NEW_HEIGHT:
            return
        try:
            certificate.verify(self._vset, self._chain_id, self._verifier)
        except InvalidCertificate as e:
            self._misbehaviour(INVALID_CERTIFICATE, str(e), event.sender)
            return
        value_id = self._codec.value_id(event.value)
        if value_id != certificate.block_hash:
            self._misbehaviour(VALUE_MISMATCH, "value id differs from certificate", event.sender)
            return
        # A certified value is judged without the clock: +2/3 of the power, so at least one
        # correct validator, already accepted its time. Only its place on the tip is checked.
        if not self._codec.is_valid(self._height, event.value, CERTIFIED_NOW_MS):
            self._misbehaviour(INVALID_VALUE, "certified value is invalid", event.sender)
            return
        self._decide(event.value, value_id, certificate.round, certificate)

    def _on_height_committed(self, event: HeightCommitted) -> None:
        if event.height < self._height:
            return  # stale
        started = self._step is not Step.NEW_HEIGHT or self._decided is not None
        buffered = list(self._future.values()) if event.height == self._height else []
        # The buffered messages were verified against the set we expected for this height.
        verified = event.next_validator_set == self._next_vset
        self._future = {}
        self._future_count = {}
        following = event.following_validator_set or event.next_validator_set
        self._reset_height(event.height + 1, event.next_validator_set, following)
        if not started:
            return
        self._log(HeightStarted(self._height))
        self._enter_propose(0)  # l.54: StartRound(0)
        self._evaluate(None)
        for early in buffered:
            # Processed (and logged) now: a replay must see the time of this processing.
            if isinstance(early, ProposalReceived):
                self._on_proposal(dataclasses.replace(early, now_ms=self._now), verified=verified)
            else:
                self._on_vote(dataclasses.replace(early, now_ms=self._now), verified=verified)

    # ------------------------------------------------------------ the upon rules

    def _evaluate(self, touched_round: int | None) -> None:
        if self._decided is not None or self._step is Step.NEW_HEIGHT:
            return
        for round_ in sorted(self._decide_retry_rounds):
            self._try_decide(round_)  # a precommitted value this node judged invalid
            if self._decided is not None:
                return
        if touched_round is not None:
            self._try_decide(touched_round)  # l.49 holds for any round r
            if self._decided is not None:
                return
            # l.55-56: upon f + 1 messages of a round > round_p: StartRound(round).
            if (
                touched_round > self._round
                and self._sender_power.get(touched_round, 0) >= self._vset.one_third
            ):
                self._enter_propose(touched_round)
        while self._decided is None and self._apply_round_rules():
            pass

    def _judge(self, entry: Proposed) -> bool:
        """valid(v) of entry without caching it: for a check that may change nothing (and
        so is not logged), which a replay must not see as cached state."""
        if entry.valid is not None:
            return entry.valid
        return self._codec.is_valid(self._height, entry.proposal.value, self._now)

    def _is_valid(self, entry: Proposed, *, retry: bool = False) -> bool:
        # retry: judge a negative verdict again (valid(v) can turn true as time passes);
        # used only for a value a quorum precommitted, which attackers alone cannot make.
        if entry.valid is None or (retry and not entry.valid):
            # The time of the event being processed (rule 7): a replay re-derives the verdict.
            entry.valid = self._codec.is_valid(self._height, entry.proposal.value, self._now)
        return entry.valid

    def _try_decide(self, round_: int) -> None:
        # l.49-54: upon PROPOSAL(h_p, r, v, *) from proposer(h_p, r) AND 2f + 1
        # PRECOMMIT(h_p, r, id(v)) while decision_p[h_p] = nil: if valid(v) decide v.
        precommits = self._votes.get(round_, VoteType.PRECOMMIT)
        quorum = self._vset.quorum
        if precommits.total < quorum:
            return
        for entry in self._proposals.get(round_, {}).values():
            if precommits.power(entry.value_id) < quorum:
                continue
            if self._is_valid(entry, retry=True):
                certificate = precommits.certificate(self._height, round_, entry.value_id)
                self._decide(entry.proposal.value, entry.value_id, round_, certificate)
                return
            # Judged again on later events: the time may make it valid (a block stamped
            # ahead of this node's clock that a quorum of clocks found timely).
            self._decide_retry_rounds.add(round_)

    def _apply_round_rules(self) -> bool:
        """Apply the first rule of round_p whose condition holds; True if one did."""
        round_ = self._round
        quorum = self._vset.quorum
        self._try_decide(round_)
        if self._decided is not None:
            return False
        proposals = self._proposals.get(round_, {})
        prevotes = self._votes.get(round_, VoteType.PREVOTE)
        if self._step is Step.PROPOSE:
            for entry in proposals.values():
                pol_round = entry.proposal.pol_round
                if pol_round == -1:
                    # l.22-27: a fresh proposal: prevote it if valid and not locked on
                    # another value.
                    good = self._is_valid(entry) and (
                        self._locked_round == -1 or self._locked_id == entry.value_id
                    )
                    self._prevote(entry.value_id if good else NIL)
                    return True
                pol = self._votes.get(pol_round, VoteType.PREVOTE)
                if pol_round < round_ and pol.power(entry.value_id) >= quorum:
                    # l.28-33: a re-proposal with a proof of lock from round vr: prevote it
                    # if valid and our lock is not newer than vr (or is on this value).
                    good = self._is_valid(entry) and (
                        self._locked_round <= pol_round or self._locked_id == entry.value_id
                    )
                    self._prevote(entry.value_id if good else NIL)
                    return True
        if self._step >= Step.PREVOTE:
            if (
                self._step is Step.PREVOTE
                and prevotes.total >= quorum
                and round_ not in self._prevote_timer_rounds
            ):
                # l.34-35: upon 2f + 1 PREVOTE(h_p, round_p, *) for the first time:
                # schedule OnTimeoutPrevote.
                self._prevote_timer_rounds.add(round_)
                self._schedule(Step.PREVOTE, round_)
                return True
            if round_ not in self._lock_rule_rounds:
                for entry in proposals.values():
                    if prevotes.power(entry.value_id) >= quorum and self._is_valid(entry):
                        # l.36-43: PROPOSAL v and 2f + 1 PREVOTE id(v), step >= prevote,
                        # for the first time.
                        self._lock_rule_rounds.add(round_)
                        if self._step is Step.PREVOTE:
                            # l.38-41: lock on v and precommit it.
                            self._locked_value = entry.proposal.value
                            self._locked_id = entry.value_id
                            self._locked_round = round_
                            self._precommit(entry.value_id)
                        # l.42-43: v becomes the valid value.
                        self._valid = entry
                        self._valid_round = round_
                        return True
            if self._step is Step.PREVOTE and prevotes.power(NIL) >= quorum:
                # l.44-46: upon 2f + 1 PREVOTE(h_p, round_p, nil): precommit nil.
                self._precommit(NIL)
                return True
        precommits = self._votes.get(round_, VoteType.PRECOMMIT)
        if precommits.total >= quorum and round_ not in self._precommit_timer_rounds:
            # l.47-48: upon 2f + 1 PRECOMMIT(h_p, round_p, *) for the first time:
            # schedule OnTimeoutPrecommit.
            self._precommit_timer_rounds.add(round_)
            self._schedule(Step.PRECOMMIT, round_)
            return True
        return False

    # ------------------------------------------------------------ step entries

    def _enter_propose(self, round_: int) -> None:
        """StartRound(round): l.11-21."""
        if self._decided is not None or (self._round, self._step) >= (round_, Step.PROPOSE):
            return
        self._round = round_  # l.12
        self._step = Step.PROPOSE  # l.13
        self._awaiting_value = None
        # l.21 schedules OnTimeoutPropose for non-proposers; the proposer gets one too, so
        # that a driver that never answers RequestProposalValue cannot stall this node.
        self._schedule(Step.PROPOSE, round_)
        if self._me is not None and self._vset.proposer(self._height, round_) == self._me:
            if self._valid is not None:
                # l.15-16, l.19: re-propose validValue with validRound.
                self._propose(self._valid.proposal.value, self._valid.value_id, self._valid_round)
            else:
                # l.18: getValue(), answered later by ProposalValueReady.
                self._awaiting_value = (self._height, round_)
                self._emit(RequestProposalValue(self._height, round_))

    def _enter_prevote(self, round_: int) -> bool:
        if self._decided is not None or (self._round, self._step) >= (round_, Step.PREVOTE):
            return False
        if round_ != self._round:
            return False
        self._step = Step.PREVOTE
        return True

    def _enter_precommit(self, round_: int) -> bool:
        if self._decided is not None or (self._round, self._step) >= (round_, Step.PRECOMMIT):
            return False
        if round_ != self._round:
            return False
        self._step = Step.PRECOMMIT
        return True

    def _decide(
        self, value: bytes, value_id: bytes, round_: int, certificate: CommitCertificate
    ) -> None:
        # l.51: decision_p[h_p] = v. Height + 1 starts on HeightCommitted (rule 6).
        self._decided = CommitBlock(self._height, round_, value, value_id, certificate)
        self._step = Step.COMMIT
        self._awaiting_value = None
        self._pending_timeouts.clear()
        self._emit(self._decided)

    # ------------------------------------------------------------ signing

    def _prevote(self, block_hash: bytes) -> None:
        if self._enter_prevote(self._round):
            self._cast(VoteType.PREVOTE, block_hash)

    def _precommit(self, block_hash: bytes) -> None:
        if self._enter_precommit(self._round):
            self._cast(VoteType.PRECOMMIT, block_hash)
