"""Payment identification on a transfer leg (node/ledger/_payment_ids.py): each malformed
id is refused with its own code, at admission and in a block, for its body alone; well-
formed ids change no verdict, keep a plain payment on the short path, and mark the receipt
of a settled transfer for the store's payment index."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from ledger_world import World, account_doc, genesis_doc, make_genesis

from node.ledger import parse_uetr, uetr_text
from node.ledger._decoded import decode_tx
from node.ledger.txbuild import PaymentIds, transfer
from proto import ledger_pb2 as pb

UETR = "3f1c8e2a-7b4d-4c6e-9a1f-0d2b3c4e5f60"


def _world() -> World:
    doc = genesis_doc()
    doc["accounts"] += [
        account_doc("ali", "CUSTOMER", kyc_tier=2, balances={"KZT": "1000000"}),
        account_doc("shop", "MERCHANT", kyc_tier=2),
    ]
    return World(make_genesis(doc))


def _leg(**ids: Any) -> pb.Transfer:
    """A plain 100-tiyn payment from ali to the shop whose one leg carries ids as given."""
    message = transfer(("ali", "shop", "KZT", 100))
    leg = message.legs[0]
    for name, value in ids.items():
        if name == "remittance":
            leg.remittance.CopyFrom(value)
        else:
            setattr(leg, name, value)
    return message


BAD_FORMS = [
    ("end_to_end_id", "x" * 36, pb.INVALID_END_TO_END_ID),
    ("end_to_end_id", "pay\u00e9", pb.INVALID_END_TO_END_ID),
    ("end_to_end_id", "inv_1", pb.INVALID_END_TO_END_ID),  # '_' is outside the set
    ("end_to_end_id", "/inv-1", pb.INVALID_END_TO_END_ID),
    ("end_to_end_id", "inv//1", pb.INVALID_END_TO_END_ID),
    ("end_to_end_id", "inv-1 ", pb.INVALID_END_TO_END_ID),
    ("uetr", bytes(15), pb.INVALID_UETR),
    ("uetr", bytes(17), pb.INVALID_UETR),
    ("uetr", uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8").bytes, pb.INVALID_UETR),  # version 1
    ("uetr", bytes(16), pb.INVALID_UETR),  # the nil UUID
    ("purpose_code", "sala", pb.INVALID_PURPOSE_CODE),
    ("purpose_code", "SALAR", pb.INVALID_PURPOSE_CODE),
    ("purpose_code", "SA1A", pb.INVALID_PURPOSE_CODE),
    ("remittance", pb.Remittance(), pb.INVALID_REMITTANCE),
    ("remittance", pb.Remittance(creditor_reference_type="SCOR"), pb.INVALID_REMITTANCE),
    (
        "remittance",
        pb.Remittance(creditor_reference_type="XXXX", creditor_reference="RF18539007547034"),
        pb.INVALID_REMITTANCE,
    ),
    ("remittance", pb.Remittance(creditor_reference="RF18 " + "9" * 31), pb.INVALID_REMITTANCE),
    ("remittance", pb.Remittance(unstructured="a" * 141), pb.INVALID_REMITTANCE),
    ("remittance", pb.Remittance(unstructured="line one\nline two"), pb.INVALID_REMITTANCE),
    ("remittance", pb.Remittance(unstructured=" padded"), pb.INVALID_REMITTANCE),
]


@pytest.mark.parametrize(("field", "value", "code"), BAD_FORMS)
def test_each_bad_form_is_refused_with_its_code(field: str, value: Any, code: int) -> None:
    world = _world()
    raw = world.tx("ali", _leg(**{field: value}))
    checked = world.ledger.check_tx(raw, next_height=1)
    assert checked.code == code, checked
    assert checked.message.startswith(f"transfer.legs[0].{field}")
    (receipt,) = world.block(raw).receipts
    assert receipt.code == code
    assert receipt.speaks_for_tx
    assert not receipt.authorised
    assert not receipt.carries_payment_ids
    assert world.balances()[("ali", "KZT")] == 1_000_000


def test_a_later_leg_is_checked_too() -> None:
    world = _world()
    message = transfer(("ali", "shop", "KZT", 1), ("ali", "halyk", "KZT", 2))
    message.legs[1].purpose_code = "gdds"
    checked = world.ledger.check_tx(world.tx("ali", message), next_height=1)
    assert (checked.code, checked.message.split(":")[0]) == (
        pb.INVALID_PURPOSE_CODE,
        "transfer.legs[1].purpose_code",
    )


GOOD = PaymentIds(
    end_to_end_id="INV-2026/0042 (March)",
    uetr=UETR,
    purpose_code="GDDS",
    creditor_reference_type="SCOR",
    creditor_reference="RF18539007547034",
    unstructured="Счёт 42, оплата за март",  # any printable text, Cyrillic included
)


def test_well_formed_ids_keep_a_plain_payment_on_the_short_path() -> None:
    world = _world()
    raw = world.tx("ali", transfer(("ali", "shop", "KZT", 100, GOOD)))
    short = world.ledger._check_plain(raw, decode_tx(raw), 1)
    assert short is not None
    assert short.ok
    assert short == world.ledger._check_general(raw, decode_tx(raw), 1)
    (receipt,) = world.block(raw).receipts
    assert receipt.code == pb.OK
    assert receipt.carries_payment_ids
    leg = pb.TxBody.FromString(pb.TxEnvelope.FromString(raw).body).transfer.legs[0]
    assert uetr_text(leg.uetr) == UETR
    assert (leg.end_to_end_id, leg.purpose_code) == ("INV-2026/0042 (March)", "GDDS")
    assert leg.remittance.creditor_reference == "RF18539007547034"


def test_ids_change_no_state_write() -> None:
    """The same payment with and without ids writes the same state (so the same app hash
    step but for the tx's seen key, which follows its tx id)."""
    plain, with_ids = _world(), _world()
    a = plain.block(plain.tx("ali", transfer(("ali", "shop", "KZT", 100)), nonce=1))
    b = with_ids.block(with_ids.tx("ali", transfer(("ali", "shop", "KZT", 100, GOOD)), nonce=1))
    assert [k for k, _ in a.writes if not k.startswith(b"seen/")] == [
        k for k, _ in b.writes if not k.startswith(b"seen/")
    ]
    assert plain.balances() == with_ids.balances()
    assert not a.receipts[0].carries_payment_ids


def test_a_settled_refusal_carries_its_ids_and_the_general_path_marks_it() -> None:
    """Insufficient funds: settled (authorised) and refused by the rules on the general
    path; the store still indexes it (a bank asks what became of its UETR)."""
    world = _world()
    (receipt,) = world.block(
        world.tx("ali", transfer(("ali", "shop", "KZT", 10**9, GOOD)))
    ).receipts
    assert receipt.code == pb.INSUFFICIENT_FUNDS
    assert receipt.authorised
    assert receipt.carries_payment_ids


def test_only_the_purpose_code_or_remittance_needs_no_index() -> None:
    world = _world()
    ids = PaymentIds(purpose_code="SALA", unstructured="salary")
    (receipt,) = world.block(world.tx("ali", transfer(("ali", "shop", "KZT", 1, ids)))).receipts
    assert receipt.code == pb.OK
    assert not receipt.carries_payment_ids


def test_uetr_text_round_trip_and_its_refusals() -> None:
    assert parse_uetr(UETR.upper()) == uuid.UUID(UETR).bytes
    assert uetr_text(parse_uetr(UETR)) == UETR
    for bad in [
        "",
        UETR[:-1],
        UETR.replace("-", ""),
        "{" + UETR[1:-1] + "}",
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
    ]:
        with pytest.raises(ValueError, match="UUID"):
            parse_uetr(bad)
    with pytest.raises(ValueError, match="UUID"):
        PaymentIds(uetr="not-a-uuid").apply(pb.TransferLeg())
