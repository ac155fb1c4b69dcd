"""128-bit amounts: an 18-decimal asset above 2^64, the 2^128 bound, limits and old records."""

from __future__ import annotations

from pathlib import Path

import pytest
from ledger_world import T0, World, code_name, genesis_doc, key, make_genesis

from node.genesis import parse_genesis
from node.ledger import (
    AMOUNT_MAX,
    U64_MAX,
    Ledger,
    amount_of,
    genesis_app_hash,
    genesis_state,
    get_asset,
    get_balance,
    get_balances,
    parse_amount_text,
    set_amount,
)
from node.ledger._amounts import decode_amount, encode_amount
from node.ledger._keys import balance_key, encode_u64
from node.ledger._rules import debits_of
from node.ledger.txbuild import build_tx, issue, redeem, seize, sign_envelope, transfer
from node.mempool import Mempool
from node.store import Store
from proto import ledger_pb2 as pb

USDT = 10**18  # minor units per USDT of an 18-decimal USDT
THOUSAND = 1_000 * USDT  # 10^21, above 2^64 (about 1.8 * 10^19)


def register(w: World, bank: str, account_id: str, role: int, zone: int, tier: int) -> None:
    msg = pb.RegisterAccount(
        account_id=account_id,
        role=role,  # type: ignore[arg-type]
        zone=zone,  # type: ignore[arg-type]
        kyc_tier=tier,
        public_keys=[key(account_id).public_key],
    )
    assert code_name(w.run(bank, msg)) == "OK"


def usdt_world() -> World:
    """The test world with an 18-decimal USDT (issuer kaspi, 500 KZT a unit) and two
    CryptoCity customers."""
    doc = genesis_doc()
    doc["assets"].append(
        {
            "code": "USDT",
            "decimals": 18,
            "issuer": "kaspi",
            "kind": "STABLECOIN",
            "payment_zones": ["CRYPTOCITY"],
        }
    )
    doc["rulebook"] = {"rates": {"USDT": "50000"}}
    w = World(make_genesis(doc))
    register(w, "halyk", "aidos.halyk", pb.CUSTOMER, pb.CRYPTOCITY, 2)
    register(w, "kaspi", "dana.kaspi", pb.CUSTOMER, pb.CRYPTOCITY, 2)
    return w


def test_an_18_decimal_asset_is_issued_paid_seized_and_redeemed_above_2_64() -> None:
    w = usdt_world()
    assert THOUSAND > U64_MAX
    r = w.run("kaspi", issue("USDT", "aidos.halyk", 5 * THOUSAND))
    assert code_name(r) == "OK", r.message
    r = w.run("aidos.halyk", transfer(("aidos.halyk", "dana.kaspi", "USDT", THOUSAND + 1)))
    assert code_name(r) == "OK", r.message
    assert get_balances(w.state, "aidos.halyk") == {"USDT": 4 * THOUSAND - 1}
    assert get_balances(w.state, "dana.kaspi") == {"USDT": THOUSAND + 1}
    assert len(w.state[balance_key("dana.kaspi", "USDT")]) == 16

    # The regulator freezes and seizes a wide amount; the issuer takes some back and redeems.
    assert code_name(w.run("afm", pb.Freeze(account_id="dana.kaspi", legal_ref="case 1"))) == "OK"
    order = pb.CourtOrder(
        court="c", case_number="2-77/2026", order_number="1", order_date="2026-01-02"
    )
    r = w.run("afm", seize("dana.kaspi", "USDT", THOUSAND, reserve="reserve", court_order=order))
    assert code_name(r) == "OK", r.message
    assert get_balance(w.state, "reserve", "USDT") == THOUSAND
    r = w.run("aidos.halyk", transfer(("aidos.halyk", "kaspi", "USDT", 2 * THOUSAND)))
    assert code_name(r) == "OK", r.message
    assert code_name(w.run("kaspi", redeem("USDT", 2 * THOUSAND - 1))) == "OK"

    asset = get_asset(w.state, "USDT")
    assert asset is not None
    assert amount_of(asset, "issued") == 5 * THOUSAND
    assert amount_of(asset, "redeemed") == 2 * THOUSAND - 1
    assert amount_of(asset, "seized") == THOUSAND
    total = sum(v for (_, code), v in w.balances().items() if code == "USDT")
    assert total == 3 * THOUSAND + 1 == amount_of(asset, "issued") - amount_of(asset, "redeemed")


