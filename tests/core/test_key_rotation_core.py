"""A validator's key rotation in the node core: with a KeyRing holding the old and the new
key, it signs height H + 1 with the old key and H + 2 with the new one, with no gap
(node/core/_keyring.py). A lone validator shows it best: one missed height halts it."""

from __future__ import annotations

import pytest
from test_node_core import CHAIN, T0, make_core, of, one

import consensus as cs
from consensus.testing import FakeSigner
from node import consensus_codec, core
from node.blocks import build_block

OLD = FakeSigner.numbered(0)
NEW = FakeSigner.numbered(7)
ALONE = cs.ValidatorSet({OLD.public_key: 1})
ROTATION = [(OLD.public_key, 0), (NEW.public_key, 1)]


def run_height(
    node: core.NodeCore, now: int, updates: list[tuple[bytes, int]]
) -> core.BuildProposal:
    """Propose, execute (with these validator updates) and commit one height alone; the
    proposal request it answered (its last_commit is the previous height's certificate)."""
    effects = node.handle(core.TxsAdmitted(1, now))
    build = one(effects, core.BuildProposal)
    last = consensus_codec.certificate_to_proto(build.last_commit) if build.last_commit else None
    value = build_block(
        chain_id=CHAIN, tip=build.tip, txs=[], proposer=b"p", now_ms=now, last_commit=last
    )
    execute = one(
        node.handle(core.ProposalBuilt(build.height, build.round, value, now)), core.ExecuteBlock
    )
    node.handle(core.BlockExecuted(execute.height, [], [], b"\xbb" * 32, updates, now, ()))
    node.handle(core.BlockWritten(execute.height, now))
    effects = node.handle(core.MempoolUpdated(execute.height, 0, now))
    one(effects, core.BlockCommitted)
    return build


def test_a_lone_validator_signs_through_its_rotation_without_a_gap() -> None:
    ring = core.KeyRing([OLD, NEW])
    node = make_core(ALONE, ring)  # type: ignore[arg-type]
    node.handle(core.NodeStarted(T0))
    signers = []
    run_height(node, T0 + 10, ROTATION)  # the rotation executes in block 1: set 3 is NEW
    for height in (2, 3, 4):
        build = run_height(node, T0 + 10 * height, [])
        assert build.height == height
        assert build.last_commit is not None
        signers.append([sig.validator for sig in build.last_commit.signatures])
    # Certificates of heights 1, 2 (old set) and 3 (new set).
    assert signers == [[OLD.public_key], [OLD.public_key], [NEW.public_key]]
    assert ring.public_key == NEW.public_key


def test_without_the_new_key_the_lone_validator_stops_at_the_switch() -> None:
    """The same rotation with only the old key: height 3 has no signer the set holds."""
    node = make_core(ALONE, OLD)
    node.handle(core.NodeStarted(T0))
    run_height(node, T0 + 10, ROTATION)
    run_height(node, T0 + 20, [])
    effects = node.handle(core.TxsAdmitted(1, T0 + 30))
    assert not of(effects, core.BuildProposal)


def test_a_ring_selects_the_key_the_set_holds_and_keeps_it_otherwise() -> None:
    ring = core.KeyRing([OLD, NEW])
    assert ring.public_key == OLD.public_key
    assert ring.select(cs.ValidatorSet({NEW.public_key: 1})) == NEW.public_key
    assert ring.sign(b"m") == NEW.sign(b"m")
    assert ring.select(cs.ValidatorSet({FakeSigner.numbered(3).public_key: 1})) == NEW.public_key
    assert ring.public_keys == [NEW.public_key, OLD.public_key]
    with pytest.raises(ValueError, match="at least one"):
        core.KeyRing([])
