"""Amounts and currencies between the ledger and ISO 20022 messages.

Rules this module keeps:

1. An ISO amount (``ActiveOrHistoricCurrencyAndAmount``) is a decimal of at most 18
   digits, 5 of them after the point, with a ``Ccy`` attribute of three letters A-Z. The
   ledger holds an amount as an int of minor units of an asset with ``decimals``.
2. In: an amount text maps to minor units exactly or not at all: more digits after the
   point than the asset has decimals is refused (``100.500`` for KZT, 2 decimals), even
   when the extra digits are zeros, so no amount is ever rounded or reinterpreted.
3. Out: minor units are written with exactly the asset's decimals (``1250.50`` KZT);
   an asset of more than 5 decimals is written with its trailing zeros beyond the fifth
   dropped, and an amount that still needs more than 5 (or 18 digits in all) is not
   representable: `NotRepresentable`, never a rounded figure.
4. Only an asset whose code is three letters A-Z has an ISO currency: its code
   (``KZT``). Any other asset (a longer stablecoin code) is not representable in or out.
"""

from __future__ import annotations

import re
from typing import Final

#: What ``ActiveOrHistoricCurrencyCode`` admits.
_CURRENCY_RE: Final = re.compile(r"[A-Z]{3}")
#: The lexical form of an ``xs:decimal`` (the schema has checked it before we read it).
_DECIMAL_RE: Final = re.compile(r"\+?(?P<whole>[0-9]*)(?:\.(?P<fraction>[0-9]*))?")
ISO_MAX_FRACTION_DIGITS: Final = 5
ISO_MAX_TOTAL_DIGITS: Final = 18


class NotRepresentable(ValueError):
    """A ledger amount or asset that no ISO 20022 amount can carry exactly."""


class AmountError(ValueError):
    """An ISO amount that is not a whole number of the asset's minor units."""


def iso_currency(asset_code: str) -> str:
    """The ISO currency code of an asset: its own code, if three letters A-Z.

    Raises:
        NotRepresentable: the code is not three letters.
    """
    if _CURRENCY_RE.fullmatch(asset_code) is None:
        raise NotRepresentable(
            f"asset {asset_code!r} has no ISO 20022 currency code (three letters A-Z)"
        )
    return asset_code


def amount_text(minor_units: int, decimals: int) -> str:
    """minor_units of an asset with decimals as an ISO amount: (125050, 2) -> "1250.50".

    Raises:
        NotRepresentable: the amount needs more than 5 digits after the point or more
            than 18 digits in all.
    """
    if minor_units < 0:
        raise ValueError(f"an amount is not negative: {minor_units}")
    digits = str(minor_units).rjust(decimals + 1, "0")
    whole, fraction = digits[: len(digits) - decimals], digits[len(digits) - decimals :]
    if len(fraction) > ISO_MAX_FRACTION_DIGITS:
        fraction = fraction.rstrip("0").ljust(ISO_MAX_FRACTION_DIGITS, "0")
        if len(fraction) > ISO_MAX_FRACTION_DIGITS:
            raise NotRepresentable(
                f"{whole}.{digits[len(whole) :]} has more than "
                f"{ISO_MAX_FRACTION_DIGITS} digits after the point"
            )
    if len(whole.lstrip("0") or "0") + len(fraction) > ISO_MAX_TOTAL_DIGITS:
        raise NotRepresentable(f"{whole}.{fraction} has more than {ISO_MAX_TOTAL_DIGITS} digits")
    return f"{whole}.{fraction}" if fraction else whole


def minor_units(text: str, decimals: int) -> int:
    """The minor units an ISO amount text stands for: ("1250.5", 2) -> 125050.

    Raises:
        AmountError: text is not a decimal, or has more digits after the point than
            decimals.
    """
    match = _DECIMAL_RE.fullmatch(text.strip())
    whole: str = match.group("whole") if match else ""
    fraction: str = (match.group("fraction") or "") if match else ""
    if match is None or not (whole or fraction):
        raise AmountError(f"{text[:40]!r} is not a decimal amount")
    if len(fraction) > decimals:
        raise AmountError(
            f"{text.strip()[:40]} has {len(fraction)} digits after the point; "
            f"the asset has {decimals} decimals"
        )
    scale: int = 10**decimals
    return int(whole or "0") * scale + int(fraction.ljust(decimals, "0") or "0")
