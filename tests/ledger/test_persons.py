"""Persons (issue 12 item 2, and "freeze follows the person" of item 5): tier limits and
freezes apply to one person across all its accounts at every bank.

The world: the genesis of ledger_world with USDT (CRYPTOCITY, issued by kaspi, 500 KZT per
USDT), tier 1 limits of 50,000 KZT per payment, 100,000 KZT a day and a 500,000 KZT
holding cap, tier 2 unlimited, and these accounts:

    aidos.halyk, aidos.kaspi  CUSTOMER  CRYPTOCITY  tier 1  person AIDOS, at two banks
    solo                      CUSTOMER  CRYPTOCITY  tier 1  no person reference
    shop                      MERCHANT  CRYPTOCITY  tier 2

Each bypass an examiner found is shown refused with its code and rule id.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from ledger_world import World, code_name, genesis_doc, key, make_genesis

from node.errors import ConfigError
from node.ledger import get_balance
from node.ledger._keys import almaty_day
from node.ledger._persons import get_person, get_person_outflow, person_ref
from node.ledger.txbuild import transfer
from proto import ledger_pb2 as pb

M = 100  # tiyn per tenge
USDT = 1_000_000
RATE = 500 * M
BANK_KEY = b"bank-shared person key, test only"
AIDOS = person_ref("880101300123", BANK_KEY)
BERIK = person_ref("900202400456", BANK_KEY)


def genesis(**rulebook: Any) -> dict[str, Any]:
    doc = genesis_doc()
    doc["accounts"][1]["balances"] = {"KZT": str(10_000_000 * M)}  # halyk
    doc["accounts"][2]["balances"] = {"KZT": str(10_000_000 * M), "USDT": str(10**6 * USDT)}
    doc["assets"].append(
        {
            "code": "USDT",
            "decimals": 6,
            "issuer": "kaspi",
            "kind": "STABLECOIN",
            "payment_zones": ["CRYPTOCITY"],
        }
    )
    doc["rulebook"] = {"rates": {"USDT": str(RATE)}, **rulebook}
    return doc


def register(
    account_id: str,
    ref: bytes = b"",
    role: int = pb.CUSTOMER,
    tier: int = 1,
) -> pb.RegisterAccount:
    return pb.RegisterAccount(
        account_id=account_id,
        role=role,  # type: ignore[arg-type]
        zone=pb.CRYPTOCITY,
        kyc_tier=tier,
        public_keys=[key(account_id).public_key],
        person_ref=ref,
    )


def world(**rulebook: Any) -> World:
    w = World(make_genesis(genesis(**rulebook)))
    txs = [
        w.tx("halyk", register("aidos.halyk", AIDOS)),
        w.tx("kaspi", register("aidos.kaspi", AIDOS)),
        w.tx("halyk", register("solo")),
        w.tx("halyk", register("shop", role=pb.MERCHANT, tier=2)),
    ]
    for receipt in w.block(*txs).receipts:
        expect(receipt, "OK")
    return w


def expect(receipt: pb.Receipt, code: str, rule: str = "") -> None:
    assert (code_name(receipt), receipt.rule) == (code, rule), receipt.message
    assert (receipt.message == "") == (code == "OK")


def pay(w: World, payer: str, payee: str, amount: int, asset: str = "KZT") -> pb.Receipt:
    return w.run(payer, transfer((payer, payee, asset, amount)))


def fund(w: World, to: str, amount: int) -> None:
    bank = "kaspi" if to.endswith(".kaspi") else "halyk"
    expect(pay(w, bank, to, amount), "OK")


# ---------------------------------------------------------------- the bypasses


def test_one_person_with_two_accounts_cannot_pay_past_its_daily_limit() -> None:
    """The examiner's bypass: two tier-1 accounts, each paying its own daily limit."""
    w = world()
    fund(w, "aidos.halyk", 150_000 * M)
    fund(w, "aidos.kaspi", 150_000 * M)
    expect(pay(w, "aidos.halyk", "shop", 50_000 * M), "OK")
    expect(pay(w, "aidos.halyk", "shop", 30_000 * M), "OK")
    # The other bank's account has the rest of the person's day, not a day of its own.
    expect(pay(w, "aidos.kaspi", "shop", 20_000 * M + 1), "LIMIT_DAILY", "limits.daily")
    expect(pay(w, "aidos.kaspi", "shop", 20_000 * M), "OK")
    expect(pay(w, "aidos.kaspi", "shop", 1), "LIMIT_DAILY", "limits.daily")
    expect(pay(w, "aidos.halyk", "shop", 1), "LIMIT_DAILY", "limits.daily")
    # USDT counts too, rounded up to a tiyn.
    expect(w.run("kaspi", pb.Issue(asset="USDT", to="aidos.kaspi", amount=USDT)), "OK")
    expect(pay(w, "aidos.kaspi", "shop", 1, "USDT"), "LIMIT_DAILY", "limits.daily")
    day = almaty_day(w.time_ms)
    assert get_person_outflow(w.state, AIDOS, day) == 100_000 * M
    # An account without a person reference keeps a day of its own, as before.
    fund(w, "solo", 150_000 * M)
    expect(pay(w, "solo", "shop", 50_000 * M), "OK")
    expect(pay(w, "solo", "shop", 50_000 * M), "OK")
    expect(pay(w, "solo", "shop", 1), "LIMIT_DAILY", "limits.daily")
    # The next Almaty day starts afresh for the person.
    w.time_ms += 24 * 3_600_000
    expect(pay(w, "aidos.kaspi", "shop", 50_000 * M), "OK")
    expect(pay(w, "aidos.halyk", "shop", 50_000 * M), "OK")
    expect(pay(w, "aidos.halyk", "shop", 1), "LIMIT_DAILY", "limits.daily")
    assert get_person_outflow(w.state, AIDOS, day) == 0  # that day's record is gone
    assert get_person_outflow(w.state, AIDOS, day + 1) == 100_000 * M


