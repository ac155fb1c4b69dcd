from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class SignRequest(_message.Message):
    __slots__ = ("chain_id", "sign_bytes", "height", "round", "step")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    SIGN_BYTES_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    chain_id: str
    sign_bytes: bytes
    height: int
    round: int
    step: int
    def __init__(self, chain_id: _Optional[str] = ..., sign_bytes: _Optional[bytes] = ..., height: _Optional[int] = ..., round: _Optional[int] = ..., step: _Optional[int] = ...) -> None: ...

class SignResponse(_message.Message):
    __slots__ = ("signature", "refusal", "detail", "public_key")
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    signature: bytes
    refusal: str
    detail: str
    public_key: bytes
    def __init__(self, signature: _Optional[bytes] = ..., refusal: _Optional[str] = ..., detail: _Optional[str] = ..., public_key: _Optional[bytes] = ...) -> None: ...
