"""Hypothesis: random sequences of valid and invalid transactions against the invariants.

Amounts are drawn below and above 2^64 (ETH has 18 decimals and balances of about 10^24
minor units), up to the 128-bit bound, so the sums cross the old u64 range.

After every block: per asset, the sum of balances equals issued minus redeemed; no balance
is negative; a frozen account never pays; a refused transaction (a multi-leg transfer
included) changes nothing, and an accepted one applies in full (a model that replays
only the accepted transactions must hold exactly the ledger's balances). At the end, a
fresh ledger fed the same blocks reaches the same writes, state and app hash.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_world import World, genesis_doc, key

from node.genesis import parse_genesis
from node.ledger import AMOUNT_MAX, U64_MAX, amount_of
from node.ledger._amounts import decode_amount
from node.ledger._keys import ASSET, BALANCE
from node.ledger.txbuild import issue, redeem, seize, transfer
from proto import genesis_pb2
from proto import ledger_pb2 as pb

ACCOUNTS = [
    "nbk",
    "halyk",
    "kaspi",
    "treasury",
    "reserve",
    "afm",
    "c1.halyk",
    "c2.kaspi",
    "m1.halyk",
    "lic.kaspi",
]
PAYERS = [*ACCOUNTS, "ghost", "x"]
FUNDED = ["halyk", "kaspi", "c1.halyk", "c2.kaspi", "m1.halyk", "lic.kaspi", "reserve"]
ASSETS = ["KZT", "USDT", "ETH", "GOLD"]
ORDER = pb.CourtOrder(court="court", case_number="2-1", order_number="1", order_date="2026-01-02")
ETH = 10**18  # minor units per ETH
WIDE = [U64_MAX, 2**64, 2**64 + 1, AMOUNT_MAX - 1, AMOUNT_MAX]
AMOUNTS = st.one_of(
    st.integers(1, 20_000_00),
    st.integers(2**64, 10**6 * ETH),
    st.sampled_from([0, 1, 50_000_00, 10**12, U64_MAX - 1, *WIDE]),
)


def _genesis() -> genesis_pb2.Genesis:
    doc: dict[str, Any] = genesis_doc()
    doc["accounts"][1]["balances"] = {"KZT": str(5_000_000_00)}
    doc["accounts"][2]["balances"] = {
        "KZT": str(5_000_000_00),
        "USDT": "1000000000",
        "ETH": str(10**6 * ETH),
    }
    doc["accounts"][4]["balances"] = {"KZT": str(1_000_000_00)}
    for account_id, role, zone, tier, extra in (
        (
            "c1.halyk",
            "CUSTOMER",
            "CRYPTOCITY",
            1,
            {"balances": {"KZT": "10000000", "USDT": "50000000", "ETH": str(2_000 * ETH)}},
        ),
        ("c2.kaspi", "CUSTOMER", "NATIONAL", 1, {"balances": {"KZT": "10000000"}}),
        ("m1.halyk", "MERCHANT", "CRYPTOCITY", 2, {"balances": {"ETH": str(50 * ETH)}}),
        (
            "lic.kaspi",
            "MERCHANT",
            "NATIONAL",
            2,
            {
                "licence": {
                    "assets": ["USDT"],
                    "purposes": ["GOVERNMENT_FEE"],
                    "expires_at_height": 10**9,
                    "reference": "AFM-LIC-1",
                }
            },
        ),
    ):
        doc["accounts"].append(
            {
                "account_id": account_id,
                "role": role,
                "zone": zone,
                "kyc_tier": tier,
                "public_keys": [key(account_id).public_key.hex()],
                **extra,
            }
        )
    doc["assets"].append(
        {
            "code": "USDT",
            "decimals": 6,
            "issuer": "kaspi",
            "kind": "STABLECOIN",
            "payment_zones": ["CRYPTOCITY"],
        }
    )
    doc["assets"].append(
        {
            "code": "ETH",
            "decimals": 18,
            "issuer": "kaspi",
            "kind": "CRYPTO",
            "payment_zones": ["CRYPTOCITY"],
        }
    )
    # ETH at 1 tiyn per unit: tier-limited holders stay within their KZT-equivalent caps.
    doc["rulebook"] = {"rates": {"USDT": "50000", "ETH": "1"}}
    return parse_genesis(doc)


GENESIS = _genesis()


def signing_keys(account_id: str) -> list[Any]:
    if account_id == "reserve":
        return [key("reserve-0"), key("reserve-1")]
    return [key(account_id)]


@st.composite
def pay_plans(draw: st.DrawFn) -> tuple[str, Any]:
    """Mostly valid payments between funded accounts."""
    legs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(FUNDED),
                st.sampled_from(ACCOUNTS),
                st.sampled_from(["KZT", "KZT", "USDT", "ETH"]),
                st.integers(1, 60_000_00),
            )
            .map(lambda leg: leg if leg[2] != "ETH" else (*leg[:3], leg[3] * 10**15))
            .filter(lambda leg: leg[0] != leg[1]),
            min_size=1,
            max_size=2,
        )
    )
    return "transfer", (legs, "all")


@st.composite
def other_plans(draw: st.DrawFn) -> tuple[str, Any]:
    """Anything: random legs, admin kinds, garbage, replays, expired transactions."""
    kind = draw(
        st.sampled_from(
            [
                *("transfer", "transfer", "issue", "redeem", "freeze", "unfreeze", "seize"),
                *("garbage", "replay", "expired"),
            ]
        )
    )
    if kind == "transfer":
        legs = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(PAYERS),
                    st.sampled_from(PAYERS),
                    st.sampled_from(ASSETS),
                    AMOUNTS,
                ),
                min_size=1,
                max_size=3,
            )
        )
        signing = draw(st.sampled_from(["all", "all", "all", "first-only", "stranger"]))
        return kind, (legs, signing)
    if kind in ("issue", "redeem", "seize"):
        signer = draw(st.sampled_from(["nbk", "kaspi", "halyk", "afm", "afm", "c1.halyk"]))
        return kind, (
            signer,
            draw(st.sampled_from(ACCOUNTS)),
            draw(st.sampled_from(ASSETS)),
            draw(AMOUNTS),
        )
    if kind in ("freeze", "unfreeze"):
        target = st.sampled_from(["c1.halyk", "c2.kaspi", "m1.halyk", "lic.kaspi", *ACCOUNTS])
        return kind, (draw(st.sampled_from(["afm", "afm", "nbk"])), draw(target))
    if kind == "garbage":
        return kind, draw(st.binary(max_size=80))
    return kind, draw(st.integers(0, 1000))


tx_plans = st.one_of(pay_plans(), pay_plans(), other_plans())


def build(w: World, plan: tuple[str, Any], sent: list[bytes]) -> bytes:
    kind, p = plan
    if kind == "transfer":
        legs, signing = p
        payers = list(dict.fromkeys(leg[0] for leg in legs))
        keys = [k for payer in payers for k in signing_keys(payer)]
        if signing == "first-only":
            keys = signing_keys(payers[0])
        elif signing == "stranger":
            keys = [*keys, key("stranger")]
        # Into the reserve as a purchase (banks may; others are refused INFLOW_KIND_REQUIRED).
        into_reserve = any(leg[1] == "reserve" for leg in legs)
        purpose = pb.RESERVE_PURCHASE if into_reserve else pb.PURPOSE_UNSPECIFIED
        return w.tx(payers[0], transfer(*legs, purpose=purpose), keys=keys)
    if kind == "issue":
        signer, to, asset, amount = p
        return w.tx(signer, issue(asset, to, amount))
    if kind == "redeem":
        signer, _, asset, amount = p
        return w.tx(signer, redeem(asset, amount))
    if kind == "seize":
        signer, target, asset, amount = p
        return w.tx(signer, seize(target, asset, amount, reserve="reserve", court_order=ORDER))
    if kind == "freeze":
        return w.tx(p[0], pb.Freeze(account_id=p[1], legal_ref="order"))
    if kind == "unfreeze":
        return w.tx(p[0], pb.Unfreeze(account_id=p[1], legal_ref="lifted"))
    if kind == "garbage":
        return bytes(p)
    if kind == "replay" and sent:
        return sent[p % len(sent)]
    return w.tx("halyk", transfer(("halyk", "kaspi", "KZT", 1)), expires=max(0, w.height - 1))


class Model:
    """Balances and frozen flags, moved only by the transactions the ledger accepted."""

    def __init__(self, w: World) -> None:
        self.balances = dict(w.balances())
        self.frozen: set[str] = set()
        # Inflows into the reserve, oldest first: (kind, source, asset, amount).
        self.inflows: list[tuple[int, str, str, int]] = []

    def add(self, account_id: str, asset: str, delta: int) -> None:
        value = self.balances.get((account_id, asset), 0) + delta
        assert 0 <= value <= AMOUNT_MAX, (account_id, asset, value)
        if value:
            self.balances[(account_id, asset)] = value
        else:
            self.balances.pop((account_id, asset), None)

    def apply(self, raw: bytes) -> None:
        body = pb.TxBody.FromString(pb.TxEnvelope.FromString(raw).body)
        kind = body.WhichOneof("kind")
        if kind == "transfer":
            for leg in body.transfer.legs:
                assert leg.payer not in self.frozen, f"frozen {leg.payer} paid"
            net: dict[tuple[str, str], int] = {}  # legs settle on net positions
            for leg in body.transfer.legs:
                net[(leg.payer, leg.asset)] = net.get((leg.payer, leg.asset), 0) - amount_of(leg)
                net[(leg.payee, leg.asset)] = net.get((leg.payee, leg.asset), 0) + amount_of(leg)
            for (account_id, asset), delta in net.items():
                self.add(account_id, asset, delta)
            for leg in body.transfer.legs:
                if leg.payee == "reserve":  # only banks' purchases are accepted
                    self.inflows.append((pb.PURCHASED, leg.payer, leg.asset, amount_of(leg)))
        elif kind == "issue":
            self.add(body.issue.to, body.issue.asset, amount_of(body.issue))
        elif kind == "redeem":
            assert body.signer not in self.frozen
            self.add(body.signer, body.redeem.asset, -amount_of(body.redeem))
        elif kind == "seize":
            assert body.seize.account_id in self.frozen
            self.add(body.seize.account_id, body.seize.asset, -amount_of(body.seize))
            self.add("reserve", body.seize.asset, amount_of(body.seize))
            m = body.seize
            self.inflows.append((pb.SEIZED, m.account_id, m.asset, amount_of(m)))
        elif kind == "freeze":
            self.frozen.add(body.freeze.account_id)
        elif kind == "unfreeze":
            self.frozen.discard(body.unfreeze.account_id)


def check_invariants(w: World) -> None:
    supply: dict[str, int] = {}
    for k, v in w.state.items():
        if k.startswith(BALANCE):
            assert len(v) == 16  # a u128: never negative
            assert decode_amount(v) > 0  # a zero balance is deleted
            asset = k.decode().rpartition("/")[2]
            supply[asset] = supply.get(asset, 0) + decode_amount(v)
    for k, v in w.state.items():
        if k.startswith(ASSET):
            asset = pb.Asset.FromString(v)
            outstanding = amount_of(asset, "issued") - amount_of(asset, "redeemed")
            assert supply.pop(asset.code, 0) == outstanding, asset.code
            assert outstanding <= AMOUNT_MAX
    assert not supply  # no balance in an unregistered asset


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    blocks=st.lists(
        st.tuples(st.lists(tx_plans, min_size=1, max_size=6), st.integers(0, 20 * 3_600_000)),
        min_size=1,
        max_size=8,
    )
)
def test_invariants_hold_over_random_blocks(
    blocks: list[tuple[list[tuple[str, Any]], int]],
) -> None:
    w = World(copy.deepcopy(GENESIS))
    model = Model(w)
    sent: list[bytes] = []
    trail: list[tuple[list[bytes], int, Any]] = []
    for plans, advance in blocks:
        txs = []
        for plan in plans:
            raw = build(w, plan, sent)
            txs.append(raw)
            sent.append(raw)
        result = w.block(*txs, time_ms=w.time_ms + advance)
        assert len(result.receipts) == len(txs)
        for raw, receipt in zip(txs, result.receipts, strict=True):
            if receipt.code == pb.OK:
                model.apply(raw)
        assert model.balances == w.balances()
        check_invariants(w)
        recorded = [
            pb.ReserveInflow.FromString(v)
            for k, v in sorted(w.state.items())
            if k.startswith(b"inflow/reserve/")
        ]
        inflows = [(r.kind, r.source, r.asset, amount_of(r)) for r in reversed(recorded)]
        assert inflows == model.inflows
        trail.append((txs, w.time_ms, result))

    # Determinism: a fresh ledger (cold caches) fed the same blocks agrees byte for byte.
    again = World(copy.deepcopy(GENESIS))
    for txs, time_ms, result in trail:
        replayed = again.block(*txs, time_ms=time_ms)
        assert replayed.writes == result.writes
        assert replayed.receipts == result.receipts
        assert replayed.app_hash == result.app_hash
    assert again.state == w.state
    assert again.app_hash == w.app_hash
