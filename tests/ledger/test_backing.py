"""Backed stablecoins (issue 12 item 7): KZTE is backed 1:1 by KZT in a segregated reserve.

The finding: a stablecoin issuer holding 9.8 million KZT minted 10 trillion KZTE; nothing
tied a tenge stablecoin to a tenge reserve. Now issuing KZTE moves the same KZT value from
its issuer into the reserve account its registration created, redemption releases it, and
nothing else moves the reserve's KZT. The world: ledger_world's genesis, halyk holding
9.8 million KZT and kaspi 10 million, tier-2 customers aidos (CRYPTOCITY, halyk), dana
(CRYPTOCITY, kaspi) and erlan (NATIONAL), and KZTE (6 decimals, CRYPTOCITY, issued by
halyk, reserve ``kzte.reserve``) registered through a governance proposal.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_world import World, code_name, genesis_doc, key, make_genesis

from node.errors import ConfigError
from node.genesis import genesis_to_json, parse_genesis
from node.ledger import Ledger, amount_of, get_account, get_asset, get_balance
from node.ledger._backing import backing_value
from node.ledger.txbuild import issue, redeem, seize, transfer
from proto import ledger_pb2 as pb

COURT_ORDER = pb.CourtOrder(
    court="Specialized Inter-District Economic Court of Astana",
    case_number="7194-26-00-2/301",
    order_number="1",
    order_date="2026-01-15",
)

M = 100  # tiyn per tenge
E = 10**6  # minor units per KZTE (6 decimals)
RESERVE = "kzte.reserve"
KZTE = pb.RegisterAsset(
    code="KZTE",
    decimals=6,
    issuer="halyk",
    kind=pb.STABLECOIN,
    payment_zones=[pb.CRYPTOCITY],
    backed_by="KZT",
    reserve_account=RESERVE,
)


def doc() -> dict[str, Any]:
    d = genesis_doc()
    d["accounts"][1]["balances"] = {"KZT": str(9_800_000 * M)}  # halyk
    d["accounts"][2]["balances"] = {"KZT": str(10_000_000 * M)}  # kaspi
    for account_id, zone in (
        ("aidos", "CRYPTOCITY"),
        ("dana", "CRYPTOCITY"),
        ("erlan", "NATIONAL"),
    ):
        d["accounts"].append(
            {
                "account_id": account_id,
                "role": "CUSTOMER",
                "zone": zone,
                "kyc_tier": 2,
                "public_keys": [key(account_id).public_key.hex()],
            }
        )
    return d


def world() -> World:
    w = World(make_genesis(doc()))
    expect(w.govern(KZTE), "OK")
    return w


def expect(receipt: pb.Receipt, code: str, rule: str = "") -> None:
    assert (code_name(receipt), receipt.rule) == (code, rule), receipt.message
    assert (receipt.message == "") == (code == "OK")


def kzt(w: World, account_id: str) -> int:
    return get_balance(w.state, account_id, "KZT")


def supply(w: World, code: str) -> int:
    asset = get_asset(w.state, code)
    assert asset is not None
    return amount_of(asset, "issued") - amount_of(asset, "redeemed")


def assert_backed(w: World) -> None:
    """Every backed asset's supply, in KZT, is its reserve's KZT; KZT supply is conserved."""
    kzt_asset = get_asset(w.state, "KZT")
    assert kzt_asset is not None
    totals: dict[str, int] = {}
    for (_, code), value in w.balances().items():
        totals[code] = totals.get(code, 0) + value
    for key_, raw in w.state.items():
        if not key_.startswith(b"asset/"):
            continue
        asset = pb.Asset.FromString(raw)
        assert totals.get(asset.code, 0) == supply(w, asset.code), asset.code
        if asset.backed_by:
            value = backing_value(kzt_asset, asset, supply(w, asset.code))
            assert value is not None, asset.code
            assert kzt(w, asset.reserve_account) == value, asset.code
            reserve = get_account(w.state, asset.reserve_account)
            assert reserve is not None
            assert list(reserve.assets) in ([], ["KZT"])


# ---------------------------------------------------------------- registration


def test_registration_creates_the_keyless_reserve_account() -> None:
    w = world()
    asset = get_asset(w.state, "KZTE")
    assert asset is not None
    assert (asset.backed_by, asset.reserve_account) == ("KZT", RESERVE)
    reserve = get_account(w.state, RESERVE)
    assert reserve is not None
    assert reserve.role == pb.ISSUANCE_RESERVE
    assert reserve.zone == pb.NATIONAL
    assert list(reserve.public_keys) == []
    assert reserve.registered_by == "halyk"
    assert reserve.registered_height == w.height  # the approving block
    assert not reserve.frozen
    assert kzt(w, RESERVE) == 0


def _variant(**fields: Any) -> pb.RegisterAsset:
    m = pb.RegisterAsset()
    m.CopyFrom(KZTE)
    m.code = "KZTX"
    for name, value in fields.items():
        setattr(m, name, value)
    return m


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        (_variant(backed_by="USD"), "INVALID_FIELD", "backed_by: 'USD' is not a backing"),
        (_variant(backed_by="KZTE"), "INVALID_FIELD", "is not a backing"),
        (_variant(reserve_account=""), "INVALID_FIELD", "register_asset.reserve_account"),
        (_variant(backed_by=""), "INVALID_FIELD", "register_asset.backed_by"),
        (_variant(kind=pb.CRYPTO), "INVALID_FIELD", "only a STABLECOIN may be backed"),
        (_variant(reserve_account="Bad/Id"), "INVALID_ACCOUNT_ID", "reserve_account"),
    ],
)
def test_a_malformed_backing_is_refused_when_proposed(
    change: pb.RegisterAsset, code: str, words: str
) -> None:
    w = world()
    receipt = w.govern(change)
    expect(receipt, code)
    assert words in receipt.message
    assert get_asset(w.state, "KZTX") is None


@pytest.mark.parametrize("taken", ["kaspi", "aidos", RESERVE])
def test_the_reserve_must_be_a_new_account(taken: str) -> None:
    w = world()
    receipt = w.govern(_variant(reserve_account=taken))
    expect(receipt, "ACCOUNT_EXISTS")
    assert "register_asset.reserve_account" in receipt.message
    assert get_asset(w.state, "KZTX") is None
    reserve = get_account(w.state, taken)
    assert reserve is not None
    assert reserve.role != pb.ISSUANCE_RESERVE or taken == RESERVE


def test_a_reserve_is_never_registered_by_register_account() -> None:
    w = world()
    for bank in ("nbk", "halyk"):
        receipt = w.run(
            bank,
            pb.RegisterAccount(
                account_id=f"fake.{bank}",
                role=pb.ISSUANCE_RESERVE,
                zone=pb.NATIONAL,
                public_keys=[key("fake").public_key],
            ),
        )
        expect(receipt, "UNAUTHORIZED")
        assert get_account(w.state, f"fake.{bank}") is None


def test_registering_a_backed_asset_directly_needs_governance() -> None:
    w = World(make_genesis(doc()))
    receipt = w.run("nbk", KZTE)
    expect(receipt, "GOVERNANCE_REQUIRED", "governance.dual-control")
    assert get_account(w.state, RESERVE) is None


# ---------------------------------------------------------------- issue and redeem


def test_the_ten_trillion_kzte_bypass_is_refused() -> None:
    """The finding: halyk holds 9.8 million KZT and mints 10 trillion KZTE."""
    w = world()
    before = dict(w.state)
    receipt = w.run("halyk", issue("KZTE", "halyk", 10 * 10**12 * E))
    expect(receipt, "INSUFFICIENT_FUNDS", "backing.cover")
    assert "needs 1000000000000000 KZT" in receipt.message
    assert "holds 980000000" in receipt.message
    assert supply(w, "KZTE") == 0
    assert kzt(w, "halyk") == 9_800_000 * M
    changed = {k for k in w.state if before.get(k) != w.state[k]}
    assert all(k.startswith((b"seen/", b"incl/")) for k in changed)
    # What it holds, it may issue: 9.8 million KZTE, and not one minor unit of tiyn more.
    expect(w.run("halyk", issue("KZTE", "aidos", 9_800_000 * E)), "OK")
    expect(w.run("halyk", issue("KZTE", "aidos", 10**4)), "INSUFFICIENT_FUNDS", "backing.cover")
    assert (kzt(w, "halyk"), kzt(w, RESERVE)) == (0, 9_800_000 * M)
    assert_backed(w)


def test_issue_moves_kzt_into_the_reserve_and_redeem_releases_it() -> None:
    w = world()
    receipt = w.run("halyk", issue("KZTE", "aidos", 1_000 * E))
    expect(receipt, "OK")
    assert list(receipt.accounts) == ["halyk", "aidos", RESERVE]  # on the reserve's statement
    assert get_balance(w.state, "aidos", "KZTE") == 1_000 * E
    assert kzt(w, "halyk") == (9_800_000 - 1_000) * M
    assert kzt(w, RESERVE) == 1_000 * M
    assert_backed(w)
    # The issuer takes coins back from a holder, then redeems them.
    expect(w.run("aidos", transfer(("aidos", "halyk", "KZTE", 400 * E))), "OK")
    receipt = w.run("halyk", redeem("KZTE", 250 * E))
    expect(receipt, "OK")
    assert list(receipt.accounts) == ["halyk", RESERVE]
    assert kzt(w, RESERVE) == 750 * M
    assert kzt(w, "halyk") == (9_800_000 - 750) * M
    assert get_balance(w.state, "halyk", "KZTE") == 150 * E
    assert_backed(w)
    # A holder may not redeem, and the issuer redeems only what it holds.
    expect(w.run("aidos", redeem("KZTE", 1 * E)), "UNAUTHORIZED")
    expect(w.run("halyk", redeem("KZTE", 151 * E)), "INSUFFICIENT_FUNDS")
    assert_backed(w)


def test_an_issue_to_the_issuer_itself_moves_kzt_too() -> None:
    w = world()
    expect(w.run("halyk", issue("KZTE", "halyk", 5 * E)), "OK")
    assert (kzt(w, "halyk"), kzt(w, RESERVE)) == ((9_800_000 - 5) * M, 5 * M)
    expect(w.run("halyk", redeem("KZTE", 5 * E)), "OK")
    assert (kzt(w, "halyk"), kzt(w, RESERVE)) == (9_800_000 * M, 0)
    assert_backed(w)


@pytest.mark.parametrize("amount", [1, 9_999, 12_345, E + 1, 10**4 + 5_000])
def test_an_amount_that_is_not_whole_tiyn_is_unbacked(amount: int) -> None:
    """6 decimals against KZT's 2: only multiples of 10^4 minor units are whole tiyn."""
    w = world()
    receipt = w.run("halyk", issue("KZTE", "aidos", amount))
    expect(receipt, "UNBACKED_AMOUNT", "backing.exact")
    assert f"issue.amount: {amount} minor units of KZTE" in receipt.message
    assert "multiple of 10000" in receipt.message
    expect(w.run("halyk", issue("KZTE", "halyk", 2 * E)), "OK")
    expect(w.run("halyk", redeem("KZTE", amount)), "UNBACKED_AMOUNT", "backing.exact")
    assert_backed(w)


