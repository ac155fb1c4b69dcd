from proto import consensus_pb2 as _consensus_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    CENTRAL_BANK: _ClassVar[Role]
    COMMERCIAL_BANK: _ClassVar[Role]
    MERCHANT: _ClassVar[Role]
    CUSTOMER: _ClassVar[Role]
    TREASURY: _ClassVar[Role]
    STATE_RESERVE: _ClassVar[Role]
    REGULATOR: _ClassVar[Role]
    VASP: _ClassVar[Role]
    ISSUANCE_RESERVE: _ClassVar[Role]

class Zone(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ZONE_UNSPECIFIED: _ClassVar[Zone]
    NATIONAL: _ClassVar[Zone]
    CRYPTOCITY: _ClassVar[Zone]

class AssetKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSET_KIND_UNSPECIFIED: _ClassVar[AssetKind]
    CBDC: _ClassVar[AssetKind]
    STABLECOIN: _ClassVar[AssetKind]
    CRYPTO: _ClassVar[AssetKind]
    RESERVE_ONLY: _ClassVar[AssetKind]

class ResultCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OK: _ClassVar[ResultCode]
    MALFORMED: _ClassVar[ResultCode]
    TX_TOO_LARGE: _ClassVar[ResultCode]
    WRONG_CHAIN_ID: _ClassVar[ResultCode]
    MISSING_SIGNATURE: _ClassVar[ResultCode]
    INVALID_SIGNATURE: _ClassVar[ResultCode]
    EXTRA_SIGNATURE: _ClassVar[ResultCode]
    EXPIRED: _ClassVar[ResultCode]
    TTL_TOO_LONG: _ClassVar[ResultCode]
    DUPLICATE: _ClassVar[ResultCode]
    INVALID_AMOUNT: _ClassVar[ResultCode]
    AMOUNT_OVERFLOW: _ClassVar[ResultCode]
    UNKNOWN_ACCOUNT: _ClassVar[ResultCode]
    UNKNOWN_ASSET: _ClassVar[ResultCode]
    INVALID_ACCOUNT_ID: _ClassVar[ResultCode]
    ACCOUNT_EXISTS: _ClassVar[ResultCode]
    ASSET_EXISTS: _ClassVar[ResultCode]
    UNAUTHORIZED: _ClassVar[ResultCode]
    INSUFFICIENT_FUNDS: _ClassVar[ResultCode]
    FROZEN: _ClassVar[ResultCode]
    NOT_FROZEN: _ClassVar[ResultCode]
    ASSET_NOT_ALLOWED: _ClassVar[ResultCode]
    LIMIT_PER_PAYMENT: _ClassVar[ResultCode]
    LIMIT_DAILY: _ClassVar[ResultCode]
    LIMIT_HOLDING_CAP: _ClassVar[ResultCode]
    INVALID_FIELD: _ClassVar[ResultCode]
    INVALID_VALIDATOR: _ClassVar[ResultCode]
    MEMPOOL_FULL: _ClassVar[ResultCode]
    VALIDATOR_SET_LIMIT: _ClassVar[ResultCode]
    PENDING_FUNDS_EXCEEDED: _ClassVar[ResultCode]
    PENDING_TXS_EXCEEDED: _ClassVar[ResultCode]
    PEER_SHARE_EXCEEDED: _ClassVar[ResultCode]
    TWO_TIER_RULE: _ClassVar[ResultCode]
    ZONE_BANNED: _ClassVar[ResultCode]
    PURPOSE_NOT_ALLOWED: _ClassVar[ResultCode]
    NO_REFERENCE_RATE: _ClassVar[ResultCode]
    UNKNOWN_KYC_TIER: _ClassVar[ResultCode]
    ASSET_KIND_NOT_IN_RULEBOOK: _ClassVar[ResultCode]
    GOVERNANCE_REQUIRED: _ClassVar[ResultCode]
    UNKNOWN_PROPOSAL: _ClassVar[ResultCode]
    PROPOSAL_CLOSED: _ClassVar[ResultCode]
    ALREADY_APPROVED: _ClassVar[ResultCode]
    NO_LICENCE: _ClassVar[ResultCode]
    LICENCE_SCOPE: _ClassVar[ResultCode]
    INVALID_PERSON_REF: _ClassVar[ResultCode]
    PERSON_ACCOUNTS_EXCEEDED: _ClassVar[ResultCode]
    ACCOUNT_CLOSED: _ClassVar[ResultCode]
    BALANCE_NOT_ZERO: _ClassVar[ResultCode]
    THRESHOLD_TOO_LOW: _ClassVar[ResultCode]
    RESERVE_OUTFLOW: _ClassVar[ResultCode]
    INFLOW_KIND_REQUIRED: _ClassVar[ResultCode]
    INVALID_COURT_ORDER: _ClassVar[ResultCode]
    UNBACKED_AMOUNT: _ClassVar[ResultCode]
    NOT_REGISTRAR: _ClassVar[ResultCode]
    INVALID_END_TO_END_ID: _ClassVar[ResultCode]
    INVALID_UETR: _ClassVar[ResultCode]
    INVALID_PURPOSE_CODE: _ClassVar[ResultCode]
    INVALID_REMITTANCE: _ClassVar[ResultCode]
    TRAVEL_RULE_REQUIRED: _ClassVar[ResultCode]
    INVALID_TRAVEL_RULE: _ClassVar[ResultCode]
    NO_TRAVEL_KEY: _ClassVar[ResultCode]

class ProposalStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROPOSAL_STATUS_UNSPECIFIED: _ClassVar[ProposalStatus]
    OPEN: _ClassVar[ProposalStatus]
    EXECUTED: _ClassVar[ProposalStatus]
    WITHDRAWN: _ClassVar[ProposalStatus]

class Purpose(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PURPOSE_UNSPECIFIED: _ClassVar[Purpose]
    GOVERNMENT_FEE: _ClassVar[Purpose]
    MINED_REMITTANCE: _ClassVar[Purpose]
    RESERVE_PURCHASE: _ClassVar[Purpose]

class InflowKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INFLOW_KIND_UNSPECIFIED: _ClassVar[InflowKind]
    SEIZED: _ClassVar[InflowKind]
    MINED: _ClassVar[InflowKind]
    PURCHASED: _ClassVar[InflowKind]
    TRANSFERRED: _ClassVar[InflowKind]
ROLE_UNSPECIFIED: Role
CENTRAL_BANK: Role
COMMERCIAL_BANK: Role
MERCHANT: Role
CUSTOMER: Role
TREASURY: Role
STATE_RESERVE: Role
REGULATOR: Role
VASP: Role
ISSUANCE_RESERVE: Role
ZONE_UNSPECIFIED: Zone
NATIONAL: Zone
CRYPTOCITY: Zone
ASSET_KIND_UNSPECIFIED: AssetKind
CBDC: AssetKind
STABLECOIN: AssetKind
CRYPTO: AssetKind
RESERVE_ONLY: AssetKind
OK: ResultCode
MALFORMED: ResultCode
TX_TOO_LARGE: ResultCode
WRONG_CHAIN_ID: ResultCode
MISSING_SIGNATURE: ResultCode
INVALID_SIGNATURE: ResultCode
EXTRA_SIGNATURE: ResultCode
EXPIRED: ResultCode
TTL_TOO_LONG: ResultCode
DUPLICATE: ResultCode
INVALID_AMOUNT: ResultCode
AMOUNT_OVERFLOW: ResultCode
UNKNOWN_ACCOUNT: ResultCode
UNKNOWN_ASSET: ResultCode
INVALID_ACCOUNT_ID: ResultCode
ACCOUNT_EXISTS: ResultCode
ASSET_EXISTS: ResultCode
UNAUTHORIZED: ResultCode
INSUFFICIENT_FUNDS: ResultCode
FROZEN: ResultCode
NOT_FROZEN: ResultCode
ASSET_NOT_ALLOWED: ResultCode
LIMIT_PER_PAYMENT: ResultCode
LIMIT_DAILY: ResultCode
LIMIT_HOLDING_CAP: ResultCode
INVALID_FIELD: ResultCode
INVALID_VALIDATOR: ResultCode
MEMPOOL_FULL: ResultCode
VALIDATOR_SET_LIMIT: ResultCode
PENDING_FUNDS_EXCEEDED: ResultCode
PENDING_TXS_EXCEEDED: ResultCode
PEER_SHARE_EXCEEDED: ResultCode
TWO_TIER_RULE: ResultCode
ZONE_BANNED: ResultCode
PURPOSE_NOT_ALLOWED: ResultCode
NO_REFERENCE_RATE: ResultCode
UNKNOWN_KYC_TIER: ResultCode
ASSET_KIND_NOT_IN_RULEBOOK: ResultCode
GOVERNANCE_REQUIRED: ResultCode
UNKNOWN_PROPOSAL: ResultCode
PROPOSAL_CLOSED: ResultCode
ALREADY_APPROVED: ResultCode
NO_LICENCE: ResultCode
LICENCE_SCOPE: ResultCode
INVALID_PERSON_REF: ResultCode
PERSON_ACCOUNTS_EXCEEDED: ResultCode
ACCOUNT_CLOSED: ResultCode
BALANCE_NOT_ZERO: ResultCode
THRESHOLD_TOO_LOW: ResultCode
RESERVE_OUTFLOW: ResultCode
INFLOW_KIND_REQUIRED: ResultCode
INVALID_COURT_ORDER: ResultCode
UNBACKED_AMOUNT: ResultCode
NOT_REGISTRAR: ResultCode
INVALID_END_TO_END_ID: ResultCode
INVALID_UETR: ResultCode
INVALID_PURPOSE_CODE: ResultCode
INVALID_REMITTANCE: ResultCode
TRAVEL_RULE_REQUIRED: ResultCode
INVALID_TRAVEL_RULE: ResultCode
NO_TRAVEL_KEY: ResultCode
PROPOSAL_STATUS_UNSPECIFIED: ProposalStatus
OPEN: ProposalStatus
EXECUTED: ProposalStatus
WITHDRAWN: ProposalStatus
PURPOSE_UNSPECIFIED: Purpose
GOVERNMENT_FEE: Purpose
MINED_REMITTANCE: Purpose
RESERVE_PURCHASE: Purpose
INFLOW_KIND_UNSPECIFIED: InflowKind
SEIZED: InflowKind
MINED: InflowKind
PURCHASED: InflowKind
TRANSFERRED: InflowKind

class Signature(_message.Message):
    __slots__ = ("public_key", "signature")
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    public_key: bytes
    signature: bytes
    def __init__(self, public_key: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class TxEnvelope(_message.Message):
    __slots__ = ("body", "signatures")
    BODY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    signatures: _containers.RepeatedCompositeFieldContainer[Signature]
    def __init__(self, body: _Optional[bytes] = ..., signatures: _Optional[_Iterable[_Union[Signature, _Mapping]]] = ...) -> None: ...

class TxBody(_message.Message):
    __slots__ = ("chain_id", "nonce", "expires_at_height", "signer", "memo", "register_account", "register_asset", "set_limits", "issue", "redeem", "transfer", "freeze", "unfreeze", "seize", "update_validator", "set_rates", "propose", "approve", "withdraw", "grant_licence", "revoke_licence", "rotate_keys", "recover_account", "change_account", "close_account", "publish_travel_key", "rotate_validator_key")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    SIGNER_FIELD_NUMBER: _ClassVar[int]
    MEMO_FIELD_NUMBER: _ClassVar[int]
    REGISTER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    REGISTER_ASSET_FIELD_NUMBER: _ClassVar[int]
    SET_LIMITS_FIELD_NUMBER: _ClassVar[int]
    ISSUE_FIELD_NUMBER: _ClassVar[int]
    REDEEM_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    FREEZE_FIELD_NUMBER: _ClassVar[int]
    UNFREEZE_FIELD_NUMBER: _ClassVar[int]
    SEIZE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_VALIDATOR_FIELD_NUMBER: _ClassVar[int]
    SET_RATES_FIELD_NUMBER: _ClassVar[int]
    PROPOSE_FIELD_NUMBER: _ClassVar[int]
    APPROVE_FIELD_NUMBER: _ClassVar[int]
    WITHDRAW_FIELD_NUMBER: _ClassVar[int]
    GRANT_LICENCE_FIELD_NUMBER: _ClassVar[int]
    REVOKE_LICENCE_FIELD_NUMBER: _ClassVar[int]
    ROTATE_KEYS_FIELD_NUMBER: _ClassVar[int]
    RECOVER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CHANGE_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CLOSE_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_TRAVEL_KEY_FIELD_NUMBER: _ClassVar[int]
    ROTATE_VALIDATOR_KEY_FIELD_NUMBER: _ClassVar[int]
    chain_id: str
    nonce: int
    expires_at_height: int
    signer: str
    memo: str
    register_account: RegisterAccount
    register_asset: RegisterAsset
    set_limits: SetLimits
    issue: Issue
    redeem: Redeem
    transfer: Transfer
    freeze: Freeze
    unfreeze: Unfreeze
    seize: Seize
    update_validator: UpdateValidator
    set_rates: SetRates
    propose: Propose
    approve: Approve
    withdraw: Withdraw
    grant_licence: GrantLicence
    revoke_licence: RevokeLicence
    rotate_keys: RotateKeys
    recover_account: RecoverAccount
    change_account: ChangeAccount
    close_account: CloseAccount
    publish_travel_key: PublishTravelKey
    rotate_validator_key: RotateValidatorKey
    def __init__(self, chain_id: _Optional[str] = ..., nonce: _Optional[int] = ..., expires_at_height: _Optional[int] = ..., signer: _Optional[str] = ..., memo: _Optional[str] = ..., register_account: _Optional[_Union[RegisterAccount, _Mapping]] = ..., register_asset: _Optional[_Union[RegisterAsset, _Mapping]] = ..., set_limits: _Optional[_Union[SetLimits, _Mapping]] = ..., issue: _Optional[_Union[Issue, _Mapping]] = ..., redeem: _Optional[_Union[Redeem, _Mapping]] = ..., transfer: _Optional[_Union[Transfer, _Mapping]] = ..., freeze: _Optional[_Union[Freeze, _Mapping]] = ..., unfreeze: _Optional[_Union[Unfreeze, _Mapping]] = ..., seize: _Optional[_Union[Seize, _Mapping]] = ..., update_validator: _Optional[_Union[UpdateValidator, _Mapping]] = ..., set_rates: _Optional[_Union[SetRates, _Mapping]] = ..., propose: _Optional[_Union[Propose, _Mapping]] = ..., approve: _Optional[_Union[Approve, _Mapping]] = ..., withdraw: _Optional[_Union[Withdraw, _Mapping]] = ..., grant_licence: _Optional[_Union[GrantLicence, _Mapping]] = ..., revoke_licence: _Optional[_Union[RevokeLicence, _Mapping]] = ..., rotate_keys: _Optional[_Union[RotateKeys, _Mapping]] = ..., recover_account: _Optional[_Union[RecoverAccount, _Mapping]] = ..., change_account: _Optional[_Union[ChangeAccount, _Mapping]] = ..., close_account: _Optional[_Union[CloseAccount, _Mapping]] = ..., publish_travel_key: _Optional[_Union[PublishTravelKey, _Mapping]] = ..., rotate_validator_key: _Optional[_Union[RotateValidatorKey, _Mapping]] = ...) -> None: ...

class RegisterAccount(_message.Message):
    __slots__ = ("account_id", "role", "zone", "kyc_tier", "public_keys", "threshold", "licensed", "person_ref")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    KYC_TIER_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEYS_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    LICENSED_FIELD_NUMBER: _ClassVar[int]
    PERSON_REF_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    role: Role
    zone: Zone
    kyc_tier: int
    public_keys: _containers.RepeatedScalarFieldContainer[bytes]
    threshold: int
    licensed: bool
    person_ref: bytes
    def __init__(self, account_id: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., zone: _Optional[_Union[Zone, str]] = ..., kyc_tier: _Optional[int] = ..., public_keys: _Optional[_Iterable[bytes]] = ..., threshold: _Optional[int] = ..., licensed: _Optional[bool] = ..., person_ref: _Optional[bytes] = ...) -> None: ...

class RegisterAsset(_message.Message):
    __slots__ = ("code", "decimals", "issuer", "kind", "payment_zones", "backed_by", "reserve_account")
    CODE_FIELD_NUMBER: _ClassVar[int]
    DECIMALS_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ZONES_FIELD_NUMBER: _ClassVar[int]
    BACKED_BY_FIELD_NUMBER: _ClassVar[int]
    RESERVE_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    code: str
    decimals: int
    issuer: str
    kind: AssetKind
    payment_zones: _containers.RepeatedScalarFieldContainer[Zone]
    backed_by: str
    reserve_account: str
    def __init__(self, code: _Optional[str] = ..., decimals: _Optional[int] = ..., issuer: _Optional[str] = ..., kind: _Optional[_Union[AssetKind, str]] = ..., payment_zones: _Optional[_Iterable[_Union[Zone, str]]] = ..., backed_by: _Optional[str] = ..., reserve_account: _Optional[str] = ...) -> None: ...

class SetLimits(_message.Message):
    __slots__ = ("kyc_tier", "per_payment", "daily_outflow", "holding_cap")
    KYC_TIER_FIELD_NUMBER: _ClassVar[int]
    PER_PAYMENT_FIELD_NUMBER: _ClassVar[int]
    DAILY_OUTFLOW_FIELD_NUMBER: _ClassVar[int]
    HOLDING_CAP_FIELD_NUMBER: _ClassVar[int]
    kyc_tier: int
    per_payment: int
    daily_outflow: int
    holding_cap: int
    def __init__(self, kyc_tier: _Optional[int] = ..., per_payment: _Optional[int] = ..., daily_outflow: _Optional[int] = ..., holding_cap: _Optional[int] = ...) -> None: ...

class SetRates(_message.Message):
    __slots__ = ("rates",)
    RATES_FIELD_NUMBER: _ClassVar[int]
    rates: _containers.RepeatedCompositeFieldContainer[ReferenceRate]
    def __init__(self, rates: _Optional[_Iterable[_Union[ReferenceRate, _Mapping]]] = ...) -> None: ...

class Propose(_message.Message):
    __slots__ = ("set_limits", "set_rates", "register_asset", "update_validator", "rotate_validator_key", "expires_at_height", "activation_height", "summary")
    SET_LIMITS_FIELD_NUMBER: _ClassVar[int]
    SET_RATES_FIELD_NUMBER: _ClassVar[int]
    REGISTER_ASSET_FIELD_NUMBER: _ClassVar[int]
    UPDATE_VALIDATOR_FIELD_NUMBER: _ClassVar[int]
    ROTATE_VALIDATOR_KEY_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    set_limits: SetLimits
    set_rates: SetRates
    register_asset: RegisterAsset
    update_validator: UpdateValidator
    rotate_validator_key: RotateValidatorKey
    expires_at_height: int
    activation_height: int
    summary: str
    def __init__(self, set_limits: _Optional[_Union[SetLimits, _Mapping]] = ..., set_rates: _Optional[_Union[SetRates, _Mapping]] = ..., register_asset: _Optional[_Union[RegisterAsset, _Mapping]] = ..., update_validator: _Optional[_Union[UpdateValidator, _Mapping]] = ..., rotate_validator_key: _Optional[_Union[RotateValidatorKey, _Mapping]] = ..., expires_at_height: _Optional[int] = ..., activation_height: _Optional[int] = ..., summary: _Optional[str] = ...) -> None: ...

class GrantLicence(_message.Message):
    __slots__ = ("account_id", "assets", "purposes", "expires_at_height", "reference")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    PURPOSES_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    assets: _containers.RepeatedScalarFieldContainer[str]
    purposes: _containers.RepeatedScalarFieldContainer[Purpose]
    expires_at_height: int
    reference: str
    def __init__(self, account_id: _Optional[str] = ..., assets: _Optional[_Iterable[str]] = ..., purposes: _Optional[_Iterable[_Union[Purpose, str]]] = ..., expires_at_height: _Optional[int] = ..., reference: _Optional[str] = ...) -> None: ...

class RevokeLicence(_message.Message):
    __slots__ = ("account_id", "reference")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    reference: str
    def __init__(self, account_id: _Optional[str] = ..., reference: _Optional[str] = ...) -> None: ...

class RotateKeys(_message.Message):
    __slots__ = ("public_keys", "threshold")
    PUBLIC_KEYS_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    public_keys: _containers.RepeatedScalarFieldContainer[bytes]
    threshold: int
    def __init__(self, public_keys: _Optional[_Iterable[bytes]] = ..., threshold: _Optional[int] = ...) -> None: ...

class RecoverAccount(_message.Message):
    __slots__ = ("account_id", "public_keys", "threshold", "regulator", "reason")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEYS_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    REGULATOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    public_keys: _containers.RepeatedScalarFieldContainer[bytes]
    threshold: int
    regulator: str
    reason: str
    def __init__(self, account_id: _Optional[str] = ..., public_keys: _Optional[_Iterable[bytes]] = ..., threshold: _Optional[int] = ..., regulator: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ChangeAccount(_message.Message):
    __slots__ = ("account_id", "kyc_tier", "zone")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    KYC_TIER_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    kyc_tier: int
    zone: Zone
    def __init__(self, account_id: _Optional[str] = ..., kyc_tier: _Optional[int] = ..., zone: _Optional[_Union[Zone, str]] = ...) -> None: ...

class CloseAccount(_message.Message):
    __slots__ = ("account_id", "sweep_to", "legal_ref")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SWEEP_TO_FIELD_NUMBER: _ClassVar[int]
    LEGAL_REF_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    sweep_to: str
    legal_ref: str
    def __init__(self, account_id: _Optional[str] = ..., sweep_to: _Optional[str] = ..., legal_ref: _Optional[str] = ...) -> None: ...

class PublishTravelKey(_message.Message):
    __slots__ = ("public_key",)
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    public_key: bytes
    def __init__(self, public_key: _Optional[bytes] = ...) -> None: ...

class Approve(_message.Message):
    __slots__ = ("proposal_id",)
    PROPOSAL_ID_FIELD_NUMBER: _ClassVar[int]
    proposal_id: bytes
    def __init__(self, proposal_id: _Optional[bytes] = ...) -> None: ...

class Withdraw(_message.Message):
    __slots__ = ("proposal_id",)
    PROPOSAL_ID_FIELD_NUMBER: _ClassVar[int]
    proposal_id: bytes
    def __init__(self, proposal_id: _Optional[bytes] = ...) -> None: ...

class Issue(_message.Message):
    __slots__ = ("asset", "to", "amount", "amount_high")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_HIGH_FIELD_NUMBER: _ClassVar[int]
    asset: str
    to: str
    amount: int
    amount_high: int
    def __init__(self, asset: _Optional[str] = ..., to: _Optional[str] = ..., amount: _Optional[int] = ..., amount_high: _Optional[int] = ...) -> None: ...

class Redeem(_message.Message):
    __slots__ = ("asset", "amount", "amount_high")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_HIGH_FIELD_NUMBER: _ClassVar[int]
    asset: str
    amount: int
    amount_high: int
    def __init__(self, asset: _Optional[str] = ..., amount: _Optional[int] = ..., amount_high: _Optional[int] = ...) -> None: ...

class TransferLeg(_message.Message):
    __slots__ = ("payer", "payee", "asset", "amount", "amount_high", "end_to_end_id", "uetr", "purpose_code", "remittance", "travel_copies")
    PAYER_FIELD_NUMBER: _ClassVar[int]
    PAYEE_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_HIGH_FIELD_NUMBER: _ClassVar[int]
    END_TO_END_ID_FIELD_NUMBER: _ClassVar[int]
    UETR_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_CODE_FIELD_NUMBER: _ClassVar[int]
    REMITTANCE_FIELD_NUMBER: _ClassVar[int]
    TRAVEL_COPIES_FIELD_NUMBER: _ClassVar[int]
    payer: str
    payee: str
    asset: str
    amount: int
    amount_high: int
    end_to_end_id: str
    uetr: bytes
    purpose_code: str
    remittance: Remittance
    travel_copies: _containers.RepeatedCompositeFieldContainer[TravelCopy]
    def __init__(self, payer: _Optional[str] = ..., payee: _Optional[str] = ..., asset: _Optional[str] = ..., amount: _Optional[int] = ..., amount_high: _Optional[int] = ..., end_to_end_id: _Optional[str] = ..., uetr: _Optional[bytes] = ..., purpose_code: _Optional[str] = ..., remittance: _Optional[_Union[Remittance, _Mapping]] = ..., travel_copies: _Optional[_Iterable[_Union[TravelCopy, _Mapping]]] = ...) -> None: ...

class TravelCopy(_message.Message):
    __slots__ = ("recipient", "sealed")
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    SEALED_FIELD_NUMBER: _ClassVar[int]
    recipient: str
    sealed: bytes
    def __init__(self, recipient: _Optional[str] = ..., sealed: _Optional[bytes] = ...) -> None: ...

class TravelRuleData(_message.Message):
    __slots__ = ("originator_name", "originator_account", "originator_id", "beneficiary_name", "beneficiary_account")
    ORIGINATOR_NAME_FIELD_NUMBER: _ClassVar[int]
    ORIGINATOR_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ORIGINATOR_ID_FIELD_NUMBER: _ClassVar[int]
    BENEFICIARY_NAME_FIELD_NUMBER: _ClassVar[int]
    BENEFICIARY_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    originator_name: str
    originator_account: str
    originator_id: str
    beneficiary_name: str
    beneficiary_account: str
    def __init__(self, originator_name: _Optional[str] = ..., originator_account: _Optional[str] = ..., originator_id: _Optional[str] = ..., beneficiary_name: _Optional[str] = ..., beneficiary_account: _Optional[str] = ...) -> None: ...

class Remittance(_message.Message):
    __slots__ = ("creditor_reference_type", "creditor_reference", "unstructured")
    CREDITOR_REFERENCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    CREDITOR_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    UNSTRUCTURED_FIELD_NUMBER: _ClassVar[int]
    creditor_reference_type: str
    creditor_reference: str
    unstructured: str
    def __init__(self, creditor_reference_type: _Optional[str] = ..., creditor_reference: _Optional[str] = ..., unstructured: _Optional[str] = ...) -> None: ...

class Transfer(_message.Message):
    __slots__ = ("legs", "reference", "purpose")
    LEGS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    legs: _containers.RepeatedCompositeFieldContainer[TransferLeg]
    reference: str
    purpose: Purpose
    def __init__(self, legs: _Optional[_Iterable[_Union[TransferLeg, _Mapping]]] = ..., reference: _Optional[str] = ..., purpose: _Optional[_Union[Purpose, str]] = ...) -> None: ...

class Freeze(_message.Message):
    __slots__ = ("account_id", "legal_ref")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    LEGAL_REF_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    legal_ref: str
    def __init__(self, account_id: _Optional[str] = ..., legal_ref: _Optional[str] = ...) -> None: ...

class Unfreeze(_message.Message):
    __slots__ = ("account_id", "legal_ref")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    LEGAL_REF_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    legal_ref: str
    def __init__(self, account_id: _Optional[str] = ..., legal_ref: _Optional[str] = ...) -> None: ...

class Seize(_message.Message):
    __slots__ = ("account_id", "asset", "amount", "legal_ref", "amount_high", "reserve", "court_order")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    LEGAL_REF_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_HIGH_FIELD_NUMBER: _ClassVar[int]
    RESERVE_FIELD_NUMBER: _ClassVar[int]
    COURT_ORDER_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    asset: str
    amount: int
    legal_ref: str
    amount_high: int
    reserve: str
    court_order: CourtOrder
    def __init__(self, account_id: _Optional[str] = ..., asset: _Optional[str] = ..., amount: _Optional[int] = ..., legal_ref: _Optional[str] = ..., amount_high: _Optional[int] = ..., reserve: _Optional[str] = ..., court_order: _Optional[_Union[CourtOrder, _Mapping]] = ...) -> None: ...

class CourtOrder(_message.Message):
    __slots__ = ("court", "case_number", "order_date", "order_number")
    COURT_FIELD_NUMBER: _ClassVar[int]
    CASE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ORDER_DATE_FIELD_NUMBER: _ClassVar[int]
    ORDER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    court: str
    case_number: str
    order_date: str
    order_number: str
    def __init__(self, court: _Optional[str] = ..., case_number: _Optional[str] = ..., order_date: _Optional[str] = ..., order_number: _Optional[str] = ...) -> None: ...

class UpdateValidator(_message.Message):
    __slots__ = ("public_key", "power", "moniker")
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    POWER_FIELD_NUMBER: _ClassVar[int]
    MONIKER_FIELD_NUMBER: _ClassVar[int]
    public_key: bytes
    power: int
    moniker: str
    def __init__(self, public_key: _Optional[bytes] = ..., power: _Optional[int] = ..., moniker: _Optional[str] = ...) -> None: ...

class RotateValidatorKey(_message.Message):
    __slots__ = ("public_key", "new_public_key", "proof")
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    NEW_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    public_key: bytes
    new_public_key: bytes
    proof: bytes
    def __init__(self, public_key: _Optional[bytes] = ..., new_public_key: _Optional[bytes] = ..., proof: _Optional[bytes] = ...) -> None: ...

class Receipt(_message.Message):
    __slots__ = ("tx_id", "height", "index", "code", "message", "accounts", "authorised", "speaks_for_tx", "rulebook_version", "rule", "carries_payment_ids")
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    AUTHORISED_FIELD_NUMBER: _ClassVar[int]
    SPEAKS_FOR_TX_FIELD_NUMBER: _ClassVar[int]
    RULEBOOK_VERSION_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    CARRIES_PAYMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    tx_id: bytes
    height: int
    index: int
    code: ResultCode
    message: str
    accounts: _containers.RepeatedScalarFieldContainer[str]
    authorised: bool
    speaks_for_tx: bool
    rulebook_version: int
    rule: str
    carries_payment_ids: bool
    def __init__(self, tx_id: _Optional[bytes] = ..., height: _Optional[int] = ..., index: _Optional[int] = ..., code: _Optional[_Union[ResultCode, str]] = ..., message: _Optional[str] = ..., accounts: _Optional[_Iterable[str]] = ..., authorised: _Optional[bool] = ..., speaks_for_tx: _Optional[bool] = ..., rulebook_version: _Optional[int] = ..., rule: _Optional[str] = ..., carries_payment_ids: _Optional[bool] = ...) -> None: ...

class Account(_message.Message):
    __slots__ = ("account_id", "role", "zone", "kyc_tier", "public_keys", "threshold", "licensed", "frozen", "frozen_legal_ref", "registered_by", "registered_height", "assets", "person_ref", "closed", "closed_height", "closed_ref", "keys_changed_height", "travel_key", "travel_key_height")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    KYC_TIER_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEYS_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    LICENSED_FIELD_NUMBER: _ClassVar[int]
    FROZEN_FIELD_NUMBER: _ClassVar[int]
    FROZEN_LEGAL_REF_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_BY_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    PERSON_REF_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    CLOSED_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    CLOSED_REF_FIELD_NUMBER: _ClassVar[int]
    KEYS_CHANGED_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    TRAVEL_KEY_FIELD_NUMBER: _ClassVar[int]
    TRAVEL_KEY_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    role: Role
    zone: Zone
    kyc_tier: int
    public_keys: _containers.RepeatedScalarFieldContainer[bytes]
    threshold: int
    licensed: bool
    frozen: bool
    frozen_legal_ref: str
    registered_by: str
    registered_height: int
    assets: _containers.RepeatedScalarFieldContainer[str]
    person_ref: bytes
    closed: bool
    closed_height: int
    closed_ref: str
    keys_changed_height: int
    travel_key: bytes
    travel_key_height: int
    def __init__(self, account_id: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., zone: _Optional[_Union[Zone, str]] = ..., kyc_tier: _Optional[int] = ..., public_keys: _Optional[_Iterable[bytes]] = ..., threshold: _Optional[int] = ..., licensed: _Optional[bool] = ..., frozen: _Optional[bool] = ..., frozen_legal_ref: _Optional[str] = ..., registered_by: _Optional[str] = ..., registered_height: _Optional[int] = ..., assets: _Optional[_Iterable[str]] = ..., person_ref: _Optional[bytes] = ..., closed: _Optional[bool] = ..., closed_height: _Optional[int] = ..., closed_ref: _Optional[str] = ..., keys_changed_height: _Optional[int] = ..., travel_key: _Optional[bytes] = ..., travel_key_height: _Optional[int] = ...) -> None: ...

class Person(_message.Message):
    __slots__ = ("person_ref", "accounts", "frozen", "frozen_legal_ref")
    PERSON_REF_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    FROZEN_FIELD_NUMBER: _ClassVar[int]
    FROZEN_LEGAL_REF_FIELD_NUMBER: _ClassVar[int]
    person_ref: bytes
    accounts: _containers.RepeatedScalarFieldContainer[str]
    frozen: bool
    frozen_legal_ref: str
    def __init__(self, person_ref: _Optional[bytes] = ..., accounts: _Optional[_Iterable[str]] = ..., frozen: _Optional[bool] = ..., frozen_legal_ref: _Optional[str] = ...) -> None: ...

class Licence(_message.Message):
    __slots__ = ("account_id", "assets", "purposes", "expires_at_height", "reference", "granted_by", "granted_height", "revoked", "revoked_height", "revoke_reference")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    PURPOSES_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    GRANTED_BY_FIELD_NUMBER: _ClassVar[int]
    GRANTED_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    REVOKED_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    REVOKE_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    assets: _containers.RepeatedScalarFieldContainer[str]
    purposes: _containers.RepeatedScalarFieldContainer[Purpose]
    expires_at_height: int
    reference: str
    granted_by: str
    granted_height: int
    revoked: bool
    revoked_height: int
    revoke_reference: str
    def __init__(self, account_id: _Optional[str] = ..., assets: _Optional[_Iterable[str]] = ..., purposes: _Optional[_Iterable[_Union[Purpose, str]]] = ..., expires_at_height: _Optional[int] = ..., reference: _Optional[str] = ..., granted_by: _Optional[str] = ..., granted_height: _Optional[int] = ..., revoked: _Optional[bool] = ..., revoked_height: _Optional[int] = ..., revoke_reference: _Optional[str] = ...) -> None: ...

class ReserveInflow(_message.Message):
    __slots__ = ("reserve", "kind", "asset", "amount", "amount_high", "source", "tx_id", "height", "court_order")
    RESERVE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_HIGH_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    COURT_ORDER_FIELD_NUMBER: _ClassVar[int]
    reserve: str
    kind: InflowKind
    asset: str
    amount: int
    amount_high: int
    source: str
    tx_id: bytes
    height: int
    court_order: CourtOrder
    def __init__(self, reserve: _Optional[str] = ..., kind: _Optional[_Union[InflowKind, str]] = ..., asset: _Optional[str] = ..., amount: _Optional[int] = ..., amount_high: _Optional[int] = ..., source: _Optional[str] = ..., tx_id: _Optional[bytes] = ..., height: _Optional[int] = ..., court_order: _Optional[_Union[CourtOrder, _Mapping]] = ...) -> None: ...

class Asset(_message.Message):
    __slots__ = ("code", "decimals", "issuer", "kind", "payment_zones", "issued", "redeemed", "seized", "issued_high", "redeemed_high", "seized_high", "backed_by", "reserve_account")
    CODE_FIELD_NUMBER: _ClassVar[int]
    DECIMALS_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ZONES_FIELD_NUMBER: _ClassVar[int]
    ISSUED_FIELD_NUMBER: _ClassVar[int]
    REDEEMED_FIELD_NUMBER: _ClassVar[int]
    SEIZED_FIELD_NUMBER: _ClassVar[int]
    ISSUED_HIGH_FIELD_NUMBER: _ClassVar[int]
    REDEEMED_HIGH_FIELD_NUMBER: _ClassVar[int]
    SEIZED_HIGH_FIELD_NUMBER: _ClassVar[int]
    BACKED_BY_FIELD_NUMBER: _ClassVar[int]
    RESERVE_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    code: str
    decimals: int
    issuer: str
    kind: AssetKind
    payment_zones: _containers.RepeatedScalarFieldContainer[Zone]
    issued: int
    redeemed: int
    seized: int
    issued_high: int
    redeemed_high: int
    seized_high: int
    backed_by: str
    reserve_account: str
    def __init__(self, code: _Optional[str] = ..., decimals: _Optional[int] = ..., issuer: _Optional[str] = ..., kind: _Optional[_Union[AssetKind, str]] = ..., payment_zones: _Optional[_Iterable[_Union[Zone, str]]] = ..., issued: _Optional[int] = ..., redeemed: _Optional[int] = ..., seized: _Optional[int] = ..., issued_high: _Optional[int] = ..., redeemed_high: _Optional[int] = ..., seized_high: _Optional[int] = ..., backed_by: _Optional[str] = ..., reserve_account: _Optional[str] = ...) -> None: ...

class TierLimits(_message.Message):
    __slots__ = ("kyc_tier", "per_payment", "daily_outflow", "holding_cap")
    KYC_TIER_FIELD_NUMBER: _ClassVar[int]
    PER_PAYMENT_FIELD_NUMBER: _ClassVar[int]
    DAILY_OUTFLOW_FIELD_NUMBER: _ClassVar[int]
    HOLDING_CAP_FIELD_NUMBER: _ClassVar[int]
    kyc_tier: int
    per_payment: int
    daily_outflow: int
    holding_cap: int
    def __init__(self, kyc_tier: _Optional[int] = ..., per_payment: _Optional[int] = ..., daily_outflow: _Optional[int] = ..., holding_cap: _Optional[int] = ...) -> None: ...

class Validator(_message.Message):
    __slots__ = ("public_key", "power", "moniker")
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    POWER_FIELD_NUMBER: _ClassVar[int]
    MONIKER_FIELD_NUMBER: _ClassVar[int]
    public_key: bytes
    power: int
    moniker: str
    def __init__(self, public_key: _Optional[bytes] = ..., power: _Optional[int] = ..., moniker: _Optional[str] = ...) -> None: ...

class ValidatorSet(_message.Message):
    __slots__ = ("validators",)
    VALIDATORS_FIELD_NUMBER: _ClassVar[int]
    validators: _containers.RepeatedCompositeFieldContainer[Validator]
    def __init__(self, validators: _Optional[_Iterable[_Union[Validator, _Mapping]]] = ...) -> None: ...

class CommittedEvidence(_message.Message):
    __slots__ = ("evidence", "height", "index")
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    evidence: _consensus_pb2.Evidence
    height: int
    index: int
    def __init__(self, evidence: _Optional[_Union[_consensus_pb2.Evidence, _Mapping]] = ..., height: _Optional[int] = ..., index: _Optional[int] = ...) -> None: ...

class Rulebook(_message.Message):
    __slots__ = ("version", "activation_height", "kinds", "central_bank_payees", "purpose_rules", "tier_limits", "rates", "travel_rule_threshold", "governance_quorum", "reserve_payees", "inflow_rules", "max_accounts_per_person", "min_reserve_threshold", "travel_rule_enforced")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    CENTRAL_BANK_PAYEES_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_RULES_FIELD_NUMBER: _ClassVar[int]
    TIER_LIMITS_FIELD_NUMBER: _ClassVar[int]
    RATES_FIELD_NUMBER: _ClassVar[int]
    TRAVEL_RULE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    GOVERNANCE_QUORUM_FIELD_NUMBER: _ClassVar[int]
    RESERVE_PAYEES_FIELD_NUMBER: _ClassVar[int]
    INFLOW_RULES_FIELD_NUMBER: _ClassVar[int]
    MAX_ACCOUNTS_PER_PERSON_FIELD_NUMBER: _ClassVar[int]
    MIN_RESERVE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    TRAVEL_RULE_ENFORCED_FIELD_NUMBER: _ClassVar[int]
    version: int
    activation_height: int
    kinds: _containers.RepeatedCompositeFieldContainer[KindRule]
    central_bank_payees: _containers.RepeatedScalarFieldContainer[Role]
    purpose_rules: _containers.RepeatedCompositeFieldContainer[PurposeRule]
    tier_limits: _containers.RepeatedCompositeFieldContainer[TierLimits]
    rates: _containers.RepeatedCompositeFieldContainer[ReferenceRate]
    travel_rule_threshold: int
    governance_quorum: _containers.RepeatedScalarFieldContainer[Role]
    reserve_payees: _containers.RepeatedScalarFieldContainer[Role]
    inflow_rules: _containers.RepeatedCompositeFieldContainer[InflowRule]
    max_accounts_per_person: int
    min_reserve_threshold: int
    travel_rule_enforced: bool
    def __init__(self, version: _Optional[int] = ..., activation_height: _Optional[int] = ..., kinds: _Optional[_Iterable[_Union[KindRule, _Mapping]]] = ..., central_bank_payees: _Optional[_Iterable[_Union[Role, str]]] = ..., purpose_rules: _Optional[_Iterable[_Union[PurposeRule, _Mapping]]] = ..., tier_limits: _Optional[_Iterable[_Union[TierLimits, _Mapping]]] = ..., rates: _Optional[_Iterable[_Union[ReferenceRate, _Mapping]]] = ..., travel_rule_threshold: _Optional[int] = ..., governance_quorum: _Optional[_Iterable[_Union[Role, str]]] = ..., reserve_payees: _Optional[_Iterable[_Union[Role, str]]] = ..., inflow_rules: _Optional[_Iterable[_Union[InflowRule, _Mapping]]] = ..., max_accounts_per_person: _Optional[int] = ..., min_reserve_threshold: _Optional[int] = ..., travel_rule_enforced: _Optional[bool] = ...) -> None: ...

class InflowRule(_message.Message):
    __slots__ = ("purpose", "payer_roles", "kind")
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    PAYER_ROLES_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    purpose: Purpose
    payer_roles: _containers.RepeatedScalarFieldContainer[Role]
    kind: InflowKind
    def __init__(self, purpose: _Optional[_Union[Purpose, str]] = ..., payer_roles: _Optional[_Iterable[_Union[Role, str]]] = ..., kind: _Optional[_Union[InflowKind, str]] = ...) -> None: ...

class GovernanceProposal(_message.Message):
    __slots__ = ("proposal_id", "propose", "proposer", "proposed_height", "approvals", "status", "decided_height", "effective_height")
    PROPOSAL_ID_FIELD_NUMBER: _ClassVar[int]
    PROPOSE_FIELD_NUMBER: _ClassVar[int]
    PROPOSER_FIELD_NUMBER: _ClassVar[int]
    PROPOSED_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DECIDED_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    proposal_id: bytes
    propose: Propose
    proposer: str
    proposed_height: int
    approvals: _containers.RepeatedScalarFieldContainer[str]
    status: ProposalStatus
    decided_height: int
    effective_height: int
    def __init__(self, proposal_id: _Optional[bytes] = ..., propose: _Optional[_Union[Propose, _Mapping]] = ..., proposer: _Optional[str] = ..., proposed_height: _Optional[int] = ..., approvals: _Optional[_Iterable[str]] = ..., status: _Optional[_Union[ProposalStatus, str]] = ..., decided_height: _Optional[int] = ..., effective_height: _Optional[int] = ...) -> None: ...

class KindRule(_message.Message):
    __slots__ = ("kind", "payment_zones", "holder_roles", "zone_roles", "licensed_roles")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ZONES_FIELD_NUMBER: _ClassVar[int]
    HOLDER_ROLES_FIELD_NUMBER: _ClassVar[int]
    ZONE_ROLES_FIELD_NUMBER: _ClassVar[int]
    LICENSED_ROLES_FIELD_NUMBER: _ClassVar[int]
    kind: AssetKind
    payment_zones: _containers.RepeatedScalarFieldContainer[Zone]
    holder_roles: _containers.RepeatedScalarFieldContainer[Role]
    zone_roles: _containers.RepeatedScalarFieldContainer[Role]
    licensed_roles: _containers.RepeatedScalarFieldContainer[Role]
    def __init__(self, kind: _Optional[_Union[AssetKind, str]] = ..., payment_zones: _Optional[_Iterable[_Union[Zone, str]]] = ..., holder_roles: _Optional[_Iterable[_Union[Role, str]]] = ..., zone_roles: _Optional[_Iterable[_Union[Role, str]]] = ..., licensed_roles: _Optional[_Iterable[_Union[Role, str]]] = ...) -> None: ...

class PurposeRule(_message.Message):
    __slots__ = ("id", "kind", "payee_roles", "purpose")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PAYEE_ROLES_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: AssetKind
    payee_roles: _containers.RepeatedScalarFieldContainer[Role]
    purpose: Purpose
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[AssetKind, str]] = ..., payee_roles: _Optional[_Iterable[_Union[Role, str]]] = ..., purpose: _Optional[_Union[Purpose, str]] = ...) -> None: ...

class ReferenceRate(_message.Message):
    __slots__ = ("asset", "tiyn_per_unit")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    TIYN_PER_UNIT_FIELD_NUMBER: _ClassVar[int]
    asset: str
    tiyn_per_unit: int
    def __init__(self, asset: _Optional[str] = ..., tiyn_per_unit: _Optional[int] = ...) -> None: ...