def test_a_transfer_from_two_accounts_of_one_person_is_one_payment() -> None:
    w = world()
    fund(w, "aidos.halyk", 100_000 * M)
    fund(w, "aidos.kaspi", 100_000 * M)
    fund(w, "solo", 100_000 * M)
    both = transfer(
        ("aidos.halyk", "shop", "KZT", 30_000 * M), ("aidos.kaspi", "shop", "KZT", 30_000 * M)
    )
    signers = [key("aidos.halyk"), key("aidos.kaspi")]
    r = w.run("aidos.halyk", both, keys=signers)
    expect(r, "LIMIT_PER_PAYMENT", "limits.per-payment")
    assert "other accounts of person" in r.message
    # The mempool check judges it the same way (it skips only the daily limit).
    tx = w.tx("aidos.halyk", both, keys=signers)
    check = w.ledger.check_tx(tx, next_height=w.height + 1)
    assert pb.ResultCode.Name(check.code) == "LIMIT_PER_PAYMENT"
    half = transfer(
        ("aidos.halyk", "shop", "KZT", 25_000 * M), ("aidos.kaspi", "shop", "KZT", 25_000 * M)
    )
    expect(w.run("aidos.halyk", half, keys=signers), "OK")
    # Two different people in one transfer are judged each on its own.
    pair = transfer(("aidos.halyk", "shop", "KZT", 40_000 * M), ("solo", "shop", "KZT", 40_000 * M))
    expect(w.run("solo", pair, keys=[key("aidos.halyk"), key("solo")]), "OK")
    # The person's day: 50,000 + 40,000 = 90,000; both accounts share what is left.
    both_rest = transfer(
        ("aidos.halyk", "shop", "KZT", 5_000 * M), ("aidos.kaspi", "shop", "KZT", 5_000 * M + 1)
    )
    expect(w.run("aidos.kaspi", both_rest, keys=signers), "LIMIT_DAILY", "limits.daily")
    assert get_balance(w.state, "aidos.kaspi", "KZT") == 75_000 * M


def test_the_holding_cap_counts_every_account_of_the_person() -> None:
    w = world()
    fund(w, "aidos.halyk", 300_000 * M)
    fund(w, "aidos.kaspi", 200_000 * M)  # 500,000 KZT held by the person: the cap
    r = pay(w, "halyk", "aidos.halyk", 1)
    expect(r, "LIMIT_HOLDING_CAP", "limits.holding")
    assert "other 1 account(s) of person" in r.message
    expect(pay(w, "kaspi", "aidos.kaspi", 1), "LIMIT_HOLDING_CAP", "limits.holding")
    issue = pb.Issue(asset="USDT", to="aidos.kaspi", amount=1)
    expect(w.run("kaspi", issue), "LIMIT_HOLDING_CAP", "limits.holding")
    # Moving money between its own accounts leaves the person's holdings as they were.
    expect(pay(w, "aidos.halyk", "aidos.kaspi", 10_000 * M), "OK")
    # A payment out makes room for the person, at either bank.
    expect(pay(w, "aidos.kaspi", "shop", 1_000 * M), "OK")
    expect(pay(w, "halyk", "aidos.halyk", 1_000 * M), "OK")
    expect(pay(w, "kaspi", "aidos.kaspi", 1), "LIMIT_HOLDING_CAP", "limits.holding")
    # A new account of the person starts with the person's holdings against its cap.
    expect(w.run("kaspi", register("aidos.third.kaspi", AIDOS)), "OK")
    expect(pay(w, "kaspi", "aidos.third.kaspi", 1), "LIMIT_HOLDING_CAP", "limits.holding")
    # Without a reference an account is judged alone, as before.
    fund(w, "solo", 500_000 * M)
    expect(pay(w, "halyk", "solo", 1), "LIMIT_HOLDING_CAP", "limits.holding")


