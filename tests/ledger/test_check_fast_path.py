"""Admission's short path for plain payments (`Ledger._check_plain`) answers exactly what
the general path answers (`Ledger._check_general`, and the general path without
`plain_transfer` at all): every field of the CheckResult, the state keys it read and its
debits included, on seeded random transactions over accounts of every role, tier, zone,
person, frozen and closed state, amounts at the limits and balances, and envelopes that
are expired, duplicate, badly signed or malformed. The rulebook it judges under is the one
in force at the checked height, also when a remembered rulebook would be stale."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ledger_world import (
    CHAIN,
    TIER1,
    World,
    account_doc,
    genesis_doc,
    key,
    make_genesis,
    random_payment_ids,
)

from node.ledger import CheckResult, Ledger, _transfer, genesis_app_hash, genesis_state
from node.ledger import _rulebook as rb
from node.ledger._decoded import decode_tx
from node.ledger.txbuild import PaymentIds, build_tx, sign_envelope, transfer
from node.store import BlockCommit, Store
from proto import ledger_pb2 as pb

PERSON = "22" * 32
FUNDS = 300_000_00
NEAR_CAP = TIER1["holding_cap"] - 10_000  # the shop's balance: 10,000 tiyn below its cap


class VersionedState(dict[bytes, bytes]):
    """A dict state with a version that changes on every write (as `Store.state_version`)."""

    version = 0

    @property
    def state_version(self) -> int | None:
        return self.version

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.version += 1
        super().__setitem__(key, value)

    def pop(self, key: bytes, *default: Any) -> Any:
        self.version += 1
        return super().pop(key, *default)


def _doc() -> dict[str, Any]:
    doc = genesis_doc()
    funded = {"balances": {"KZT": str(FUNDS)}}
    doc["accounts"] += [
        account_doc("t1-a", "CUSTOMER", kyc_tier=1, **funded),
        account_doc("t1-b", "CUSTOMER", kyc_tier=1, **funded),
        account_doc(
            "t1-city",
            "CUSTOMER",
            "CRYPTOCITY",
            kyc_tier=1,
            balances={"KZT": str(FUNDS), "USDT": str(300 * 10**6)},
        ),
        account_doc("t2-a", "CUSTOMER", kyc_tier=2, **funded),
        account_doc("t2-b", "CUSTOMER", kyc_tier=2, **funded),
        account_doc("frozen-c", "CUSTOMER", kyc_tier=2, **funded),
        account_doc("shop", "MERCHANT", kyc_tier=1, balances={"KZT": str(NEAR_CAP)}),
        account_doc("shop-2", "MERCHANT", kyc_tier=2),
        account_doc("city-shop", "MERCHANT", "CRYPTOCITY", kyc_tier=1, balances={"USDT": "5"}),
        account_doc("p-one", "CUSTOMER", kyc_tier=1, person_ref=PERSON, **funded),
        account_doc("p-two", "CUSTOMER", kyc_tier=1, person_ref=PERSON, **funded),
    ]
    for bank in doc["accounts"][1:3]:
        bank["balances"] = {"KZT": str(10**12)}
    doc["accounts"][3]["balances"] = {"KZT": str(10**9)}  # treasury
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


ACCOUNTS = [a["account_id"] for a in _doc()["accounts"]] + ["new-c", "nobody"]
PER_PAYMENT = TIER1["per_payment"]
AMOUNTS = [
    1,
    99,
    PER_PAYMENT - 1,
    PER_PAYMENT,
    PER_PAYMENT + 1,
    10_000,  # fills the shop to its cap exactly
    10_001,  # one tiyn past it
    FUNDS - 1,
    FUNDS,
    FUNDS + 1,
    10**13,
    2**64 + 5,  # amount_high set
    2**128 - 1,
]


def _world(versioned: bool) -> World:
    world = World(make_genesis(_doc()))
    if versioned:
        world.state = VersionedState(world.state)
        world.ledger = Ledger(world.genesis, world.state)
    # Block 1: a frozen customer, and an account the bank registers; block 2 closes it.
    setup = [
        world.tx("afm", pb.Freeze(account_id="frozen-c", legal_ref="court 9")),
        world.tx(
            "halyk",
            pb.RegisterAccount(
                account_id="new-c",
                role=pb.CUSTOMER,
                zone=pb.NATIONAL,
                kyc_tier=2,
                public_keys=[key("new-c").public_key],
            ),
        ),
    ]
    assert all(r.code == pb.OK for r in world.block(*setup).receipts)
    closing = world.tx("halyk", pb.CloseAccount(account_id="new-c"))
    assert world.block(closing).receipts[0].code == pb.OK
    return world


def _envelope(world: World, rnd: random.Random, payer: str, kind: Any) -> bytes:
    """A signed envelope of kind, now and then broken in one of the ways admission refuses."""
    signer, keys, expires = payer, [key(payer)], world.height + 1 + rnd.randint(0, 9)
    chain = world.genesis.chain_id
    flaw = rnd.choice(["none"] * 12 + ["key", "bad", "extra", "nokey", "expired", "ttl", "chain"])
    if flaw == "key":
        keys = [key("someone-else")]
    elif flaw == "extra":
        keys = [key(payer), key("t1-b")]
    elif flaw == "nokey":
        keys = []
    elif flaw == "expired":
        expires = world.height
    elif flaw == "ttl":
        expires = world.height + 1000
    elif flaw == "chain":
        chain = "another-chain"
    if rnd.random() < 0.05:
        signer = rnd.choice(ACCOUNTS)  # a signer field that pays on no leg
    body = build_tx(chain, signer, kind, nonce=rnd.randrange(2**32), expires_at_height=expires)
    raw = sign_envelope(body, world.genesis.chain_id, keys)
    if flaw == "bad":  # the payer's key, a signature that does not verify
        envelope = pb.TxEnvelope.FromString(raw)
        envelope.signatures[0].signature = bytes(64)
        raw = envelope.SerializeToString()
    return raw


def _txs(world: World, rnd: random.Random, ids_rnd: random.Random) -> Iterator[bytes]:
    """Mostly one-leg payments between any two accounts (unknown, closed and frozen ones
    too), some in USDT or with two legs, some that are no payment at all; payment ids on
    many legs, a few malformed, and travel copies on a few, drawn from ids_rnd (so the
    payments stay as they were)."""
    for _ in range(rnd.randint(10, 24)):
        payer = rnd.choice(ACCOUNTS)
        payee = rnd.choice(ACCOUNTS)
        asset = rnd.choice(["KZT"] * 6 + ["USDT", "NOPE"])
        legs = [(payer, payee, asset, rnd.choice(AMOUNTS))]
        if rnd.random() < 0.1:
            legs.append((payer, rnd.choice(ACCOUNTS), "KZT", 1))
        if rnd.random() < 0.05:
            legs[0] = (payer, payee, asset, 0)
        ids = random_payment_ids(ids_rnd)
        if ids is not None:
            legs[0] = (*legs[0], ids)
        if ids_rnd.random() < 0.1:  # travel copies: never the short path's to judge
            copies = [pb.TravelCopy(recipient=payee, sealed=b"s" * 60)] * ids_rnd.randint(1, 2)
            legs[0] = (*legs[0][:4], ids or PaymentIds(), copies)
        yield _envelope(world, rnd, payer, transfer(*legs))
    if rnd.random() < 0.3:
        yield _envelope(world, rnd, "nbk", pb.Issue(asset="KZT", to="halyk", amount=5))
    if rnd.random() < 0.2:
        yield b"\x0a\x03abc\x12"  # not an envelope


def _checks(ledger: Ledger, raw: bytes, height: int) -> tuple[CheckResult, CheckResult]:
    return ledger.check_tx(raw, next_height=height), ledger._check_general(
        raw, decode_tx(raw), height
    )


@pytest.mark.parametrize("versioned", [False, True])
@pytest.mark.parametrize("seed", range(8))
def test_the_short_path_answers_what_the_general_path_answers(
    seed: int, versioned: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    rnd = random.Random(seed)
    ids_rnd = random.Random(f"ids-{seed}")
    world = _world(versioned)
    plain = _transfer.plain_transfer
    short = 0
    codes: set[int] = set()
    included: list[bytes] = []
    for _ in range(6):
        height = world.height + 1
        raws = list(_txs(world, rnd, ids_rnd)) + rnd.sample(included, min(2, len(included)))
        for raw in raws:
            fast, general = _checks(world.ledger, raw, height)
            assert fast == general, (fast, general)
            # The general path on its own, without plain_transfer anywhere.
            monkeypatch.setattr(_transfer, "plain_transfer", lambda *_: None)
            assert world.ledger.check_tx(raw, next_height=height) == general
            monkeypatch.setattr(_transfer, "plain_transfer", plain)
            short += world.ledger._check_plain(raw, decode_tx(raw), height) is not None
            codes.add(general.code)
        world.block(*raws)
        included += raws
    assert short > 0  # the short path did answer
    wanted = {
        pb.OK,
        pb.INSUFFICIENT_FUNDS,
        pb.LIMIT_PER_PAYMENT,
        pb.LIMIT_HOLDING_CAP,
        pb.FROZEN,
        pb.ACCOUNT_CLOSED,
        pb.UNKNOWN_ACCOUNT,
        pb.DUPLICATE,
        pb.INVALID_SIGNATURE,
        pb.EXPIRED,
    }
    assert len(wanted & codes) >= 6, sorted(pb.ResultCode.Name(c) for c in codes)


def test_every_seed_together_meets_every_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The seeds above, between them, reach each refusal the short path must leave alone."""
    codes: set[int] = set()
    for seed in range(8):
        rnd = random.Random(seed)
        ids_rnd = random.Random(f"ids-{seed}")
        world = _world(False)
        included: list[bytes] = []
        for _ in range(6):
            raws = list(_txs(world, rnd, ids_rnd)) + rnd.sample(included, min(2, len(included)))
            codes.update(world.ledger.check_tx(r, next_height=world.height + 1).code for r in raws)
            world.block(*raws)
            included += raws
    expected = {
        pb.OK,
        pb.INSUFFICIENT_FUNDS,
        pb.LIMIT_PER_PAYMENT,
        pb.LIMIT_HOLDING_CAP,
        pb.FROZEN,
        pb.ACCOUNT_CLOSED,
        pb.UNKNOWN_ACCOUNT,
        pb.DUPLICATE,
        pb.INVALID_SIGNATURE,
        pb.EXTRA_SIGNATURE,
        pb.MISSING_SIGNATURE,
        pb.EXPIRED,
        pb.TTL_TOO_LONG,
        pb.WRONG_CHAIN_ID,
        pb.MALFORMED,
        pb.INVALID_AMOUNT,
        pb.UNKNOWN_ASSET,
        pb.ASSET_NOT_ALLOWED,
        pb.INVALID_END_TO_END_ID,
        pb.INVALID_UETR,
        pb.INVALID_PURPOSE_CODE,
        pb.INVALID_REMITTANCE,
        pb.INVALID_TRAVEL_RULE,
        pb.NO_TRAVEL_KEY,
    }
    assert expected <= codes, sorted(pb.ResultCode.Name(c) for c in expected - codes)


