"""Travel-rule data on transfer legs (node/ledger/_travel.py) over a real LevelDB store:
published travel keys, every refusal code with real bad copies, copies that open only with
their recipients' keys, the short path deferring legs with travel data, and the same app
hash on either path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_world import World, account_doc, code_name, genesis_doc, key, make_genesis

from node.keys import TravelKey
from node.ledger import _transfer, genesis_app_hash, genesis_state
from node.ledger import _travel as travel
from node.ledger._decoded import decode_tx
from node.ledger.txbuild import (
    PaymentIds,
    TravelDataError,
    open_travel_copy,
    seal_travel_data,
    transfer,
)
from node.store import BlockCommit, Store
from proto import ledger_pb2 as pb

BIG = 2_000_000_00  # 2,000,000 KZT: above the default threshold of 1,000,000 KZT
SMALL = 500_00
DATA = pb.TravelRuleData(
    originator_name="Aigerim Nurlanovna Seitkali",
    originator_account="halyk",
    originator_id="IIN 900101400123",
    beneficiary_name="Dana Bekova",
    beneficiary_account="dana.kaspi",
)
#: One of the low-order points of Curve25519 (order 8).
LOW_ORDER = bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")


def travel_key(name: str) -> TravelKey:
    """A deterministic travel key per name."""
    return TravelKey.from_private(key(f"travel-{name}").seed)


def _doc(*, enforced: bool = True) -> dict[str, Any]:
    doc = genesis_doc()
    doc["params"]["max_tx_bytes"] = 16384
    doc["rulebook"] = {"travel_rule_enforced": enforced}
    for entry in doc["accounts"]:
        if entry["account_id"] in ("halyk", "kaspi"):
            entry["balances"] = {"KZT": str(10 * BIG), "USDT": "1000000"}
    doc["accounts"] += [
        account_doc("afm2", "REGULATOR"),
        account_doc("afm3", "REGULATOR"),
        {**account_doc("old.halyk", "CUSTOMER", kyc_tier=2), "balances": {"KZT": str(BIG)}},
    ]
    doc["assets"].append(
        {
            "code": "USDT",
            "decimals": 6,
            "issuer": "halyk",
            "kind": "STABLECOIN",
            "payment_zones": ["CRYPTOCITY"],
        }
    )
    return doc


class StoreWorld(World):
    """`World` over a real LevelDB `Store`: each block's writes committed in one batch."""

    def __init__(self, store: Store, doc: dict[str, Any]) -> None:
        super().__init__(make_genesis(doc))
        store.init_genesis(b"g" * 32, genesis_state(self.genesis), genesis_app_hash(self.genesis))
        self.store = store
        self.ledger = type(self.ledger)(self.genesis, store)

    def block(self, *txs: bytes, time_ms: int | None = None, evidence: Any = ()) -> Any:
        self.time_ms = self.time_ms + 1000 if time_ms is None else time_ms
        result = self.ledger.execute_block(
            height=self.height + 1,
            time_ms=self.time_ms,
            txs=list(txs),
            prev_app_hash=self.app_hash,
        )
        self.height += 1
        self.store.commit_block(
            BlockCommit(
                height=self.height,
                block=b"",
                block_hash=self.height.to_bytes(32, "big"),
                commit=b"",
                receipts=result.receipts,
                writes=result.writes,
                app_hash=result.app_hash,
            )
        )
        self.app_hash = result.app_hash
        self.history.append(list(txs))
        return result


def _register_customer(world: World, account_id: str, bank: str) -> None:
    receipt = world.run(
        bank,
        pb.RegisterAccount(
            account_id=account_id,
            role=pb.CUSTOMER,
            zone=pb.NATIONAL,
            kyc_tier=2,
            public_keys=[key(account_id).public_key],
        ),
    )
    assert code_name(receipt) == "OK"


def _publish(world: World, account_id: str, public_key: bytes | None = None) -> pb.Receipt:
    published = travel_key(account_id).public_key if public_key is None else public_key
    return world.run(account_id, pb.PublishTravelKey(public_key=published))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[StoreWorld]:
    with Store(tmp_path / "db") as store:
        w = StoreWorld(store, _doc())
        _register_customer(w, "dana.kaspi", "kaspi")
        yield w


def _keys_of(*names: str) -> dict[str, bytes]:
    return {name: travel_key(name).public_key for name in names}


