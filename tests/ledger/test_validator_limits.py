"""The ledger refuses a validator update that consensus would refuse (issue 10, 2e).

The limits live once, in consensus/_validators.py; the ledger and genesis validation
call `validator_set_error` on the set an update (or genesis) would produce. So any
update the ledger accepts yields a set that `consensus.ValidatorSet` accepts, and the
update takes effect at H + 2 instead of being dropped by the node.
"""

from __future__ import annotations

import copy
import hashlib
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_world import World, code_name, genesis_doc, key, make_genesis

import consensus as cs
from consensus._validators import MAX_SCHEDULE_LENGTH, MAX_TOTAL_POWER, MAX_VALIDATORS
from node.errors import ConfigError
from node.genesis import parse_genesis
from node.ledger import get_validators
from node.ledger.txbuild import propose, tx_id_of
from proto import ledger_pb2 as pb

VAL0 = key("val-0").public_key  # power 10 in the test genesis


def _pub(i: int) -> bytes:
    return hashlib.sha256(b"validator-%d" % i).digest()


def _update(w: World, public_key: bytes, power: int) -> str:
    return code_name(w.govern(pb.UpdateValidator(public_key=public_key, power=power)))


def _stored(w: World) -> dict[bytes, int]:
    return {v.public_key: v.power for v in get_validators(w.state)}


def test_update_making_total_power_huge_is_refused() -> None:
    w = World()
    # A single power past the bound, and a total past it made of two legal powers.
    assert _update(w, _pub(1), MAX_TOTAL_POWER + 1) == "VALIDATOR_SET_LIMIT"
    assert _update(w, VAL0, MAX_TOTAL_POWER // 2) == "OK"
    assert _update(w, _pub(1), MAX_TOTAL_POWER // 2 + 2**50) == "VALIDATOR_SET_LIMIT"
    assert _stored(w) == {VAL0: MAX_TOTAL_POWER // 2}


def test_update_making_powers_too_fine_grained_is_refused() -> None:
    w = World()
    # gcd(10, 2^16 + 1) = 1: a proposer schedule of 65 547 slots, past MAX_SCHEDULE_LENGTH.
    assert _update(w, _pub(1), MAX_SCHEDULE_LENGTH + 1) == "VALIDATOR_SET_LIMIT"
    # Far below the total-power bound, yet 2^40 + 10 slots after reducing by gcd 2.
    assert _update(w, _pub(1), 2**40) == "VALIDATOR_SET_LIMIT"
    # Coarse enough: gcd 10, 1 + 6 000 slots.
    assert _update(w, _pub(1), 60_000) == "OK"
    # Re-weighting the existing validator can break the schedule too.
    assert _update(w, VAL0, 6001) == "VALIDATOR_SET_LIMIT"  # gcd 1: 66 001 slots
    assert _stored(w) == {VAL0: 10, _pub(1): 60_000}
    cs.ValidatorSet(_stored(w))


def test_update_adding_one_validator_too_many_is_refused() -> None:
    doc: dict[str, Any] = genesis_doc()
    doc["validators"] = [{"public_key": _pub(i).hex(), "power": 1} for i in range(MAX_VALIDATORS)]
    w = World(make_genesis(doc))
    assert _update(w, _pub(MAX_VALIDATORS), 1) == "VALIDATOR_SET_LIMIT"
    # Re-weighting a member or removing one stays possible at the bound.
    assert _update(w, _pub(0), 2) == "OK"
    assert _update(w, _pub(1), 0) == "OK"
    assert _update(w, _pub(MAX_VALIDATORS), 1) == "OK"
    assert len(_stored(w)) == MAX_VALIDATORS


@pytest.mark.parametrize(
    ("validators", "message"),
    [
        (
            [{"public_key": _pub(i).hex(), "power": 1} for i in range(MAX_VALIDATORS + 1)],
            f"validators: at most {MAX_VALIDATORS} validators",
        ),
        (
            [
                {"public_key": _pub(0).hex(), "power": 10},
                {"public_key": _pub(1).hex(), "power": 2**20 + 1},
            ],
            "validators: voting powers are too fine-grained",
        ),
        (
            [
                {"public_key": _pub(0).hex(), "power": MAX_TOTAL_POWER},
                {"public_key": _pub(1).hex(), "power": MAX_TOTAL_POWER},
            ],
            "validators[1].power: total power above",
        ),
    ],
)
def test_genesis_refuses_a_set_consensus_refuses(
    validators: list[dict[str, Any]], message: str
) -> None:
    doc: dict[str, Any] = genesis_doc()
    doc["validators"] = validators
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_genesis(doc)


KEYS = [VAL0, *(_pub(i) for i in range(1, 6))]
POWERS = st.one_of(
    st.integers(0, 40),
    st.sampled_from([0, 1, 2, 3, 1000, MAX_SCHEDULE_LENGTH, MAX_SCHEDULE_LENGTH + 1]),
    st.integers(0, 62).map(lambda e: 2**e),
    st.integers(0, 62).map(lambda e: 3 * 2**e),
    st.integers(0, 2**64 - 1),
)
UPDATES = st.lists(
    st.lists(st.tuples(st.sampled_from(KEYS), POWERS), min_size=1, max_size=4),
    min_size=1,
    max_size=10,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks=UPDATES)
def test_every_accepted_update_sequence_yields_a_consensus_set(
    blocks: list[list[tuple[bytes, int]]],
) -> None:
    w = World(copy.deepcopy(GENESIS))
    # The node's view: set(H + 2) = set(H + 1).apply_updates(updates of block H).
    following = cs.ValidatorSet(_stored(w))
    for updates in blocks:
        # Proposals in one block, their approvals in the next: the updates of that block.
        proposals = [
            w.tx(
                "nbk",
                propose(
                    pb.UpdateValidator(public_key=k, power=p),
                    expires_at_height=w.height + 5,
                    summary="update",
                ),
            )
            for k, p in updates
        ]
        w.block(*proposals)
        result = w.block(*[w.tx("afm", pb.Approve(proposal_id=tx_id_of(raw))) for raw in proposals])
        for (_, power), receipt in zip(updates, result.receipts, strict=True):
            # UNKNOWN_PROPOSAL: the proposal itself was refused (its change's static checks).
            assert code_name(receipt) in {
                "OK",
                "VALIDATOR_SET_LIMIT",
                "INVALID_VALIDATOR",
                "UNKNOWN_PROPOSAL",
            }
            if power > MAX_TOTAL_POWER:
                assert code_name(receipt) != "OK"
        following = following.apply_updates(
            (v.public_key, v.power) for v in result.validator_updates
        )
        assert dict(following.items()) == _stored(w)


GENESIS = make_genesis()
