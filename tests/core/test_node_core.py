"""The node core as a plain state machine: feed inputs, check the effects (no trio, no disk)."""

from __future__ import annotations

import dataclasses

import pytest

import consensus as cs
from consensus.testing import FakeSigner, FakeVerifier
from node import consensus_codec, core
from node.blocks import ChainTip, build_block, decode_block
from node.keys import KeyPair
from node.ledger.txbuild import build_tx, sign_envelope, transfer, tx_id_of
from proto import ledger_pb2

CHAIN = "core-test"
T0 = 1_767_225_600_000
SIGNERS = [FakeSigner.numbered(i) for i in range(4)]
VSET4 = cs.ValidatorSet({s.public_key: 1 for s in SIGNERS})
VSET1 = cs.ValidatorSet({SIGNERS[0].public_key: 1})
PEERS = ["aa" * 32, "bb" * 32, "cc" * 32]
EMPTY_MS = 1_000


def genesis_tip(vset: cs.ValidatorSet) -> ChainTip:
    return ChainTip(0, b"", b"\xaa" * 32, T0, core.validators_hash(vset))


def make_core(
    vset: cs.ValidatorSet = VSET4, signer: FakeSigner | None = SIGNERS[0], **params: int
) -> core.NodeCore:
    chain = core.ChainState(genesis_tip(vset), None, {1: vset, 2: vset})
    return core.NodeCore(
        chain_id=CHAIN,
        chain=chain,
        verifier=FakeVerifier(),
        signer=signer,
        consensus_params=cs.ConsensusParams(empty_block_interval_ms=EMPTY_MS),
        params=core.CoreParams(empty_block_interval_ms=EMPTY_MS, **params),
    )


def of(effects: list[core.Effect], kind: type) -> list:
    return [e for e in effects if isinstance(e, kind)]


def one(effects: list[core.Effect], kind: type):  # type: ignore[no-untyped-def]
    found = of(effects, kind)
    assert len(found) == 1, f"expected one {kind.__name__} in {effects}"
    return found[0]


def block_at_1(vset: cs.ValidatorSet, payload: bytes = b"") -> bytes:
    txs = [payload] if payload else []
    return build_block(
        chain_id=CHAIN,
        tip=genesis_tip(vset),
        txs=txs,
        proposer=b"p",
        now_ms=T0 + 5,
        last_commit=None,
    )


def certificate(height: int, block_id: bytes, signers: list[FakeSigner]) -> cs.CommitCertificate:
    sign_bytes = cs.vote_sign_bytes(CHAIN, cs.VoteType.PRECOMMIT, height, 0, block_id)
    sigs = tuple(cs.CommitSig(s.public_key, s.sign(sign_bytes)) for s in signers)
    return cs.CommitCertificate(height, 0, block_id, sigs)


def commit_alone(node: core.NodeCore, now: int) -> list[core.Effect]:
    """Drive a one-validator core through proposing and the commit pipeline of one height."""
    effects = node.handle(core.TxsAdmitted(1, now))
    build = one(effects, core.BuildProposal)
    last = consensus_codec.certificate_to_proto(build.last_commit) if build.last_commit else None
    value = build_block(
        chain_id=CHAIN, tip=build.tip, txs=[], proposer=b"p", now_ms=now, last_commit=last
    )
    effects = node.handle(core.ProposalBuilt(build.height, build.round, value, now))
    execute = one(effects, core.ExecuteBlock)
    effects = node.handle(core.BlockExecuted(execute.height, [], [], b"\xbb" * 32, [], now, ()))
    one(effects, core.WriteBlock)
    effects = node.handle(core.BlockWritten(execute.height, now))
    one(effects, core.UpdateMempool)
    return node.handle(core.MempoolUpdated(execute.height, 0, now))


# ---------------------------------------------------------------- proposing


def test_the_proposer_waits_for_transactions_or_the_empty_block_interval() -> None:
    node = make_core(VSET1)
    effects = node.handle(core.NodeStarted(T0))
    assert not of(effects, core.BuildProposal), "round 0 with an empty mempool waits"
    assert not of(node.handle(core.Tick(T0 + EMPTY_MS - 1)), core.BuildProposal)
    build = one(node.handle(core.Tick(T0 + EMPTY_MS)), core.BuildProposal)
    assert (build.height, build.round, build.tip.height) == (1, 0, 0)


