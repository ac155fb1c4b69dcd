"""State funds (issue 12 item 6): each bypass the examiners found is refused with its code.

The world: the genesis of ledger_world (the 2-of-3 State Fund of Digital Assets is
``reserve``) with 1,000,000 KZT in the reserve, two licensed VASPs (``custody.kz``, a
custodian, and ``miner.kz``, a miner) and these accounts, registered by their banks:

    aidos   CUSTOMER  CRYPTOCITY  tier 1
    shop    MERCHANT  CRYPTOCITY  tier 2

BNB is registered through governance as a RESERVE_ONLY asset (payable nowhere) issued by
the central bank to the custodian.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ledger_world import World, code_name, genesis_doc, key, make_genesis

from node.errors import ConfigError
from node.genesis import parse_genesis, rulebook_to_doc
from node.ledger import Rules, default_rulebook, get_balance, read_rulebooks
from node.ledger._keys import seizure_key
from node.ledger._reserves import inflow_count, key_set_refusal, list_inflows
from node.ledger.txbuild import issue, seize, transfer
from proto import ledger_pb2 as pb

M = 100  # tiyn per tenge
SAT = 10**8  # minor units per BNB (8 decimals)

ORDER = pb.CourtOrder(
    court="Specialized Inter-District Economic Court of Astana",
    case_number="7194-26-00-2/215",
    order_number="3",
    order_date="2026-01-15",
)

BNB = pb.RegisterAsset(code="BNB", decimals=8, issuer="nbk", kind=pb.RESERVE_ONLY)


class DictScanner:
    """A dict state with the store's prefix scan, for `list_inflows`."""

    def __init__(self, state: dict[bytes, bytes]) -> None:
        self.state = state

    def get(self, key: bytes) -> bytes | None:
        return self.state.get(key)

    def iter_state(
        self, prefix: bytes, start: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        for k in sorted(self.state):
            if k.startswith(prefix) and (start is None or k >= start):
                yield k, self.state[k]


def vasp(account_id: str) -> dict[str, Any]:
    """A VASP at genesis; `with_bnb` has the regulator license it for BNB."""
    return {
        "account_id": account_id,
        "role": "VASP",
        "zone": "CRYPTOCITY",
        "public_keys": [key(account_id).public_key.hex()],
    }


def reserve_keys(name: str, n: int = 3) -> list[str]:
    return [key(f"{name}-{i}").public_key.hex() for i in range(n)]


def state_funds_doc() -> dict[str, Any]:
    doc = genesis_doc()
    doc["accounts"][1]["balances"] = {"KZT": str(10_000_000 * M)}  # halyk
    doc["accounts"][4]["balances"] = {"KZT": str(1_000_000 * M)}  # reserve
    doc["accounts"] += [vasp("custody.kz"), vasp("miner.kz")]
    return doc


def world() -> World:
    w = World(make_genesis(state_funds_doc()))
    txs = [
        w.tx(
            "halyk",
            pb.RegisterAccount(
                account_id=account_id,
                role=role,  # type: ignore[arg-type]
                zone=pb.CRYPTOCITY,
                kyc_tier=tier,
                public_keys=[key(account_id).public_key],
            ),
        )
        for account_id, role, tier in [("aidos", pb.CUSTOMER, 1), ("shop", pb.MERCHANT, 2)]
    ]
    for receipt in w.block(*txs).receipts:
        assert code_name(receipt) == "OK", receipt.message
    expect(w.run("halyk", transfer(("halyk", "aidos", "KZT", 10_000 * M))), "OK")
    return w


def with_bnb(w: World) -> World:
    """BNB registered (governed) and 10 BNB issued to the custodian, 5 to the miner."""
    expect(w.govern(BNB), "OK")
    for vasp_id in ("custody.kz", "miner.kz"):
        licence = pb.GrantLicence(
            account_id=vasp_id,
            assets=["BNB"],
            purposes=[pb.MINED_REMITTANCE, pb.RESERVE_PURCHASE],
            expires_at_height=1_000,
            reference=f"AFM-VASP-{vasp_id}",
        )
        expect(w.run("afm", licence), "OK")
    expect(w.run("nbk", issue("BNB", "custody.kz", 10 * SAT)), "OK")
    expect(w.run("nbk", issue("BNB", "miner.kz", 5 * SAT)), "OK")
    return w


def expect(receipt: pb.Receipt, code: str, rule: str = "") -> None:
    assert (code_name(receipt), receipt.rule) == (code, rule), receipt.message


def register_reserve(w: World, account_id: str, keys: list[str], threshold: int) -> pb.Receipt:
    return w.run(
        "nbk",
        pb.RegisterAccount(
            account_id=account_id,
            role=pb.STATE_RESERVE,
            zone=pb.NATIONAL,
            public_keys=[bytes.fromhex(k) for k in keys],
            threshold=threshold,
        ),
    )


def reserve_signers(name: str) -> list[Any]:
    return [key(f"{name}-0"), key(f"{name}-1")]


def pay(w: World, payer: str, payee: str, asset: str, amount: int, purpose: int = 0) -> pb.Receipt:
    keys = reserve_signers(payer) if payer in ("reserve", "alem-crypto-fund") else None
    return w.run(payer, transfer((payer, payee, asset, amount), purpose=purpose), keys=keys)


def inflows(w: World, reserve: str = "reserve") -> list[tuple[str, str, str, int]]:
    """(kind, source, asset, amount) of the reserve's inflows, newest first."""
    return [
        (pb.InflowKind.Name(r.kind), r.source, r.asset, r.amount)
        for _, r in list_inflows(DictScanner(w.state), reserve)
    ]


def seize_body(**fields: Any) -> pb.Seize:
    body = pb.Seize(account_id="aidos", asset="KZT", amount=100 * M, reserve="reserve")
    body.court_order.CopyFrom(ORDER)
    for name, value in fields.items():
        if name in ("court", "case_number", "order_number", "order_date"):
            setattr(body.court_order, name, value)
        elif name == "court_order" and value is None:
            body.ClearField("court_order")
        else:
            setattr(body, name, value)
    return body


# ---------------------------------------------------------------- several reserves, m-of-n


def test_a_reserve_signs_two_of_n_or_more() -> None:
    w = world()
    refused = ("THRESHOLD_TOO_LOW", "reserve.keys")
    expect(register_reserve(w, "alem-crypto-fund", reserve_keys("alem", 1), 1), *refused)
    expect(register_reserve(w, "alem-crypto-fund", reserve_keys("alem"), 1), *refused)
    expect(register_reserve(w, "alem-crypto-fund", reserve_keys("alem"), 0), *refused)
    assert (
        w.ledger.check_tx(
            w.tx(
                "nbk",
                pb.RegisterAccount(
                    account_id="alem-crypto-fund",
                    role=pb.STATE_RESERVE,
                    zone=pb.NATIONAL,
                    public_keys=[bytes.fromhex(k) for k in reserve_keys("alem")],
                    threshold=1,
                ),
            ),
            next_height=w.height + 1,
        ).code_name
        == "THRESHOLD_TOO_LOW"
    )
    # Other roles keep 1-of-1.
    r = w.run(
        "nbk",
        pb.RegisterAccount(
            account_id="bcc",
            role=pb.COMMERCIAL_BANK,
            zone=pb.NATIONAL,
            public_keys=[key("bcc").public_key],
        ),
    )
    expect(r, "OK")


def test_the_floor_of_two_holds_under_a_rulebook_that_sets_no_minimum() -> None:
    book = default_rulebook()
    book.min_reserve_threshold = 0  # a rulebook written before the field: still 2
    rules = Rules.of(book)
    keys = [b"k" * 32, b"l" * 32, b"m" * 32]
    bad = key_set_refusal(rules, pb.STATE_RESERVE, keys, 1, where="rotate_keys")
    assert bad is not None
    assert (bad.code, bad.rule) == (pb.THRESHOLD_TOO_LOW, "reserve.keys")
    assert bad.message.startswith("rotate_keys.threshold: ")
    assert key_set_refusal(rules, pb.STATE_RESERVE, keys, 2) is None
    assert key_set_refusal(rules, pb.COMMERCIAL_BANK, keys[:1], 1) is None
    book.min_reserve_threshold = 3
    assert key_set_refusal(Rules.of(book), pb.STATE_RESERVE, keys, 2) is not None


def test_a_second_state_fund_registers_and_takes_inflows_of_its_own() -> None:
    w = world()
    expect(register_reserve(w, "alem-crypto-fund", reserve_keys("alem-crypto-fund"), 2), "OK")
    expect(pay(w, "halyk", "alem-crypto-fund", "KZT", 500 * M, pb.RESERVE_PURCHASE), "OK")
    expect(pay(w, "halyk", "reserve", "KZT", 300 * M, pb.RESERVE_PURCHASE), "OK")
    # Reserve to reserve needs no purpose and is recorded as TRANSFERRED.
    expect(pay(w, "reserve", "alem-crypto-fund", "KZT", 200 * M), "OK")
    assert get_balance(w.state, "alem-crypto-fund", "KZT") == 700 * M
    assert inflows(w, "alem-crypto-fund") == [
        ("TRANSFERRED", "reserve", "KZT", 200 * M),
        ("PURCHASED", "halyk", "KZT", 500 * M),
    ]
    assert inflows(w) == [("PURCHASED", "halyk", "KZT", 300 * M)]
    # A third, and a name already taken.
    expect(register_reserve(w, "third-fund", reserve_keys("third"), 3), "OK")
    r = register_reserve(w, "alem-crypto-fund", reserve_keys("x"), 2)
    assert code_name(r) == "ACCOUNT_EXISTS"
    # Still only the central bank registers one.
    r = w.run(
        "halyk",
        pb.RegisterAccount(
            account_id="bank-fund",
            role=pb.STATE_RESERVE,
            zone=pb.NATIONAL,
            public_keys=[bytes.fromhex(k) for k in reserve_keys("b")],
            threshold=2,
        ),
    )
    assert code_name(r) == "UNAUTHORIZED"


def test_genesis_takes_several_reserves_each_m_of_n() -> None:
    doc = state_funds_doc()
    second = {
        "account_id": "alem-crypto-fund",
        "role": "STATE_RESERVE",
        "zone": "NATIONAL",
        "public_keys": reserve_keys("alem"),
        "threshold": 2,
    }
    doc["accounts"].append(second)
    g = parse_genesis(doc)
    assert [e.account.account_id for e in g.accounts if e.account.role == pb.STATE_RESERVE] == [
        "reserve",
        "alem-crypto-fund",
    ]
    second["threshold"] = 1
    with pytest.raises(ConfigError, match=r"accounts\[8\]\.threshold: a STATE_RESERVE signs"):
        parse_genesis(doc)
    second["threshold"] = 2
    doc["rulebook"] = {"min_reserve_threshold": 3}
    with pytest.raises(ConfigError, match=r"accounts\[4\]\.threshold: .* at least 3 .* 2 of 3"):
        parse_genesis(doc)
    for bad in (1, 0, 17):
        doc["rulebook"] = {"min_reserve_threshold": bad}
        with pytest.raises(ConfigError, match=r"rulebook\.min_reserve_threshold"):
            parse_genesis(doc)


def test_genesis_refuses_a_rulebook_letting_a_reserve_pay_a_firm_or_person() -> None:
    for role in ("MERCHANT", "CUSTOMER"):
        doc = state_funds_doc()
        doc["rulebook"] = {"reserve_payees": ["TREASURY", role]}
        with pytest.raises(ConfigError, match=rf"reserve_payees: .* never pays {role}"):
            parse_genesis(doc)
    doc = state_funds_doc()
    doc["rulebook"] = {
        "inflow_rules": [
            {"purpose": "GOVERNMENT_FEE", "payer_roles": ["TREASURY"], "kind": "SEIZED"}
        ]
    }
    with pytest.raises(ConfigError, match=r"inflow_rules\[0\]\.kind"):
        parse_genesis(doc)
    twice = {"purpose": "RESERVE_PURCHASE", "payer_roles": ["VASP"], "kind": "PURCHASED"}
    doc["rulebook"] = {"inflow_rules": [twice, {**twice, "kind": "MINED"}]}
    with pytest.raises(ConfigError, match=r"inflow_rules\[1\]: a second rule for VASP"):
        parse_genesis(doc)
    # The defaults round-trip through the genesis document.
    book = parse_genesis(state_funds_doc()).rulebook
    doc = state_funds_doc()
    doc["rulebook"] = {
        k: v
        for k, v in rulebook_to_doc(book).items()
        if k in ("reserve_payees", "inflow_rules", "min_reserve_threshold")
    }
    assert parse_genesis(doc).rulebook == book
    assert list(book.reserve_payees) == [
        pb.CENTRAL_BANK,
        pb.COMMERCIAL_BANK,
        pb.TREASURY,
        pb.STATE_RESERVE,
        pb.VASP,
    ]


# ---------------------------------------------------------------- reserve-only assets


def test_bnb_registers_as_reserve_only_with_no_payment_zones() -> None:
    w = world()
    zoned = pb.RegisterAsset()
    zoned.CopyFrom(BNB)
    zoned.payment_zones.append(pb.CRYPTOCITY)
    assert code_name(w.govern(zoned)) == "INVALID_FIELD"
    nowhere = pb.RegisterAsset(code="ETH", decimals=18, issuer="nbk", kind=pb.CRYPTO)
    assert code_name(w.govern(nowhere)) == "INVALID_FIELD"  # other kinds keep their zones
    expect(w.govern(BNB), "OK")
    active, _ = read_rulebooks(w.state.get)
    rule = next(r for r in active.kinds if r.kind == pb.RESERVE_ONLY)
    assert (list(rule.payment_zones), list(rule.holder_roles), list(rule.licensed_roles)) == (
        [],
        [pb.STATE_RESERVE],
        [pb.VASP],
    )


def test_genesis_takes_a_reserve_only_asset_only_without_zones() -> None:
    doc = state_funds_doc()
    asset = {"code": "BTC", "decimals": 8, "issuer": "nbk", "kind": "RESERVE_ONLY"}
    doc["assets"].append({**asset, "payment_zones": []})
    doc["accounts"][4]["balances"]["BTC"] = "100000000"
    g = parse_genesis(doc)
    assert [a.code for a in g.assets] == ["KZT", "BTC"]
    doc["assets"][-1]["payment_zones"] = ["CRYPTOCITY"]
    with pytest.raises(ConfigError, match=r"assets\[1\]\.payment_zones: a RESERVE_ONLY"):
        parse_genesis(doc)
    doc["assets"][-1] = {**asset, "kind": "CRYPTO", "payment_zones": []}
    with pytest.raises(ConfigError, match=r"assets\[1\]\.payment_zones: one or more"):
        parse_genesis(doc)
    doc = state_funds_doc()
    doc["assets"].append({**asset, "payment_zones": []})
    doc["accounts"][1]["balances"]["BTC"] = "1"  # a bank holds no reserve-only asset
    with pytest.raises(ConfigError, match=r"may not hold BTC"):
        parse_genesis(doc)


def test_bnb_is_paid_by_no_customer_to_no_customer_and_between_no_custodians() -> None:
    w = with_bnb(world())
    not_held = ("ASSET_NOT_ALLOWED", "hold.zone")
    for to in ("aidos", "shop", "halyk", "treasury", "afm"):
        expect(w.run("nbk", issue("BNB", to, 1 * SAT)), *not_held)
    expect(pay(w, "custody.kz", "aidos", "BNB", 1 * SAT, pb.RESERVE_PURCHASE), *not_held)
    expect(pay(w, "custody.kz", "shop", "BNB", 1 * SAT), *not_held)
    expect(pay(w, "custody.kz", "halyk", "BNB", 1 * SAT), *not_held)
    expect(pay(w, "aidos", "custody.kz", "BNB", 1 * SAT), *not_held)  # holds none, may hold none
    # Custodians do not pay each other, whatever the purpose.
    for purpose in (pb.PURPOSE_UNSPECIFIED, pb.RESERVE_PURCHASE, pb.MINED_REMITTANCE):
        r = pay(w, "custody.kz", "miner.kz", "BNB", 1 * SAT, purpose)
        expect(r, "PURPOSE_NOT_ALLOWED", "hold.outside-zone-receive")
    # Nothing is issued into a reserve: it would be an inflow of no kind.
    expect(w.run("nbk", issue("BNB", "reserve", 1 * SAT)), "INFLOW_KIND_REQUIRED", "reserve.inflow")
    assert get_balance(w.state, "custody.kz", "BNB") == 10 * SAT


def test_bnb_moves_custodian_to_reserve_and_reserve_to_custodian() -> None:
    w = with_bnb(world())
    # A custodian pays BNB into a reserve only as a purpose rule allows.
    r = pay(w, "custody.kz", "reserve", "BNB", 4 * SAT)
    expect(r, "PURPOSE_NOT_ALLOWED", "hold.outside-zone-pay")
    expect(pay(w, "custody.kz", "reserve", "BNB", 4 * SAT, pb.RESERVE_PURCHASE), "OK")
    expect(pay(w, "miner.kz", "reserve", "BNB", 2 * SAT, pb.MINED_REMITTANCE), "OK")
    assert get_balance(w.state, "reserve", "BNB") == 6 * SAT
    # The reserve gives BNB to a licensed custodian, and to no one else.
    expect(pay(w, "reserve", "custody.kz", "BNB", 1 * SAT), "OK")
    expect(pay(w, "reserve", "halyk", "BNB", 1 * SAT), "ASSET_NOT_ALLOWED", "hold.zone")
    expect(pay(w, "reserve", "aidos", "BNB", 1 * SAT), "ASSET_NOT_ALLOWED", "hold.zone")
    assert get_balance(w.state, "reserve", "BNB") == 5 * SAT
    assert inflows(w) == [
        ("MINED", "miner.kz", "BNB", 2 * SAT),
        ("PURCHASED", "custody.kz", "BNB", 4 * SAT),
    ]


# ---------------------------------------------------------------- outflows and inflows


def test_a_reserve_pays_no_firm_and_no_customer() -> None:
    w = world()
    refused = ("RESERVE_OUTFLOW", "reserve.outflow")
    expect(pay(w, "reserve", "shop", "KZT", 1_000 * M), *refused)
    expect(pay(w, "reserve", "aidos", "KZT", 1_000 * M), *refused)
    expect(pay(w, "reserve", "afm", "KZT", 1_000 * M), *refused)
    # One leg to a firm refuses the whole transfer.
    both = transfer(("reserve", "treasury", "KZT", 1 * M), ("reserve", "shop", "KZT", 1 * M))
    expect(w.run("reserve", both, keys=reserve_signers("reserve")), *refused)
    assert get_balance(w.state, "shop", "KZT") == 0
    assert get_balance(w.state, "reserve", "KZT") == 1_000_000 * M
    # The mempool says the same before any block.
    tx = w.tx("reserve", transfer(("reserve", "shop", "KZT", 1)), keys=reserve_signers("reserve"))
    assert w.ledger.check_tx(tx, next_height=w.height + 1).code_name == "RESERVE_OUTFLOW"
    for payee in ("treasury", "halyk", "nbk"):
        expect(pay(w, "reserve", payee, "KZT", 1 * M), "OK")


def test_a_payment_into_a_reserve_states_its_inflow_kind() -> None:
    w = world()
    refused = ("INFLOW_KIND_REQUIRED", "reserve.inflow")
    for purpose in (pb.PURPOSE_UNSPECIFIED, pb.GOVERNMENT_FEE, pb.MINED_REMITTANCE):
        expect(pay(w, "halyk", "reserve", "KZT", 1 * M, purpose), *refused)
    for purpose in (pb.PURPOSE_UNSPECIFIED, pb.RESERVE_PURCHASE):
        expect(pay(w, "aidos", "reserve", "KZT", 1 * M, purpose), *refused)
    expect(pay(w, "treasury", "reserve", "KZT", 1 * M), *refused)
    tx = w.tx("halyk", transfer(("halyk", "reserve", "KZT", 1)))
    assert w.ledger.check_tx(tx, next_height=w.height + 1).code_name == "INFLOW_KIND_REQUIRED"
    assert inflows(w) == []
    expect(pay(w, "halyk", "reserve", "KZT", 1 * M, pb.RESERVE_PURCHASE), "OK")
    assert inflows(w) == [("PURCHASED", "halyk", "KZT", 1 * M)]


def test_a_purchase_settles_both_ways_in_one_transfer() -> None:
    w = with_bnb(world())
    # The reserve buys 3 BNB from the custodian and pays 900 KZT to the custodian's bank,
    # both legs in one transfer under one purpose: the outflow goes to a bank, the inflow
    # is a purchase.
    dvp = transfer(
        ("reserve", "halyk", "KZT", 900 * M),
        ("custody.kz", "reserve", "BNB", 3 * SAT),
        purpose=pb.RESERVE_PURCHASE,
    )
    keys = [*reserve_signers("reserve"), key("custody.kz")]
    expect(w.run("reserve", dvp, keys=keys), "OK")
    assert get_balance(w.state, "reserve", "BNB") == 3 * SAT
    assert inflows(w) == [("PURCHASED", "custody.kz", "BNB", 3 * SAT)]
    # With a customer's leg in it, the whole purchase is refused.
    bad = transfer(
        ("reserve", "aidos", "KZT", 900 * M),
        ("custody.kz", "reserve", "BNB", 3 * SAT),
        purpose=pb.RESERVE_PURCHASE,
    )
    expect(w.run("reserve", bad, keys=keys), "RESERVE_OUTFLOW", "reserve.outflow")
    assert get_balance(w.state, "reserve", "BNB") == 3 * SAT


def test_inflow_records_page_newest_first() -> None:
    w = world()
    for i in range(1, 6):
        expect(pay(w, "halyk", "reserve", "KZT", i * M, pb.RESERVE_PURCHASE), "OK")
    two = transfer(
        ("halyk", "reserve", "KZT", 6 * M),
        ("halyk", "reserve", "KZT", 7 * M),
        purpose=pb.RESERVE_PURCHASE,
    )
    r = w.run("halyk", two)
    expect(r, "OK")
    scan = DictScanner(w.state)
    assert inflow_count(scan, "reserve") == 7
    page = list_inflows(scan, "reserve", limit=3)
    assert [(seq, rec.amount) for seq, rec in page] == [(6, 7 * M), (5, 6 * M), (4, 5 * M)]
    assert page[0][1].tx_id == page[1][1].tx_id == r.tx_id
    assert page[0][1].height == w.height
    rest = list_inflows(scan, "reserve", after=page[-1][0])
    assert [rec.amount for _, rec in rest] == [4 * M, 3 * M, 2 * M, 1 * M]
    assert list_inflows(scan, "reserve", after=0) == []
    assert list_inflows(scan, "treasury") == []


# ---------------------------------------------------------------- seizure


def frozen_world() -> World:
    w = world()
    expect(w.run("afm", pb.Freeze(account_id="aidos", legal_ref="AFM order 17/2026")), "OK")
    return w


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"court_order": None, "legal_ref": "court 2-77/2026"}, "INVALID_COURT_ORDER"),
        ({"court_order": None}, "INVALID_COURT_ORDER"),
        ({"court": " "}, "INVALID_COURT_ORDER"),
        ({"court": ""}, "INVALID_COURT_ORDER"),
        ({"case_number": "\t"}, "INVALID_COURT_ORDER"),
        ({"order_number": ""}, "INVALID_COURT_ORDER"),
        ({"order_number": " 3"}, "INVALID_COURT_ORDER"),
        ({"case_number": "2-77\n2026"}, "INVALID_COURT_ORDER"),
        ({"court": "x" * 257}, "INVALID_COURT_ORDER"),
        ({"order_date": ""}, "INVALID_COURT_ORDER"),
        ({"order_date": "2026-02-30"}, "INVALID_COURT_ORDER"),
        ({"order_date": "2026-13-01"}, "INVALID_COURT_ORDER"),
        ({"order_date": "0000-01-01"}, "INVALID_COURT_ORDER"),
        ({"order_date": "20260115"}, "INVALID_COURT_ORDER"),
        ({"order_date": "2026-W03-4"}, "INVALID_COURT_ORDER"),
        ({"order_date": "2026-1-15"}, "INVALID_COURT_ORDER"),
        ({"order_date": "2026-01-15T00:00"}, "INVALID_COURT_ORDER"),
        ({"order_date": "٢٠٢٦-٠١-١٥"}, "INVALID_COURT_ORDER"),
        ({"reserve": ""}, "INVALID_ACCOUNT_ID"),
        ({"reserve": "ghost-fund"}, "UNKNOWN_ACCOUNT"),
        ({"reserve": "halyk"}, "UNAUTHORIZED"),
        ({"reserve": "treasury"}, "UNAUTHORIZED"),
        ({"legal_ref": "x" * 257}, "INVALID_FIELD"),
    ],
)
def test_a_seizure_needs_a_court_order_and_a_reserve(fields: dict[str, Any], code: str) -> None:
    w = frozen_world()
    body = seize_body(**fields)
    tx = w.tx("afm", body)
    assert w.ledger.check_tx(tx, next_height=w.height + 1).code_name == code
    r = w.block(tx).receipts[0]
    assert code_name(r) == code, r.message
    if "court_order" in fields:
        assert "seize.court_order is required" in r.message
    for name in ("court", "case_number", "order_number", "order_date"):
        if name in fields:
            assert f"seize.court_order.{name}" in r.message
            if not fields[name].strip():
                assert "is required (not blank)" in r.message
    assert get_balance(w.state, "aidos", "KZT") == 10_000 * M
    assert inflows(w) == []