def test_fewer_decimals_than_kzt_always_convert_exactly() -> None:
    """A whole-tenge coin (0 decimals): one unit is backed by 100 tiyn."""
    w = world()
    expect(w.govern(_variant(code="KZTW", decimals=0, reserve_account="kztw.reserve")), "OK")
    expect(w.run("halyk", issue("KZTW", "aidos", 7)), "OK")
    assert kzt(w, "kztw.reserve") == 7 * M
    assert kzt(w, RESERVE) == 0
    assert_backed(w)


def test_the_old_unbacked_stablecoins_are_unchanged() -> None:
    w = world()
    usdt = pb.RegisterAsset(
        code="USDT", decimals=6, issuer="kaspi", kind=pb.STABLECOIN, payment_zones=[pb.CRYPTOCITY]
    )
    expect(w.govern(usdt), "OK")
    expect(w.run("kaspi", issue("USDT", "dana", 10**13 * E)), "OK")
    assert kzt(w, "kaspi") == 10_000_000 * M


# ---------------------------------------------------------------- the segregated reserve


def test_no_payment_goes_into_the_reserve() -> None:
    w = world()
    expect(w.run("halyk", issue("KZTE", "aidos", 10 * E)), "OK")
    segregated = ("ASSET_NOT_ALLOWED", "backing.segregated")
    expect(w.run("kaspi", transfer(("kaspi", RESERVE, "KZT", 1))), *segregated)
    expect(w.run("halyk", transfer(("halyk", RESERVE, "KZT", 100 * M))), *segregated)
    expect(w.run("aidos", transfer(("aidos", RESERVE, "KZTE", 1 * E))), *segregated)
    expect(w.run("nbk", transfer(("nbk", RESERVE, "KZT", 1))), *segregated)
    # One leg into the reserve refuses the whole transfer.
    both = transfer(("kaspi", "halyk", "KZT", 5 * M), ("halyk", RESERVE, "KZT", 5 * M))
    receipt = w.block(w.tx("kaspi", both, keys=[key("kaspi"), key("halyk")])).receipts[0]
    expect(receipt, *segregated)
    assert "transfer.legs[1].payee" in receipt.message
    assert kzt(w, RESERVE) == 10 * M
    assert_backed(w)


