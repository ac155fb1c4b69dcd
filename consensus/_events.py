"""Events (things that happened) and outputs (things to do) of the engine.

The driver executes a ``handle`` result in order. ``WriteWal(sync=True)`` and
``PersistLastSigned`` must be durable before the driver goes on: they always come before the
``Broadcast`` of the signed message they protect.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus._evidence import Evidence
from consensus._types import CommitCertificate, Proposal, Step, Vote
from consensus._validators import ValidatorSet

# ---------------------------------------------------------------- events (inputs)


@dataclass(frozen=True, slots=True)
class ProposalReceived:
    """A proposal arrived from the network; sender is the peer id, for reports only."""

    proposal: Proposal
    now_ms: int
    sender: bytes | None = None


@dataclass(frozen=True, slots=True)
class VoteReceived:
    """A vote arrived from the network; sender is the peer id, for reports only."""

    vote: Vote
    now_ms: int
    sender: bytes | None = None


@dataclass(frozen=True, slots=True)
class TimeoutFired:
    """A timeout scheduled by ``ScheduleTimeout`` expired."""

    step: Step
    height: int
    round: int
    now_ms: int


@dataclass(frozen=True, slots=True)
class ProposalValueReady:
    """The driver's answer to ``RequestProposalValue``: a serialized block to propose."""

    height: int
    round: int
    value: bytes
    now_ms: int


@dataclass(frozen=True, slots=True)
class CommitReceived:
    """A committed value with its certificate, from block sync (the node fell behind)."""

    value: bytes
    certificate: CommitCertificate
    now_ms: int
    sender: bytes | None = None


@dataclass(frozen=True, slots=True)
class HeightCommitted:
    """The driver made block ``height`` durable.

    Attributes:
        height: the committed height.
        next_validator_set: the set that runs height + 1.
        now_ms: the current time.
        following_validator_set: the set that runs height + 2 (known now: updates take
            effect two heights after the block that made them); None: the same as
            next_validator_set. Messages for height + 2 that arrive early are checked
            against it.
    """

    height: int
    next_validator_set: ValidatorSet
    now_ms: int
    following_validator_set: ValidatorSet | None = None


@dataclass(frozen=True, slots=True)
class HeightStarted:
    """WAL marker: the records after it belong to this height."""

    height: int


@dataclass(frozen=True, slots=True)
class SignedByMe:
    """WAL record of a message this node signed (written, synced, before it leaves)."""

    message: Proposal | Vote


WalEntry = (
    HeightStarted | SignedByMe | ProposalReceived | VoteReceived | TimeoutFired | ProposalValueReady
)


@dataclass(frozen=True, slots=True)
class Started:
    """The engine starts (or restarts) at its height.

    Attributes:
        now_ms: the current time.
        wal: the WAL entries of the node's WAL file, oldest first; the entries after the
            last ``HeightStarted`` of the engine's height are replayed, others ignored.
    """

    now_ms: int
    wal: tuple[WalEntry, ...] = ()


Event = (
    Started
    | ProposalReceived
    | VoteReceived
    | TimeoutFired
    | ProposalValueReady
    | CommitReceived
    | HeightCommitted
)

# ---------------------------------------------------------------- outputs


@dataclass(frozen=True, slots=True)
class WriteWal:
    """Append entry to the WAL; when sync is set, fsync before executing the next output.

    A ``HeightStarted`` entry means the records of earlier heights are no longer needed.
    """

    entry: WalEntry
    sync: bool


@dataclass(frozen=True, slots=True)
class PersistLastSigned:
    """Durably record the double-sign guard's state before the next output."""

    height: int
    round: int
    step: Step
    sign_bytes_hash: bytes


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send this node's signed message to every peer."""

    message: Proposal | Vote


@dataclass(frozen=True, slots=True)
class ScheduleTimeout:
    """Feed ``TimeoutFired(step, height, round, ...)`` back at deadline_ms."""

    step: Step
    height: int
    round: int
    duration_ms: int
    deadline_ms: int


@dataclass(frozen=True, slots=True)
class RequestProposalValue:
    """This node proposes at (height, round): answer with ``ProposalValueReady``."""

    height: int
    round: int


@dataclass(frozen=True, slots=True)
class CommitBlock:
    """Value is decided: execute and persist it, then feed ``HeightCommitted``."""

    height: int
    round: int
    value: bytes
    value_id: bytes
    certificate: CommitCertificate


@dataclass(frozen=True, slots=True)
class ReportEvidence:
    """A validator equivocated (a ``DuplicateVote`` or a ``ConflictingProposal``): keep,
    expose and count this evidence."""

    evidence: Evidence


@dataclass(frozen=True, slots=True)
class ReportMisbehaviour:
    """A peer sent bad input; code is stable, sender is the event's sender (if given).

    validator is set only when that validator's own valid signature proves the fault (a
    validly signed proposal out of turn): a bad signature, an unknown key or a malformed
    message blames the sending peer only, so nobody can frame a validator.
    """

    code: str
    detail: str
    sender: bytes | None
    validator: bytes | None = None


@dataclass(frozen=True, slots=True)
class SignRefused:
    """The double-sign guard refused to sign, or the signer could not (the reason then
    starts with ``SIGNER_UNAVAILABLE``): the node stays silent in this step."""

    height: int
    round: int
    step: Step
    reason: str


Output = (
    WriteWal
    | PersistLastSigned
    | Broadcast
    | ScheduleTimeout
    | RequestProposalValue
    | CommitBlock
    | ReportEvidence
    | ReportMisbehaviour
    | SignRefused
)