def test_a_tier_2_account_of_the_person_is_judged_by_its_own_tier() -> None:
    """Limits are the paying (or growing) account's tier, with the person's totals."""
    w = world()
    expect(w.run("kaspi", register("aidos.vip.kaspi", AIDOS, tier=2)), "OK")
    fund(w, "aidos.halyk", 100_000 * M)
    fund(w, "aidos.vip.kaspi", 1_000_000 * M)  # tier 2 has no cap
    expect(pay(w, "aidos.vip.kaspi", "shop", 500_000 * M), "OK")  # tier 2 pays without limit
    # ... and its outflow is the person's: the tier-1 account has no room left today.
    expect(pay(w, "aidos.halyk", "shop", 1), "LIMIT_DAILY", "limits.daily")
    # The tier-1 account grows against its cap with everything the person holds.
    expect(pay(w, "halyk", "aidos.halyk", 1), "LIMIT_HOLDING_CAP", "limits.holding")


# ---------------------------------------------------------------- accounts per person


def test_a_person_has_at_most_the_rulebooks_accounts_at_all_banks() -> None:
    w = world()  # the default rulebook: 4 accounts per person
    expect(w.run("halyk", register("aidos.3", AIDOS)), "OK")
    expect(w.run("kaspi", register("aidos.4", AIDOS, role=pb.MERCHANT, tier=2)), "OK")
    r = w.run("kaspi", register("aidos.5", AIDOS))
    expect(r, "PERSON_ACCOUNTS_EXCEEDED", "persons.max-accounts")
    assert AIDOS[:8].hex() in r.message
    expect(
        w.run("halyk", register("aidos.5", AIDOS)),
        "PERSON_ACCOUNTS_EXCEEDED",
        "persons.max-accounts",
    )
    person = get_person(w.state, AIDOS)
    assert person is not None
    assert list(person.accounts) == ["aidos.halyk", "aidos.kaspi", "aidos.3", "aidos.4"]
    assert not person.frozen
    # Two registrations of one person in one block: the second sees the first.
    tx1 = w.tx("halyk", register("berik.1", BERIK))
    tx2 = w.tx("kaspi", register("berik.2", BERIK))
    assert [code_name(r) for r in w.block(tx1, tx2).receipts] == ["OK", "OK"]
    person = get_person(w.state, BERIK)
    assert person is not None
    assert list(person.accounts) == ["berik.1", "berik.2"]


def test_the_rulebook_sets_the_cap_and_zero_means_the_ceiling() -> None:
    w = world(max_accounts_per_person=2)
    expect(
        w.run("halyk", register("aidos.3", AIDOS)),
        "PERSON_ACCOUNTS_EXCEEDED",
        "persons.max-accounts",
    )
    w = world(max_accounts_per_person=0)
    for i in range(3, 17):
        expect(w.run("halyk", register(f"aidos.{i}", AIDOS)), "OK")
    r = w.run("halyk", register("aidos.17", AIDOS))
    expect(r, "PERSON_ACCOUNTS_EXCEEDED", "persons.max-accounts")
    assert "(16)" in r.message
    with pytest.raises(ConfigError, match="max_accounts_per_person: at most 16"):
        make_genesis(genesis(max_accounts_per_person=17))


# ---------------------------------------------------------------- freeze follows the person


