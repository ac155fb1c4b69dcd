"""The engine's state, its bookkeeping and its signing path (see consensus/_engine.py)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from consensus._errors import SIGNER_UNAVAILABLE, SignerUnavailable
from consensus._events import (
    Broadcast,
    CommitBlock,
    Output,
    PersistLastSigned,
    ProposalReceived,
    ReportEvidence,
    ReportMisbehaviour,
    RequestProposalValue,
    ScheduleTimeout,
    SignedByMe,
    SignRefused,
    VoteReceived,
    WalEntry,
    WriteWal,
)
from consensus._evidence import Evidence, EvidenceKey
from consensus._params import ConsensusParams
from consensus._signguard import LastSigned, check_sign
from consensus._types import (
    Proposal,
    Signer,
    Step,
    ValueCodec,
    Verifier,
    Vote,
    VoteType,
    proposal_sign_bytes,
    vote_sign_bytes,
)
from consensus._validators import ValidatorSet
from consensus._votes import HeightVotes

NIL: bytes = b""
VOTE_STEP = {VoteType.PREVOTE: Step.PREVOTE, VoteType.PRECOMMIT: Step.PRECOMMIT}
# Outputs that a WAL replay must not repeat: the timeouts are re-based at the end, the rest
# was already executed by the node's previous life.
_REPLAY_SUPPRESSED = (ScheduleTimeout, RequestProposalValue, ReportMisbehaviour)


# A buffered early message: (kind, round, signer, vote type or 0, block hash or value id).
FutureKey = tuple[str, int, bytes, int, bytes]


@dataclass(slots=True)
class Proposed:
    """A proposal kept for its round, with its value id and cached validity."""

    proposal: Proposal
    value_id: bytes
    valid: bool | None = None


class EngineState:
    """State and helpers shared by the protocol rules in ``Engine``."""

    def __init__(
        self,
        *,
        chain_id: str,
        height: int,
        validator_set: ValidatorSet,
        verifier: Verifier,
        codec: ValueCodec,
        signer: Signer | None = None,
        params: ConsensusParams | None = None,
        last_signed: LastSigned | None = None,
        next_validator_set: ValidatorSet | None = None,
    ) -> None:
        if height < 1:
            raise ValueError("heights start at 1")
        self._chain_id = chain_id
        self._verifier = verifier
        self._codec = codec
        self._signer = signer
        self._params = params if params is not None else ConsensusParams()
        self._last_signed = last_signed
        self._out: list[Output] = []
        self._now = 0
        self._replaying = False
        self._replay_own: dict[tuple[int, Step], Proposal | Vote] = {}
        # Messages of height + 1, verified against its set, de-duplicated (FutureKey).
        self._future: dict[FutureKey, ProposalReceived | VoteReceived] = {}
        self._future_count: dict[bytes, int] = {}
        self._evidence_seen: set[EvidenceKey] = set()
        self._reset_height(height, validator_set, next_validator_set or validator_set)

    def _reset_height(
        self, height: int, validator_set: ValidatorSet, next_validator_set: ValidatorSet
    ) -> None:
        # l.2-9, l.53: a new height starts from the initial values and an empty message log.
        self._height = height
        self._vset = validator_set
        self._next_vset = next_validator_set
        key = self._signer.public_key if self._signer is not None else None
        self._me: bytes | None = key if key is not None and key in validator_set else None
        self._round = 0
        self._step = Step.NEW_HEIGHT
        self._decided: CommitBlock | None = None
        self._locked_value: bytes | None = None
        self._locked_id: bytes | None = None
        self._locked_round = -1
        self._valid: Proposed | None = None
        self._valid_round = -1
        self._proposals: dict[int, dict[bytes, Proposed]] = {}
        self._votes = HeightVotes(height, validator_set)
        # The first message of each sender per round: proof for the round skip (l.55).
        self._senders: dict[int, dict[bytes, Proposal | Vote]] = {}
        self._sender_power: dict[int, int] = {}
        self._prevote_timer_rounds: set[int] = set()
        self._precommit_timer_rounds: set[int] = set()
        self._lock_rule_rounds: set[int] = set()
        self._decide_retry_rounds: set[int] = set()
        self._pending_timeouts: dict[tuple[Step, int], int] = {}
        self._awaiting_value: tuple[int, int] | None = None
        self._replay_own = {}

    # ------------------------------------------------------------ read-only state

    @property
    def height(self) -> int:
        """The height being decided."""
        return self._height

    @property
    def round(self) -> int:
        """The current round."""
        return self._round

    @property
    def step(self) -> Step:
        """The current step (COMMIT once the height is decided)."""
        return self._step

    @property
    def validator_set(self) -> ValidatorSet:
        """The validator set of the current height."""
        return self._vset

    @property
    def next_validator_set(self) -> ValidatorSet:
        """The validator set of the next height (early messages are checked against it)."""
        return self._next_vset

    @property
    def locked(self) -> tuple[int, bytes | None]:
        """(lockedRound, id of lockedValue); (-1, None) when not locked."""
        return self._locked_round, self._locked_id

    @property
    def valid(self) -> tuple[int, bytes | None]:
        """(validRound, id of validValue); (-1, None) when none."""
        return self._valid_round, self._valid.value_id if self._valid is not None else None

    @property
    def last_signed(self) -> LastSigned | None:
        """The double-sign guard's state in memory."""
        return self._last_signed

    def gossip_messages(self) -> list[Proposal | Vote]:
        """Messages worth re-sending to peers now (the driver's periodic gossip).

        The current round's proposals; this validator's own votes of every round of the
        height, newest first (a peer left behind in an earlier round needs our precommit of
        that round to time out of it, and may lack the power to skip rounds); and the
        prevotes that prove the lock of a re-proposal (the valid round's and the pol_round's
        of the current proposals): without them a peer that missed those prevotes could never
        accept the re-proposal (Algorithm 1, line 28); and the first message of every other
        sender of the current round, the proof for a round skip (line 55), so peers that
        lack the power to skip on their own follow. A driver that tracks its peers' rounds
        may send less.
        """
        proposals = self._proposals.get(self._round, {})
        messages: list[Proposal | Vote] = [entry.proposal for entry in proposals.values()]
        if self._me is not None:
            for round_ in range(self._round, -1, -1):
                for vote_type in VoteType:
                    vote = self._votes.get(round_, vote_type).by_validator.get(self._me)
                    if vote is not None:
                        messages.append(vote)
        # One message per sender of the current round: whoever skipped here on f + 1 of
        # them (l.55) lets peers left behind skip too.
        messages.extend(
            m for key, m in self._senders.get(self._round, {}).items() if key != self._me
        )
        proofs: dict[int, bytes] = {}
        if self._valid is not None:
            proofs[self._valid_round] = self._valid.value_id
        for entry in proposals.values():
            if entry.proposal.pol_round >= 0:
                proofs[entry.proposal.pol_round] = entry.value_id
        for round_, value_id in proofs.items():
            prevotes = self._votes.get(round_, VoteType.PREVOTE)
            messages.extend(prevotes.voters_for.get(value_id, {}).values())
        return messages

    def _emit(self, output: Output) -> None:
        if self._replaying:
            if isinstance(output, _REPLAY_SUPPRESSED):
                return
            if isinstance(output, WriteWal) and not isinstance(output.entry, SignedByMe):
                return
        self._out.append(output)

    def _log(self, entry: WalEntry) -> None:
        # Rule 3: the input goes to the WAL before anything it causes.
        self._emit(WriteWal(entry, sync=False))

    def _misbehaviour(
        self, code: str, detail: str, sender: bytes | None, validator: bytes | None = None
    ) -> None:
        self._emit(ReportMisbehaviour(code, detail, sender, validator))

    def _matters(self, block_hash: bytes) -> bool:
        """Whether votes for block_hash can change a decision: nil or a known proposal."""
        if block_hash == NIL:
            return True
        return any(block_hash in in_round for in_round in self._proposals.values())

    def _report_evidence(self, evidence: Evidence) -> None:
        key = evidence.key
        if key in self._evidence_seen:
            return
        self._evidence_seen.add(key)
        self._emit(ReportEvidence(evidence))

    def _add_sender(self, round_: int, key: bytes, message: Proposal | Vote) -> None:
        senders = self._senders.setdefault(round_, {})
        if key not in senders:
            senders[key] = message
            self._sender_power[round_] = self._sender_power.get(round_, 0) + self._vset.power(key)

    def _schedule(self, step: Step, round_: int) -> None:
        duration = self._params.timeout_ms(step, round_)
        self._pending_timeouts[(step, round_)] = duration
        self._emit(ScheduleTimeout(step, self._height, round_, duration, self._now + duration))

    # ------------------------------------------------------------ signing

    def _cast(self, vote_type: VoteType, block_hash: bytes) -> None:
        me = self._me
        if me is None:
            return
        height, round_ = self._height, self._round
        step = VOTE_STEP[vote_type]
        recorded = self._replay_own.get((round_, step)) if self._replaying else None
        if isinstance(recorded, Vote):
            vote = recorded
            self._emit(Broadcast(vote))
        else:
            sign_bytes = vote_sign_bytes(self._chain_id, vote_type, height, round_, block_hash)
            signed = self._sign(round_, step, sign_bytes)
            if signed is None:
                return
            vote = Vote(vote_type, height, round_, block_hash, me, signed[0])
            self._emit_signed(vote, signed[1])
        self._votes.add(vote)
        self._add_sender(round_, me, vote)

    def _propose(self, value: bytes, value_id: bytes, pol_round: int) -> None:
        me = self._me
        if me is None:
            return
        height, round_ = self._height, self._round
        recorded = self._replay_own.get((round_, Step.PROPOSE)) if self._replaying else None
        if isinstance(recorded, Proposal):
            proposal = recorded
            value_id = self._codec.value_id(proposal.value)
            self._emit(Broadcast(proposal))
        else:
            sign_bytes = proposal_sign_bytes(self._chain_id, height, round_, pol_round, value_id)
            signed = self._sign(round_, Step.PROPOSE, sign_bytes)
            if signed is None:
                return
            proposal = Proposal(height, round_, value, pol_round, me, signed[0])
            self._emit_signed(proposal, signed[1])
        self._proposals.setdefault(round_, {}).setdefault(value_id, Proposed(proposal, value_id))
        self._add_sender(round_, me, proposal)

    def _sign(self, round_: int, step: Step, sign_bytes: bytes) -> tuple[bytes, LastSigned] | None:
        assert self._signer is not None
        digest = hashlib.sha256(sign_bytes).digest()
        refusal = check_sign(self._last_signed, self._height, round_, step, digest)
        if refusal is not None:
            self._emit(SignRefused(self._height, round_, step, refusal))
            return None
        try:
            signature = self._signer.sign(sign_bytes)
        except SignerUnavailable as e:
            # Silent in this step, as for a guard refusal; nothing signed, nothing recorded.
            self._emit(SignRefused(self._height, round_, step, f"{SIGNER_UNAVAILABLE}: {e}"))
            return None
        self._last_signed = LastSigned(self._height, round_, step, digest)
        return signature, self._last_signed

    def _emit_signed(self, message: Proposal | Vote, last: LastSigned) -> None:
        # Rule 2: the message is in the synced WAL (so a replay re-uses rather than re-signs
        # it), then in the guard file, and only then may it leave.
        self._emit(WriteWal(SignedByMe(message), sync=True))
        self._emit(PersistLastSigned(last.height, last.round, last.step, last.sign_bytes_hash))
        self._emit(Broadcast(message))