def test_admitted_transactions_start_the_proposal_at_once() -> None:
    node = make_core(VSET1)
    node.handle(core.NodeStarted(T0))
    build = one(node.handle(core.TxsAdmitted(3, T0 + 1)), core.BuildProposal)
    assert build.height == 1
    # Only one build is asked for at a time.
    assert not of(node.handle(core.TxsAdmitted(4, T0 + 2)), core.BuildProposal)


def test_the_proposer_collects_transactions_for_the_block_interval() -> None:
    node = make_core(VSET1, block_interval_ms=300, max_block_txs=100)
    node.handle(core.NodeStarted(T0))
    effects = node.handle(core.TxsAdmitted(3, T0 + 10))
    assert not of(effects, core.BuildProposal), "it collects until the interval has passed"
    assert one(effects, core.WakeAt).at_ms == T0 + 300
    # One wake-up per window, however many admissions come meanwhile.
    assert not of(node.handle(core.TxsAdmitted(5, T0 + 20)), core.WakeAt)
    assert not of(node.handle(core.Tick(T0 + 299)), core.BuildProposal)
    build = one(node.handle(core.Tick(T0 + 300)), core.BuildProposal)
    assert (build.height, build.round) == (1, 0)


def test_a_full_block_pending_is_built_without_waiting() -> None:
    node = make_core(VSET1, block_interval_ms=300, max_block_txs=100)
    node.handle(core.NodeStarted(T0))
    effects = node.handle(core.TxsAdmitted(100, T0 + 10))
    assert one(effects, core.BuildProposal).height == 1
    assert not of(effects, core.WakeAt)


def test_an_answer_nobody_asked_for_is_a_bug() -> None:
    node = make_core(VSET1)
    node.handle(core.NodeStarted(T0))
    with pytest.raises(core.NodeCoreError):
        node.handle(core.ProposalBuilt(1, 0, block_at_1(VSET1), T0))
    with pytest.raises(core.NodeCoreError):
        node.handle(core.BlockWritten(1, T0))


# ---------------------------------------------------------------- the commit pipeline


def test_the_commit_pipeline_runs_its_steps_in_order_and_announces_only_when_durable() -> None:
    node = make_core(VSET1)
    node.handle(core.NodeStarted(T0))
    build = one(node.handle(core.TxsAdmitted(1, T0 + 1)), core.BuildProposal)
    value = build_block(
        chain_id=CHAIN, tip=build.tip, txs=[], proposer=b"p", now_ms=T0 + 2, last_commit=None
    )
    effects = node.handle(core.ProposalBuilt(1, 0, value, T0 + 2))
    execute = one(effects, core.ExecuteBlock)
    assert effects[-1] is execute, "execution comes after every engine output of the step"
    assert execute.app_hash == b"\xaa" * 32
    assert not of(effects, core.BlockCommitted)
    with pytest.raises(core.NodeCoreError):
        node.handle(core.BlockWritten(1, T0 + 3))  # written before executed
    update = (SIGNERS[1].public_key, 2)
    effects = node.handle(core.BlockExecuted(1, [], [], b"\xbb" * 32, [update], T0 + 3, ()))
    write = one(effects, core.WriteBlock)
    assert write.validator_sets == ((3, VSET1.apply_updates([update])),)
    assert not of(effects, core.BlockCommitted)
    effects = node.handle(core.BlockWritten(1, T0 + 4))
    mempool = one(effects, core.UpdateMempool)
    assert mempool.next_height == 2
    assert not of(effects, core.BlockCommitted)
    assert node.tip.height == 1
    assert node.tip.app_hash == b"\xbb" * 32
    effects = node.handle(core.MempoolUpdated(1, 0, T0 + 5))
    committed = one(effects, core.BlockCommitted)
    assert (committed.height, committed.block_hash) == (1, node.tip.block_hash)
    assert committed.latency_ms == 3  # from ProposalBuilt to MempoolUpdated
    assert one(effects, core.SendStatus).height == 1
    assert node.engine.height == 2
    assert node.validator_set(3) == VSET1.apply_updates([update])