def test_amounts_below_2_64_keep_their_bytes() -> None:
    # No high part on the wire: the body (so the tx id) of an existing client is unchanged.
    leg = pb.TransferLeg(payer="a.bank", payee="b.bank", asset="KZT", amount=125050)
    assert transfer(("a.bank", "b.bank", "KZT", 125050)).legs[0].SerializeToString() == (
        leg.SerializeToString()
    )
    assert issue("KZT", "halyk", U64_MAX) == pb.Issue(asset="KZT", to="halyk", amount=U64_MAX)
    wide = issue("KZT", "halyk", 2**64 + 5)
    assert (wide.amount, wide.amount_high) == (5, 1)
    assert amount_of(pb.Issue.FromString(wide.SerializeToString())) == 2**64 + 5
    for bad in (-1, 2**128, True):
        with pytest.raises(ValueError, match="2\\^128 - 1"):
            set_amount(pb.Issue(), "amount", bad)


def test_sums_and_balances_past_2_128_are_amount_overflow() -> None:
    w = usdt_world()
    assert code_name(w.run("kaspi", issue("USDT", "aidos.halyk", AMOUNT_MAX - 10))) == "OK"
    r = w.run("kaspi", issue("USDT", "dana.kaspi", 11))
    assert code_name(r) == "AMOUNT_OVERFLOW"
    assert "2^128 - 1" in r.message
    assert code_name(w.run("kaspi", issue("USDT", "dana.kaspi", 10))) == "OK"
    assert amount_of(get_asset(w.state, "USDT"), "issued") == AMOUNT_MAX  # type: ignore[arg-type]
    # Two legs whose sum passes 2^128 - 1 (each fits).
    legs = transfer(
        ("aidos.halyk", "dana.kaspi", "USDT", AMOUNT_MAX - 10),
        ("aidos.halyk", "dana.kaspi", "USDT", 11),
    )
    r = w.run("aidos.halyk", legs)
    assert code_name(r) == "AMOUNT_OVERFLOW"
    assert "2^128 - 1" in r.message
    assert get_balance(w.state, "aidos.halyk", "USDT") == AMOUNT_MAX - 10
    assert get_balance(w.state, "dana.kaspi", "USDT") == 10


def limited_world() -> World:
    """Tier 1 (50,000 KZT per payment, 100,000 a day, 500,000 held) and a tier 3 that has
    only a daily limit, with a rich tier-2 customer who pays KZT above 2^64."""
    doc = genesis_doc()
    doc["limits"].append({"kyc_tier": 3, "daily_outflow": str(U64_MAX)})
    w = World(make_genesis(doc))
    assert code_name(w.run("nbk", issue("KZT", "halyk", 4 * 2**64))) == "OK"
    register(w, "halyk", "rich.halyk", pb.CUSTOMER, pb.NATIONAL, 2)
    register(w, "halyk", "tier1.halyk", pb.CUSTOMER, pb.NATIONAL, 1)
    register(w, "halyk", "tier3.halyk", pb.CUSTOMER, pb.NATIONAL, 3)
    assert code_name(w.run("halyk", transfer(("halyk", "rich.halyk", "KZT", 2**64 + 10)))) == "OK"
    assert code_name(w.run("halyk", transfer(("halyk", "tier3.halyk", "KZT", 2**64 + 10)))) == "OK"
    return w


