"""The ledger's state key layout and the small value codecs.

To the ledger, state is one flat key space (the store adds its own prefix). Keys:

=====================================  =============================================
key                                    value
=====================================  =============================================
``acct/`` + account id                 ``Account`` (its ``assets`` lists what it holds)
``bal/`` + account id + ``/`` + code   balance, u128 big-endian (old stores: u64), deleted at 0
``asset/`` + code                      ``Asset`` (with issued / redeemed / seized)
``daily/`` + account id                day (u32 BE, Asia/Almaty) + KZT-equivalent outflow (u64 BE)
``person/`` + person ref (32 bytes)    ``Person``: its accounts in registration order, frozen
``pdaily/`` + person ref (32 bytes)    as ``daily/``, summed over every account of the person
``rulebook/active``, ``/pending``       ``Rulebook`` in force, and the change to come
``rulebook/v/`` + version (u64 BE)     every ``Rulebook`` that was ever active
``role/`` + role name                  account id of a one-of-a-kind role (CENTRAL_BANK, TREASURY)
``validators``                         ``ValidatorSet``, sorted by public key
``seen/`` + tx id                      height that included it (u64 BE)
``incl/`` + height (u64 BE)            tx ids marked seen at that height, concatenated
``seize/`` + tx id                     the ``Seize`` message (with its reserve and court order)
``inflow/`` + reserve + ``/`` + seq    ``ReserveInflow`` number seq (u64 BE of 2^64 - 1 - seq:
                                       newest first) of a STATE_RESERVE (``_reserves``)
``inflow-count/`` + reserve            how many inflows that reserve has had (u64 BE)
``seize/`` + tx id                     the ``Seize`` message (the court order reference)
``lic/`` + account id                  ``Licence`` granted by the regulator (``_licences``)
``evid/``, ``evby/``                   committed evidence (layout in ``_evidence``)
``travel/regulators``                  ids of the regulators with a travel key, sorted,
                                       one per line (``_travel``)
=====================================  =============================================

Account ids never contain ``/``, so ``bal/`` keys are unambiguous.
"""

from __future__ import annotations

import re
import struct
from typing import Final

ACCOUNT: Final = b"acct/"
BALANCE: Final = b"bal/"
ASSET: Final = b"asset/"
DAILY: Final = b"daily/"
ROLE: Final = b"role/"
VALIDATORS: Final = b"validators"
SEEN: Final = b"seen/"
INCLUDED: Final = b"incl/"
SEIZURE: Final = b"seize/"
PERSON: Final = b"person/"
PERSON_DAILY: Final = b"pdaily/"

U64_MAX: Final = 2**64 - 1
KZT: Final = "KZT"

ACCOUNT_ID_RE: Final = re.compile(r"[a-z0-9.-]{3,64}")
ASSET_CODE_RE: Final = re.compile(r"[A-Z][A-Z0-9]{1,11}")

_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")
_DAY = struct.Struct(">IQ")

MS_PER_DAY: Final = 86_400_000
ALMATY_OFFSET_MS: Final = 5 * 3_600_000  # Asia/Almaty is UTC+5 all year


def valid_account_id(account_id: str) -> bool:
    """True when account_id is 3 to 64 of ``a-z``, ``0-9``, ``.`` and ``-``."""
    return ACCOUNT_ID_RE.fullmatch(account_id) is not None


def valid_asset_code(code: str) -> bool:
    """True when code is an upper-case letter then 1 to 11 upper-case letters or digits."""
    return ASSET_CODE_RE.fullmatch(code) is not None


def account_key(account_id: str) -> bytes:
    return ACCOUNT + account_id.encode()


def balance_key(account_id: str, asset: str) -> bytes:
    return BALANCE + account_id.encode() + b"/" + asset.encode()


def asset_key(code: str) -> bytes:
    return ASSET + code.encode()


def daily_key(account_id: str) -> bytes:
    return DAILY + account_id.encode()


def person_key(person_ref: bytes) -> bytes:
    return PERSON + person_ref


def person_daily_key(person_ref: bytes) -> bytes:
    return PERSON_DAILY + person_ref


def role_key(role_name: str) -> bytes:
    return ROLE + role_name.encode()


def seen_key(tx_id: bytes) -> bytes:
    return SEEN + tx_id


def included_key(height: int) -> bytes:
    return INCLUDED + _U64.pack(height)


def seizure_key(tx_id: bytes) -> bytes:
    return SEIZURE + tx_id


def encode_u64(value: int) -> bytes:
    return _U64.pack(value)


def decode_u64(raw: bytes) -> int:
    value: int = _U64.unpack(raw)[0]
    return value


def almaty_day(time_ms: int) -> int:
    """The calendar day number (days since 1970-01-01) in Asia/Almaty at time_ms."""
    return (time_ms + ALMATY_OFFSET_MS) // MS_PER_DAY


def encode_daily(day: int, outflow: int) -> bytes:
    return _DAY.pack(day, outflow)


def decode_daily(raw: bytes) -> tuple[int, int]:
    day, outflow = _DAY.unpack(raw)
    return int(day), int(outflow)
