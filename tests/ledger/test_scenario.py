"""The whole story of issue 2, one block at a time."""

from __future__ import annotations

from ledger_world import World, code_name, key

from node.ledger import get_account, get_asset, get_balance, get_balances
from node.ledger._keys import seizure_key
from node.ledger.txbuild import transfer
from proto import ledger_pb2 as pb

M = 100  # tiyn per tenge
USDT = 1_000_000  # minor units per USDT (6 decimals)


def register(w: World, bank: str, account_id: str, role: int, zone: int, **kw: object) -> None:
    msg = pb.RegisterAccount(
        account_id=account_id,
        role=role,  # type: ignore[arg-type]
        zone=zone,  # type: ignore[arg-type]
        public_keys=[key(account_id).public_key],
        **kw,  # type: ignore[arg-type]
    )
    receipt = w.run(bank, msg)
    assert code_name(receipt) == "OK", receipt.message


def pay(w: World, payer: str, payee: str, asset: str, amount: int) -> pb.Receipt:
    return w.run(payer, transfer((payer, payee, asset, amount)))


def assert_supply(w: World) -> None:
    totals: dict[str, int] = {}
    for (_, asset), amount in w.balances().items():
        totals[asset] = totals.get(asset, 0) + amount
    for code in ("KZT", "USDT"):
        asset = get_asset(w.state, code)
        if asset is not None:
            assert totals.get(code, 0) == asset.issued - asset.redeemed


