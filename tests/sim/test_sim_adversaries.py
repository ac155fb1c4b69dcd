"""Named scenarios for each adversary of tests/sim/sim_byzantine.py, n = 4, 7, 10, with f
Byzantine validators by power; and the checks that make them count (issue 10, part 3)."""

from __future__ import annotations

import pytest
import sim_byzantine as byz
from consensus_sim import CHAIN_ID, SIM_PARAMS, Crash, Partition, Scenario, SimNode, Simulation
from sim_host import Outbound, Send
from sim_scenarios import bound_holds, lock_split, random_scenario, validator_set_changes

from consensus import Engine, ReportMisbehaviour, ValidatorSet, Vote, VoteReceived, VoteType
from consensus.testing import FakeCodec, FakeSigner, FakeVerifier

BUDGET_MS = 20_000
SIZES = [(4, [3]), (7, [1, 5]), (10, [0, 4, 9])]
KINDS = [byz.TWINS, byz.IGNORE_LOCK, byz.FAKE_POL, byz.FUTURE, byz.AMNESIA]


def run(scenario: Scenario) -> Simulation:
    sim = Simulation(scenario)
    violations = sim.run()
    assert not violations, f"seed {scenario.seed}: {violations[:5]}"
    return sim


def committed_after_heal(sim: Simulation) -> list[int]:
    return [len(node.chain) - sim.heal_height for node in sim.correct]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("n", "byzantine"), SIZES)