def _pay(world: World, amount: int, copies: list[pb.TravelCopy], asset: str = "KZT") -> bytes:
    return world.tx("halyk", transfer(("halyk", "dana.kaspi", asset, amount, PaymentIds(), copies)))


def _published(world: World) -> None:
    for name in ("halyk", "kaspi", "afm"):
        assert code_name(_publish(world, name)) == "OK"


def test_a_payment_above_the_threshold_settles_with_copies_only_its_recipients_open(
    world: StoreWorld,
) -> None:
    _published(world)
    assert code_name(world.block(_pay(world, BIG, [])).receipts[0]) == "TRAVEL_RULE_REQUIRED"
    copies = seal_travel_data(DATA, _keys_of("halyk", "kaspi", "afm"))
    receipt = world.block(_pay(world, BIG, copies)).receipts[0]
    assert code_name(receipt) == "OK"
    assert world.ledger.balance("dana.kaspi", "KZT") == BIG
    for copy in copies:
        assert open_travel_copy(copy, travel_key(copy.recipient).private_key) == DATA
    for copy in copies:
        with pytest.raises(TravelDataError, match="does not open"):
            open_travel_copy(copy, travel_key("nbk").private_key)
    with pytest.raises(TravelDataError, match="does not open"):
        open_travel_copy(copies[0], travel_key(copies[1].recipient).private_key)
    assert all(DATA.beneficiary_name.encode() not in v for _, v in world.store.iter_state(b""))


def test_every_missing_or_wrong_copy_is_refused_with_its_code(world: StoreWorld) -> None:
    copies = seal_travel_data(DATA, _keys_of("halyk", "kaspi", "afm"))
    assert code_name(_publish(world, "halyk")) == "OK"
    assert code_name(_publish(world, "afm")) == "OK"
    refused = world.block(_pay(world, BIG, copies)).receipts[0]
    assert code_name(refused) == "NO_TRAVEL_KEY"
    assert "'kaspi'" in refused.message
    assert code_name(_publish(world, "kaspi")) == "OK"
    without_regulator = [c for c in copies if c.recipient != "afm"]
    refused = world.block(_pay(world, BIG, without_regulator)).receipts[0]
    assert (code_name(refused), refused.rule) == ("TRAVEL_RULE_REQUIRED", travel.RULE_TRAVEL)
    assert "'afm'" in refused.message
    stray = [*copies[:2], *seal_travel_data(DATA, _keys_of("nbk"))]
    assert code_name(world.block(_pay(world, BIG, stray)).receipts[0]) == "INVALID_TRAVEL_RULE"
    assert world.ledger.balance("dana.kaspi", "KZT") == 0


@pytest.mark.parametrize(
    ("case", "copies"),
    [
        ("five copies", [pb.TravelCopy(recipient=f"bank-{i}", sealed=b"x" * 60) for i in range(5)]),
        ("a duplicate", [pb.TravelCopy(recipient="kaspi", sealed=b"x" * 60)] * 2),
        ("too short", [pb.TravelCopy(recipient="kaspi", sealed=b"x" * 48)]),
        ("too long", [pb.TravelCopy(recipient="kaspi", sealed=b"x" * 2049)]),
        ("no account id", [pb.TravelCopy(recipient="Kaspi Bank", sealed=b"x" * 60)]),
    ],
)
def test_malformed_copies_are_refused_for_their_body_alone(
    world: StoreWorld, case: str, copies: list[pb.TravelCopy]
) -> None:
    raw = _pay(world, SMALL, copies)
    checked = world.ledger.check_tx(raw, next_height=world.height + 1)
    receipt = world.block(raw).receipts[0]
    assert (checked.code_name, code_name(receipt)) == ("INVALID_TRAVEL_RULE",) * 2, case
    assert receipt.speaks_for_tx
    assert not receipt.authorised


def test_non_kzt_legs_need_travel_data_whatever_their_size(world: StoreWorld) -> None:
    _published(world)
    small = world.tx("halyk", transfer(("halyk", "kaspi", "USDT", 1)))
    assert code_name(world.block(small).receipts[0]) == "TRAVEL_RULE_REQUIRED"
    copies = seal_travel_data(DATA, _keys_of("halyk", "kaspi", "afm"))
    sealed = world.tx("halyk", transfer(("halyk", "kaspi", "USDT", 1, PaymentIds(), copies)))
    assert code_name(world.block(sealed).receipts[0]) == "OK"


