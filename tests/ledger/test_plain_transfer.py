"""The plain-transfer fast path (node/ledger/_transfer.py `plain_transfer`) gives exactly
what the general path gives: the same receipts (code, message, rule, accounts), the same
writes and app hash, the same check_tx answers (the state keys it read included), and a
refused or check-only run changes nothing in committed state."""

from __future__ import annotations

import random
from typing import Any

import pytest
from ledger_world import TIER1, World, account_doc, genesis_doc, make_genesis, random_payment_ids

from node.ledger import _transfer
from node.ledger.txbuild import transfer
from proto import ledger_pb2 as pb

PERSON = "11" * 32


def _doc() -> dict[str, Any]:
    """The shared world plus customers and merchants of both tiers and zones, a person
    with two accounts, all funded with KZT, and a CRYPTOCITY stablecoin with a rate."""
    doc = genesis_doc()
    funded = {"balances": {"KZT": str(300_000_00)}}
    doc["accounts"] += [
        account_doc("t1-a", "CUSTOMER", kyc_tier=1, **funded),
        account_doc("t1-b", "CUSTOMER", kyc_tier=1, **funded),
        account_doc("t1-city", "CUSTOMER", "CRYPTOCITY", kyc_tier=1, **funded),
        account_doc("t2-a", "CUSTOMER", kyc_tier=2, **funded),
        account_doc("t2-b", "CUSTOMER", kyc_tier=2, **funded),
        account_doc("shop", "MERCHANT", kyc_tier=1, **funded),
        account_doc("p-one", "CUSTOMER", kyc_tier=1, person_ref=PERSON, **funded),
        account_doc("p-two", "CUSTOMER", kyc_tier=1, person_ref=PERSON, **funded),
    ]
    doc["accounts"][-6]["balances"] = {"KZT": str(300_000_00), "USDT": str(300 * 10**6)}
    doc["accounts"].append(
        account_doc("city-shop", "MERCHANT", "CRYPTOCITY", kyc_tier=1, balances={"USDT": "5"})
    )
    for bank in doc["accounts"][1:3]:
        bank["balances"] = {"KZT": str(10**12)}
    doc["assets"].append(
        {
            "code": "USDT",
            "decimals": 6,
            "issuer": "halyk",
            "kind": "STABLECOIN",
            "payment_zones": ["CRYPTOCITY"],
        }
    )
    doc["rulebook"] = {"rates": {"USDT": 50_000}}
    return doc


ACCOUNTS = [a["account_id"] for a in _doc()["accounts"]]
AMOUNTS = [
    1,
    10_000_00,
    45_000_00,
    45_000_00,
    TIER1["per_payment"] + 1,
    250_000_00,
    400_000_00,
    10**13,
]


def _blocks(seed: int) -> list[list[tuple[str, Any]]]:
    """(signer, kind) per tx per block: mostly one-leg KZT payments between any two
    accounts (unknown ones too), some with two legs, a freeze, a closed-role payee...;
    many carry payment ids, a few malformed ones."""
    rnd = random.Random(seed)
    ids_rnd = random.Random(f"ids-{seed}")  # its own stream: the payments stay as they were
    blocks: list[list[tuple[str, Any]]] = []
    for height in range(1, 9):
        txs: list[tuple[str, Any]] = []
        for _ in range(rnd.randint(4, 14)):
            payer, payee = rnd.sample([*ACCOUNTS, "nobody"], 2)
            if payer == "nobody":
                payer = "t1-a"
            amount = rnd.choice(AMOUNTS)
            legs = [(payer, payee, rnd.choice(["KZT"] * 5 + ["USDT"]), amount)]
            if rnd.random() < 0.15:
                legs.append((payer, rnd.choice(ACCOUNTS), "KZT", 1))
                if legs[1][1] == payer:
                    legs.pop()
            ids = random_payment_ids(ids_rnd)
            if ids is not None:
                legs[0] = (*legs[0], ids)
            txs.append((payer, transfer(*legs)))
        if height == 3:
            txs.append(("afm", pb.Freeze(account_id="t2-b", legal_ref="court 7")))
        blocks.append(txs)
    return blocks


def _run(seed: int, *, fast: bool, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    settled: list[bool] = []
    plain = _transfer.plain_transfer

    def counted(*args: Any) -> list[str] | None:
        out = plain(*args) if fast else None
        settled.append(out is not None)
        return out

    monkeypatch.setattr(_transfer, "plain_transfer", counted)
    world = World(make_genesis(_doc()))
    history: list[Any] = []
    for txs in _blocks(seed):
        raws = [world.tx(signer, kind) for signer, kind in txs]
        before = dict(world.state)
        checks = [world.ledger.check_tx(raw, next_height=world.height + 1) for raw in raws]
        assert world.state == before  # check_tx never writes
        result = world.block(*raws)
        receipts = [
            (r.code, r.message, r.rule, list(r.accounts), r.carries_payment_ids)
            for r in result.receipts
        ]
        history.append((checks, receipts, result.writes, result.app_hash))
    history.append(sorted(world.state.items()))
    history.append(sum(settled) if fast else None)
    return history


@pytest.mark.parametrize("seed", range(6))
def test_the_fast_path_gives_what_the_general_path_gives(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _run(seed, fast=True, monkeypatch=monkeypatch)
    general = _run(seed, fast=False, monkeypatch=monkeypatch)
    assert fast[:-1] == general[:-1]
    assert fast[-1] > 0  # the fast path did settle payments
    codes = {code for checks, receipts, _, _ in general[:-2] for code, *_ in receipts}
    assert {pb.OK, pb.INSUFFICIENT_FUNDS, pb.LIMIT_PER_PAYMENT, pb.LIMIT_HOLDING_CAP} <= codes


def test_check_tx_and_a_refused_payment_change_no_committed_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World(make_genesis(_doc()))
    state = dict(world.state)
    too_much = world.tx("t2-a", transfer(("t2-a", "t2-b", "KZT", 10**13)))
    first_time = world.tx("t1-a", transfer(("t1-a", "kaspi", "KZT", 5)))  # kaspi gains
    for raw in (too_much, first_time):
        assert world.ledger.check_tx(raw, next_height=1).code in (pb.OK, pb.INSUFFICIENT_FUNDS)
    assert world.state == state
    receipt = world.block(too_much).receipts[0]
    assert receipt.code == pb.INSUFFICIENT_FUNDS
    changed = {key for key in world.state if world.state[key] != state.get(key)}
    assert all(key.startswith((b"seen/", b"incl/")) for key in changed)
