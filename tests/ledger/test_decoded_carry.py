"""Carrying decoded transactions from admission to execution (node/ledger/_decoded.py)
changes no verdict: a ledger that keeps what admission decoded and one that decodes at
every step give the same CheckResults, receipts, writes, app hashes and tx kinds, on
seeded random blocks of payments and other kinds, with envelopes that are malformed,
badly signed, re-signed with junk around a pending body, or never admitted at all."""

from __future__ import annotations

import random

import pytest
from ledger_world import World, make_genesis
from test_check_fast_path import VersionedState, _doc, _txs, _world

from node.ledger import Ledger
from node.ledger._decoded import DecodedTxs, decode_tx
from proto import ledger_pb2 as pb


def _twin(world: World) -> World:
    """A world with the same state whose ledger keeps nothing decoded."""
    twin = World(make_genesis(_doc()))
    twin.state = (
        VersionedState(world.state)
        if isinstance(world.state, VersionedState)
        else dict(world.state)
    )
    twin.ledger = Ledger(twin.genesis, twin.state, decoded_entries=0)
    twin.height, twin.time_ms, twin.app_hash = world.height, world.time_ms, world.app_hash
    return twin


def _junk_copy(raw: bytes) -> bytes:
    """raw's body in an envelope whose signature does not verify (a griefer's copy)."""
    envelope = pb.TxEnvelope.FromString(raw)
    if envelope.signatures:
        envelope.signatures[0].signature = bytes(64)
    return envelope.SerializeToString()


@pytest.mark.parametrize("versioned", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_a_carried_decode_judges_as_a_fresh_one(seed: int, versioned: bool) -> None:
    rnd = random.Random(seed)
    ids_rnd = random.Random(f"ids-{seed}")
    world = _world(versioned)
    twin = _twin(world)
    assert world.app_hash == twin.app_hash
    kinds_seen: set[str] = set()
    for _ in range(6):
        height = world.height + 1
        admitted = list(_txs(world, rnd, ids_rnd))
        for raw in admitted:  # admission: signatures first, then the check (as Admitter)
            world.ledger.remember_signatures(
                world.ledger.verify_detached(world.ledger.unverified([raw]))
            )
            twin.ledger.remember_signatures(
                twin.ledger.verify_detached(twin.ledger.unverified([raw]))
            )
            assert world.ledger.check_tx(raw, next_height=height) == twin.ledger.check_tx(
                raw, next_height=height
            )
        # The block: some admitted, junk copies of admitted bodies, and some never seen.
        block = rnd.sample(admitted, k=max(1, len(admitted) * 2 // 3))
        envelopes = [raw for raw in admitted if decode_tx(raw) is not None]
        block += [_junk_copy(raw) for raw in rnd.sample(envelopes, k=2)]
        block += [*list(_txs(world, rnd, ids_rnd))[:3], b"\x0a\x03abc\x12"]  # the last: no envelope
        rnd.shuffle(block)
        ours, theirs = world.block(*block), twin.block(*block)
        assert ours.receipts == theirs.receipts
        assert ours.writes == theirs.writes
        assert ours.app_hash == theirs.app_hash
        assert ours.kinds == theirs.kinds
        assert len(ours.kinds) == len(block)
        kinds_seen.update(ours.kinds)
    assert world.ledger.decoded.hits > 0  # the carry was used
    assert twin.ledger.decoded.hits == 0
    assert len(twin.ledger.decoded) == 0
    assert {"transfer", "unknown"} <= kinds_seen


def test_kinds_name_what_the_ledger_read() -> None:
    world = _world(False)
    payment = world.tx(
        "t1-a",
        pb.Transfer(legs=[pb.TransferLeg(payer="t1-a", payee="t1-b", asset="KZT", amount=5)]),
    )
    freeze = world.tx("afm", pb.Freeze(account_id="t2-a", legal_ref="court 1"))
    huge = b"\x0a" + b"\xff" * 20_000
    result = world.block(payment, b"\x0a\x03abc\x12", freeze, huge)
    assert result.kinds == ["transfer", "unknown", "freeze", "unknown"]
    assert [r.code for r in result.receipts] == [pb.OK, pb.MALFORMED, pb.OK, pb.TX_TOO_LARGE]


def test_the_store_is_bounded_and_execution_takes_its_entries() -> None:
    world = _world(False)
    raws = [
        world.tx(
            "t1-a",
            pb.Transfer(legs=[pb.TransferLeg(payer="t1-a", payee="t1-b", asset="KZT", amount=1)]),
        )
        for _ in range(5)
    ]
    store = DecodedTxs(max_entries=3)
    for raw in raws:
        assert store.get(raw) == decode_tx(raw)
    assert len(store) == 3  # the two oldest went first
    assert store.take(raws[-1]) == decode_tx(raws[-1])
    assert len(store) == 2
    hits = store.hits
    assert store.take(raws[0]) == decode_tx(raws[0])  # evicted: decoded afresh
    assert store.hits == hits
    assert decode_tx(b"\xff\xff") is None
    body_bad = pb.TxEnvelope(body=b"\xff\xff").SerializeToString()
    bad = decode_tx(body_bad)
    assert bad is not None
    assert bad.body is None