def test_a_seizure_goes_into_the_named_reserve_with_its_court_order() -> None:
    w = frozen_world()
    expect(register_reserve(w, "alem-crypto-fund", reserve_keys("alem-crypto-fund"), 2), "OK")
    # Only the regulator seizes; a reserve is not seized from.
    assert code_name(w.run("halyk", seize_body())) == "UNAUTHORIZED"
    assert code_name(w.run("afm", seize_body(account_id="reserve"))) == "INVALID_FIELD"
    r = w.run("afm", seize_body(reserve="alem-crypto-fund", legal_ref="AFM note 4"))
    expect(r, "OK")
    assert list(r.accounts) == ["afm", "aidos", "alem-crypto-fund"]
    assert get_balance(w.state, "alem-crypto-fund", "KZT") == 100 * M
    assert get_balance(w.state, "reserve", "KZT") == 1_000_000 * M
    stored = pb.Seize.FromString(w.state[seizure_key(r.tx_id)])
    assert (stored.reserve, stored.court_order) == ("alem-crypto-fund", ORDER)
    ((seq, record),) = list_inflows(DictScanner(w.state), "alem-crypto-fund")
    assert seq == 0
    assert record == pb.ReserveInflow(
        reserve="alem-crypto-fund",
        kind=pb.SEIZED,
        asset="KZT",
        amount=100 * M,
        source="aidos",
        tx_id=r.tx_id,
        height=w.height,
        court_order=ORDER,
    )
    # The built body (client and CLI) is the same message.
    built = seize("aidos", "KZT", 100 * M, reserve="alem-crypto-fund", court_order=ORDER)
    assert built == seize_body(reserve="alem-crypto-fund")