def test_a_validator_update_consensus_refuses_stops_the_node() -> None:
    node = make_core(VSET1)
    node.handle(core.NodeStarted(T0))
    build = one(node.handle(core.TxsAdmitted(1, T0)), core.BuildProposal)
    value = build_block(
        chain_id=CHAIN, tip=build.tip, txs=[], proposer=b"p", now_ms=T0, last_commit=None
    )
    node.handle(core.ProposalBuilt(1, 0, value, T0))
    removal = (SIGNERS[0].public_key, 0)  # would leave no validator
    with pytest.raises(core.NodeCoreError, match="validator update"):
        node.handle(core.BlockExecuted(1, [], [], b"\xbb" * 32, [removal], T0, ()))


def test_consecutive_heights_carry_the_previous_certificate() -> None:
    node = make_core(VSET1)
    node.handle(core.NodeStarted(T0))
    commit_alone(node, T0 + 1)
    effects = node.handle(core.TxsAdmitted(1, T0 + 10))
    build = one(effects, core.BuildProposal)
    assert build.height == 2
    assert build.last_commit is not None
    assert build.last_commit.height == 1
    assert build.tip.height == 1


# ---------------------------------------------------------------- block sync


def synced_core() -> tuple[core.NodeCore, bytes, cs.CommitCertificate]:
    node = make_core(VSET4, signer=None)
    node.handle(core.NodeStarted(T0))
    value = block_at_1(VSET4)
    cert = certificate(1, node.codec.value_id(value), SIGNERS[:3])
    return node, value, cert


def test_sync_asks_a_peer_that_claims_the_height_and_takes_only_its_answer() -> None:
    node, value, cert = synced_core()
    effects = node.handle(core.StatusReceived(PEERS[0], 1, T0 + 1))
    request = one(effects, core.RequestBlock)
    assert (request.peer, request.height) == (PEERS[0], 1)
    # Someone we did not ask answers first, with junk: ignored, nothing decided.
    junk = block_at_1(VSET4, b"junk")
    effects = node.handle(core.BlockReceived(PEERS[1], 1, junk, cert, T0 + 2))
    assert not of(effects, core.ExecuteBlock)
    assert node.sync.unsolicited == 1
    # The asked peer's good answer is decided.
    effects = node.handle(core.BlockReceived(PEERS[0], 1, value, cert, T0 + 3))
    execute = one(effects, core.ExecuteBlock)
    assert execute.height == 1


def test_a_later_junk_answer_never_overwrites_a_good_one() -> None:
    node, value, cert = synced_core()
    node.handle(core.StatusReceived(PEERS[0], 2, T0 + 1))  # asks for 1 and 2
    node.handle(core.BlockReceived(PEERS[0], 2, b"later", cert, T0 + 2))  # wrong cert: penalty
    effects = node.handle(core.BlockReceived(PEERS[0], 1, value, cert, T0 + 3))
    one(effects, core.ExecuteBlock)
    effects = node.handle(core.BlockReceived(PEERS[0], 1, block_at_1(VSET4, b"x"), cert, T0 + 4))
    assert not of(effects, core.ExecuteBlock)


def test_a_certificate_for_another_block_is_penalised_and_asked_of_another_peer() -> None:
    node, _value, cert = synced_core()
    node.handle(core.StatusReceived(PEERS[0], 1, T0 + 1))
    node.handle(core.StatusReceived(PEERS[1], 1, T0 + 1))
    other = block_at_1(VSET4, b"other")
    effects = node.handle(core.BlockReceived(PEERS[0], 1, other, cert, T0 + 2))
    assert one(effects, core.PeerPenalised).peer == PEERS[0]
    retry = one(effects, core.RequestBlock)
    assert retry.peer == PEERS[1], "the retry goes to another peer"


def test_a_certificate_that_does_not_verify_is_penalised_and_retried_elsewhere() -> None:
    node, value, _ = synced_core()
    forged = certificate(1, node.codec.value_id(value), SIGNERS[:2])  # 2 of 4: no quorum
    node.handle(core.StatusReceived(PEERS[0], 1, T0 + 1))
    node.handle(core.StatusReceived(PEERS[1], 1, T0 + 1))
    effects = node.handle(core.BlockReceived(PEERS[0], 1, value, forged, T0 + 2))
    assert not of(effects, core.ExecuteBlock)
    assert one(effects, core.PeerPenalised).peer == PEERS[0]
    assert one(effects, core.RequestBlock).peer == PEERS[1]


