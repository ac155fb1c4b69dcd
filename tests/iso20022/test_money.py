"""ISO amounts <-> minor units: exact both ways, or refused (node/iso20022/_money.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.iso20022 import AmountError, NotRepresentable, amount_text, iso_currency, minor_units


@pytest.mark.parametrize(
    ("units", "decimals", "text"),
    [
        (125050, 2, "1250.50"),
        (5, 2, "0.05"),
        (0, 2, "0.00"),
        (7, 0, "7"),
        (1_500_000, 6, "1.50000"),
        (10**18, 18, "1.00000"),
    ],
)
def test_amount_text_writes_the_asset_decimals(units: int, decimals: int, text: str) -> None:
    assert amount_text(units, decimals) == text


@pytest.mark.parametrize(("units", "decimals"), [(1_234_567, 6), (1, 18), (10**18, 0), (10**18, 1)])
def test_amounts_no_iso_amount_holds_are_not_rounded(units: int, decimals: int) -> None:
    with pytest.raises(NotRepresentable):
        amount_text(units, decimals)


@pytest.mark.parametrize(
    ("text", "decimals", "units"),
    [
        ("1250.50", 2, 125050),
        ("1250.5", 2, 125050),
        ("1250", 2, 125000),
        (".5", 2, 50),
        ("+3.", 2, 300),
        ("0", 0, 0),
    ],
)
def test_minor_units_reads_every_decimal_form(text: str, decimals: int, units: int) -> None:
    assert minor_units(text, decimals) == units


@pytest.mark.parametrize(
    ("text", "decimals"),
    [
        ("1.005", 2),
        ("100.500", 2),
        ("1.5", 0),
        ("", 2),
        (".", 2),
        ("1e3", 2),
        ("-1", 2),
        ("1.2.3", 2),
    ],
)
def test_more_digits_than_the_asset_or_no_decimal_is_refused(text: str, decimals: int) -> None:
    with pytest.raises(AmountError):
        minor_units(text, decimals)


@given(st.integers(0, 10**15), st.integers(0, 5))
def test_out_and_back_in_is_the_same_amount(units: int, decimals: int) -> None:
    assert minor_units(amount_text(units, decimals), decimals) == units


def test_only_three_letter_codes_are_currencies() -> None:
    assert iso_currency("KZT") == "KZT"
    for code in ("USDT", "KZ", "kzt", "K1T"):
        with pytest.raises(NotRepresentable):
            iso_currency(code)