def test_the_reserve_never_signs() -> None:
    """It has no keys: no signature is its, so nothing leaves it but by redemption."""
    w = world()
    expect(w.run("halyk", issue("KZTE", "aidos", 10 * E)), "OK")
    out = transfer((RESERVE, "halyk", "KZT", 10 * M))
    for keys in ([key("halyk")], [key(RESERVE)]):
        expect(w.run(RESERVE, out, keys=keys), "EXTRA_SIGNATURE")
    # Paired with a real payer, the reserve's leg still lacks its signature.
    paired = transfer(("halyk", "kaspi", "KZT", 1), (RESERVE, "halyk", "KZT", 10 * M))
    expect(w.run("halyk", paired, keys=[key("halyk")]), "MISSING_SIGNATURE")
    expect(w.run(RESERVE, pb.Redeem(asset="KZT", amount=1), keys=[key("halyk")]), "EXTRA_SIGNATURE")
    assert kzt(w, RESERVE) == 10 * M


def test_the_reserve_cannot_be_frozen_or_seized_from() -> None:
    w = world()
    expect(w.run("halyk", issue("KZTE", "aidos", 10 * E)), "OK")
    receipt = w.run("afm", pb.Freeze(account_id=RESERVE, legal_ref="court 1"))
    expect(receipt, "UNAUTHORIZED")
    assert "ISSUANCE_RESERVE account cannot be frozen" in receipt.message
    receipt = w.run(
        "afm", seize(RESERVE, "KZT", 10 * M, reserve="reserve", court_order=COURT_ORDER)
    )
    expect(receipt, "UNAUTHORIZED", "backing.segregated")
    assert "segregated reserve" in receipt.message
    reserve = get_account(w.state, RESERVE)
    assert reserve is not None
    assert not reserve.frozen
    assert kzt(w, RESERVE) == 10 * M