def test_a_plain_ok_payment_takes_the_short_path_and_reports_its_reads() -> None:
    world = _world(True)
    raw = world.tx("t1-a", transfer(("t1-a", "shop", "KZT", 10_000)))
    checked = world.ledger._check_plain(raw, decode_tx(raw), world.height + 1)
    assert checked is not None
    assert checked.ok
    assert checked == world.ledger._check_general(raw, decode_tx(raw), world.height + 1)
    (debit,) = checked.debits
    assert (debit.account, debit.asset, debit.amount, debit.balance) == (
        "t1-a",
        "KZT",
        10_000,
        FUNDS,
    )
    # The shop is capped: its balance bounds the verdict, so a block that writes it matters.
    assert b"bal/shop/KZT" in checked.reads
    assert debit.key not in checked.reads
    over = world.tx("t1-a", transfer(("t1-a", "shop", "KZT", 10_001)))
    assert world.ledger._check_plain(over, decode_tx(over), world.height + 1) is None
    assert world.ledger.check_tx(over, next_height=world.height + 1).code == pb.LIMIT_HOLDING_CAP


@pytest.mark.parametrize("versioned", [False, True])
def test_the_rulebook_is_the_one_in_force_at_the_checked_height(versioned: bool) -> None:
    """A remembered rulebook is one height's: a change activating at the next height is
    the one a check for that height judges under, though no block wrote anything since."""
    world = _world(versioned)
    limits = pb.SetLimits(kyc_tier=1, per_payment=7, daily_outflow=7, holding_cap=0)
    target = world.height + 6
    assert world.govern(limits, activation_height=target).code == pb.OK
    while world.height < target - 2:
        world.block()
    raw = world.tx("t1-a", transfer(("t1-a", "t1-b", "KZT", 8)))
    before = world.ledger.check_tx(raw, next_height=target - 1)
    at = world.ledger.check_tx(raw, next_height=target)
    again = world.ledger.check_tx(raw, next_height=target - 1)
    assert (before.code, before.rulebook_version) == (pb.OK, 1)
    assert (at.code, at.rulebook_version) == (pb.LIMIT_PER_PAYMENT, 2)
    assert again == before
    assert at == world.ledger._check_general(raw, decode_tx(raw), target)
    # Once committed state changes (the block at target - 1), the new state is read.
    world.block()
    assert world.ledger.check_tx(raw, next_height=target).rulebook_version == 2
    assert world.ledger.rulebook_version_at(target) == 2