def test_adversary_with_f_validators(kind: str, n: int, byzantine: list[int]) -> None:
    scenario = Scenario(
        seed=n + 100,
        powers=[1] * n,
        byzantine=dict.fromkeys(byzantine, kind),
        drop=0.05,
        delay_ms=(1, 80),
        partitions=[Partition(500, 2_000, [set(range(n // 2)), set(range(n // 2, n))])],
        heal_ms=3_000,
        heights_after_heal=3,
        liveness_budget_ms=BUDGET_MS,
        twins_until_ms=2_500,
    )
    sim = run(scenario)
    assert min(committed_after_heal(sim)) >= 3


@pytest.mark.parametrize(("n", "byzantine"), SIZES)
def test_twins_sign_for_two_views_and_are_caught(n: int, byzantine: list[int]) -> None:
    scenario = Scenario(
        seed=n,
        powers=[1] * n,
        byzantine=dict.fromkeys(byzantine, byz.TWINS),
        heal_ms=3_000,
        twins_until_ms=2_000,
        liveness_budget_ms=BUDGET_MS,
    )
    sim = run(scenario)
    assert len(sim.nodes) == n + len(byzantine), "one twin instance per Byzantine key"
    culprits = {e.validator for node in sim.correct for e in node.evidence}
    assert culprits <= {sim.keys[i] for i in byzantine}


@pytest.mark.parametrize(("n", "byzantine"), SIZES)
def test_lying_sync_responders_do_not_stop_a_lagging_node(n: int, byzantine: list[int]) -> None:
    # The node isolated until 4 s must catch up although f of its sync peers lie.
    lagging = next(i for i in range(n) if i not in byzantine)
    others = set(range(n)) - {lagging}
    scenario = Scenario(
        seed=n,
        powers=[1] * n,
        byzantine=dict.fromkeys(byzantine, byz.FUTURE),  # votes as its engine does
        partitions=[Partition(0, 4_000, [others, {lagging}])],
        heal_ms=4_000,
        liveness_budget_ms=BUDGET_MS,
    )
    sim = run(scenario)
    assert sim.heal_height >= 2
    assert len(sim.nodes[lagging].chain) >= sim.heal_height + 2


@pytest.mark.parametrize("skew_ms", [60_000, -60_000])
@pytest.mark.parametrize("n", [4, 7])
def test_a_validator_restarted_with_a_skewed_clock(skew_ms: int, n: int) -> None:
    scenario = Scenario(
        seed=n,
        powers=[1] * n,
        byzantine={n - 1: byz.IGNORE_LOCK},
        drop=0.1,
        crashes=[Crash(0, 700, 300, skew_ms), Crash(1, 1_500, 200)],
        heal_ms=3_000,
        liveness_budget_ms=BUDGET_MS,
    )
    sim = run(scenario)
    assert sim.nodes[0].skewed_restarts == 1
    assert min(committed_after_heal(sim)) >= 2


@pytest.mark.parametrize(("n", "byzantine"), SIZES)
def test_validator_set_changes_during_the_run(n: int, byzantine: list[int]) -> None:
    joiner = next(i for i in range(n) if i not in byzantine)  # joins the set at height 3
    powers = [0 if i == joiner else 1 if i in byzantine else 2 for i in range(n)]
    changes = [
        (3, [p if i != joiner else 2 for i, p in enumerate(powers)]),  # add
        (5, [2 if i != joiner else 3 for i in range(n)]),  # re-weight everyone
        (7, [1 if i in byzantine else 3 for i in range(n)]),
    ]
    removed = next(i for i in range(n) if i not in byzantine and i != joiner)  # leaves at 9
    changes.append((9, [0 if i == removed else p for i, p in enumerate(changes[-1][1])]))
    assert all(bound_holds(p, set(byzantine)) for _, p in [(1, powers), *changes])
    scenario = Scenario(
        seed=n,
        powers=powers,
        byzantine=dict.fromkeys(byzantine, byz.FAKE_POL),
        valsets=changes,
        drop=0.05,
        heal_ms=2_000,
        heights_after_heal=12,
        liveness_budget_ms=40_000,
    )
    sim = run(scenario)
    assert min(len(node.chain) for node in sim.correct) >= 11
    for node in sim.correct:
        for block in node.chain:  # each certificate is from its own height's set
            signers = {s.validator for s in block.certificate.signatures}
            assert signers <= set(sim.vset_at(block.height))
    assert sim.keys[removed] not in sim.vset_at(9)
    assert sim.keys[joiner] in sim.vset_at(3)


@pytest.mark.parametrize("seed", range(20))
def test_random_validator_set_changes_keep_the_bound(seed: int) -> None:
    import random

    rng = random.Random(seed)
    powers = [rng.randint(1, 4) for _ in range(7)]
    powers[seed % 7] = 0
    byzantine = {(seed + 1) % 7} if bound_holds(powers, {(seed + 1) % 7}) else set()
    for _, changed in validator_set_changes(rng, powers, byzantine):
        assert bound_holds(changed, byzantine)


def engine_blames_claimed_signer() -> bool:
    """Whether the engine reports a forged vote against the validator it names."""
    signers = [FakeSigner.numbered(i) for i in range(4)]
    vset = ValidatorSet({s.public_key: 1 for s in signers})
    engine = Engine(
        chain_id=CHAIN_ID,
        height=1,
        validator_set=vset,
        verifier=FakeVerifier(),
        codec=FakeCodec(),
        signer=signers[0],
        params=SIM_PARAMS,
    )
    from consensus import Started

    engine.handle(Started(0))
    forged = Vote(VoteType.PREVOTE, 1, 0, b"", signers[1].public_key, b"\x01" * 32)
    outputs = engine.handle(VoteReceived(forged, 1, b"peer"))
    return any(isinstance(o, ReportMisbehaviour) and o.validator for o in outputs)


def test_blame_fix_flag_matches_the_engine() -> None:
    # When the engine stops blaming the claimed signer (issue 10, 2d), set
    # sim_byzantine.BLAME_FIX_LANDED: the forging adversaries then join the random sweep.
    assert engine_blames_claimed_signer() is not byz.BLAME_FIX_LANDED


@pytest.mark.parametrize("kind", byz.FORGING_KINDS)
@pytest.mark.parametrize(("n", "byzantine"), SIZES)
def test_forgeries_never_blame_a_correct_validator(kind: str, n: int, byzantine: list[int]) -> None:
    scenario = Scenario(
        seed=n,
        powers=[1] * n,
        byzantine=dict.fromkeys(byzantine, kind),
        heal_ms=2_000,
        liveness_budget_ms=BUDGET_MS,
    )
    run(scenario)


def test_the_sweep_mixes_every_adversary() -> None:
    seen = {kind for seed in range(300) for kind in random_scenario(seed, 7).byzantine.values()}
    assert seen == set(byz.BYZANTINE_KINDS + byz.FORGING_KINDS)


@pytest.mark.parametrize("seed", range(4))
def test_a_stale_proof_of_lock_is_refused_by_validators_locked_later(seed: int) -> None:
    sim = run(lock_split(seed))
    assert sim.script is not None
    assert sim.script.stale_sent, "the attack never happened"


def lagging_scenario(n: int = 4) -> Scenario:
    """Node 0 is cut off until 3 s, then must catch up by block sync."""
    return Scenario(
        seed=n,
        powers=[1] * n,
        partitions=[Partition(0, 3_000, [set(range(1, n)), {0}])],
        heal_ms=3_000,
        liveness_budget_ms=BUDGET_MS,
    )


def test_a_correct_node_penalising_a_correct_peer_is_a_violation() -> None:
    # The check's own test: node 1 (counted as correct) answers sync requests with lies.
    sim = Simulation(lagging_scenario())
    dispatch = sim.dispatch

    def lying(node: SimNode, epoch: int, actions: list[Outbound]) -> None:
        if node.index == 1:
            actions = [
                Send(a.peer, byz.sync_lie(sim, node, a.payload[1]))
                if isinstance(a, Send)
                and isinstance(a.payload, tuple)
                and a.payload[0] == "response"
                else a
                for a in actions
            ]
        dispatch(node, epoch, actions)

    sim.dispatch = lying  # type: ignore[method-assign]
    violations = sim.run()
    assert any(v.startswith(("PENALTY", "DROP")) and "peer 01" in v for v in violations)


def test_the_cores_validator_sets_are_checked_against_the_scenario() -> None:
    # The check's own test: a ledger stand-in that reports no validator updates.
    scenario = lagging_scenario()
    scenario.valsets = [(3, [1, 1, 1, 2])]
    sim = Simulation(scenario)
    sim.updates_at = lambda height: []  # type: ignore[method-assign]
    for node in sim.nodes:
        node.host.updates_at = sim.updates_at
    assert any(v.startswith("VALIDATOR SET") for v in sim.run())


def test_the_lagging_node_syncs_through_the_core() -> None:
    sim = run(lagging_scenario())
    assert sim.heal_height >= 2
    assert len(sim.nodes[0].chain) >= sim.heal_height + 2