def test_timeouts_rotate_peers_and_a_peer_that_keeps_failing_is_dropped() -> None:
    node, _, _ = synced_core()
    timeout = core.SyncParams().request_timeout_ms
    now = T0
    effects: list[core.Effect] = []
    for peer in PEERS[:2]:
        effects += node.handle(core.StatusReceived(peer, 1, now))
    asked = [r.peer for r in of(effects, core.RequestBlock)]
    dropped: list[str] = []
    for _ in range(8):
        now += timeout + 1
        effects = node.handle(core.Tick(now))
        for peer in PEERS[:2]:  # keep the claims alive
            effects += node.handle(core.StatusReceived(peer, 1, now))
        asked += [r.peer for r in of(effects, core.RequestBlock)]
        dropped += [d.peer for d in of(effects, core.DropPeer)]
    assert asked[:4] == [PEERS[0], PEERS[1], PEERS[0], PEERS[1]], asked
    assert set(dropped) == set(PEERS[:2])


def test_one_peers_word_is_not_enough_to_be_catching_up() -> None:
    node, _value, _cert = synced_core()
    node.handle(core.StatusReceived(PEERS[0], 10**12, T0))
    assert not node.catching_up(T0 + 1), "one peer (f = 1 of 4) cannot make us catch up"
    node.handle(core.StatusReceived(PEERS[1], 10**12, T0))
    assert node.catching_up(T0 + 1), "f + 1 = 2 peers can"


def test_height_claims_expire_and_die_with_the_peer() -> None:
    node, _, _ = synced_core()
    ttl = core.SyncParams().claim_ttl_ms
    for peer in PEERS[:2]:
        node.handle(core.StatusReceived(peer, 10**12, T0))
    assert node.catching_up(T0)
    node.handle(core.PeerGone(PEERS[0], T0 + 1))
    assert not node.catching_up(T0 + 1)
    assert node.catching_up(T0 + 1) is False
    node.handle(core.StatusReceived(PEERS[0], 10**12, T0 + 2))
    assert node.catching_up(T0 + 2)
    assert not node.catching_up(T0 + ttl + 1), "claims expire"


def test_verified_sync_progress_counts_with_a_single_peer() -> None:
    node, value, cert = synced_core()
    node.handle(core.StatusReceived(PEERS[0], 100, T0 + 1))
    assert not node.catching_up(T0 + 1)
    node.handle(core.BlockReceived(PEERS[0], 1, value, cert, T0 + 2))
    node.handle(core.BlockExecuted(1, [], [], b"\xbb" * 32, [], T0 + 2, ()))
    node.handle(core.BlockWritten(1, T0 + 2))
    effects = node.handle(core.MempoolUpdated(1, 0, T0 + 2))
    assert one(effects, core.BlockCommitted).synced
    assert node.catching_up(T0 + 3), "a verified block from the claimer backs its claim"


def test_block_requests_are_served_only_for_committed_heights() -> None:
    node, _, _ = synced_core()
    assert one(node.handle(core.BlockRequested(PEERS[0], 1)), core.ServeBlock).have is False
    node1 = make_core(VSET1)
    node1.handle(core.NodeStarted(T0))
    commit_alone(node1, T0 + 1)
    assert one(node1.handle(core.BlockRequested(PEERS[0], 1)), core.ServeBlock).have is True
    assert one(node1.handle(core.BlockRequested(PEERS[0], 2)), core.ServeBlock).have is False


def test_regossip_after_a_quiet_second_and_status_every_interval() -> None:
    node = make_core(VSET4)
    node.handle(core.NodeStarted(T0))
    effects = node.handle(core.Tick(T0 + 10))
    assert one(effects, core.SendStatus).peer is None
    assert not of(node.handle(core.Tick(T0 + 20)), core.SendStatus)
    effects = node.handle(core.Tick(T0 + 1_500))
    assert not of(effects, core.SendStatus)
    assert of(effects, core.Relay) or node.engine.gossip_messages() == []
    assert of(node.handle(core.Tick(T0 + 2_100)), core.SendStatus)


def test_a_decided_block_decodes_into_the_execute_step() -> None:
    node, value, cert = synced_core()
    node.handle(core.StatusReceived(PEERS[0], 1, T0))
    execute = one(node.handle(core.BlockReceived(PEERS[0], 1, value, cert, T0)), core.ExecuteBlock)
    block = decode_block(value)
    assert block is not None
    assert execute.time_ms == block.header.time_ms


