"""128-bit amounts: the wire pair, the state codec and the decimal text form.

Rules this module keeps:

1. An amount is an int from 0 to `AMOUNT_MAX` (2^128 - 1) minor units, wide enough for an
   18-decimal asset (2^64 minor units would be 18.4 whole units).
2. On the wire a message carries it as two u64 fields, ``x`` and ``x_high``, meaning
   ``x + (x_high << 64)`` (proto/ledger.proto). Below 2^64 the high part is 0, so proto3
   omits it and the bytes (and tx ids) are those of a plain u64 field. Only `amount_of`
   and `set_amount` read or write the pair; no other code shifts by hand.
3. In state a balance is 16 bytes big-endian; 8-byte values written before amounts were
   wide still read (`decode_amount`). The app hash covers the bytes written, so every
   node agrees.
4. As text (the API's JSON, genesis.json) an amount is a canonical decimal string: digits
   only, no sign, no leading zero (except "0" itself), at most 2^128 - 1
   (`parse_amount_text`).
"""

from __future__ import annotations

from typing import Final

from google.protobuf.message import Message

#: The largest amount: every sum and balance is checked against it (AMOUNT_OVERFLOW).
AMOUNT_MAX: Final = 2**128 - 1
#: The names of the amount fields that have an ``_high`` companion, in any message.
AMOUNT_FIELDS: Final = frozenset({"amount", "issued", "redeemed", "seized"})
HIGH: Final = "_high"

_LOW_MASK: Final = 2**64 - 1
_MAX_DIGITS: Final = len(str(AMOUNT_MAX))


def amount_of(msg: Message, field: str = "amount") -> int:
    """The amount held by ``field`` and ``field_high`` of msg."""
    low: int = getattr(msg, field)
    high: int = getattr(msg, field + HIGH)
    return low | (high << 64)


def set_amount(msg: Message, field: str, value: int) -> None:
    """Store value in ``field`` and ``field_high`` of msg.

    Raises:
        ValueError: value is not an int from 0 to AMOUNT_MAX.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= AMOUNT_MAX:
        raise ValueError(f"{field} must be an integer from 0 to 2^128 - 1, not {value!r}")
    setattr(msg, field, value & _LOW_MASK)
    setattr(msg, field + HIGH, value >> 64)


def encode_amount(value: int) -> bytes:
    """A balance as state stores it: 16 bytes big-endian."""
    return value.to_bytes(16, "big")


def decode_amount(raw: bytes) -> int:
    """A stored balance: 16 bytes big-endian, or 8 (a record from before amounts were wide).

    Raises:
        ValueError: raw is neither 8 nor 16 bytes long (a corrupt store).
    """
    if len(raw) not in (8, 16):
        raise ValueError(f"a stored amount is 8 or 16 bytes, not {len(raw)}")
    return int.from_bytes(raw, "big")


def parse_amount_text(text: str) -> int:
    """The amount a canonical decimal string of minor units stands for: "125050" -> 125050.

    Raises:
        ValueError: text is not digits only, has a leading zero, or is above 2^128 - 1;
            the message says which.
    """
    shown = repr(text[:50] + ("..." if len(text) > 50 else ""))
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{shown} is not a decimal amount of minor units (digits only)")
    if len(text) > 1 and text[0] == "0":
        raise ValueError(f"{shown} is not canonical (a leading zero)")
    if len(text) > _MAX_DIGITS or int(text) > AMOUNT_MAX:
        raise ValueError(f"{shown} is more than 2^128 - 1")
    return int(text)