def test_a_frozen_person_re_onboarded_under_a_new_id_stays_frozen() -> None:
    """The examiner's bypass: a frozen customer opens a new account and pays again."""
    w = world()
    fund(w, "aidos.halyk", 10_000 * M)
    fund(w, "aidos.kaspi", 10_000 * M)
    r = w.run("afm", pb.Freeze(account_id="aidos.halyk", legal_ref="court 2026/77"))
    expect(r, "OK")
    assert list(r.accounts) == ["afm", "aidos.halyk", "aidos.kaspi"]
    # Its other bank's account is frozen too, under the same order.
    r = pay(w, "aidos.kaspi", "shop", 1)
    expect(r, "FROZEN")
    assert "court 2026/77" in r.message
    # Re-onboarded at a bank under a new id, with its person reference: born frozen.
    expect(w.run("kaspi", register("aidos.new", AIDOS)), "OK")
    fund(w, "aidos.new", 1_000 * M)  # it may still receive, as a frozen account may
    r = pay(w, "aidos.new", "shop", 1)
    expect(r, "FROZEN")
    assert "court 2026/77" in r.message
    person = get_person(w.state, AIDOS)
    assert person is not None
    assert (person.frozen, person.frozen_legal_ref) == (True, "court 2026/77")
    # Freezing it again through another account is refused; seizure works on every account.
    expect(w.run("afm", pb.Freeze(account_id="aidos.new", legal_ref="again")), "FROZEN")
    order = pb.CourtOrder(
        court="Almaty City Court", case_number="2026/77", order_number="1", order_date="2026-01-02"
    )
    seize = pb.Seize(
        account_id="aidos.new", asset="KZT", amount=1_000 * M, reserve="reserve", court_order=order
    )
    expect(w.run("afm", seize), "OK")
    # Another person is not touched.
    fund(w, "solo", 1_000 * M)
    expect(pay(w, "solo", "shop", 1), "OK")


def test_unfreezing_one_account_unfreezes_the_person() -> None:
    w = world()
    fund(w, "aidos.halyk", 10_000 * M)
    fund(w, "aidos.kaspi", 10_000 * M)
    expect(w.run("afm", pb.Freeze(account_id="aidos.kaspi", legal_ref="court 1")), "OK")
    expect(w.run("kaspi", register("aidos.new", AIDOS)), "OK")  # born frozen
    r = w.run("afm", pb.Unfreeze(account_id="aidos.new", legal_ref="court 1 lifted"))
    expect(r, "OK")
    assert list(r.accounts) == ["afm", "aidos.new", "aidos.halyk", "aidos.kaspi"]
    expect(pay(w, "aidos.halyk", "shop", 1), "OK")
    expect(pay(w, "aidos.kaspi", "shop", 1), "OK")
    person = get_person(w.state, AIDOS)
    assert person is not None
    assert (person.frozen, person.frozen_legal_ref) == (False, "")
    expect(w.run("afm", pb.Unfreeze(account_id="aidos.halyk", legal_ref="x")), "NOT_FROZEN")
    # A new account after the unfreeze is not frozen.
    expect(w.run("halyk", register("aidos.4", AIDOS)), "OK")
    fund(w, "aidos.4", 100 * M)
    expect(pay(w, "aidos.4", "shop", 1), "OK")
    # Only the regulator freezes a person.
    expect(w.run("halyk", pb.Freeze(account_id="aidos.halyk", legal_ref="bank")), "UNAUTHORIZED")


# ---------------------------------------------------------------- bad references


@pytest.mark.parametrize("size", [1, 16, 31, 33, 64])
def test_a_person_reference_is_32_bytes(size: int) -> None:
    w = world()
    r = w.run("halyk", register("bad.ref", b"\x01" * size))
    expect(r, "INVALID_PERSON_REF")
    assert f"{size} bytes" in r.message
    assert (
        w.ledger.check_tx(
            w.tx("halyk", register("bad.ref", b"\x01" * size)), next_height=w.height + 1
        ).code
        == pb.INVALID_PERSON_REF
    )


@pytest.mark.parametrize(
    ("signer", "role"),
    [
        ("nbk", pb.COMMERCIAL_BANK),
        ("nbk", pb.REGULATOR),
        ("nbk", pb.TREASURY),
    ],
)
def test_only_customer_and_merchant_accounts_carry_a_person_reference(
    signer: str, role: int
) -> None:
    w = world()
    msg = register("not.a.person", AIDOS, role=role, tier=0)
    r = w.run(signer, msg)
    expect(r, "INVALID_PERSON_REF")
    assert "carries no person reference" in r.message
    person = get_person(w.state, AIDOS)
    assert person is not None
    assert "not.a.person" not in person.accounts


