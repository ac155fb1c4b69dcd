"""node/evidence.py: the pool, block validity of evidence, gossip, validator-set history."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import consensus as cs
from consensus.testing import FakeSigner, FakeVerifier
from node.blocks import BlockCodec, ChainTip, build_block
from node.consensus_codec import encode_evidence, evidence_to_proto
from node.core import validator_set_from_bytes, validator_set_to_bytes
from node.evidence import (
    MAX_GOSSIP_EVIDENCE,
    BlockEvidenceCheck,
    EvidencePool,
    ValidatorSetHistory,
    evidence_from_gossip,
    evidence_gossip,
    evidence_rejection,
    kind_of,
    verify_evidence,
)
from node.genesis import parse_genesis
from node.ledger import Ledger, genesis_app_hash, genesis_state
from node.store import Store
from proto import block_pb2, consensus_pb2, p2p_pb2

CHAIN = "tenge-evidence-test"
SIGNERS = [FakeSigner.numbered(i) for i in range(4)]
OUTSIDER = FakeSigner.numbered(99)
VSET = cs.ValidatorSet({s.public_key: 1 for s in SIGNERS})
PC = cs.VoteType.PRECOMMIT


def vote(signer: FakeSigner, height: int, round_: int, block_hash: bytes) -> cs.Vote:
    sig = signer.sign(cs.vote_sign_bytes(CHAIN, PC, height, round_, block_hash))
    return cs.Vote(PC, height, round_, block_hash, signer.public_key, sig)


def dup(signer: FakeSigner = SIGNERS[0], height: int = 5, round_: int = 0) -> cs.DuplicateVote:
    return cs.DuplicateVote.of(
        vote(signer, height, round_, b"\x01" * 32), vote(signer, height, round_, b"")
    )


def conflicting(signer: FakeSigner = SIGNERS[1], height: int = 5) -> cs.ConflictingProposal:
    def side(value_id: bytes, pol_round: int) -> tuple[cs.Proposal, bytes]:
        sig = signer.sign(cs.proposal_sign_bytes(CHAIN, height, 1, pol_round, value_id))
        return cs.Proposal(height, 1, b"", pol_round, signer.public_key, sig), value_id

    (a, ida), (b, idb) = side(b"\x0a" * 32, -1), side(b"\x0b" * 32, 0)
    return cs.ConflictingProposal.of(a, ida, b, idb)


def judge(
    evidence: list[cs.Evidence | consensus_pb2.Evidence],
    *,
    height: int = 10,
    max_age: int = 5,
    max_items: int = 4,
    sets: dict[int, cs.ValidatorSet] | None = None,
) -> str | None:
    return evidence_rejection(
        evidence,
        height=height,
        validator_set_of={h: VSET for h in range(1, 20)} if sets is None else sets,
        chain_id=CHAIN,
        verifier=FakeVerifier(),
        max_age=max_age,
        max_items=max_items,
    )


# ---- block validity ----------------------------------------------------------------


def test_valid_evidence_of_both_kinds_passes() -> None:
    assert judge([dup(), conflicting()]) is None
    assert judge([evidence_to_proto(dup()), evidence_to_proto(conflicting())]) is None
    assert judge([]) is None
    assert judge([dup(height=10)]) is None  # of the block's own height
    assert judge([dup(height=5)], height=10, max_age=5) is None  # exactly max_age old


def test_expired_evidence_is_refused() -> None:
    assert "older than 5 blocks" in (judge([dup(height=4)], height=10, max_age=5) or "")


def test_evidence_from_a_later_height_is_refused() -> None:
    assert "after block 10" in (judge([dup(height=11)], height=10) or "")


def test_badly_signed_evidence_is_refused() -> None:
    ev = dup()
    forged = dataclasses.replace(ev, vote_b=dataclasses.replace(ev.vote_b, signature=b"\1" * 32))
    assert "BAD_SIGNATURE" in (judge([forged]) or "")
    cp = dataclasses.replace(conflicting(), signature_a=b"\2" * 32)
    assert "BAD_SIGNATURE" in (judge([cp]) or "")


def test_evidence_against_an_unknown_validator_is_refused() -> None:
    assert "UNKNOWN_VALIDATOR" in (judge([dup(OUTSIDER)]) or "")
    # Known now, but not a member of the set of the evidence's own height.
    sets = {h: VSET for h in range(1, 20)}
    sets[5] = cs.ValidatorSet({s.public_key: 1 for s in SIGNERS[1:]})
    assert "UNKNOWN_VALIDATOR" in (judge([dup(SIGNERS[0], height=5)], sets=sets) or "")
    assert "no validator set known" in (judge([dup()], sets={}) or "")


def test_duplicate_evidence_within_a_block_is_refused() -> None:
    ev = dup()
    other_pair = cs.DuplicateVote.of(
        vote(SIGNERS[0], 5, 0, b"\x02" * 32), vote(SIGNERS[0], 5, 0, b"\x03" * 32)
    )
    assert other_pair.key == ev.key
    assert "repeats" in (judge([ev, ev]) or "")
    assert "repeats" in (judge([ev, other_pair]) or "")
    assert judge([ev, dup(round_=1)]) is None


def test_too_much_evidence_is_refused() -> None:
    many: list[cs.Evidence | consensus_pb2.Evidence] = [dup(round_=r) for r in range(5)]
    assert "5 pieces of evidence exceed 4" in (judge(many, max_items=4) or "")
    assert judge(many[:4], max_items=4) is None


def test_undecodable_or_non_canonical_evidence_is_refused() -> None:
    assert "does not decode" in (judge([consensus_pb2.Evidence()]) or "")
    empty_votes = evidence_to_proto(dup())
    empty_votes.duplicate_vote.vote_a.Clear()
    assert "does not decode" in (judge([empty_votes]) or "")
    swapped = evidence_to_proto(dup())
    a = consensus_pb2.Vote()
    a.CopyFrom(swapped.duplicate_vote.vote_a)
    swapped.duplicate_vote.vote_a.CopyFrom(swapped.duplicate_vote.vote_b)
    swapped.duplicate_vote.vote_b.CopyFrom(a)
    assert "canonical" in (judge([swapped]) or "")


def test_verify_evidence_is_the_gossip_check() -> None:
    kwargs = {"validator_set_of": {5: VSET}, "chain_id": CHAIN, "verifier": FakeVerifier()}
    assert verify_evidence(dup(), height=6, max_age=10, **kwargs) is None  # type: ignore[arg-type]
    assert verify_evidence(dup(), height=6, max_age=0, **kwargs) is not None  # type: ignore[arg-type]
    history = ValidatorSetHistory([(5, VSET)])
    assert (
        verify_evidence(
            dup(),
            height=5,
            max_age=1,
            validator_set_of=history,
            chain_id=CHAIN,
            verifier=FakeVerifier(),
        )
        is None
    )


# ---- blocks carry evidence ----------------------------------------------------------

TIP = ChainTip(4, b"\x04" * 32, b"\xaa" * 32, 1_000, b"\x0f" * 32)


def _codec(check: BlockEvidenceCheck | None) -> BlockCodec:
    return BlockCodec(
        chain_id=CHAIN,
        tip=lambda: TIP,
        max_block_bytes=100_000,
        max_block_txs=10,
        verify_last_commit=lambda cert: True,
        evidence_check=check,
    )


def _block(evidence: list[cs.Evidence]) -> bytes:
    cert = consensus_pb2.CommitCertificate(height=4, round=0, block_hash=TIP.block_hash)
    return build_block(
        chain_id=CHAIN,
        tip=TIP,
        txs=[],
        proposer=SIGNERS[0].public_key,
        now_ms=2_000,
        last_commit=cert,
        evidence=evidence,
    )


def test_block_codec_judges_the_evidence_a_block_carries() -> None:
    check = BlockEvidenceCheck(
        CHAIN, FakeVerifier(), max_age=3, validator_set_of={h: VSET for h in range(1, 6)}
    )
    raw = _block([dup(height=4), conflicting(height=3)])
    assert [e.WhichOneof("kind") for e in block_pb2.Block.FromString(raw).evidence] == [
        "duplicate_vote",
        "conflicting_proposal",
    ]
    assert _codec(check).rejection(5, raw, 2_000) is None
    expired = _block([dup(height=1)])
    assert "older than 3 blocks" in (_codec(check).rejection(5, expired, 2_000) or "")
    # A codec without an evidence check refuses any evidence, accepts none.
    assert _codec(None).rejection(5, raw, 2_000) is not None
    assert _codec(None).rejection(5, _block([]), 2_000) is None


# ---- the pool -------------------------------------------------------------------------


def test_pool_dedups_by_key_and_lists_oldest_first() -> None:
    pool = EvidencePool(max_age=10, max_size=10)
    first, second = dup(round_=0), conflicting()
    assert pool.add(first)
    assert not pool.add(first)
    same_key = cs.DuplicateVote.of(
        vote(SIGNERS[0], 5, 0, b"\x07" * 32), vote(SIGNERS[0], 5, 0, b"\x08" * 32)
    )
    assert not pool.add(same_key)
    assert pool.add(second)
    assert len(pool) == 2
    assert first.key in pool
    assert pool.pending() == [first, second]
    assert pool.pending(1) == [first]


def test_pool_is_bounded() -> None:
    pool = EvidencePool(max_age=10, max_size=3)
    added = [pool.add(dup(round_=r)) for r in range(5)]
    assert added == [True, True, True, False, False]
    assert [e.round for e in pool.pending()] == [0, 1, 2]


def test_pool_forgets_committed_evidence_and_refuses_it_again() -> None:
    pool = EvidencePool(max_age=10)
    ev, other = dup(), conflicting()
    pool.add(ev)
    pool.add(other)
    pool.mark_committed([ev.key])
    assert pool.pending() == [other]
    assert not pool.add(ev)  # a re-gossiped copy of committed evidence
    # Committed elsewhere before this node saw it: refused too.
    late = dup(round_=3)
    pool.mark_committed([late.key])
    assert not pool.add(late)


def test_pool_prunes_expired_evidence() -> None:
    pool = EvidencePool(max_age=5)
    old, young = dup(height=3), dup(height=6)
    pool.add(old)
    pool.add(young)
    pool.prune(8)  # 8 - 3 = 5: still allowed in block 8
    assert pool.pending() == [old, young]
    pool.prune(9)
    assert pool.pending() == [young]
    committed_old = dup(SIGNERS[2], height=2)
    pool.mark_committed([committed_old.key])
    pool.prune(9)
    assert pool.add(committed_old)  # the memory of expired keys is bounded by age too


# ---- gossip and history --------------------------------------------------------------


def test_gossip_round_trips_and_counts_garbage() -> None:
    evidence: list[cs.Evidence] = [dup(round_=r) for r in range(MAX_GOSSIP_EVIDENCE + 1)]
    envelopes = evidence_gossip(evidence)
    assert [len(e.evidence.evidence) for e in envelopes] == [MAX_GOSSIP_EVIDENCE, 1]
    wire = p2p_pb2.Envelope.FromString(envelopes[0].SerializeToString())
    decoded, bad = evidence_from_gossip(wire.evidence)
    assert (decoded, bad) == (evidence[:MAX_GOSSIP_EVIDENCE], 0)
    junk = p2p_pb2.EvidenceGossip(evidence=[b"\xff\x00junk", encode_evidence(conflicting())])
    decoded, bad = evidence_from_gossip(junk)
    assert (decoded, bad) == ([conflicting()], 1)
    too_long = p2p_pb2.EvidenceGossip(evidence=[encode_evidence(dup())] * (MAX_GOSSIP_EVIDENCE + 2))
    assert evidence_from_gossip(too_long)[1] == 2
    assert kind_of(dup()) == "duplicate_vote"
    assert kind_of(conflicting()) == "conflicting_proposal"


def test_validator_set_history_answers_by_height_and_prunes() -> None:
    small = cs.ValidatorSet({s.public_key: 1 for s in SIGNERS[:3]})
    history = ValidatorSetHistory()
    assert history.at(1) is None
    for height in range(1, 6):
        history.record(height, VSET)
    for height in range(6, 9):
        history.record(height, small)
    assert [history(h) for h in (0, 1, 5, 6, 8, 9)] == [None, VSET, VSET, small, small, None]
    with pytest.raises(ValueError, match="not after"):
        history.record(8, small)
    history.prune(4)
    assert [history.at(h) for h in (3, 4, 5, 6)] == [None, VSET, VSET, small]
    history.prune(7)
    assert [history.at(h) for h in (6, 7, 8)] == [None, small, small]


def test_history_loads_from_the_store_validator_sets(tmp_path: Path) -> None:
    small = cs.ValidatorSet({s.public_key: 1 for s in SIGNERS[:3]})
    with Store(tmp_path / "db") as store:
        sets = [(1, VSET), (2, VSET), (3, small)]
        store.init_genesis(
            b"g" * 32,
            [(b"evby/x", b"1"), (b"evby/y", b"2"), (b"evid/z", b"3")],
            b"a" * 32,
            validator_sets=[(h, validator_set_to_bytes(v)) for h, v in sets],
        )
        loaded = [(h, validator_set_from_bytes(raw)) for h, raw in store.iter_validator_sets(2)]
        assert loaded == sets[1:]
        history = ValidatorSetHistory(loaded)
        assert [history.at(h) for h in (1, 2, 3, 4)] == [None, VSET, small, None]
        assert list(store.iter_state(b"evby/", start=b"evby/y")) == [(b"evby/y", b"2")]
        assert list(store.iter_state(b"evby/", start=b"evby/z")) == []
        assert list(store.iter_state(b"evby/", start=b"a")) == [
            (b"evby/x", b"1"),
            (b"evby/y", b"2"),
        ]


def test_the_wiring_from_pool_to_block_to_ledger_and_back() -> None:
    """The calls the node core makes, in order (see the report to the lead)."""
    ledger, state, app_hash = _ledger()
    history = ValidatorSetHistory((h, VSET) for h in range(1, 6))
    check = BlockEvidenceCheck(CHAIN, FakeVerifier(), max_age=3, validator_set_of=history)
    pool = EvidencePool(max_age=3)
    # Engine ReportEvidence (verified) and gossip (verified here) go into the pool.
    assert pool.add(dup(height=4))
    gossiped, bad = evidence_from_gossip(evidence_gossip([conflicting(height=2)])[0].evidence)
    assert bad == 0
    assert (
        verify_evidence(
            gossiped[0],
            height=5,
            validator_set_of=history,
            chain_id=CHAIN,
            verifier=FakeVerifier(),
            max_age=3,
        )
        is None
    )
    assert pool.add(gossiped[0])
    # The proposer of height 5 prunes, then builds with what is pending.
    pool.prune(5)
    raw = _block(pool.pending())
    assert _codec(check).rejection(5, raw, 2_000) is None
    # Commit: the ledger records the block's evidence; the pool forgets it.
    block = block_pb2.Block.FromString(raw)
    result = ledger.execute_block(
        height=5,
        time_ms=2_000,
        txs=[],
        prev_app_hash=app_hash,
        evidence=[e.SerializeToString() for e in block.evidence],
    )
    assert result.app_hash != app_hash
    state.update((k, v) for k, v in result.writes if v is not None)
    assert [kind_of(e) for e in result.evidence] == ["duplicate_vote", "conflicting_proposal"]
    pool.mark_committed(e.key for e in result.evidence)
    pool.prune(6)
    assert pool.pending() == []
    assert not pool.add(dup(height=4))


def _ledger() -> tuple[Ledger, dict[bytes, bytes], bytes]:
    nbk = FakeSigner.numbered(50).public_key.hex()
    genesis = parse_genesis(
        {
            "chain_id": CHAIN,
            "genesis_time_ms": 0,
            "validators": [{"public_key": SIGNERS[0].public_key.hex(), "power": 1}],
            "accounts": [
                {
                    "account_id": "nbk",
                    "role": "CENTRAL_BANK",
                    "zone": "NATIONAL",
                    "public_keys": [nbk],
                }
            ],
            "assets": [
                {
                    "code": "KZT",
                    "decimals": 2,
                    "issuer": "nbk",
                    "kind": "CBDC",
                    "payment_zones": ["NATIONAL", "CRYPTOCITY"],
                }
            ],
        }
    )
    state = dict(genesis_state(genesis))
    return Ledger(genesis, state), state, genesis_app_hash(genesis)
