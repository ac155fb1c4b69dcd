from proto import ledger_pb2 as _ledger_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConsensusParams(_message.Message):
    __slots__ = ("timeout_propose_ms", "timeout_prevote_ms", "timeout_precommit_ms", "timeout_delta_ms", "timeout_max_ms", "empty_block_interval_ms", "max_block_txs", "max_block_bytes", "max_tx_bytes", "max_tx_ttl", "evidence_max_age_blocks", "block_interval_ms")
    TIMEOUT_PROPOSE_MS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_PREVOTE_MS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_PRECOMMIT_MS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_DELTA_MS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MAX_MS_FIELD_NUMBER: _ClassVar[int]
    EMPTY_BLOCK_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_BLOCK_TXS_FIELD_NUMBER: _ClassVar[int]
    MAX_BLOCK_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_TX_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_TX_TTL_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_MAX_AGE_BLOCKS_FIELD_NUMBER: _ClassVar[int]
    BLOCK_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    timeout_propose_ms: int
    timeout_prevote_ms: int
    timeout_precommit_ms: int
    timeout_delta_ms: int
    timeout_max_ms: int
    empty_block_interval_ms: int
    max_block_txs: int
    max_block_bytes: int
    max_tx_bytes: int
    max_tx_ttl: int
    evidence_max_age_blocks: int
    block_interval_ms: int
    def __init__(self, timeout_propose_ms: _Optional[int] = ..., timeout_prevote_ms: _Optional[int] = ..., timeout_precommit_ms: _Optional[int] = ..., timeout_delta_ms: _Optional[int] = ..., timeout_max_ms: _Optional[int] = ..., empty_block_interval_ms: _Optional[int] = ..., max_block_txs: _Optional[int] = ..., max_block_bytes: _Optional[int] = ..., max_tx_bytes: _Optional[int] = ..., max_tx_ttl: _Optional[int] = ..., evidence_max_age_blocks: _Optional[int] = ..., block_interval_ms: _Optional[int] = ...) -> None: ...

class GenesisBalance(_message.Message):
    __slots__ = ("asset", "amount", "amount_high")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_HIGH_FIELD_NUMBER: _ClassVar[int]
    asset: str
    amount: int
    amount_high: int
    def __init__(self, asset: _Optional[str] = ..., amount: _Optional[int] = ..., amount_high: _Optional[int] = ...) -> None: ...

class GenesisAccount(_message.Message):
    __slots__ = ("account", "balances", "licence")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    BALANCES_FIELD_NUMBER: _ClassVar[int]
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    account: _ledger_pb2.Account
    balances: _containers.RepeatedCompositeFieldContainer[GenesisBalance]
    licence: _ledger_pb2.Licence
    def __init__(self, account: _Optional[_Union[_ledger_pb2.Account, _Mapping]] = ..., balances: _Optional[_Iterable[_Union[GenesisBalance, _Mapping]]] = ..., licence: _Optional[_Union[_ledger_pb2.Licence, _Mapping]] = ...) -> None: ...

class GenesisAccountsFile(_message.Message):
    __slots__ = ("path", "sha256", "accounts")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    path: str
    sha256: bytes
    accounts: int
    def __init__(self, path: _Optional[str] = ..., sha256: _Optional[bytes] = ..., accounts: _Optional[int] = ...) -> None: ...

class Genesis(_message.Message):
    __slots__ = ("chain_id", "genesis_time_ms", "validators", "accounts", "assets", "params", "rulebook", "accounts_file")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    GENESIS_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    VALIDATORS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    RULEBOOK_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FILE_FIELD_NUMBER: _ClassVar[int]
    chain_id: str
    genesis_time_ms: int
    validators: _containers.RepeatedCompositeFieldContainer[_ledger_pb2.Validator]
    accounts: _containers.RepeatedCompositeFieldContainer[GenesisAccount]
    assets: _containers.RepeatedCompositeFieldContainer[_ledger_pb2.Asset]
    params: ConsensusParams
    rulebook: _ledger_pb2.Rulebook
    accounts_file: GenesisAccountsFile
    def __init__(self, chain_id: _Optional[str] = ..., genesis_time_ms: _Optional[int] = ..., validators: _Optional[_Iterable[_Union[_ledger_pb2.Validator, _Mapping]]] = ..., accounts: _Optional[_Iterable[_Union[GenesisAccount, _Mapping]]] = ..., assets: _Optional[_Iterable[_Union[_ledger_pb2.Asset, _Mapping]]] = ..., params: _Optional[_Union[ConsensusParams, _Mapping]] = ..., rulebook: _Optional[_Union[_ledger_pb2.Rulebook, _Mapping]] = ..., accounts_file: _Optional[_Union[GenesisAccountsFile, _Mapping]] = ...) -> None: ...