def test_an_answer_whose_certificate_names_another_block_is_refused_before_it_is_kept() -> None:
    node, _value, _cert = synced_core()
    node.handle(core.StatusReceived(PEERS[0], 3, T0))  # asks for 1, 2 and 3
    wrong = certificate(2, b"\x01" * 32, SIGNERS[:3])
    effects = node.handle(core.BlockReceived(PEERS[0], 2, b"block two", wrong, T0 + 1))
    assert one(effects, core.PeerPenalised).code == "BAD_SYNC_BLOCK"
    assert node.sync.take(2) is None


def test_a_retry_goes_to_a_peer_not_yet_asked_even_when_penalties_are_equal() -> None:
    sync = core.BlockSync()
    sync.on_status(PEERS[0], 5, T0)
    sync.on_status(PEERS[1], 5, T0)
    first = dict((h, p) for p, h in sync.requests(0, T0))
    assert first[1] == PEERS[0]
    timeout = sync.params.request_timeout_ms
    for peer, _code, _detail in sync.expire(0, T0 + timeout + 1):
        sync.penalise(peer)
    sync.verified(PEERS[0], T0 + timeout + 1)  # forgiven: penalties equal again (0, 0)
    sync.on_status(PEERS[0], 5, T0 + timeout + 1)
    sync.on_status(PEERS[1], 5, T0 + timeout + 1)
    retry = dict((h, p) for p, h in sync.requests(0, T0 + timeout + 1))
    assert retry[1] == PEERS[1], "height 1 was asked of PEERS[0] already"


# ---------------------------------------------------------------- evidence


def double_vote(signer: FakeSigner, height: int = 1) -> cs.DuplicateVote:
    votes = []
    for block_hash in (b"\x01" * 32, b"\x02" * 32):
        sign_bytes = cs.vote_sign_bytes(CHAIN, cs.VoteType.PREVOTE, height, 0, block_hash)
        votes.append(
            cs.Vote(
                cs.VoteType.PREVOTE,
                height,
                0,
                block_hash,
                signer.public_key,
                signer.sign(sign_bytes),
            )
        )
    return cs.DuplicateVote.of(votes[0], votes[1])


def test_gossiped_evidence_is_verified_kept_once_and_relayed() -> None:
    node = make_core(VSET4)
    node.handle(core.NodeStarted(T0))
    evidence = double_vote(SIGNERS[2])
    effects = node.handle(core.EvidenceReceived(PEERS[0], (evidence,), 0, T0 + 1))
    assert one(effects, core.GossipEvidence).evidence == (evidence,)
    assert one(effects, cs.ReportEvidence).evidence == evidence
    assert node.evidence_pool.pending() == [evidence]
    again = node.handle(core.EvidenceReceived(PEERS[1], (evidence,), 0, T0 + 2))
    assert not of(again, core.GossipEvidence), "known evidence is not relayed again"


def test_evidence_that_does_not_verify_is_refused_and_counted_against_the_peer() -> None:
    node = make_core(VSET4)
    node.handle(core.NodeStarted(T0))
    good = double_vote(SIGNERS[2])
    forged = cs.DuplicateVote(good.vote_a, dataclasses.replace(good.vote_b, signature=b"x" * 32))
    outsider = double_vote(FakeSigner.numbered(9))
    effects = node.handle(core.EvidenceReceived(PEERS[0], (forged, outsider), 2, T0 + 1))
    penalties = of(effects, core.PeerPenalised)
    assert [p.code for p in penalties] == [core.BAD_EVIDENCE] * 3
    assert not of(effects, core.GossipEvidence)
    assert len(node.evidence_pool) == 0