def test_a_block_the_store_commits_replaces_the_remembered_rulebook(tmp_path: Path) -> None:
    """Over a real Store (`Store.state_version`): the rulebook admission remembered for a
    height is read again once a block wrote state, here a new active rulebook."""
    genesis = make_genesis(_doc())
    with Store(tmp_path / "db") as store:
        store.init_genesis(b"g" * 32, genesis_state(genesis), genesis_app_hash(genesis))
        ledger = Ledger(genesis, store)
        raw = sign_envelope(
            build_tx(
                CHAIN, "t1-a", transfer(("t1-a", "t1-b", "KZT", 8)), nonce=1, expires_at_height=5
            ),
            CHAIN,
            [key("t1-a")],
        )
        assert ledger.check_tx(raw, next_height=2).rulebook_version == 1
        version = store.state_version
        assert ledger.check_tx(raw, next_height=2).rulebook_version == 1
        assert store.state_version == version  # reads change nothing
        book = ledger.rules_at(2).book
        changed = pb.Rulebook()
        changed.CopyFrom(book)
        changed.version = 2
        del changed.tier_limits[:]
        store.commit_block(
            BlockCommit(
                height=1,
                block=b"",
                block_hash=b"h" * 32,
                commit=b"",
                receipts=[],
                writes=[(rb.ACTIVE, changed.SerializeToString())],
                app_hash=b"a" * 32,
            )
        )
        assert store.state_version != version
        checked = ledger.check_tx(raw, next_height=2)
        assert checked.rulebook_version == 2
        assert checked == ledger._check_general(raw, decode_tx(raw), 2)
