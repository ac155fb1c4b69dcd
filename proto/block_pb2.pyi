from proto import consensus_pb2 as _consensus_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BlockHeader(_message.Message):
    __slots__ = ("chain_id", "height", "time_ms", "prev_block_hash", "app_hash", "txs_hash", "proposer", "validators_hash")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    PREV_BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    APP_HASH_FIELD_NUMBER: _ClassVar[int]
    TXS_HASH_FIELD_NUMBER: _ClassVar[int]
    PROPOSER_FIELD_NUMBER: _ClassVar[int]
    VALIDATORS_HASH_FIELD_NUMBER: _ClassVar[int]
    chain_id: str
    height: int
    time_ms: int
    prev_block_hash: bytes
    app_hash: bytes
    txs_hash: bytes
    proposer: bytes
    validators_hash: bytes
    def __init__(self, chain_id: _Optional[str] = ..., height: _Optional[int] = ..., time_ms: _Optional[int] = ..., prev_block_hash: _Optional[bytes] = ..., app_hash: _Optional[bytes] = ..., txs_hash: _Optional[bytes] = ..., proposer: _Optional[bytes] = ..., validators_hash: _Optional[bytes] = ...) -> None: ...

class Block(_message.Message):
    __slots__ = ("header", "txs", "last_commit", "evidence")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    TXS_FIELD_NUMBER: _ClassVar[int]
    LAST_COMMIT_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    header: BlockHeader
    txs: _containers.RepeatedScalarFieldContainer[bytes]
    last_commit: _consensus_pb2.CommitCertificate
    evidence: _containers.RepeatedCompositeFieldContainer[_consensus_pb2.Evidence]
    def __init__(self, header: _Optional[_Union[BlockHeader, _Mapping]] = ..., txs: _Optional[_Iterable[bytes]] = ..., last_commit: _Optional[_Union[_consensus_pb2.CommitCertificate, _Mapping]] = ..., evidence: _Optional[_Iterable[_Union[_consensus_pb2.Evidence, _Mapping]]] = ...) -> None: ...