def test_the_whole_story() -> None:
    w = World()
    state = w.state

    # The central bank issues KZT to two commercial banks.
    for bank in ("halyk", "kaspi"):
        r = w.run("nbk", pb.Issue(asset="KZT", to=bank, amount=10_000_000 * M))
        assert code_name(r) == "OK", r.message
        assert sorted(r.accounts) == sorted(["nbk", bank])
    assert code_name(w.run("nbk", pb.Issue(asset="KZT", to="treasury", amount=1))) == (
        "TWO_TIER_RULE"
    )

    # Each bank onboards a CryptoCity merchant and a customer (plus a NATIONAL customer).
    register(w, "halyk", "aidos.halyk", pb.CUSTOMER, pb.CRYPTOCITY, kyc_tier=1)
    register(w, "halyk", "shop.halyk", pb.MERCHANT, pb.CRYPTOCITY, kyc_tier=2)
    register(w, "kaspi", "dana.kaspi", pb.CUSTOMER, pb.CRYPTOCITY, kyc_tier=1)
    register(w, "kaspi", "cafe.kaspi", pb.MERCHANT, pb.CRYPTOCITY, kyc_tier=2)
    register(w, "kaspi", "erlan.kaspi", pb.CUSTOMER, pb.NATIONAL, kyc_tier=1)
    register(w, "halyk", "mining.halyk", pb.MERCHANT, pb.NATIONAL, kyc_tier=2)
    r = w.run(
        "aidos.halyk",
        pb.RegisterAccount(
            account_id="x.halyk", role=pb.CUSTOMER, zone=pb.NATIONAL, public_keys=[bytes(32)]
        ),
    )
    assert code_name(r) == "UNAUTHORIZED"
    assert get_account(state, "aidos.halyk").registered_by == "halyk"  # type: ignore[union-attr]

    # Banks fund their customers; the customer pays the merchant in KZT.
    assert code_name(pay(w, "halyk", "aidos.halyk", "KZT", 200_000 * M)) == "OK"
    assert code_name(pay(w, "kaspi", "erlan.kaspi", "KZT", 1_000 * M)) == "OK"
    r = pay(w, "aidos.halyk", "cafe.kaspi", "KZT", 5_000 * M)
    assert code_name(r) == "OK", r.message
    assert list(r.accounts) == ["aidos.halyk", "cafe.kaspi"]
    assert get_balance(state, "cafe.kaspi", "KZT") == 5_000 * M
    assert_supply(w)

    # USDT: registered by the central bank, issued by a custodian bank, CryptoCity only.
    usdt = pb.RegisterAsset(
        code="USDT", decimals=6, issuer="kaspi", kind=pb.STABLECOIN, payment_zones=[pb.CRYPTOCITY]
    )
    # Dual control: the central bank proposes, the regulator approves; a bank may not propose,
    # and a direct registration is refused.
    assert code_name(w.run("nbk", usdt)) == "GOVERNANCE_REQUIRED"
    assert code_name(w.govern(usdt, proposer="kaspi")) == "UNAUTHORIZED"
    assert code_name(w.govern(usdt)) == "OK"
    assert code_name(w.govern(usdt)) == "ASSET_EXISTS"
    assert code_name(w.run("nbk", pb.Issue(asset="USDT", to="aidos.halyk", amount=5))) == (
        "UNAUTHORIZED"
    )
    # Tier limits count USDT at the central bank's reference rate: until it sets one, a
    # tier-limited customer cannot take USDT; the rate applies two blocks after it is set.
    r = w.run("kaspi", pb.Issue(asset="USDT", to="aidos.halyk", amount=1))
    assert code_name(r) == "NO_REFERENCE_RATE"
    assert r.rule == "limits.rate"
    rate = pb.SetRates(rates=[pb.ReferenceRate(asset="USDT", tiyn_per_unit=500 * M)])
    assert code_name(w.govern(rate)) == "OK"
    w.block()
    # The regulator licenses the NATIONAL firm to hold USDT and pay government fees in it.
    licence = pb.GrantLicence(
        account_id="mining.halyk",
        assets=["USDT"],
        purposes=[pb.GOVERNMENT_FEE],
        expires_at_height=w.height + 1_000,
        reference="AFM-LIC-2026-001",
    )
    assert code_name(w.run("afm", licence)) == "OK"
    for holder, amount in (("aidos.halyk", 100 * USDT), ("mining.halyk", 500 * USDT)):
        assert code_name(w.run("kaspi", pb.Issue(asset="USDT", to=holder, amount=amount))) == "OK"
    assert code_name(w.run("kaspi", pb.Issue(asset="USDT", to="erlan.kaspi", amount=1))) == (
        "ASSET_NOT_ALLOWED"
    )
    assert code_name(pay(w, "aidos.halyk", "shop.halyk", "USDT", 10 * USDT)) == "OK"
    r = pay(w, "aidos.halyk", "erlan.kaspi", "USDT", 1 * USDT)
    assert code_name(r) == "ASSET_NOT_ALLOWED"
    assert "erlan.kaspi" in r.message
    assert get_balances(state, "shop.halyk") == {"USDT": 10 * USDT}

    # A licensed firm outside CryptoCity pays a government fee to TREASURY in USDT, and
    # only that: without the purpose, or to anyone else, it is refused.
    fee = ("mining.halyk", "treasury", "USDT", 100 * USDT)
    r = w.run("mining.halyk", transfer(fee, reference="licence fee 2026"))
    assert code_name(r) == "PURPOSE_NOT_ALLOWED"
    assert r.rule == "hold.outside-zone-pay"
    r = w.run(
        "mining.halyk",
        transfer(fee, reference="licence fee 2026", purpose=pb.GOVERNMENT_FEE),
    )
    assert code_name(r) == "OK", r.message
    assert get_balance(state, "treasury", "USDT") == 100_000_000
    assert_supply(w)

    # Payment versus payment: KZT against USDT, atomically, signed by both payers.
    pvp = transfer(
        ("aidos.halyk", "shop.halyk", "KZT", 1_000 * M),
        ("shop.halyk", "aidos.halyk", "USDT", 2 * USDT),
    )
    assert code_name(w.run("aidos.halyk", pvp)) == "MISSING_SIGNATURE"
    r = w.run("aidos.halyk", pvp, keys=[key("aidos.halyk"), key("shop.halyk")])
    assert code_name(r) == "OK", r.message
    assert get_balance(state, "aidos.halyk", "USDT") == 92 * USDT

    # KYC tier limits in KZT-equivalent: per payment, daily outflow (Almaty day), holding cap.
    assert code_name(pay(w, "aidos.halyk", "shop.halyk", "KZT", 60_000 * M)) == (
        "LIMIT_PER_PAYMENT"
    )
    # 11,000 spent today (5,000 KZT, 10 USDT = 5,000, 1,000 KZT); 44,000 + 44,000 more
    # reaches 99,000; 10,000 more passes 100,000.
    assert code_name(pay(w, "aidos.halyk", "shop.halyk", "KZT", 44_000 * M)) == "OK"
    assert code_name(pay(w, "aidos.halyk", "shop.halyk", "KZT", 44_000 * M)) == "OK"
    r = pay(w, "aidos.halyk", "shop.halyk", "KZT", 10_000 * M)
    assert code_name(r) == "LIMIT_DAILY", r.message
    assert code_name(pay(w, "kaspi", "erlan.kaspi", "KZT", 600_000 * M)) == "LIMIT_HOLDING_CAP"
    # Next Almaty day (the block time passes 19:00 UTC = midnight in Almaty).
    w.time_ms += 24 * 3_600_000
    assert code_name(pay(w, "aidos.halyk", "shop.halyk", "KZT", 10_000 * M)) == "OK"

    # The regulator freezes an account; it cannot pay; its funds are seized.
    assert code_name(w.run("afm", pb.Freeze(account_id="aidos.halyk", legal_ref=""))) == (
        "INVALID_FIELD"
    )
    assert code_name(w.run("halyk", pb.Freeze(account_id="aidos.halyk", legal_ref="x"))) == (
        "UNAUTHORIZED"
    )
    order = pb.CourtOrder(
        court="Astana city court",
        case_number="2-77/2026",
        order_number="1",
        order_date="2026-01-02",
    )
    seize = pb.Seize(account_id="aidos.halyk", asset="KZT", amount=1, reserve="reserve")
    seize.court_order.CopyFrom(order)
    assert code_name(w.run("afm", seize)) == "NOT_FROZEN"
    r = w.run("afm", pb.Freeze(account_id="aidos.halyk", legal_ref="AFM order 17/2026"))
    assert code_name(r) == "OK"
    assert get_account(state, "aidos.halyk").frozen  # type: ignore[union-attr]
    r = pay(w, "aidos.halyk", "shop.halyk", "KZT", 1 * M)
    assert code_name(r) == "FROZEN"
    assert "AFM order 17/2026" in r.message
    kzt = get_balance(state, "aidos.halyk", "KZT")
    reserve_before = get_balance(state, "reserve", "KZT")
    seize = pb.Seize(account_id="aidos.halyk", asset="KZT", amount=kzt, reserve="reserve")
    seize.court_order.CopyFrom(order)
    r = w.run("afm", seize)
    assert code_name(r) == "OK", r.message
    assert set(r.accounts) == {"afm", "aidos.halyk", "reserve"}
    assert get_balance(state, "aidos.halyk", "KZT") == 0
    assert get_balance(state, "reserve", "KZT") == reserve_before + kzt
    stored = pb.Seize.FromString(state[seizure_key(r.tx_id)])
    assert stored.court_order == order
    assert get_asset(state, "KZT").seized == kzt  # type: ignore[union-attr]
    assert_supply(w)

    # 2-of-3 multi-signature spend from STATE_RESERVE.
    spend = transfer(("reserve", "treasury", "KZT", 1_000 * M))
    r = w.run("reserve", spend, keys=[key("reserve-2")])
    assert code_name(r) == "MISSING_SIGNATURE"
    r = w.run("reserve", spend, keys=[key("reserve-0"), key("reserve-2")])
    assert code_name(r) == "OK", r.message
    assert get_balance(state, "treasury", "KZT") == 1_000 * M

    # A resubmitted transaction is a duplicate; an expired one is refused.
    tx = w.tx("kaspi", transfer(("kaspi", "cafe.kaspi", "KZT", 7)))
    assert code_name(w.block(tx).receipts[0]) == "OK"
    assert w.ledger.check_tx(tx, next_height=w.height + 1).code_name == "DUPLICATE"
    assert code_name(w.block(tx).receipts[0]) == "DUPLICATE"
    old = w.tx("kaspi", transfer(("kaspi", "cafe.kaspi", "KZT", 8)), expires=w.height)
    assert code_name(w.block(old).receipts[0]) == "EXPIRED"
    assert get_balance(state, "cafe.kaspi", "KZT") == 5_000 * M + 7

    # Unfreeze; the account pays again (with what it still holds in USDT).
    assert code_name(w.run("afm", pb.Unfreeze(account_id="aidos.halyk", legal_ref="lifted"))) == (
        "OK"
    )
    assert code_name(pay(w, "aidos.halyk", "shop.halyk", "USDT", 1)) == "OK"
    assert_supply(w)