def test_seizing_the_coin_moves_coins_only() -> None:
    w = world()
    expect(w.run("halyk", issue("KZTE", "aidos", 10 * E)), "OK")
    expect(w.run("afm", pb.Freeze(account_id="aidos", legal_ref="court 7")), "OK")
    expect(
        w.run("afm", seize("aidos", "KZTE", 4 * E, reserve="reserve", court_order=COURT_ORDER)),
        "OK",
    )
    assert get_balance(w.state, "reserve", "KZTE") == 4 * E
    assert supply(w, "KZTE") == 10 * E
    assert kzt(w, RESERVE) == 10 * M
    assert_backed(w)


def test_the_reserve_holds_kzt_only() -> None:
    w = world()
    expect(w.run("halyk", issue("KZTE", RESERVE, 1 * E)), "ASSET_NOT_ALLOWED", "hold.zone")
    assert supply(w, "KZTE") == 0


# ---------------------------------------------------------------- genesis


def genesis_with_kzte(**extra: Any) -> dict[str, Any]:
    d = doc()
    d["assets"].append(
        {
            "code": "KZTE",
            "decimals": 6,
            "issuer": "halyk",
            "kind": "STABLECOIN",
            "payment_zones": ["CRYPTOCITY"],
            "backed_by": "KZT",
            "reserve_account": RESERVE,
            **extra,
        }
    )
    return d


