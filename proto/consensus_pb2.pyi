from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VoteType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VOTE_TYPE_UNSPECIFIED: _ClassVar[VoteType]
    PREVOTE: _ClassVar[VoteType]
    PRECOMMIT: _ClassVar[VoteType]
VOTE_TYPE_UNSPECIFIED: VoteType
PREVOTE: VoteType
PRECOMMIT: VoteType

class Vote(_message.Message):
    __slots__ = ("type", "height", "round", "block_hash", "validator", "signature")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    VALIDATOR_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    type: VoteType
    height: int
    round: int
    block_hash: bytes
    validator: bytes
    signature: bytes
    def __init__(self, type: _Optional[_Union[VoteType, str]] = ..., height: _Optional[int] = ..., round: _Optional[int] = ..., block_hash: _Optional[bytes] = ..., validator: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class Proposal(_message.Message):
    __slots__ = ("height", "round", "block", "pol_round", "proposer", "signature")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    POL_ROUND_FIELD_NUMBER: _ClassVar[int]
    PROPOSER_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    height: int
    round: int
    block: bytes
    pol_round: int
    proposer: bytes
    signature: bytes
    def __init__(self, height: _Optional[int] = ..., round: _Optional[int] = ..., block: _Optional[bytes] = ..., pol_round: _Optional[int] = ..., proposer: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class CommitSig(_message.Message):
    __slots__ = ("validator", "signature")
    VALIDATOR_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    validator: bytes
    signature: bytes
    def __init__(self, validator: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class CommitCertificate(_message.Message):
    __slots__ = ("height", "round", "block_hash", "signatures")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    height: int
    round: int
    block_hash: bytes
    signatures: _containers.RepeatedCompositeFieldContainer[CommitSig]
    def __init__(self, height: _Optional[int] = ..., round: _Optional[int] = ..., block_hash: _Optional[bytes] = ..., signatures: _Optional[_Iterable[_Union[CommitSig, _Mapping]]] = ...) -> None: ...

class DuplicateVoteEvidence(_message.Message):
    __slots__ = ("vote_a", "vote_b")
    VOTE_A_FIELD_NUMBER: _ClassVar[int]
    VOTE_B_FIELD_NUMBER: _ClassVar[int]
    vote_a: Vote
    vote_b: Vote
    def __init__(self, vote_a: _Optional[_Union[Vote, _Mapping]] = ..., vote_b: _Optional[_Union[Vote, _Mapping]] = ...) -> None: ...

class ConflictingProposalEvidence(_message.Message):
    __slots__ = ("height", "round", "proposer", "pol_round_a", "value_id_a", "signature_a", "pol_round_b", "value_id_b", "signature_b")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    PROPOSER_FIELD_NUMBER: _ClassVar[int]
    POL_ROUND_A_FIELD_NUMBER: _ClassVar[int]
    VALUE_ID_A_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_A_FIELD_NUMBER: _ClassVar[int]
    POL_ROUND_B_FIELD_NUMBER: _ClassVar[int]
    VALUE_ID_B_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_B_FIELD_NUMBER: _ClassVar[int]
    height: int
    round: int
    proposer: bytes
    pol_round_a: int
    value_id_a: bytes
    signature_a: bytes
    pol_round_b: int
    value_id_b: bytes
    signature_b: bytes
    def __init__(self, height: _Optional[int] = ..., round: _Optional[int] = ..., proposer: _Optional[bytes] = ..., pol_round_a: _Optional[int] = ..., value_id_a: _Optional[bytes] = ..., signature_a: _Optional[bytes] = ..., pol_round_b: _Optional[int] = ..., value_id_b: _Optional[bytes] = ..., signature_b: _Optional[bytes] = ...) -> None: ...

class Evidence(_message.Message):
    __slots__ = ("duplicate_vote", "conflicting_proposal")
    DUPLICATE_VOTE_FIELD_NUMBER: _ClassVar[int]
    CONFLICTING_PROPOSAL_FIELD_NUMBER: _ClassVar[int]
    duplicate_vote: DuplicateVoteEvidence
    conflicting_proposal: ConflictingProposalEvidence
    def __init__(self, duplicate_vote: _Optional[_Union[DuplicateVoteEvidence, _Mapping]] = ..., conflicting_proposal: _Optional[_Union[ConflictingProposalEvidence, _Mapping]] = ...) -> None: ...

class TimeoutRecord(_message.Message):
    __slots__ = ("step", "height", "round")
    STEP_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    step: int
    height: int
    round: int
    def __init__(self, step: _Optional[int] = ..., height: _Optional[int] = ..., round: _Optional[int] = ...) -> None: ...

class ValueReadyRecord(_message.Message):
    __slots__ = ("height", "round", "value")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    height: int
    round: int
    value: bytes
    def __init__(self, height: _Optional[int] = ..., round: _Optional[int] = ..., value: _Optional[bytes] = ...) -> None: ...

class WalRecord(_message.Message):
    __slots__ = ("now_ms", "sender", "height_started", "signed_vote", "signed_proposal", "vote_received", "proposal_received", "timeout_fired", "value_ready")
    NOW_MS_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_STARTED_FIELD_NUMBER: _ClassVar[int]
    SIGNED_VOTE_FIELD_NUMBER: _ClassVar[int]
    SIGNED_PROPOSAL_FIELD_NUMBER: _ClassVar[int]
    VOTE_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    PROPOSAL_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIRED_FIELD_NUMBER: _ClassVar[int]
    VALUE_READY_FIELD_NUMBER: _ClassVar[int]
    now_ms: int
    sender: bytes
    height_started: int
    signed_vote: Vote
    signed_proposal: Proposal
    vote_received: Vote
    proposal_received: Proposal
    timeout_fired: TimeoutRecord
    value_ready: ValueReadyRecord
    def __init__(self, now_ms: _Optional[int] = ..., sender: _Optional[bytes] = ..., height_started: _Optional[int] = ..., signed_vote: _Optional[_Union[Vote, _Mapping]] = ..., signed_proposal: _Optional[_Union[Proposal, _Mapping]] = ..., vote_received: _Optional[_Union[Vote, _Mapping]] = ..., proposal_received: _Optional[_Union[Proposal, _Mapping]] = ..., timeout_fired: _Optional[_Union[TimeoutRecord, _Mapping]] = ..., value_ready: _Optional[_Union[ValueReadyRecord, _Mapping]] = ...) -> None: ...
