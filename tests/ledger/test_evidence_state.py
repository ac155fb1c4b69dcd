"""Executing a block records its evidence in state (so in the app hash); repeats are ignored;
`list_evidence` lists it newest first, paginated, over a real LevelDB store."""

from __future__ import annotations

from pathlib import Path

import pytest
from ledger_world import World

import consensus as cs
from consensus.testing import FakeSigner
from node.consensus_codec import encode_evidence, evidence_to_proto
from node.ledger import evidence_cursor, get_evidence, list_evidence
from node.store import BlockCommit, Store

CHAIN = "tenge-test-1"
SIGNER = FakeSigner.numbered(0)


def dup(height: int, round_: int = 0) -> cs.DuplicateVote:
    def vote(block_hash: bytes) -> cs.Vote:
        sig = SIGNER.sign(
            cs.vote_sign_bytes(CHAIN, cs.VoteType.PREVOTE, height, round_, block_hash)
        )
        return cs.Vote(cs.VoteType.PREVOTE, height, round_, block_hash, SIGNER.public_key, sig)

    return cs.DuplicateVote.of(vote(b"\x01" * 32), vote(b""))


def conflicting(height: int) -> cs.ConflictingProposal:
    return cs.ConflictingProposal(
        height, 1, SIGNER.public_key, -1, b"\x0a" * 32, b"s" * 32, 0, b"\x0b" * 32, b"t" * 32
    )


def test_execution_records_evidence_into_state_and_app_hash() -> None:
    plain, with_evidence = World(), World()
    a = plain.block()
    b = with_evidence.block(evidence=[dup(1), encode_evidence(conflicting(1))])
    assert b.evidence == [dup(1), conflicting(1)]
    assert b.app_hash != a.app_hash
    assert len(b.writes) == len(a.writes) + 4  # a record and an index entry each
    assert b.receipts == a.receipts == []
    record = get_evidence(with_evidence.state, dup(1))
    assert record is not None
    assert (record.height, record.index) == (1, 0)
    assert record.evidence == evidence_to_proto(dup(1))
    assert get_evidence(with_evidence.state, dup(2)) is None


def test_a_repeat_in_a_later_block_is_ignored() -> None:
    w = World()
    w.block(evidence=[dup(1)])
    again = w.block(evidence=[dup(1), dup(1, round_=1)])
    assert again.evidence == [dup(1, round_=1)]
    record = get_evidence(w.state, dup(1))
    assert record is not None
    assert record.height == 1  # the first block that committed it
    only_repeat = w.block(evidence=[dup(1)])
    empty = World()
    for _ in range(3):
        reference = empty.block()
    assert only_repeat.evidence == []
    assert len(only_repeat.writes) == len(reference.writes)


def test_replaying_the_same_blocks_gives_the_same_app_hash() -> None:
    one, two = World(), World()
    for w in (one, two):
        w.block(evidence=[conflicting(1)])
        w.block(evidence=[dup(1), conflicting(1)])
    assert one.app_hash == two.app_hash
    assert one.state == two.state


def _commit(store: Store, w: World, evidence: list[cs.Evidence]) -> None:
    result = w.block(evidence=evidence)
    store.commit_block(
        BlockCommit(
            height=w.height,
            block=b"block-%d" % w.height,
            block_hash=b"%032d" % w.height,
            commit=b"cert",
            receipts=result.receipts,
            writes=result.writes,
            app_hash=result.app_hash,
        )
    )


def test_list_evidence_is_newest_first_and_paginated(tmp_path: Path) -> None:
    w = World()
    with Store(tmp_path / "db") as store:
        store.init_genesis(b"g" * 32, sorted(w.state.items()), w.app_hash)
        assert list_evidence(store) == []
        _commit(store, w, [dup(1, 0), dup(1, 1)])
        _commit(store, w, [])
        _commit(store, w, [conflicting(2), dup(1, 0)])  # the repeat is not listed again
        listed = list_evidence(store)
        assert [(r.height, r.index) for r in listed] == [(3, 0), (1, 0), (1, 1)]
        assert listed[0].evidence == evidence_to_proto(conflicting(2))
        page = list_evidence(store, limit=2)
        assert [evidence_cursor(r) for r in page] == ["3-0", "1-0"]
        rest = list_evidence(store, after=evidence_cursor(page[-1]))
        assert [evidence_cursor(r) for r in rest] == ["1-1"]
        assert list_evidence(store, after="1-1") == []
        assert list_evidence(store, limit=0) == []
        for bad in ("x", "1-", "-1", "1-2-3"):
            with pytest.raises(ValueError, match="malformed cursor"):
                list_evidence(store, after=bad)