def test_genesis_creates_the_reserve_of_a_backed_asset() -> None:
    g = make_genesis(genesis_with_kzte())
    w = World(g)
    reserve = get_account(w.state, RESERVE)
    assert reserve is not None
    assert (reserve.role, reserve.registered_by, list(reserve.public_keys)) == (
        pb.ISSUANCE_RESERVE,
        "halyk",
        [],
    )
    expect(w.run("halyk", issue("KZTE", "aidos", 3 * E)), "OK")
    assert kzt(w, RESERVE) == 3 * M
    assert_backed(w)
    again = parse_genesis(copy.deepcopy(genesis_to_json(g)))
    assert again == g


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"backed_by": "USD"}, "assets[1].backed_by: 'USD' is not a backing"),
        ({"kind": "CRYPTO"}, "assets[1].backed_by: only a STABLECOIN may be backed"),
        ({"reserve_account": "halyk"}, "assets[1].reserve_account: 'halyk' is taken"),
        ({"reserve_account": "X"}, "assets[1].reserve_account: 3 to 64"),
        ({"reserve_account": None}, "assets[1].reserve_account: is required with backed_by"),
        ({"backed_by": None}, "assets[1].backed_by: is required with reserve_account"),
    ],
)
def test_genesis_refuses_a_bad_backing(change: dict[str, Any], message: str) -> None:
    d = genesis_with_kzte()
    for name, value in change.items():
        if value is None:
            del d["assets"][1][name]
        else:
            d["assets"][1][name] = value
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_genesis(d)


def test_genesis_refuses_two_assets_with_one_reserve() -> None:
    d = genesis_with_kzte()
    d["assets"].append({**d["assets"][1], "code": "KZTF"})
    with pytest.raises(ConfigError, match=r"assets\[2\]\.reserve_account: 'kzte.reserve' is taken"):
        parse_genesis(d)


def test_a_backed_asset_starts_with_no_supply_at_genesis() -> None:
    d = genesis_with_kzte()
    d["accounts"][1]["balances"]["KZTE"] = str(10**13 * E)
    with pytest.raises(ConfigError, match=r"accounts\[1\]\.balances\.KZTE: KZTE is backed by KZT"):
        parse_genesis(d)


def test_genesis_lists_no_issuance_reserve_account() -> None:
    d = doc()
    d["accounts"].append({**d["accounts"][1], "account_id": "fake.reserve"})
    d["accounts"][-1]["role"] = "ISSUANCE_RESERVE"
    d["accounts"][-1].pop("balances")
    with pytest.raises(ConfigError, match=r"accounts\[9\]\.role: an ISSUANCE_RESERVE account"):
        parse_genesis(d)


# ---------------------------------------------------------------- the invariant


HOLDERS = ["halyk", "kaspi", "aidos", "dana", "erlan", "reserve", RESERVE, "kztk.reserve"]
#: Whole tiyn of each coin: KZTE has 6 decimals, KZTK and KZT 2.
STEP = {"KZTE": 10**4, "KZTK": 1, "KZT": 1}
ISSUER = {"KZTE": "halyk", "KZTK": "kaspi", "KZT": "nbk"}


def amounts(coin: str) -> st.SearchStrategy[int]:
    return st.one_of(
        st.integers(1, 10**6).map(lambda n: n * STEP[coin]),  # up to 10,000 KZT
        st.integers(1, 10**9),  # often not whole tiyn of KZTE
        st.sampled_from([10**13 * E, 9_800_000 * E, 2**64, 2**127]),  # the finding, and wide
    )


