"""Protobuf conversion of consensus messages and WAL records, at node/'s boundary.

The engine speaks frozen dataclasses (consensus/); this module is the only place where they
meet the generated ``proto.consensus_pb2`` classes. Decoding never lets a protobuf or
range error escape: malformed bytes raise ``ConsensusCodecError`` with a stable code.
Unknown fields, anywhere in a message, are refused: what a node accepts is exactly what
it understood, so no two nodes keep different bytes for one message.
"""

from __future__ import annotations

from typing import Final, TypeVar

from google.protobuf.message import DecodeError, Message
from google.protobuf.unknown_fields import UnknownFieldSet

from consensus import (
    CommitCertificate,
    CommitSig,
    ConflictingProposal,
    DuplicateVote,
    Evidence,
    HeightStarted,
    Proposal,
    ProposalReceived,
    ProposalValueReady,
    SignedByMe,
    Step,
    TimeoutFired,
    Vote,
    VoteReceived,
    VoteType,
    WalEntry,
)
from node.errors import NodeError
from proto import consensus_pb2 as pb

MALFORMED_CONSENSUS_MESSAGE: Final = "MALFORMED_CONSENSUS_MESSAGE"
MALFORMED_WAL_RECORD: Final = "MALFORMED_WAL_RECORD"
MAX_VALUE_ID_SIZE: Final = 64


