from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Hello(_message.Message):
    __slots__ = ("protocol_version", "chain_id", "ephemeral_key", "node_key")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_KEY_FIELD_NUMBER: _ClassVar[int]
    NODE_KEY_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    chain_id: str
    ephemeral_key: bytes
    node_key: bytes
    def __init__(self, protocol_version: _Optional[int] = ..., chain_id: _Optional[str] = ..., ephemeral_key: _Optional[bytes] = ..., node_key: _Optional[bytes] = ...) -> None: ...

class AuthProof(_message.Message):
    __slots__ = ("node_key", "signature")
    NODE_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    node_key: bytes
    signature: bytes
    def __init__(self, node_key: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class AuthResult(_message.Message):
    __slots__ = ("accepted", "reason")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    reason: str
    def __init__(self, accepted: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class TxGossip(_message.Message):
    __slots__ = ("txs",)
    TXS_FIELD_NUMBER: _ClassVar[int]
    txs: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, txs: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ConsensusMessage(_message.Message):
    __slots__ = ("proposal", "vote")
    PROPOSAL_FIELD_NUMBER: _ClassVar[int]
    VOTE_FIELD_NUMBER: _ClassVar[int]
    proposal: bytes
    vote: bytes
    def __init__(self, proposal: _Optional[bytes] = ..., vote: _Optional[bytes] = ...) -> None: ...

class StatusMessage(_message.Message):
    __slots__ = ("height", "block_hash", "earliest_height", "round")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    EARLIEST_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    height: int
    block_hash: bytes
    earliest_height: int
    round: int
    def __init__(self, height: _Optional[int] = ..., block_hash: _Optional[bytes] = ..., earliest_height: _Optional[int] = ..., round: _Optional[int] = ...) -> None: ...

class BlockRequest(_message.Message):
    __slots__ = ("height",)
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    height: int
    def __init__(self, height: _Optional[int] = ...) -> None: ...

class BlockResponse(_message.Message):
    __slots__ = ("height", "block", "commit")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    height: int
    block: bytes
    commit: bytes
    def __init__(self, height: _Optional[int] = ..., block: _Optional[bytes] = ..., commit: _Optional[bytes] = ...) -> None: ...

class Ping(_message.Message):
    __slots__ = ("nonce",)
    NONCE_FIELD_NUMBER: _ClassVar[int]
    nonce: int
    def __init__(self, nonce: _Optional[int] = ...) -> None: ...

class Pong(_message.Message):
    __slots__ = ("nonce",)
    NONCE_FIELD_NUMBER: _ClassVar[int]
    nonce: int
    def __init__(self, nonce: _Optional[int] = ...) -> None: ...

class EvidenceGossip(_message.Message):
    __slots__ = ("evidence",)
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    evidence: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, evidence: _Optional[_Iterable[bytes]] = ...) -> None: ...

class Envelope(_message.Message):
    __slots__ = ("tx_gossip", "consensus", "status", "block_request", "block_response", "ping", "pong", "evidence")
    TX_GOSSIP_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BLOCK_REQUEST_FIELD_NUMBER: _ClassVar[int]
    BLOCK_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    PONG_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    tx_gossip: TxGossip
    consensus: ConsensusMessage
    status: StatusMessage
    block_request: BlockRequest
    block_response: BlockResponse
    ping: Ping
    pong: Pong
    evidence: EvidenceGossip
    def __init__(self, tx_gossip: _Optional[_Union[TxGossip, _Mapping]] = ..., consensus: _Optional[_Union[ConsensusMessage, _Mapping]] = ..., status: _Optional[_Union[StatusMessage, _Mapping]] = ..., block_request: _Optional[_Union[BlockRequest, _Mapping]] = ..., block_response: _Optional[_Union[BlockResponse, _Mapping]] = ..., ping: _Optional[_Union[Ping, _Mapping]] = ..., pong: _Optional[_Union[Pong, _Mapping]] = ..., evidence: _Optional[_Union[EvidenceGossip, _Mapping]] = ...) -> None: ...