def test_a_refused_registration_leaves_the_person_as_it_was() -> None:
    w = world()
    before = get_person(w.state, AIDOS)
    expect(w.run("halyk", register("aidos.halyk", AIDOS)), "ACCOUNT_EXISTS")
    expect(w.run("halyk", register("aidos.x", AIDOS, tier=9)), "UNKNOWN_KYC_TIER", "limits.tier")
    expect(w.run("solo", register("aidos.y", AIDOS)), "UNAUTHORIZED")
    assert get_person(w.state, AIDOS) == before


def test_the_reference_is_a_keyed_hash_of_the_national_id() -> None:
    assert person_ref("880101300123", BANK_KEY) == person_ref(" 880101300123\n", BANK_KEY)
    assert person_ref("880101300123", BANK_KEY) != person_ref("880101300123", b"other key")
    assert len(AIDOS) == 32
    assert b"880101300123" not in AIDOS


# ---------------------------------------------------------------- the invariant

PEOPLE = {  # account -> person (two persons with accounts at both banks, one without)
    "p1.halyk": AIDOS,
    "p1.kaspi": AIDOS,
    "p2.halyk": BERIK,
    "p2.kaspi": BERIK,
    "p2.shop.kaspi": BERIK,
    "loner": b"",
}
PAYERS = [*PEOPLE, "halyk", "kaspi"]
TIER = 1
LIMITS = {"per_payment": 50_000 * M, "daily_outflow": 100_000 * M, "holding_cap": 500_000 * M}


def _person_world() -> World:
    w = World(make_genesis(genesis()))
    regs = []
    for account_id, ref in PEOPLE.items():
        bank = "kaspi" if account_id.endswith(".kaspi") else "halyk"
        regs.append(w.tx(bank, register(account_id, ref)))
    assert all(r.code == pb.OK for r in w.block(*regs).receipts)
    funding = [  # every person starts within the cap, with room to grow
        w.tx("halyk", transfer(("halyk", "p1.halyk", "KZT", 200_000 * M))),
        w.tx("kaspi", transfer(("kaspi", "p1.kaspi", "KZT", 150_000 * M))),
        w.tx("kaspi", pb.Issue(asset="USDT", to="p1.kaspi", amount=100 * USDT)),
        w.tx("halyk", transfer(("halyk", "p2.halyk", "KZT", 150_000 * M))),
        w.tx("kaspi", transfer(("kaspi", "p2.kaspi", "KZT", 150_000 * M))),
        w.tx("kaspi", transfer(("kaspi", "p2.shop.kaspi", "USDT", 200 * USDT))),
        w.tx("halyk", transfer(("halyk", "loner", "KZT", 300_000 * M))),
    ]
    assert all(r.code == pb.OK for r in w.block(*funding).receipts)
    return w


