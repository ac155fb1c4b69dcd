"""Hypothesis: KYC-tier limits in KZT-equivalent under random rulebook changes.

Random blocks of payments in KZT and USDT among tier-limited accounts (and from banks to
them), USDT issues, and SetLimits / SetRates by the central bank (now and then by a bank,
which is refused). The test keeps its own model of the rulebook (a change made in block H
joins the pending version, which activates at the block two after the latest change) and
values amounts itself (tiyn per whole USDT, rounded up), so it checks the ledger's
activation and valuation rather than reusing them. After every block:

1. Versions: every receipt of block h names the version the model has active at h, the
   mempool check of a transaction for height h named it too, and `read_rulebooks` shows the
   model's active version and pending change.
2. Holding cap. The ledger judges the cap whenever a balance of an account grows, under
   the rulebook of that block, and never when the account only pays or when the rulebook
   changes; so an account may sit above a cap that later shrank or a rate that later rose.
   The invariant: let R be the rulebook of the last block in which the account received
   (genesis if it never did). Then its holdings, valued at R's rates, are within R's cap
   (if R sets one); and when the rulebook active now has a cap no smaller than R's and a
   rate no larger than R's for every asset it holds, they are within today's cap too.
3. Per payment and daily outflow: what a tier-limited payer sent in an accepted transfer
   (gross, valued at the block's rates) is within the block's per-payment limit, and its
   outflow for that Almaty day, each payment valued at its own block's rates, is within
   the daily limit of the rulebook active in the block where it paid. It paid an asset
   without a rate only if its tier has neither limit (then the asset counts 0).
4. Two nodes: a second ledger, restarted (fresh caches) before every block, fed the same
   blocks gives the same receipts, writes and app hash, so a change activates at exactly
   its height on both.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from ledger_world import World, genesis_doc, key

from node.genesis import parse_genesis
from node.ledger import Ledger, almaty_day, read_rulebooks
from node.ledger.txbuild import propose, transfer, tx_id_of
from proto import genesis_pb2
from proto import ledger_pb2 as pb

M = 100
USDT = 1_000_000
RATE = 500 * M
TIER1 = {"per_payment": 50_000 * M, "daily_outflow": 80_000 * M, "holding_cap": 500_000 * M}
TIER2 = {"per_payment": 100_000 * M, "daily_outflow": 150_000 * M, "holding_cap": 1_000_000 * M}

#: account -> (kyc tier, genesis balances); all CRYPTOCITY, so each may hold USDT.
LIMITED: dict[str, tuple[str, int, dict[str, int]]] = {
    "c1.halyk": ("CUSTOMER", 1, {"KZT": 100_000 * M, "USDT": 200 * USDT}),
    "c2.halyk": ("CUSTOMER", 1, {"KZT": 300_000 * M}),
    "c3.kaspi": ("CUSTOMER", 2, {"KZT": 200_000 * M, "USDT": 500 * USDT}),
    "m1.kaspi": ("MERCHANT", 2, {"KZT": 100_000 * M, "USDT": 1_000 * USDT}),
}
BANKS = ["halyk", "kaspi"]
PAYEES = [*LIMITED, *BANKS]


def _genesis() -> genesis_pb2.Genesis:
    doc: dict[str, Any] = genesis_doc()
    doc["limits"] = [
        {"kyc_tier": 1, **{k: str(v) for k, v in TIER1.items()}},
        {"kyc_tier": 2, **{k: str(v) for k, v in TIER2.items()}},
    ]
    doc["accounts"][1]["balances"] = {"KZT": str(50_000_000 * M), "USDT": str(10**6 * USDT)}
    doc["accounts"][2]["balances"] = {"KZT": str(50_000_000 * M), "USDT": str(10**6 * USDT)}
    for account_id, (role, tier, balances) in LIMITED.items():
        doc["accounts"].append(
            {
                "account_id": account_id,
                "role": role,
                "zone": "CRYPTOCITY",
                "kyc_tier": tier,
                "public_keys": [key(account_id).public_key.hex()],
                "balances": {code: str(amount) for code, amount in balances.items()},
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
    doc["rulebook"] = {"rates": {"USDT": str(RATE)}}
    return parse_genesis(doc)


GENESIS = _genesis()


# ---------------------------------------------------------------- the model


@dataclass
class Book:
    """The model's rulebook: version, tier -> (per payment, daily, cap), USDT rate."""

    version: int
    limits: dict[int, tuple[int, int, int]]
    rates: dict[str, int]
    activation: int = 0

    def value(self, asset: str, amount: int) -> int | None:
        if asset == "KZT":
            return amount
        rate = self.rates.get(asset)
        return None if rate is None else (amount * rate + USDT - 1) // USDT

    def holdings(self, balances: dict[str, int]) -> int | None:
        total = 0
        for asset, amount in balances.items():
            value = self.value(asset, amount) if amount else 0
            if value is None:
                return None
            total += value
        return total