def test_pending_evidence_goes_into_the_proposal_and_leaves_the_pool_once_committed() -> None:
    node = make_core(VSET1)
    node.handle(core.NodeStarted(T0))
    ev = double_vote(SIGNERS[0])
    node.handle(core.EvidenceReceived(PEERS[0], (ev,), 0, T0))
    build = one(node.handle(core.TxsAdmitted(1, T0 + 1)), core.BuildProposal)
    assert build.evidence == (ev,)
    value = build_block(
        chain_id=CHAIN,
        tip=build.tip,
        txs=[],
        proposer=b"p",
        now_ms=T0 + 1,
        last_commit=None,
        evidence=build.evidence,
    )
    execute = one(node.handle(core.ProposalBuilt(1, 0, value, T0 + 1)), core.ExecuteBlock)
    assert execute.evidence == (consensus_codec.encode_evidence(ev),)
    node.handle(core.BlockExecuted(1, [], [], b"\xbb" * 32, [], T0 + 2, ()))
    node.handle(core.BlockWritten(1, T0 + 2))
    assert len(node.evidence_pool) == 0
    node.handle(core.MempoolUpdated(1, 0, T0 + 2))
    assert not of(
        node.handle(core.EvidenceReceived(PEERS[0], (ev,), 0, T0 + 3)), core.GossipEvidence
    )


def test_evidence_from_a_height_this_node_has_not_reached_is_ignored_not_blamed() -> None:
    node = make_core(VSET4)
    node.handle(core.NodeStarted(T0))
    ahead = double_vote(SIGNERS[2], height=5)
    effects = node.handle(core.EvidenceReceived(PEERS[0], (ahead,), 0, T0 + 1))
    assert not of(effects, core.PeerPenalised), "a peer ahead of us is not lying"
    assert len(node.evidence_pool) == 0, "never proposed before its height"


def test_a_certified_block_is_taken_even_when_this_clock_is_far_behind() -> None:
    node, value, cert = synced_core()
    behind = T0 - 120_000  # two minutes slow: the block time is "in the future" here
    node.handle(core.StatusReceived(PEERS[0], 1, behind))
    effects = node.handle(core.BlockReceived(PEERS[0], 1, value, cert, behind))
    assert one(effects, core.ExecuteBlock).height == 1
    assert not of(effects, core.PeerPenalised)


def test_a_clock_set_back_expires_requests_and_keeps_status_and_gossip_going() -> None:
    node, _, _ = synced_core()
    later = T0 + 100_000
    node.handle(core.StatusReceived(PEERS[0], 1, later))  # asked at the later time
    node.handle(core.StatusReceived(PEERS[1], 1, T0))
    node.handle(core.Tick(later))
    effects = node.handle(core.Tick(T0 + 10))  # the clock went back 100 s
    assert one(effects, core.PeerPenalised).code == "SYNC_TIMEOUT"
    assert one(effects, core.RequestBlock).peer == PEERS[1]
    assert of(effects, core.SendStatus), "status does not wait for the old clock"


def test_only_receipts_that_speak_for_a_tx_take_it_out_of_the_mempool() -> None:
    payer = KeyPair.from_seed(b"\x01" * 32)
    bodies = [
        build_tx(CHAIN, "alice", transfer(("alice", "bob", "KZT", n)), nonce=n, expires_at_height=9)
        for n in (1, 2, 3)
    ]
    txs = [sign_envelope(body, CHAIN, [payer]) for body in bodies]
    ids = [tx_id_of(raw) for raw in txs]
    receipts = [
        ledger_pb2.Receipt(tx_id=ids[0], index=0, code=ledger_pb2.INVALID_SIGNATURE),  # junk
        ledger_pb2.Receipt(
            tx_id=ids[1],
            index=1,
            code=ledger_pb2.OK,
            accounts=["alice", "bob"],
            authorised=True,
            speaks_for_tx=True,
        ),
        ledger_pb2.Receipt(tx_id=ids[2], index=2, code=ledger_pb2.EXPIRED, speaks_for_tx=True),
    ]
    node = make_core(VSET1)
    node.handle(core.NodeStarted(T0))
    build = one(node.handle(core.TxsAdmitted(3, T0 + 1)), core.BuildProposal)
    value = build_block(
        chain_id=CHAIN, tip=build.tip, txs=txs, proposer=b"p", now_ms=T0 + 2, last_commit=None
    )
    one(node.handle(core.ProposalBuilt(1, 0, value, T0 + 2)), core.ExecuteBlock)
    node.handle(core.BlockExecuted(1, receipts, [], b"\xbb" * 32, [], T0 + 3, ("transfer",) * 3))
    update = one(node.handle(core.BlockWritten(1, T0 + 4)), core.UpdateMempool)
    assert update.included == (ids[1], ids[2]), "the junk copy's id must stay pending"
    assert update.written == ()  # what BlockExecuted said the block wrote
