"""The rulebook, rule by rule: each bypass an examiner found (issue 12) is refused now.

Every refusal is checked for its precise code, the id of the rulebook rule that refused it
and the rulebook version the receipt says it was judged under. The world: the genesis of
ledger_world with USDT (CRYPTOCITY only, issued by kaspi, 500 KZT per USDT in the
rulebook), tier 1 limits of 50,000 KZT per payment, 100,000 KZT a day and a 500,000 KZT
holding cap, tier 2 unlimited, and these accounts, registered by their banks:

    aidos, dana   CUSTOMER  CRYPTOCITY  tier 1
    shop          MERCHANT  CRYPTOCITY  tier 2
    erlan         CUSTOMER  NATIONAL    tier 1
    lic.cust      CUSTOMER  NATIONAL    tier 1
    lic.a, lic.b  MERCHANT  NATIONAL    tier 2  licensed (USDT, GOVERNMENT_FEE)

The merchants' licences are granted by the regulator (afm) in block 2; a bank can no longer
license anyone (tests/ledger/test_licences.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from ledger_world import World, code_name, genesis_doc, key, make_genesis

from node.errors import ConfigError
from node.genesis import parse_genesis, rulebook_to_doc
from node.ledger import default_rulebook, get_balance, read_rulebooks, read_version
from node.ledger.txbuild import GovernedChange, propose, transfer
from proto import ledger_pb2 as pb

M = 100  # tiyn per tenge
USDT = 1_000_000  # minor units per USDT (6 decimals)
RATE = 500 * M  # tiyn per USDT in the genesis rulebook

USDT_ASSET: dict[str, Any] = {
    "code": "USDT",
    "decimals": 6,
    "issuer": "kaspi",
    "kind": "STABLECOIN",
    "payment_zones": ["CRYPTOCITY"],
}

ACCOUNTS: list[tuple[str, str, int, int, int]] = [
    # bank, account id, role, zone, tier
    ("halyk", "aidos", pb.CUSTOMER, pb.CRYPTOCITY, 1),
    ("kaspi", "dana", pb.CUSTOMER, pb.CRYPTOCITY, 1),
    ("halyk", "shop", pb.MERCHANT, pb.CRYPTOCITY, 2),
    ("kaspi", "erlan", pb.CUSTOMER, pb.NATIONAL, 1),
    ("halyk", "lic.cust", pb.CUSTOMER, pb.NATIONAL, 1),
    ("halyk", "lic.a", pb.MERCHANT, pb.NATIONAL, 2),
    ("kaspi", "lic.b", pb.MERCHANT, pb.NATIONAL, 2),
]
LICENSED = ("lic.a", "lic.b")


def genesis_with_usdt() -> dict[str, Any]:
    doc = genesis_doc()
    doc["accounts"][0]["balances"] = {"KZT": str(1_000_000 * M)}  # nbk
    doc["accounts"][1]["balances"] = {"KZT": str(10_000_000 * M)}  # halyk
    doc["accounts"][2]["balances"] = {"KZT": str(10_000_000 * M), "USDT": str(10**9 * USDT)}
    doc["assets"].append(dict(USDT_ASSET))
    doc["rulebook"] = {"rates": {"USDT": str(RATE)}}
    return doc


def world() -> World:
    """The world of the module docstring, its accounts registered in block 1."""
    w = World(make_genesis(genesis_with_usdt()))
    txs = [
        w.tx(
            bank,
            pb.RegisterAccount(
                account_id=account_id,
                role=role,  # type: ignore[arg-type]
                zone=zone,  # type: ignore[arg-type]
                kyc_tier=tier,
                public_keys=[key(account_id).public_key],
            ),
        )
        for bank, account_id, role, zone, tier in ACCOUNTS
    ]
    for receipt in w.block(*txs).receipts:
        expect(receipt, "OK")
    grants = [
        w.tx(
            "afm",
            pb.GrantLicence(
                account_id=account_id,
                assets=["USDT"],
                purposes=[pb.GOVERNMENT_FEE],
                expires_at_height=10**6,
                reference=f"AFM-{account_id}",
            ),
        )
        for account_id in LICENSED
    ]
    for receipt in w.block(*grants).receipts:
        expect(receipt, "OK")
    return w


def expect(receipt: pb.Receipt, code: str, rule: str = "", version: int = 1) -> None:
    """The receipt has this code, names this rule and was judged under this version."""
    assert (code_name(receipt), receipt.rule, receipt.rulebook_version) == (
        code,
        rule,
        version,
    ), receipt.message
    assert (receipt.message == "") == (code == "OK")


def pay(w: World, payer: str, payee: str, asset: str, amount: int, purpose: int = 0) -> pb.Receipt:
    return w.run(payer, transfer((payer, payee, asset, amount), purpose=purpose))


def issue(w: World, asset: str, to: str, amount: int) -> pb.Receipt:
    issuer = "nbk" if asset == "KZT" else "kaspi"
    return w.run(issuer, pb.Issue(asset=asset, to=to, amount=amount))


# ---------------------------------------------------------------- who may hold


def test_a_national_customer_cannot_receive_cryptocity_usdt() -> None:
    """Persons are not a licensed role: only a MERCHANT (or VASP) with a licence from the
    regulator holds USDT outside CRYPTOCITY; a customer there is refused (rule hold.zone)."""
    w = world()
    expect(issue(w, "USDT", "lic.cust", 1 * USDT), "ASSET_NOT_ALLOWED", "hold.zone")
    expect(pay(w, "kaspi", "lic.cust", "USDT", 1 * USDT), "ASSET_NOT_ALLOWED", "hold.zone")
    expect(issue(w, "USDT", "aidos", 10 * USDT), "OK")
    expect(pay(w, "aidos", "lic.cust", "USDT", 1 * USDT), "ASSET_NOT_ALLOWED", "hold.zone")
    expect(pay(w, "aidos", "erlan", "USDT", 1 * USDT), "ASSET_NOT_ALLOWED", "hold.zone")
    assert get_balance(w.state, "lic.cust", "USDT") == 0
    # A merchant the regulator licensed does hold it (and the customer still pays KZT).
    expect(issue(w, "USDT", "lic.a", 1 * USDT), "OK")
    expect(pay(w, "halyk", "lic.cust", "KZT", 100 * M), "OK")


def test_licensed_firms_do_not_hold_crypto_outside_its_zone() -> None:
    """CRYPTO licenses only VASPs: a licensed NATIONAL merchant may not hold it."""
    w = world()
    btc = pb.RegisterAsset(
        code="BTC", decimals=8, issuer="kaspi", kind=pb.CRYPTO, payment_zones=[pb.CRYPTOCITY]
    )
    expect(w.govern(btc), "OK")
    r = w.run("kaspi", pb.Issue(asset="BTC", to="lic.a", amount=1))
    expect(r, "ASSET_NOT_ALLOWED", "hold.zone")
    expect(w.run("kaspi", pb.Issue(asset="BTC", to="shop", amount=1)), "OK")


# ---------------------------------------------------------------- purpose rules


def test_two_licensed_national_merchants_cannot_pay_each_other_usdt() -> None:
    w = world()
    for holder in ("lic.a", "lic.b"):
        expect(pay(w, "kaspi", holder, "USDT", 100 * USDT), "OK")
    refused = ("PURPOSE_NOT_ALLOWED", "hold.outside-zone-receive")
    expect(pay(w, "lic.a", "lic.b", "USDT", 1 * USDT), *refused)
    # A purpose does not open a payee that holds outside the zone, either.
    expect(pay(w, "lic.b", "lic.a", "USDT", 1 * USDT, pb.GOVERNMENT_FEE), *refused)
    # They still pay each other in KZT.
    expect(pay(w, "halyk", "lic.a", "KZT", 1_000 * M), "OK")
    expect(pay(w, "lic.a", "lic.b", "KZT", 1_000 * M), "OK")
    assert get_balance(w.state, "lic.a", "USDT") == get_balance(w.state, "lic.b", "USDT")


def test_a_licensed_national_merchant_pays_usdt_only_as_a_fee_to_treasury() -> None:
    w = world()
    expect(pay(w, "kaspi", "lic.a", "USDT", 100 * USDT), "OK")
    refused = ("PURPOSE_NOT_ALLOWED", "hold.outside-zone-pay")
    expect(pay(w, "lic.a", "treasury", "USDT", 10 * USDT), *refused)
    for payee in ("shop", "halyk", "kaspi", "reserve"):
        expect(pay(w, "lic.a", payee, "USDT", 10 * USDT, pb.GOVERNMENT_FEE), *refused)
    expect(pay(w, "lic.a", "treasury", "USDT", 10 * USDT, pb.GOVERNMENT_FEE), "OK")
    assert get_balance(w.state, "treasury", "USDT") == 10 * USDT
    assert get_balance(w.state, "lic.a", "USDT") == 90 * USDT


def test_a_licensed_national_merchant_receives_usdt_only_from_an_institution() -> None:
    w = world()
    expect(issue(w, "USDT", "aidos", 100 * USDT), "OK")
    expect(pay(w, "kaspi", "shop", "USDT", 100 * USDT), "OK")
    refused = ("PURPOSE_NOT_ALLOWED", "hold.outside-zone-receive")
    expect(pay(w, "aidos", "lic.a", "USDT", 1 * USDT), *refused)
    expect(pay(w, "shop", "lic.a", "USDT", 1 * USDT, pb.GOVERNMENT_FEE), *refused)
    # From a bank (the issuer's distribution, or another bank) and from TREASURY it may.
    expect(issue(w, "USDT", "lic.a", 5 * USDT), "OK")
    expect(pay(w, "kaspi", "halyk", "USDT", 5 * USDT), "OK")
    expect(pay(w, "halyk", "lic.a", "USDT", 5 * USDT), "OK")
    expect(pay(w, "lic.a", "treasury", "USDT", 2 * USDT, pb.GOVERNMENT_FEE), "OK")
    expect(pay(w, "treasury", "lic.a", "USDT", 1 * USDT), "OK")
    assert get_balance(w.state, "lic.a", "USDT") == 9 * USDT


# ---------------------------------------------------------------- the nationwide ban


@pytest.mark.parametrize(
    ("kind", "zones"),
    [
        (pb.STABLECOIN, [pb.NATIONAL]),
        (pb.STABLECOIN, [pb.CRYPTOCITY, pb.NATIONAL]),
        (pb.CRYPTO, [pb.NATIONAL]),
        (pb.CRYPTO, [pb.NATIONAL, pb.CRYPTOCITY]),
    ],
)
def test_the_central_bank_cannot_register_an_asset_payable_nationwide(
    kind: int, zones: list[int]
) -> None:
    w = world()
    msg = pb.RegisterAsset(
        code="KZTX",
        decimals=2,
        issuer="halyk",
        kind=kind,  # type: ignore[arg-type]
        payment_zones=zones,  # type: ignore[arg-type]
    )
    expect(w.govern(msg), "ZONE_BANNED", "ban.zone")
    del msg.payment_zones[:]
    msg.payment_zones.append(pb.CRYPTOCITY)
    expect(w.govern(msg), "OK")


@pytest.mark.parametrize("kind", ["STABLECOIN", "CRYPTO"])
def test_a_genesis_asset_payable_nationwide_is_refused(kind: str) -> None:
    doc = genesis_with_usdt()
    doc["assets"].append(
        {**USDT_ASSET, "code": "NATX", "kind": kind, "payment_zones": ["NATIONAL"]}
    )
    with pytest.raises(ConfigError, match=r"assets\[2\]\.payment_zones: the rulebook bans paying"):
        parse_genesis(doc)
    doc["assets"][2]["payment_zones"] = ["CRYPTOCITY", "NATIONAL"]
    with pytest.raises(ConfigError, match=r"assets\[2\]\.payment_zones: the rulebook bans paying"):
        parse_genesis(doc)
    doc["assets"][2]["payment_zones"] = ["CRYPTOCITY"]
    parse_genesis(doc)


def test_an_asset_kind_the_rulebook_does_not_list_cannot_be_registered() -> None:
    doc = genesis_with_usdt()
    kinds = rulebook_to_doc(default_rulebook())["kinds"]
    doc["rulebook"]["kinds"] = [rule for rule in kinds if rule["kind"] != "CRYPTO"]
    w = World(make_genesis(doc))
    btc = pb.RegisterAsset(
        code="BTC", decimals=8, issuer="kaspi", kind=pb.CRYPTO, payment_zones=[pb.CRYPTOCITY]
    )
    expect(w.govern(btc), "ASSET_KIND_NOT_IN_RULEBOOK", "hold.kind")


# ---------------------------------------------------------------- the two-tier rule


def test_the_central_bank_pays_only_banks_treasury_and_the_state_reserve() -> None:
    w = world()
    for payee in ("aidos", "shop", "erlan", "lic.a", "afm"):
        expect(pay(w, "nbk", payee, "KZT", 1 * M), "TWO_TIER_RULE", "two-tier.pay")
        assert get_balance(w.state, payee, "KZT") == 0
    # One refused leg refuses the whole transfer.
    both = transfer(("nbk", "halyk", "KZT", 1 * M), ("nbk", "aidos", "KZT", 1 * M))
    expect(w.run("nbk", both), "TWO_TIER_RULE", "two-tier.pay")
    assert get_balance(w.state, "halyk", "KZT") == 10_000_000 * M
    for payee in ("halyk", "kaspi", "treasury"):
        expect(pay(w, "nbk", payee, "KZT", 1 * M), "OK")
    expect(pay(w, "nbk", "reserve", "KZT", 1 * M, pb.RESERVE_PURCHASE), "OK")
    # What the banks pass on to their customers is theirs to pay.
    expect(pay(w, "halyk", "aidos", "KZT", 1 * M), "OK")


def test_kzt_is_issued_only_to_commercial_banks() -> None:
    w = world()
    for to in ("nbk", "treasury", "reserve", "afm", "aidos", "shop"):
        expect(issue(w, "KZT", to, 1 * M), "TWO_TIER_RULE", "two-tier.issue")
    expect(issue(w, "KZT", "halyk", 1 * M), "OK")


# ---------------------------------------------------------------- KYC-tier limits


def test_a_tier_1_customer_cannot_pay_20_million_usdt_in_one_payment() -> None:
    """50,000 KZT per payment is 100 USDT at 500 KZT: the limit counts every asset."""
    w = world()
    expect(issue(w, "USDT", "aidos", 900 * USDT), "OK")  # 450,000 KZT, under the cap
    expect(pay(w, "aidos", "shop", "USDT", 101 * USDT), "LIMIT_PER_PAYMENT", "limits.per-payment")
    expect(pay(w, "aidos", "shop", "USDT", 100 * USDT), "OK")
    # Twenty million USDT: it cannot come to hold them ...
    expect(issue(w, "USDT", "aidos", 20_000_000 * USDT), "LIMIT_HOLDING_CAP", "limits.holding")
    # ... nor pass them through in one transaction that leaves it as it was (the limit is
    # on what it sends, gross).
    through = transfer(
        ("kaspi", "aidos", "USDT", 20_000_000 * USDT), ("aidos", "shop", "USDT", 20_000_000 * USDT)
    )
    r = w.run("kaspi", through, keys=[key("kaspi"), key("aidos")])
    expect(r, "LIMIT_PER_PAYMENT", "limits.per-payment")
    # KZT and USDT legs of one payment add up: 30,000 KZT + 50 USDT (25,000 KZT).
    expect(pay(w, "halyk", "aidos", "KZT", 40_000 * M), "OK")
    both = transfer(("aidos", "shop", "KZT", 30_000 * M), ("aidos", "shop", "USDT", 50 * USDT))
    expect(w.run("aidos", both), "LIMIT_PER_PAYMENT", "limits.per-payment")
    assert get_balance(w.state, "shop", "USDT") == 100 * USDT


def test_the_day_is_counted_across_kzt_and_usdt() -> None:
    w = world()
    expect(pay(w, "halyk", "aidos", "KZT", 200_000 * M), "OK")
    expect(issue(w, "USDT", "aidos", 300 * USDT), "OK")  # 350,000 KZT held in all
    expect(pay(w, "aidos", "shop", "KZT", 50_000 * M), "OK")
    expect(pay(w, "aidos", "shop", "KZT", 50_000 * M), "OK")  # 100,000: the daily limit
    expect(pay(w, "aidos", "shop", "USDT", 1 * USDT), "LIMIT_DAILY", "limits.daily")
    expect(pay(w, "aidos", "shop", "USDT", 1), "LIMIT_DAILY", "limits.daily")  # 1 tiyn, rounded up
    expect(pay(w, "aidos", "shop", "KZT", 1), "LIMIT_DAILY", "limits.daily")
    # The other way round: USDT first, then KZT over the rest of the day's limit.
    expect(issue(w, "USDT", "dana", 200 * USDT), "OK")
    expect(pay(w, "kaspi", "dana", "KZT", 100_000 * M), "OK")
    expect(pay(w, "dana", "shop", "USDT", 100 * USDT), "OK")  # 50,000 KZT
    expect(pay(w, "dana", "shop", "USDT", 60 * USDT), "OK")  # 80,000 KZT
    expect(pay(w, "dana", "shop", "KZT", 20_000 * M + 1), "LIMIT_DAILY", "limits.daily")
    expect(pay(w, "dana", "shop", "KZT", 20_000 * M), "OK")
    # The next Almaty day starts afresh.
    w.time_ms += 24 * 3_600_000
    expect(pay(w, "aidos", "shop", "USDT", 1 * USDT), "OK")


def test_the_holding_cap_is_counted_across_kzt_and_usdt() -> None:
    w = world()
    expect(pay(w, "kaspi", "dana", "KZT", 400_000 * M), "OK")
    expect(issue(w, "USDT", "dana", 201 * USDT), "LIMIT_HOLDING_CAP", "limits.holding")
    expect(pay(w, "kaspi", "dana", "USDT", 201 * USDT), "LIMIT_HOLDING_CAP", "limits.holding")
    expect(issue(w, "USDT", "dana", 200 * USDT), "OK")  # exactly the 500,000 KZT cap
    expect(pay(w, "kaspi", "dana", "KZT", 1), "LIMIT_HOLDING_CAP", "limits.holding")
    expect(pay(w, "kaspi", "shop", "USDT", 1 * USDT), "OK")
    expect(pay(w, "shop", "dana", "USDT", 1), "LIMIT_HOLDING_CAP", "limits.holding")
    # Paying out makes room again.
    expect(pay(w, "dana", "shop", "USDT", 10 * USDT), "OK")
    expect(pay(w, "kaspi", "dana", "KZT", 5_000 * M), "OK")
    assert get_balance(w.state, "dana", "KZT") == 405_000 * M


def test_an_asset_without_a_reference_rate_is_refused_for_tier_limited_accounts() -> None:
    w = world()
    usdc = pb.RegisterAsset(
        code="USDC", decimals=6, issuer="kaspi", kind=pb.STABLECOIN, payment_zones=[pb.CRYPTOCITY]
    )
    expect(w.govern(usdc), "OK")
    expect(
        w.run("kaspi", pb.Issue(asset="USDC", to="aidos", amount=1)),
        "NO_REFERENCE_RATE",
        "limits.rate",
    )
    expect(w.run("kaspi", pb.Issue(asset="USDC", to="halyk", amount=10 * USDT)), "OK")
    expect(pay(w, "halyk", "dana", "USDC", 1), "NO_REFERENCE_RATE", "limits.rate")
    # Banks pay each other in it: no tier limits apply to them.
    expect(pay(w, "halyk", "kaspi", "USDC", 1 * USDT), "OK")
    # Once the central bank sets a rate (active two blocks later) the customer may hold it.
    rate = pb.SetRates(rates=[pb.ReferenceRate(asset="USDC", tiyn_per_unit=RATE)])
    expect(w.govern(rate), "OK")
    w.block()
    expect(pay(w, "halyk", "dana", "USDC", 1 * USDT), "OK", version=2)


def register_usdc(w: World) -> None:
    usdc = pb.RegisterAsset(
        code="USDC", decimals=6, issuer="kaspi", kind=pb.STABLECOIN, payment_zones=[pb.CRYPTOCITY]
    )
    expect(w.govern(usdc), "OK")
    expect(w.run("kaspi", pb.Issue(asset="USDC", to="kaspi", amount=100 * USDT)), "OK")


def test_a_tier_without_limits_takes_and_pays_an_asset_without_a_rate() -> None:
    """Tier 2 sets no limits: nothing needs a value, so an unrated asset comes and goes."""
    w = world()
    register_usdc(w)
    expect(pay(w, "kaspi", "shop", "USDC", 10 * USDT), "OK")
    expect(pay(w, "shop", "kaspi", "USDC", 4 * USDT), "OK")
    # To a tier-1 customer it may not go (the customer's cap needs the value).
    expect(pay(w, "shop", "aidos", "USDC", 1 * USDT), "NO_REFERENCE_RATE", "limits.rate")
    assert get_balance(w.state, "shop", "USDC") == 6 * USDT


def test_a_tier_with_payment_limits_but_no_cap_does_not_take_an_asset_without_a_rate() -> None:
    """It could never pay it: its payments are valued against the limits."""
    w = world()
    register_usdc(w)
    expect(w.govern(pb.SetLimits(kyc_tier=2, per_payment=1_000_000 * M)), "OK")
    w.block()
    r = w.run("kaspi", pb.Issue(asset="USDC", to="shop", amount=1 * USDT))
    expect(r, "NO_REFERENCE_RATE", "limits.rate", version=2)
    expect(pay(w, "kaspi", "shop", "USDC", 1 * USDT), "NO_REFERENCE_RATE", "limits.rate", version=2)
    assert get_balance(w.state, "shop", "USDC") == 0
    expect(pay(w, "kaspi", "shop", "USDT", 1 * USDT), "OK", version=2)
    expect(pay(w, "shop", "kaspi", "USDT", 1 * USDT), "OK", version=2)


@pytest.mark.parametrize("tier", [0, 3])
def test_a_tier_not_in_the_rulebook_is_refused_at_registration(tier: int) -> None:
    w = world()
    for role in (pb.CUSTOMER, pb.MERCHANT):
        msg = pb.RegisterAccount(
            account_id="newcomer",
            role=role,  # type: ignore[arg-type]
            zone=pb.CRYPTOCITY,
            kyc_tier=tier,
            public_keys=[key("newcomer").public_key],
        )
        expect(w.run("halyk", msg), "UNKNOWN_KYC_TIER", "limits.tier")
    # Tier limits are for people and firms: a bank's own account needs no tier.
    bank = pb.RegisterAccount(
        account_id="forte",
        role=pb.COMMERCIAL_BANK,
        zone=pb.NATIONAL,
        kyc_tier=tier,
        public_keys=[key("forte").public_key],
    )
    expect(w.run("nbk", bank), "OK")


# ---------------------------------------------------------------- rulebook changes


def set_limits(per_payment: int, daily: int = 100_000 * M, cap: int = 500_000 * M) -> pb.SetLimits:
    return pb.SetLimits(kyc_tier=1, per_payment=per_payment, daily_outflow=daily, holding_cap=cap)


def usdt_rate(tiyn: int) -> pb.SetRates:
    return pb.SetRates(rates=[pb.ReferenceRate(asset="USDT", tiyn_per_unit=tiyn)])


def propose_all(w: World, *changes: GovernedChange) -> list[bytes]:
    """The central bank proposes each change in one block; their proposal ids."""
    result = w.block(
        *(
            w.tx("nbk", propose(c, expires_at_height=w.height + 50, summary="rulebook test"))
            for c in changes
        )
    )
    for receipt in result.receipts:
        assert code_name(receipt) == "OK", receipt.message
    return [r.tx_id for r in result.receipts]


def test_set_limits_made_in_block_h_applies_from_h_plus_2() -> None:
    w = world()
    expect(pay(w, "halyk", "aidos", "KZT", 100_000 * M), "OK")
    (proposal,) = propose_all(w, set_limits(10_000 * M))
    change = w.block(w.tx("afm", pb.Approve(proposal_id=proposal)))
    h = w.height
    expect(change.receipts[0], "OK")  # judged under version 1, makes version 2
    active, pending = read_rulebooks(w.state.get)
    assert active.version == 1
    assert pending is not None
    assert (pending.version, pending.activation_height) == (2, h + 2)
    assert [(t.kyc_tier, t.per_payment) for t in pending.tier_limits] == [(1, 10_000 * M), (2, 0)]
    # H + 1: still version 1, 20,000 KZT passes; the mempool already judges H + 2 by v2.
    raw = w.tx("aidos", transfer(("aidos", "shop", "KZT", 20_000 * M)))
    checked = w.ledger.check_tx(raw, next_height=h + 2)
    assert (checked.code_name, checked.rule, checked.rulebook_version) == (
        "LIMIT_PER_PAYMENT",
        "limits.per-payment",
        2,
    )
    expect(w.block(raw).receipts[0], "OK", version=1)
    assert w.height == h + 1
    assert read_rulebooks(w.state.get)[0].version == 1
    # H + 2: version 2 for every transaction of the block.
    r = w.block(
        w.tx("aidos", transfer(("aidos", "shop", "KZT", 20_000 * M))),
        w.tx("aidos", transfer(("aidos", "shop", "KZT", 10_000 * M))),
    ).receipts
    expect(r[0], "LIMIT_PER_PAYMENT", "limits.per-payment", version=2)
    expect(r[1], "OK", version=2)
    active, pending = read_rulebooks(w.state.get)
    assert (active.version, active.activation_height, pending) == (2, h + 2, None)
    v1, v2 = read_version(w.state.get, 1), read_version(w.state.get, 2)
    assert v1 is not None
    assert v2 is not None
    assert v1.tier_limits[0].per_payment == 50_000 * M
    assert v2 == active
    assert read_version(w.state.get, 3) is None


def test_set_rates_made_in_block_h_applies_from_h_plus_2() -> None:
    w = world()
    expect(issue(w, "USDT", "aidos", 900 * USDT), "OK")
    expect(w.govern(usdt_rate(RATE * 2)), "OK")  # 1,000 KZT per USDT
    h = w.height
    expect(pay(w, "aidos", "shop", "USDT", 100 * USDT), "OK", version=1)  # 50,000 at H + 1
    r = pay(w, "aidos", "shop", "USDT", 100 * USDT)  # 100,000 at H + 2
    assert w.height == h + 2
    expect(r, "LIMIT_PER_PAYMENT", "limits.per-payment", version=2)
    expect(pay(w, "aidos", "shop", "USDT", 50 * USDT), "OK", version=2)
    # The holding cap too: 750 USDT is 750,000 KZT now, so nothing more comes in.
    expect(pay(w, "halyk", "aidos", "KZT", 1), "LIMIT_HOLDING_CAP", "limits.holding", version=2)
    assert read_rulebooks(w.state.get)[0].rates == [
        pb.ReferenceRate(asset="USDT", tiyn_per_unit=2 * RATE)
    ]
    # A rate of 0 removes it: USDT is then refused for the customer.
    expect(w.govern(usdt_rate(0)), "OK", version=2)
    w.block()
    expect(pay(w, "aidos", "shop", "USDT", 1), "NO_REFERENCE_RATE", "limits.rate", version=3)


def test_two_changes_in_one_block_both_take_effect_at_h_plus_2() -> None:
    w = world()
    expect(issue(w, "USDT", "aidos", 400 * USDT), "OK")
    ids = propose_all(w, set_limits(10_000 * M), usdt_rate(RATE // 10))
    result = w.block(*(w.tx("afm", pb.Approve(proposal_id=i)) for i in ids))
    h = w.height
    for receipt in result.receipts:
        expect(receipt, "OK")
    pending = read_rulebooks(w.state.get)[1]
    assert pending is not None
    assert (pending.version, pending.activation_height) == (2, h + 2)
    expect(pay(w, "aidos", "shop", "USDT", 100 * USDT), "OK", version=1)  # 50,000 under v1
    # v2: 10,000 KZT per payment at 50 KZT per USDT is 200 USDT.
    expect(
        pay(w, "aidos", "shop", "USDT", 201 * USDT),
        "LIMIT_PER_PAYMENT",
        "limits.per-payment",
        version=2,
    )
    expect(pay(w, "aidos", "shop", "USDT", 200 * USDT), "OK", version=2)
    assert w.height == h + 3


def test_two_changes_in_a_row_both_take_effect() -> None:
    """A change made while another is pending joins it: one new version holding both,
    active two blocks after the later change (the earlier one waits for it)."""
    w = world()
    expect(issue(w, "USDT", "aidos", 400 * USDT), "OK")
    first, second = propose_all(w, set_limits(10_000 * M), usdt_rate(RATE // 10))
    expect(w.run("afm", pb.Approve(proposal_id=first)), "OK")
    h = w.height
    expect(w.run("afm", pb.Approve(proposal_id=second)), "OK")  # block H + 1, still version 1
    pending = read_rulebooks(w.state.get)[1]
    assert pending is not None
    assert (pending.version, pending.activation_height) == (2, h + 3)
    assert pending.tier_limits[0].per_payment == 10_000 * M
    assert pending.rates == [pb.ReferenceRate(asset="USDT", tiyn_per_unit=RATE // 10)]
    # H + 2: neither change yet (the pending version activates at H + 3).
    expect(pay(w, "aidos", "shop", "USDT", 100 * USDT), "OK", version=1)
    # H + 3: both.
    expect(
        pay(w, "aidos", "shop", "USDT", 201 * USDT),
        "LIMIT_PER_PAYMENT",
        "limits.per-payment",
        version=2,
    )
    expect(pay(w, "aidos", "shop", "USDT", 200 * USDT), "OK", version=2)
    # A third change after activation is version 3; all three versions stay readable.
    expect(w.govern(set_limits(20_000 * M)), "OK", version=2)
    w.block()
    expect(pay(w, "aidos", "shop", "USDT", 1), "OK", version=3)
    history = [read_version(w.state.get, v) for v in (1, 2, 3)]
    assert [b.version if b else None for b in history] == [1, 2, 3]
    assert [b.tier_limits[0].per_payment if b else None for b in history] == [
        50_000 * M,
        10_000 * M,
        20_000 * M,
    ]
    assert [[r.tiyn_per_unit for r in b.rates] if b else None for b in history] == [
        [RATE],
        [RATE // 10],
        [RATE // 10],
    ]
    active, pending = read_rulebooks(w.state.get)
    assert active == history[2]
    assert pending is None


def test_only_the_quorum_changes_the_rulebook() -> None:
    w = world()
    expect(w.govern(set_limits(1), proposer="halyk"), "UNAUTHORIZED", "governance.quorum")
    expect(
        w.govern(usdt_rate(1), proposer="halyk", approver="nbk"),
        "UNAUTHORIZED",
        "governance.quorum",
    )
    expect(w.run("nbk", set_limits(1)), "GOVERNANCE_REQUIRED", "governance.dual-control")
    assert read_rulebooks(w.state.get)[1] is None