@dataclass
class Model:
    active: Book
    pending: Book | None = None
    received_under: dict[str, Book] = field(default_factory=dict)
    outflow: dict[tuple[str, int], int] = field(default_factory=dict)

    def book_at(self, height: int) -> Book:
        """The rulebook the block at height is judged under (promoting the pending one)."""
        if self.pending is not None and self.pending.activation <= height:
            return self.pending
        return self.active

    def start_block(self, height: int) -> Book:
        self.active = self.book_at(height)
        if self.pending is self.active:
            self.pending = None
        return self.active

    def change(self, height: int, body: pb.Propose) -> None:
        """An approved change: it joins the pending version, active two blocks later."""
        base = self.pending or self.active
        new = Book(
            version=base.version if self.pending else self.active.version + 1,
            limits=dict(base.limits),
            rates=dict(base.rates),
            activation=height + 2,
        )
        if body.WhichOneof("action") == "set_limits":
            m = body.set_limits
            new.limits[m.kyc_tier] = (m.per_payment, m.daily_outflow, m.holding_cap)
        else:
            for rate in body.set_rates.rates:
                if rate.tiyn_per_unit:
                    new.rates[rate.asset] = rate.tiyn_per_unit
                else:
                    new.rates.pop(rate.asset, None)
        self.pending = new


def model_of(genesis: genesis_pb2.Genesis) -> Model:
    book = Book(
        version=1,
        limits={
            t.kyc_tier: (t.per_payment, t.daily_outflow, t.holding_cap)
            for t in genesis.rulebook.tier_limits
        },
        rates={r.asset: r.tiyn_per_unit for r in genesis.rulebook.rates},
    )
    return Model(active=book, received_under=dict.fromkeys(LIMITED, book))


def same_book(stored: pb.Rulebook, book: Book) -> bool:
    return (
        stored.version == book.version
        and stored.activation_height == book.activation
        and {
            t.kyc_tier: (t.per_payment, t.daily_outflow, t.holding_cap) for t in stored.tier_limits
        }
        == book.limits
        and {r.asset: r.tiyn_per_unit for r in stored.rates} == book.rates
    )


# ---------------------------------------------------------------- plans

LIMIT_VALUES = st.sampled_from([0, 10_000 * M, 50_000 * M, 100_000 * M, 300_000 * M, 1_000_000 * M])
RATES = st.sampled_from([0, 50 * M, 250 * M, 500 * M, 1_000 * M, 2_500 * M])


@st.composite
def payment(draw: st.DrawFn) -> tuple[str, Any]:
    def leg(payers: list[str]) -> Any:
        payer = draw(st.sampled_from(payers))
        payee = draw(st.sampled_from([p for p in PAYEES if p != payer]))
        asset = draw(st.sampled_from(["KZT", "USDT"]))
        if asset == "KZT":
            amount = draw(st.integers(1, 60_000 * M))
        else:
            amount = draw(st.integers(1, 150 * USDT))
        return (payer, payee, asset, amount)

    legs = [leg([*LIMITED, *LIMITED, *BANKS])]
    if draw(st.integers(0, 4)) == 0:
        legs.append(leg([*LIMITED, *BANKS]))
    return "transfer", legs


@st.composite
def usdt_issue(draw: st.DrawFn) -> tuple[str, Any]:
    return "issue", (draw(st.sampled_from(list(LIMITED))), draw(st.integers(1, 500 * USDT)))


@st.composite
def change(draw: st.DrawFn) -> tuple[str, Any]:
    signer = draw(st.sampled_from(["nbk"] * 5 + ["halyk"]))
    if draw(st.booleans()):
        limits = (
            draw(st.sampled_from([1, 2])),
            draw(LIMIT_VALUES),
            draw(LIMIT_VALUES),
            draw(LIMIT_VALUES),
        )
        return "set_limits", (signer, limits)
    return "set_rates", (signer, draw(RATES))


plans = st.one_of(payment(), payment(), payment(), usdt_issue(), change(), change())
ADVANCE = st.sampled_from([1000, 1000, 1000, 3_600_000, 12 * 3_600_000])


def build(w: World, plan: tuple[str, Any]) -> bytes:
    kind, p = plan
    if kind == "transfer":
        payers = list(dict.fromkeys(leg[0] for leg in p))
        return w.tx(payers[0], transfer(*p), keys=[key(a) for a in payers])
    if kind == "issue":
        return w.tx("kaspi", pb.Issue(asset="USDT", to=p[0], amount=p[1]))
    signer, value = p
    if kind == "set_limits":
        tier, per, daily, cap = value
        msg: Any = pb.SetLimits(
            kyc_tier=tier, per_payment=per, daily_outflow=daily, holding_cap=cap
        )
    else:
        msg = pb.SetRates(rates=[pb.ReferenceRate(asset="USDT", tiyn_per_unit=value)])
    return w.tx(signer, propose(msg, expires_at_height=w.height + 10, summary="property"))


def build_block(w: World, plans_: list[tuple[str, Any]]) -> list[bytes]:
    """The block's transactions; a proposed change is approved by the regulator right after."""
    txs = []
    for plan in plans_:
        raw = build(w, plan)
        txs.append(raw)
        if plan[0] in ("set_limits", "set_rates"):
            txs.append(w.tx("afm", pb.Approve(proposal_id=tx_id_of(raw))))
    return txs