def _base() -> World:
    """KZTE from genesis (halyk), KZTK (2 decimals, kaspi) by governance, each issued to
    dana (then frozen) and to its issuer."""
    w = World(make_genesis(genesis_with_kzte()))
    kztk = _variant(code="KZTK", decimals=2, issuer="kaspi", reserve_account="kztk.reserve")
    expect(w.govern(kztk), "OK")
    expect(w.run("halyk", issue("KZTE", "dana", 100 * E)), "OK")
    expect(w.run("kaspi", issue("KZTK", "dana", 100 * M)), "OK")
    expect(w.run("halyk", issue("KZTE", "halyk", 100_000 * E)), "OK")
    expect(w.run("kaspi", issue("KZTK", "kaspi", 100_000 * M)), "OK")
    expect(w.run("afm", pb.Freeze(account_id="dana", legal_ref="court 9")), "OK")
    return w


BASE = _base()
ISSUER = {"KZTE": "halyk", "KZTK": "kaspi", "KZT": "nbk"}


@st.composite
def steps(draw: st.DrawFn) -> tuple[str, Any]:
    """Mostly feasible issues, redemptions, payments and seizures of the two backed coins."""
    coin = draw(st.sampled_from(["KZTE", "KZTK", "KZTE", "KZTK", "KZT"]))
    amount = draw(amounts(coin))
    issuer = ISSUER[coin]
    op = draw(st.sampled_from(["issue", "issue", "redeem", "redeem", "pay", "pay", "seize"]))
    if op == "issue":
        to = draw(st.sampled_from([issuer, issuer, "aidos", "halyk", "kaspi", *HOLDERS]))
        return issuer, issue(coin, to, amount)
    if op == "redeem":
        return draw(st.sampled_from([issuer, issuer, issuer, "halyk"])), redeem(coin, amount)
    if op == "seize":
        target = draw(st.sampled_from(["dana", "dana", "aidos", RESERVE, "kztk.reserve"]))
        return "afm", seize(target, coin, amount, reserve="reserve", court_order=COURT_ORDER)
    payer = draw(st.sampled_from(["halyk", "kaspi", "aidos"]))
    payee = draw(st.sampled_from(HOLDERS))
    return payer, transfer((payer, payee, coin, amount))


def _bodies(block: list[tuple[str, Any]]) -> list[pb.TxBody]:
    out = []
    for _, message in block:
        body = pb.TxBody()
        field = "transfer" if isinstance(message, pb.Transfer) else None
        for name in ("issue", "redeem", "seize"):
            if isinstance(message, getattr(pb, name.capitalize())):
                field = name
        assert field is not None
        getattr(body, field).CopyFrom(message)
        out.append(body)
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(steps(), min_size=1, max_size=4), min_size=1, max_size=5))
def test_supply_equals_reserve_after_every_block(blocks: list[list[tuple[str, Any]]]) -> None:
    w = _fork()
    for block in blocks:
        kzt_before = supply(w, "KZT")
        result = w.block(*[w.tx(signer, message) for signer, message in block])
        # Every KZT balance, the reserves' included, sums to KZT's supply (assert_backed),
        # and that supply moves only by KZT's own issues and redemptions.
        assert_backed(w)
        minted = sum(
            (1 if m.WhichOneof("kind") == "issue" else -1)
            * amount_of(getattr(m, m.WhichOneof("kind")))
            for m, r in zip(_bodies(block), result.receipts, strict=True)
            if r.code == pb.OK
            and m.WhichOneof("kind") in ("issue", "redeem")
            and getattr(m, m.WhichOneof("kind")).asset == "KZT"
        )
        assert supply(w, "KZT") == kzt_before + minted
    # Another node executing the same blocks reaches the same state.
    other = _fork()
    for txs in w.history[len(BASE.history) :]:
        other.block(*txs)
    assert (other.app_hash, other.state) == (w.app_hash, w.state)


def _fork() -> World:
    w = World(BASE.genesis)
    w.state = dict(BASE.state)
    w.ledger = Ledger(w.genesis, w.state)
    w.height, w.app_hash, w.time_ms = BASE.height, BASE.app_hash, BASE.time_ms
    w.history = list(BASE.history)
    return w