class ConsensusCodecError(NodeError):
    """Bytes that do not decode to a well-formed consensus message or WAL record.

    Attributes:
        code: a stable reason code.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def unknown_field_in(msg: Message) -> str | None:
    """The name of the first (sub)message of msg that holds unknown fields, or None."""
    if len(UnknownFieldSet(msg)):
        return msg.DESCRIPTOR.full_name
    for field, value in msg.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        for item in value if field.is_repeated else (value,):
            found = unknown_field_in(item)
            if found is not None:
                return found
    return None


def _refuse_unknown(msg: Message, code: str = MALFORMED_CONSENSUS_MESSAGE) -> None:
    found = unknown_field_in(msg)
    if found is not None:
        raise ConsensusCodecError(code, f"unknown field in {found}")


def vote_to_proto(vote: Vote) -> pb.Vote:
    """The protobuf form of a vote."""
    return pb.Vote(
        type=int(vote.type),  # type: ignore[arg-type]
        height=vote.height,
        round=vote.round,
        block_hash=vote.block_hash,
        validator=vote.validator,
        signature=vote.signature,
    )


def vote_from_proto(msg: pb.Vote) -> Vote:
    """A vote from its protobuf form.

    Raises:
        ConsensusCodecError: an unknown vote type, a malformed or an unknown field.
    """
    _refuse_unknown(msg)
    try:
        vote_type = VoteType(msg.type)
    except ValueError as e:
        raise ConsensusCodecError(MALFORMED_CONSENSUS_MESSAGE, "unknown vote type") from e
    vote = Vote(vote_type, msg.height, msg.round, msg.block_hash, msg.validator, msg.signature)
    error = vote.shape_error()
    if error is not None:
        raise ConsensusCodecError(MALFORMED_CONSENSUS_MESSAGE, f"vote: {error}")
    return vote


def proposal_to_proto(proposal: Proposal) -> pb.Proposal:
    """The protobuf form of a proposal."""
    return pb.Proposal(
        height=proposal.height,
        round=proposal.round,
        block=proposal.value,
        pol_round=proposal.pol_round,
        proposer=proposal.proposer,
        signature=proposal.signature,
    )


def proposal_from_proto(msg: pb.Proposal) -> Proposal:
    """A proposal from its protobuf form.

    Raises:
        ConsensusCodecError: a malformed or an unknown field (the block inside is checked
            by node/blocks.py).
    """
    _refuse_unknown(msg)
    proposal = Proposal(
        msg.height, msg.round, msg.block, msg.pol_round, msg.proposer, msg.signature
    )
    error = proposal.shape_error()
    if error is not None:
        raise ConsensusCodecError(MALFORMED_CONSENSUS_MESSAGE, f"proposal: {error}")
    return proposal


def certificate_to_proto(certificate: CommitCertificate) -> pb.CommitCertificate:
    """The protobuf form of a commit certificate."""
    return pb.CommitCertificate(
        height=certificate.height,
        round=certificate.round,
        block_hash=certificate.block_hash,
        signatures=[
            pb.CommitSig(validator=s.validator, signature=s.signature)
            for s in certificate.signatures
        ],
    )


def certificate_from_proto(msg: pb.CommitCertificate) -> CommitCertificate:
    """A commit certificate from its protobuf form (call ``verify`` before trusting it).

    Raises:
        ConsensusCodecError: an unknown field.
    """
    _refuse_unknown(msg)
    return CommitCertificate(
        height=msg.height,
        round=msg.round,
        block_hash=msg.block_hash,
        signatures=tuple(CommitSig(s.validator, s.signature) for s in msg.signatures),
    )


def evidence_to_proto(evidence: Evidence) -> pb.Evidence:
    """The protobuf form of evidence (either kind)."""
    if isinstance(evidence, DuplicateVote):
        return pb.Evidence(
            duplicate_vote=pb.DuplicateVoteEvidence(
                vote_a=vote_to_proto(evidence.vote_a), vote_b=vote_to_proto(evidence.vote_b)
            )
        )
    return pb.Evidence(
        conflicting_proposal=pb.ConflictingProposalEvidence(
            height=evidence.height,
            round=evidence.round,
            proposer=evidence.proposer,
            pol_round_a=evidence.pol_round_a,
            value_id_a=evidence.value_id_a,
            signature_a=evidence.signature_a,
            pol_round_b=evidence.pol_round_b,
            value_id_b=evidence.value_id_b,
            signature_b=evidence.signature_b,
        )
    )


def evidence_from_proto(msg: pb.Evidence) -> Evidence:
    """Evidence from its protobuf form, in canonical order (call ``verify`` before
    trusting it).

    Raises:
        ConsensusCodecError: no kind set, an unknown field, a malformed vote, or a
            conflicting-proposal field out of range.
    """
    _refuse_unknown(msg)
    kind = msg.WhichOneof("kind")
    if kind == "duplicate_vote":
        d = msg.duplicate_vote
        return DuplicateVote.of(vote_from_proto(d.vote_a), vote_from_proto(d.vote_b))
    if kind == "conflicting_proposal":
        c = msg.conflicting_proposal
        a = Proposal(c.height, c.round, b"", c.pol_round_a, c.proposer, c.signature_a)
        b = Proposal(c.height, c.round, b"", c.pol_round_b, c.proposer, c.signature_b)
        for side, value_id in ((a, c.value_id_a), (b, c.value_id_b)):
            error = side.shape_error()
            if error is None and not 0 < len(value_id) <= MAX_VALUE_ID_SIZE:
                error = "bad value id size"
            if error is not None:
                raise ConsensusCodecError(MALFORMED_CONSENSUS_MESSAGE, f"evidence: {error}")
        return ConflictingProposal.of(a, c.value_id_a, b, c.value_id_b)
    raise ConsensusCodecError(MALFORMED_CONSENSUS_MESSAGE, "evidence of no known kind")


def encode_certificate(certificate: CommitCertificate) -> bytes:
    """Serialized ``tenge.v1.CommitCertificate``."""
    return certificate_to_proto(certificate).SerializeToString(deterministic=True)


def decode_certificate(data: bytes) -> CommitCertificate:
    """Parse a serialized certificate.

    Raises:
        ConsensusCodecError: not a valid protobuf message.
    """
    return certificate_from_proto(_parse(pb.CommitCertificate(), data, MALFORMED_CONSENSUS_MESSAGE))


def encode_evidence(evidence: Evidence) -> bytes:
    """Serialized ``tenge.v1.Evidence`` (deterministic)."""
    return evidence_to_proto(evidence).SerializeToString(deterministic=True)


def decode_evidence(data: bytes) -> Evidence:
    """Parse serialized evidence.

    Raises:
        ConsensusCodecError: not a valid protobuf message, an unknown field, or malformed
            evidence.
    """
    return evidence_from_proto(_parse(pb.Evidence(), data, MALFORMED_CONSENSUS_MESSAGE))


def encode_wal_entry(entry: WalEntry) -> bytes:
    """Serialized ``tenge.v1.WalRecord`` for a WAL entry."""
    record = pb.WalRecord()
    match entry:
        case HeightStarted():
            record.height_started = entry.height
        case SignedByMe(message=Vote() as vote):
            record.signed_vote.CopyFrom(vote_to_proto(vote))
        case SignedByMe(message=Proposal() as proposal):
            record.signed_proposal.CopyFrom(proposal_to_proto(proposal))
        case VoteReceived():
            record.now_ms = entry.now_ms
            record.sender = entry.sender or b""
            record.vote_received.CopyFrom(vote_to_proto(entry.vote))
        case ProposalReceived():
            record.now_ms = entry.now_ms
            record.sender = entry.sender or b""
            record.proposal_received.CopyFrom(proposal_to_proto(entry.proposal))
        case TimeoutFired():
            record.now_ms = entry.now_ms
            record.timeout_fired.step = int(entry.step)
            record.timeout_fired.height = entry.height
            record.timeout_fired.round = entry.round
        case ProposalValueReady():
            record.now_ms = entry.now_ms
            record.value_ready.height = entry.height
            record.value_ready.round = entry.round
            record.value_ready.value = entry.value
        case _:
            raise TypeError(f"not a WAL entry: {type(entry).__name__}")
    return record.SerializeToString(deterministic=True)


def decode_wal_entry(data: bytes) -> WalEntry:
    """Parse one WAL record payload.

    Raises:
        ConsensusCodecError: the payload is not a well-formed WAL record.
    """
    record = _parse(pb.WalRecord(), data, MALFORMED_WAL_RECORD)
    _refuse_unknown(record, MALFORMED_WAL_RECORD)
    sender = record.sender or None
    kind = record.WhichOneof("entry")
    try:
        if kind == "height_started":
            return HeightStarted(record.height_started)
        if kind == "signed_vote":
            return SignedByMe(vote_from_proto(record.signed_vote))
        if kind == "signed_proposal":
            return SignedByMe(proposal_from_proto(record.signed_proposal))
        if kind == "vote_received":
            return VoteReceived(vote_from_proto(record.vote_received), record.now_ms, sender)
        if kind == "proposal_received":
            proposal = proposal_from_proto(record.proposal_received)
            return ProposalReceived(proposal, record.now_ms, sender)
        if kind == "timeout_fired":
            t = record.timeout_fired
            step = Step(t.step)
            if step not in (Step.PROPOSE, Step.PREVOTE, Step.PRECOMMIT):
                raise ValueError("not a timeout step")
            return TimeoutFired(step, t.height, t.round, record.now_ms)
        if kind == "value_ready":
            v = record.value_ready
            return ProposalValueReady(v.height, v.round, v.value, record.now_ms)
    except ConsensusCodecError as e:
        raise ConsensusCodecError(MALFORMED_WAL_RECORD, str(e)) from e
    except ValueError as e:
        raise ConsensusCodecError(MALFORMED_WAL_RECORD, f"timeout step: {e}") from e
    raise ConsensusCodecError(MALFORMED_WAL_RECORD, "record has no entry")


_M = TypeVar("_M", pb.WalRecord, pb.CommitCertificate, pb.Evidence)


def _parse(msg: _M, data: bytes, code: str) -> _M:
    try:
        msg.ParseFromString(data)
    except (DecodeError, ValueError, TypeError) as e:
        raise ConsensusCodecError(code, f"undecodable {type(msg).__name__}") from e
    return msg