def _kzt_value(asset: str, amount: int) -> int:
    return amount if asset == "KZT" else -(-amount * RATE // USDT)


LEG = st.tuples(
    st.sampled_from([*PEOPLE, *PEOPLE, *PAYERS]),
    st.sampled_from(PAYERS),
    st.sampled_from(["KZT", "USDT"]),
    st.one_of(st.integers(1, 60_000 * M), st.sampled_from([1, 50_000 * M, 100 * USDT])),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    blocks=st.lists(
        st.tuples(
            st.lists(st.lists(LEG, min_size=1, max_size=3), min_size=1, max_size=6),
            st.integers(0, 30),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_no_person_passes_a_tier_limit_across_its_accounts(
    blocks: list[tuple[list[list[tuple[str, str, str, int]]], int]],
) -> None:
    """Random payments between the accounts of two persons at two banks, a loner and the
    banks, some spread over days: after every block, per person (or loner) in KZT-equivalent,
    what it paid that day is within the daily limit, what it holds is within the cap, and
    what it sent in one accepted transaction is within the per-payment limit."""
    w = _person_world()
    owner = {a: (ref if ref else a.encode()) for a, ref in PEOPLE.items()}
    days: dict[tuple[bytes, int], int] = {}
    for txs_spec, hours in blocks:
        txs = []
        sent_by: list[dict[bytes, int]] = []
        for drawn in txs_spec:
            legs = [leg for leg in drawn if leg[0] != leg[1]]
            if not legs:
                continue
            payers = list(dict.fromkeys(leg[0] for leg in legs))
            txs.append(w.tx(payers[0], transfer(*legs), keys=[key(p) for p in payers]))
            sent: dict[bytes, int] = {}
            for payer, _, asset, amount in legs:
                if payer in owner:
                    sent[owner[payer]] = sent.get(owner[payer], 0) + _kzt_value(asset, amount)
            sent_by.append(sent)
        if not txs:
            continue
        w.time_ms += hours * 3_600_000
        result = w.block(*txs)
        day = almaty_day(w.time_ms)
        for receipt, sent in zip(result.receipts, sent_by, strict=True):
            event(code_name(receipt) if sent else "bank-only")
            if receipt.code != pb.OK:
                continue
            for who, value in sent.items():
                assert value <= LIMITS["per_payment"], receipt
                days[(who, day)] = days.get((who, day), 0) + value
                assert days[(who, day)] <= LIMITS["daily_outflow"], (who, day)
        held: dict[bytes, int] = {}
        for account_id, who in owner.items():
            for asset in ("KZT", "USDT"):
                held[who] = held.get(who, 0) + _kzt_value(
                    asset, get_balance(w.state, account_id, asset)
                )
        for who, total in held.items():
            assert total <= LIMITS["holding_cap"], who
        for ref in (AIDOS, BERIK):
            assert get_person_outflow(w.state, ref, day) == days.get((ref, day), 0)


def test_genesis_accounts_carry_a_person_reference() -> None:
    """A person listed at genesis with accounts at two banks is one person from block 1:
    its Person record lists both, and the daily limit spans them."""
    doc = genesis()
    for account_id, funds in (("erlan.halyk", 80_000), ("erlan.kaspi", 80_000)):
        doc["accounts"].append(
            {
                "account_id": account_id,
                "role": "CUSTOMER",
                "zone": "CRYPTOCITY",
                "kyc_tier": 1,
                "public_keys": [key(account_id).public_key.hex()],
                "person_ref": BERIK.hex(),
                "balances": {"KZT": str(funds * M)},
            }
        )
    g = make_genesis(doc)
    w = World(g)
    person = get_person(w.state, BERIK)
    assert person is not None
    assert list(person.accounts) == ["erlan.halyk", "erlan.kaspi"]
    expect(w.run("erlan.halyk", transfer(("erlan.halyk", "halyk", "KZT", 50_000 * M))), "OK")
    expect(w.run("erlan.kaspi", transfer(("erlan.kaspi", "kaspi", "KZT", 50_000 * M))), "OK")
    refused = w.run("erlan.halyk", transfer(("erlan.halyk", "halyk", "KZT", 1 * M)))
    expect(refused, "LIMIT_DAILY", "limits.daily")
    from node.genesis import genesis_to_json, parse_genesis

    assert parse_genesis(genesis_to_json(g)) == g  # the reference survives the round trip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"person_ref": "ab" * 31}, "accounts[6].person_ref: not 32 bytes of hex"),
        ({"person_ref": "zz" * 32}, "accounts[6].person_ref: not 32 bytes of hex"),
        ({"person_ref": 7}, "accounts[6].person_ref: not 32 bytes of hex"),
        ({"role": "VASP"}, "accounts[6].person_ref: only a CUSTOMER or MERCHANT"),
    ],
)
def test_genesis_refuses_a_bad_person_reference(change: dict[str, Any], message: str) -> None:
    doc = genesis()
    assert len(doc["accounts"]) == 6
    entry = {
        "account_id": "erlan",
        "role": "CUSTOMER",
        "zone": "CRYPTOCITY",
        "kyc_tier": 1,
        "public_keys": [key("erlan").public_key.hex()],
        "person_ref": BERIK.hex(),
    }
    entry.update(change)
    doc["accounts"].append(entry)
    with pytest.raises(ConfigError) as info:
        make_genesis(doc)
    assert message in str(info.value)


def test_genesis_holds_a_person_to_the_account_cap() -> None:
    doc = genesis(max_accounts_per_person=2)
    for i in range(3):
        doc["accounts"].append(
            {
                "account_id": f"erlan-{i}",
                "role": "CUSTOMER",
                "zone": "CRYPTOCITY",
                "kyc_tier": 1,
                "public_keys": [key(f"erlan-{i}").public_key.hex()],
                "person_ref": BERIK.hex(),
            }
        )
    with pytest.raises(
        ConfigError, match=r"accounts\[8\]\.person_ref: the person would have more than 2"
    ):
        make_genesis(doc)
    del doc["accounts"][-1]
    person = get_person(World(make_genesis(doc)).state, BERIK)
    assert person is not None
    assert len(person.accounts) == 2
