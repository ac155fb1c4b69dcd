"""RotateValidatorKey: a governed move of a validator to a new key, proven by the new key,
atomic in the set of height + 2 (node/ledger/_rules.py, docs/governance.md)."""

from __future__ import annotations

from ledger_world import CHAIN, World, code_name, genesis_doc, key, make_genesis

from node.ledger import get_validators
from node.ledger.txbuild import propose, rotate_validator_key
from proto import ledger_pb2 as pb

OLD = key("val-0")
NEW = key("val-0-next")


def _approved(w: World, change: pb.RotateValidatorKey) -> tuple[pb.Receipt, pb.Receipt]:
    """Propose (central bank) and approve (regulator): the two receipts."""
    proposed = w.run("nbk", propose(change, expires_at_height=w.height + 10, summary="rotate"))
    if code_name(proposed) != "OK":
        return proposed, proposed
    return proposed, w.run("afm", pb.Approve(proposal_id=proposed.tx_id))


def test_an_approved_rotation_moves_power_and_moniker_to_the_new_key_at_once() -> None:
    w = World()
    before = {v.public_key: v for v in get_validators(w.state)}
    proposed = w.run(
        "nbk",
        propose(
            rotate_validator_key(CHAIN, OLD.public_key, NEW),
            expires_at_height=w.height + 10,
            summary="rotate",
        ),
    )
    assert code_name(proposed) == "OK"
    result = w.block(w.tx("afm", pb.Approve(proposal_id=proposed.tx_id)))
    assert code_name(result.receipts[0]) == "OK"
    # One block's updates: the old key out, the new one in with the same power.
    assert [(v.public_key, v.power) for v in result.validator_updates] == [
        (OLD.public_key, 0),
        (NEW.public_key, before[OLD.public_key].power),
    ]
    after = {v.public_key: v for v in get_validators(w.state)}
    assert OLD.public_key not in after
    assert after[NEW.public_key].power == before[OLD.public_key].power
    assert after[NEW.public_key].moniker == before[OLD.public_key].moniker
    assert sum(v.power for v in after.values()) == sum(v.power for v in before.values())


def test_it_is_governed() -> None:
    w = World()
    r = w.run("nbk", rotate_validator_key(CHAIN, OLD.public_key, NEW))
    assert code_name(r) == "GOVERNANCE_REQUIRED"


def test_a_proof_by_another_key_or_for_another_chain_is_refused() -> None:
    w = World()
    forged = rotate_validator_key(CHAIN, OLD.public_key, key("someone"))
    forged.new_public_key = NEW.public_key  # signed by someone, claims NEW
    other_chain = rotate_validator_key("tenge-other-1", OLD.public_key, NEW)
    other_old = rotate_validator_key(CHAIN, key("val-x").public_key, NEW)
    other_old.public_key = OLD.public_key  # a proof for another rotation
    for change in (forged, other_chain, other_old):
        proposed, _ = _approved(w, change)
        assert code_name(proposed) == "INVALID_VALIDATOR", proposed.message
        assert "proof" in proposed.message
    assert OLD.public_key in {v.public_key for v in get_validators(w.state)}


def test_a_key_that_is_not_a_validator_or_a_new_key_already_in_the_set_is_refused() -> None:
    w = World()
    _, approved = _approved(w, rotate_validator_key(CHAIN, key("val-7").public_key, NEW))
    assert code_name(approved) == "INVALID_VALIDATOR"
    assert "is not a validator" in approved.message
    doc = genesis_doc()
    other = key("val-1")
    doc["validators"].append({"public_key": other.public_key.hex(), "power": 10, "moniker": "v1"})
    w = World(make_genesis(doc))
    _, approved = _approved(w, rotate_validator_key(CHAIN, OLD.public_key, other))
    assert code_name(approved) == "INVALID_VALIDATOR"
    assert "already a validator" in approved.message
    assert {v.public_key for v in get_validators(w.state)} == {OLD.public_key, other.public_key}


def test_malformed_rotations_are_refused_before_any_state() -> None:
    w = World()
    good = rotate_validator_key(CHAIN, OLD.public_key, NEW)
    short = pb.RotateValidatorKey()
    short.CopyFrom(good)
    short.new_public_key = NEW.public_key[:31]
    no_proof = pb.RotateValidatorKey()
    no_proof.CopyFrom(good)
    no_proof.proof = b""
    for change in (short, no_proof):
        proposed, _ = _approved(w, change)
        assert code_name(proposed) == "INVALID_VALIDATOR", proposed.message