def test_a_small_kzt_payment_needs_none_and_keeps_the_short_path(world: StoreWorld) -> None:
    _published(world)
    small = _pay(world, SMALL, [])
    assert world.ledger._check_plain(small, decode_tx(small), world.height + 1) is not None
    copies = seal_travel_data(DATA, _keys_of("halyk", "kaspi", "afm"))
    for raw in (_pay(world, BIG, copies), _pay(world, SMALL, copies)):
        assert world.ledger._check_plain(raw, decode_tx(raw), world.height + 1) is None
        assert world.ledger.check_tx(raw, next_height=world.height + 1).ok
    stray = _pay(world, SMALL, seal_travel_data(DATA, _keys_of("nbk")))
    assert world.ledger.check_tx(stray, next_height=world.height + 1).code_name == (
        "INVALID_TRAVEL_RULE"
    )


def test_a_customer_of_genesis_has_no_bank_to_receive_travel_data(world: StoreWorld) -> None:
    _published(world)
    raw = world.tx("old.halyk", transfer(("old.halyk", "dana.kaspi", "KZT", BIG)))
    receipt = world.block(raw).receipts[0]
    assert code_name(receipt) == "NO_TRAVEL_KEY"
    assert "registered at genesis" in receipt.message


def test_without_enforcement_big_payments_carry_no_copies(tmp_path: Path) -> None:
    with Store(tmp_path / "db") as store:
        w = StoreWorld(store, _doc(enforced=False))
        _register_customer(w, "dana.kaspi", "kaspi")
        assert code_name(w.block(_pay(w, BIG, [])).receipts[0]) == "OK"


@pytest.mark.parametrize(
    ("signer", "public_key", "code"),
    [
        ("dana.kaspi", None, "UNAUTHORIZED"),
        ("treasury", None, "UNAUTHORIZED"),
        ("halyk", bytes(32), "INVALID_FIELD"),
        ("halyk", LOW_ORDER, "INVALID_FIELD"),
        ("halyk", b"\x09" * 31, "INVALID_FIELD"),
        ("nbk", None, "OK"),
    ],
)
def test_who_may_publish_a_travel_key(
    world: StoreWorld, signer: str, public_key: bytes | None, code: str
) -> None:
    receipt = _publish(world, signer, public_key)
    assert code_name(receipt) == code
    account = pb.Account.FromString(world.store.get(b"acct/" + signer.encode()) or b"")
    assert bool(account.travel_key) == (code == "OK")


def test_regulators_are_listed_and_a_third_one_is_refused(world: StoreWorld) -> None:
    assert code_name(_publish(world, "afm2")) == "OK"
    assert code_name(_publish(world, "afm")) == "OK"
    assert code_name(_publish(world, "afm", travel_key("afm-new").public_key)) == "OK"
    assert world.store.get(travel.REGULATORS) == b"afm\nafm2"
    refused = _publish(world, "afm3")
    assert code_name(refused) == "INVALID_FIELD"
    assert "2 regulators" in refused.message