# ---------------------------------------------------------------- the checks


def check_payment(model: Model, book: Book, day: int, body: pb.TxBody) -> None:
    """An accepted transfer kept each limited payer within the book's per-payment and
    daily limits."""
    sent: dict[str, int] = {}
    for leg in body.transfer.legs:
        if leg.payer in LIMITED:
            value = book.value(leg.asset, leg.amount)
            if value is None:
                per_payment, daily, _ = book.limits[LIMITED[leg.payer][1]]
                assert not per_payment, f"{leg.payer} paid {leg.asset}, which has no rate"
                assert not daily, f"{leg.payer} paid {leg.asset}, which has no rate"
                value = 0
            sent[leg.payer] = sent.get(leg.payer, 0) + value
    for payer, value in sent.items():
        per_payment, daily, _ = book.limits[LIMITED[payer][1]]
        assert not per_payment or value <= per_payment, (payer, value, per_payment)
        total = model.outflow.get((payer, day), 0) + value
        assert not daily or total <= daily, (payer, day, total, daily)
        model.outflow[(payer, day)] = total


def receivers(body: pb.TxBody) -> set[str]:
    """The accounts whose balance of some asset an accepted transaction grew."""
    if body.WhichOneof("kind") == "issue":
        return {body.issue.to}
    net: dict[tuple[str, str], int] = {}
    for leg in body.transfer.legs:
        net[(leg.payer, leg.asset)] = net.get((leg.payer, leg.asset), 0) - leg.amount
        net[(leg.payee, leg.asset)] = net.get((leg.payee, leg.asset), 0) + leg.amount
    return {account for (account, _), delta in net.items() if delta > 0}


def check_holdings(model: Model, w: World) -> None:
    balances: dict[str, dict[str, int]] = {a: {} for a in LIMITED}
    for (account, asset), amount in w.balances().items():
        if account in balances:
            balances[account][asset] = amount
    now = model.active
    for account, held in balances.items():
        tier = LIMITED[account][1]
        then = model.received_under[account]
        cap_then = then.limits[tier][2]
        if not cap_then:
            continue
        value_then = then.holdings(held)
        assert value_then is not None, (account, held, then)
        assert value_then <= cap_then, (account, held, value_then, cap_then)
        cap_now = now.limits[tier][2]
        rates_not_up = all(
            asset == "KZT" or (asset in now.rates and now.rates[asset] <= then.rates[asset])
            for asset, amount in held.items()
            if amount
        )
        if cap_now >= cap_then and rates_not_up:
            value_now = now.holdings(held)
            assert value_now is not None
            assert value_now <= cap_now, (account, held, value_now, cap_now)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    blocks=st.lists(
        st.tuples(st.lists(plans, min_size=0, max_size=8), ADVANCE),
        min_size=2,
        max_size=12,
    )
)
def test_tier_limits_hold_across_rulebook_changes(
    blocks: list[tuple[list[tuple[str, Any]], int]],
) -> None:
    a = World(copy.deepcopy(GENESIS))
    b = World(copy.deepcopy(GENESIS))
    model = model_of(GENESIS)
    proposals: dict[bytes, pb.Propose] = {}
    for plans_, advance in blocks:
        height = a.height + 1
        expected = model.book_at(height)
        txs = build_block(a, plans_)
        for raw in txs:
            assert a.ledger.check_tx(raw, next_height=height).rulebook_version == expected.version
        time_ms = a.time_ms + advance
        result = a.block(*txs, time_ms=time_ms)
        b.ledger = Ledger(b.genesis, b.state)  # the second node restarts before each block
        again = b.block(*txs, time_ms=time_ms)
        assert again.receipts == result.receipts
        assert again.writes == result.writes
        assert again.app_hash == result.app_hash

        book = model.start_block(height)
        assert book is expected
        if book.activation == height:
            event("a change activates")
        day = almaty_day(time_ms)
        for raw, receipt in zip(txs, result.receipts, strict=True):
            assert receipt.rulebook_version == book.version, receipt.message
            event(pb.ResultCode.Name(receipt.code))
            if receipt.code != pb.OK:
                continue
            body = pb.TxBody.FromString(pb.TxEnvelope.FromString(raw).body)
            kind = body.WhichOneof("kind")
            if kind == "propose":
                proposals[receipt.tx_id] = body.propose
                continue
            if kind == "approve":
                model.change(height, proposals[body.approve.proposal_id])
                continue
            if kind == "transfer":
                check_payment(model, book, day, body)
            for account in receivers(body) & set(LIMITED):
                model.received_under[account] = book
        active, pending = read_rulebooks(a.state.get)
        assert same_book(active, model.active), (active, model.active)
        if model.pending is None:
            assert pending is None
        else:
            assert pending is not None
            assert same_book(pending, model.pending), (pending, model.pending)
        check_holdings(model, a)
    assert a.state == b.state