def test_limits_judge_amounts_above_2_64_at_their_size() -> None:
    w = limited_world()
    # 2^64 + 1 tiyn to a tier-1 account: above its holding cap, not 1 tiyn after a wrap.
    r = w.run("rich.halyk", transfer(("rich.halyk", "tier1.halyk", "KZT", 2**64 + 1)))
    assert code_name(r) == "LIMIT_HOLDING_CAP", r.message
    # Tier 3: a daily limit of 2^64 - 1 tiyn; 2^64 + 1 in one payment passes it.
    r = w.run("tier3.halyk", transfer(("tier3.halyk", "halyk", "KZT", 2**64 + 1)))
    assert code_name(r) == "LIMIT_DAILY", r.message
    r = w.run("tier3.halyk", transfer(("tier3.halyk", "halyk", "KZT", U64_MAX)))
    assert code_name(r) == "OK", r.message
    r = w.run("tier3.halyk", transfer(("tier3.halyk", "halyk", "KZT", 1)))
    assert code_name(r) == "LIMIT_DAILY", r.message


def test_a_2_64_plus_1_payment_hits_the_per_payment_limit() -> None:
    # Tier 1 without its holding cap, so the payer can hold 2^64 + 1 tiyn; 50,000 KZT per
    # payment still applies.
    doc = genesis_doc()
    doc["limits"][0]["holding_cap"] = "0"
    w = World(make_genesis(doc))
    assert code_name(w.run("nbk", issue("KZT", "halyk", 2**65))) == "OK"
    register(w, "halyk", "tier1.halyk", pb.CUSTOMER, pb.NATIONAL, 1)
    assert code_name(w.run("halyk", transfer(("halyk", "tier1.halyk", "KZT", 2**64 + 1)))) == "OK"
    r = w.run("tier1.halyk", transfer(("tier1.halyk", "halyk", "KZT", 2**64 + 1)))
    assert code_name(r) == "LIMIT_PER_PAYMENT", r.message
    assert "18446744073709551617" in r.message
    assert get_balance(w.state, "tier1.halyk", "KZT") == 2**64 + 1


def test_debits_and_mempool_pending_outflows_use_wide_amounts() -> None:
    w = usdt_world()
    assert code_name(w.run("kaspi", issue("USDT", "aidos.halyk", 3 * THOUSAND))) == "OK"
    pay = transfer(("aidos.halyk", "dana.kaspi", "USDT", 2 * THOUSAND))
    pool = Mempool(w.ledger, max_txs=100, max_bytes=1 << 20)
    first = w.tx("aidos.halyk", pay)
    assert pool.add(first, next_height=w.height + 1).code == pb.OK
    # Each fits the committed balance alone; together they pass it (4,000 > 3,000 USDT).
    second = w.tx("aidos.halyk", transfer(("aidos.halyk", "dana.kaspi", "USDT", 2 * THOUSAND)))
    admission = pool.add(second, next_height=w.height + 1)
    assert admission.code == pb.PENDING_FUNDS_EXCEEDED, admission.message
    assert str(2 * THOUSAND) in admission.message
    third = w.tx("aidos.halyk", transfer(("aidos.halyk", "dana.kaspi", "USDT", THOUSAND)))
    assert pool.add(third, next_height=w.height + 1).code == pb.OK

    body = pb.TxBody(transfer=pay)
    assert debits_of(body) == {("aidos.halyk", "USDT"): 2 * THOUSAND}


def test_old_8_byte_balance_records_still_read(tmp_path: Path) -> None:
    genesis = make_genesis()
    writes = dict(genesis_state(genesis))
    # A store written before amounts were wide: u64 balances.
    writes[balance_key("halyk", "KZT")] = encode_u64(1_000_000)
    writes[balance_key("kaspi", "KZT")] = encode_u64(U64_MAX)
    account = pb.Account.FromString(writes[b"acct/halyk"])
    account.assets.append("KZT")
    writes[b"acct/halyk"] = account.SerializeToString()
    account = pb.Account.FromString(writes[b"acct/kaspi"])
    account.assets.append("KZT")
    writes[b"acct/kaspi"] = account.SerializeToString()
    with Store(tmp_path / "store") as store:
        store.init_genesis(b"g" * 32, sorted(writes.items()), genesis_app_hash(genesis))
        assert get_balance(store, "halyk", "KZT") == 1_000_000
        assert get_balances(store, "kaspi") == {"KZT": U64_MAX}
        ledger = Ledger(genesis, store)
        body = build_tx(
            "tenge-test-1",
            "halyk",
            transfer(("halyk", "treasury", "KZT", 250_000)),
            nonce=1,
            expires_at_height=5,
        )
        raw = sign_envelope(body, "tenge-test-1", [key("halyk")])
        assert ledger.check_tx(raw, next_height=1).code == pb.OK
        result = ledger.execute_block(
            height=1, time_ms=T0 + 1000, txs=[raw], prev_app_hash=store.app_hash
        )
        assert result.receipts[0].code == pb.OK, result.receipts[0].message
        written = dict(result.writes)
        assert written[balance_key("halyk", "KZT")] == encode_amount(750_000)
        assert written[balance_key("treasury", "KZT")] == encode_amount(250_000)
        assert balance_key("kaspi", "KZT") not in written  # untouched: stays 8 bytes, reads