def test_both_paths_give_the_same_app_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same blocks with and without the short path: equal app hashes at every height."""
    hashes: list[list[bytes]] = []
    copies = seal_travel_data(DATA, _keys_of("halyk", "kaspi", "afm"))  # sealing is random
    for run in ("short", "general"):
        if run == "general":
            monkeypatch.setattr(_transfer, "plain_transfer", lambda *a, **kw: None)
        with Store(tmp_path / run) as store:
            w = StoreWorld(store, _doc())
            _register_customer(w, "dana.kaspi", "kaspi")
            _published(w)
            seen = []
            codes: list[str] = []
            for amount, sealed in ((SMALL, []), (BIG, copies), (SMALL, copies), (BIG, [])):
                codes.append(code_name(w.block(_pay(w, amount, sealed)).receipts[0]))
                seen.append(w.app_hash)
            hashes.append(seen)
            assert codes == ["OK", "OK", "OK", "TRAVEL_RULE_REQUIRED"], run
    assert hashes[0] == hashes[1]


@settings(max_examples=60, deadline=None)
@given(sealed=st.binary(max_size=2100), private=st.binary(min_size=32, max_size=32))
def test_garbage_copies_never_open(sealed: bytes, private: bytes) -> None:
    with pytest.raises(TravelDataError):
        open_travel_copy(pb.TravelCopy(recipient="kaspi", sealed=sealed), private)


_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", categories=["L", "N", "P"], include_characters=" "),
    min_size=1,
)


@settings(max_examples=40, deadline=None)
@given(names=st.tuples(*([_TEXT.map(str.strip).filter(bool)] * 5)))
def test_sealed_data_opens_as_it_was_or_is_refused_before_sealing(
    names: tuple[str, ...],
) -> None:
    data = pb.TravelRuleData(**dict(zip(_FIELDS, names, strict=True)))
    recipient = travel_key("kaspi")
    try:
        (copy,) = seal_travel_data(data, {"kaspi": recipient.public_key})
    except TravelDataError:
        assert any(len(n) > 64 for n in names)
        return
    assert travel.MIN_SEALED <= len(copy.sealed) <= travel.MAX_SEALED
    assert open_travel_copy(copy, recipient.private_key) == data


_FIELDS = (
    "originator_name",
    "originator_account",
    "originator_id",
    "beneficiary_name",
    "beneficiary_account",
)


def test_a_vasp_publishes_only_under_a_licence_in_force(world: StoreWorld) -> None:
    vasp = pb.RegisterAccount(
        account_id="exchange.halyk",
        role=pb.VASP,
        zone=pb.CRYPTOCITY,
        public_keys=[key("exchange.halyk").public_key],
    )
    assert code_name(world.run("halyk", vasp)) == "OK"
    assert code_name(_publish(world, "exchange.halyk")) == "NO_LICENCE"
    licence = pb.GrantLicence(
        account_id="exchange.halyk", assets=["USDT"], expires_at_height=1000, reference="L-1"
    )
    assert code_name(world.run("afm", licence)) == "OK"
    assert code_name(_publish(world, "exchange.halyk")) == "OK"


def test_one_copy_serves_a_bank_on_both_sides_and_each_leg_is_judged(
    world: StoreWorld,
) -> None:
    _published(world)
    _register_customer(world, "ali.kaspi", "kaspi")
    fund = seal_travel_data(DATA, _keys_of("halyk", "kaspi", "afm"))
    assert code_name(world.block(_pay(world, 2 * BIG, fund)).receipts[0]) == "OK"
    same_bank = seal_travel_data(DATA, _keys_of("kaspi", "afm"))
    first = ("dana.kaspi", "ali.kaspi", "KZT", BIG, PaymentIds(), same_bank)
    second = ("dana.kaspi", "halyk", "KZT", BIG)
    refused = world.run("dana.kaspi", transfer(first, second))
    assert code_name(refused) == "TRAVEL_RULE_REQUIRED"
    assert refused.message.startswith("transfer.legs[1].travel_copies")
    assert code_name(world.run("dana.kaspi", transfer(first))) == "OK"
    assert world.ledger.balance("ali.kaspi", "KZT") == BIG


_COPY = st.builds(
    pb.TravelCopy,
    recipient=st.sampled_from(["kaspi", "halyk", "afm", "Bad Id", "x"]),
    sealed=st.one_of(st.sampled_from([0, 48, 49, 2048, 2049]), st.integers(0, 2100)).map(
        lambda n: b"s" * n
    ),
)


@settings(max_examples=200, deadline=None)
@given(copies=st.lists(_COPY, max_size=6))
def test_the_form_of_copies_is_refused_exactly_when_it_breaks_a_bound(
    copies: list[pb.TravelCopy],
) -> None:
    leg = pb.TransferLeg(payer="halyk", payee="kaspi", asset="KZT", amount=1)
    leg.travel_copies.extend(copies)
    recipients = [c.recipient for c in copies]
    broken = (
        len(copies) > travel.MAX_COPIES
        or len(set(recipients)) != len(recipients)
        or any(r in ("Bad Id", "x") for r in recipients)
        or any(not travel.MIN_SEALED <= len(c.sealed) <= travel.MAX_SEALED for c in copies)
    )
    refusal = travel.static_refusal("transfer.legs[0]", leg)
    assert (refusal is not None) == broken
    if refusal is not None:
        assert refusal.code == pb.INVALID_TRAVEL_RULE