def test_stored_amount_codec() -> None:
    assert encode_amount(AMOUNT_MAX) == b"\xff" * 16
    assert decode_amount(encode_amount(2**64 + 7)) == 2**64 + 7
    assert decode_amount(encode_u64(42)) == 42
    with pytest.raises(ValueError, match="8 or 16 bytes"):
        decode_amount(b"\x00" * 9)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a decimal amount"),
        ("-1", "not a decimal amount"),
        ("1.5", "not a decimal amount"),
        (" 1", "not a decimal amount"),
        ("١", "not a decimal amount"),
        ("007", "not canonical"),
        (str(2**128), "more than 2^128 - 1"),
        ("9" * 5000, "more than 2^128 - 1"),
    ],
)
def test_amount_text_must_be_canonical_and_in_range(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("^", "\\^")):
        parse_amount_text(text)


def test_amount_text_in_range() -> None:
    assert parse_amount_text("0") == 0
    assert parse_amount_text(str(AMOUNT_MAX)) == AMOUNT_MAX
    assert parse_amount_text(str(THOUSAND)) == THOUSAND


def test_genesis_with_an_amount_above_2_64_executes() -> None:
    doc = genesis_doc()
    doc["assets"].append(
        {
            "code": "USDT",
            "decimals": 18,
            "issuer": "kaspi",
            "kind": "STABLECOIN",
            "payment_zones": ["CRYPTOCITY"],
        }
    )
    doc["accounts"][2]["balances"] = {"USDT": str(10 * THOUSAND)}
    w = World(parse_genesis(doc))
    assert code_name(w.run("kaspi", transfer(("kaspi", "halyk", "USDT", THOUSAND)))) == "OK"
    assert get_balances(w.state, "kaspi") == {"USDT": 9 * THOUSAND}


def test_kzt_equivalent_limits_of_an_18_decimal_asset_count_every_minor_unit() -> None:
    # USDT at 500 KZT: tier 1 holds at most 500,000 KZT (1,000 USDT, 10^21 minor units) and
    # pays at most 50,000 KZT (100 USDT) at a time; one minor unit more rounds up past both.
    w = usdt_world()
    register(w, "halyk", "tier1.halyk", pb.CUSTOMER, pb.CRYPTOCITY, 1)
    assert code_name(w.run("kaspi", issue("USDT", "aidos.halyk", 5 * THOUSAND))) == "OK"
    r = w.run("aidos.halyk", transfer(("aidos.halyk", "tier1.halyk", "USDT", THOUSAND + 1)))
    assert code_name(r) == "LIMIT_HOLDING_CAP", r.message
    r = w.run("aidos.halyk", transfer(("aidos.halyk", "tier1.halyk", "USDT", THOUSAND)))
    assert code_name(r) == "OK", r.message
    hundred = THOUSAND // 10
    r = w.run("tier1.halyk", transfer(("tier1.halyk", "aidos.halyk", "USDT", hundred + 1)))
    assert code_name(r) == "LIMIT_PER_PAYMENT", r.message
    r = w.run("tier1.halyk", transfer(("tier1.halyk", "aidos.halyk", "USDT", hundred)))
    assert code_name(r) == "OK", r.message
    assert get_balance(w.state, "tier1.halyk", "USDT") == THOUSAND - hundred
