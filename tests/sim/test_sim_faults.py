"""One simulation per fault kind: liveness after the fault ends, evidence, crash recovery."""

from __future__ import annotations

import pytest
from consensus_sim import Crash, Partition, Scenario, Simulation
from sim_byzantine import DOUBLE_VOTE, EQUIVOCATE, RANDOM_VOTES, SILENT

# After the heal, every correct node must commit 2 new heights within this much virtual
# time. With the simulator's timeouts (400/200/200 ms, +100 ms per round) that is at most
# about 20 rounds, whatever round the partition pushed the network to.
BUDGET_MS = 20_000
SEEDS = (1, 2, 3)


def run(scenario: Scenario) -> Simulation:
    sim = Simulation(scenario)
    violations = sim.run()
    assert not violations, f"seed {scenario.seed}: {violations[:5]}"
    return sim


def committed_after_heal(sim: Simulation) -> list[int]:
    return [len(node.chain) - sim.heal_height for node in sim.correct]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", [4, 7])
def test_partition_without_quorum_heals_and_commits(seed: int, n: int) -> None:
    half = set(range(n // 2))
    scenario = Scenario(
        seed=seed,
        powers=[1] * n,
        partitions=[Partition(500, 6_000, [half, set(range(n)) - half])],
        heal_ms=6_000,
        liveness_budget_ms=BUDGET_MS,
    )
    sim = run(scenario)
    assert min(committed_after_heal(sim)) >= 2


@pytest.mark.parametrize("seed", SEEDS)
def test_isolated_validators_catch_up_by_sync(seed: int) -> None:
    # 5 of 7 still make a quorum: the two isolated ones fall behind, then must catch up.
    scenario = Scenario(
        seed=seed,
        powers=[1] * 7,
        partitions=[Partition(0, 5_000, [{0, 1, 2, 3, 4}, {5}, {6}])],
        heal_ms=5_000,
        liveness_budget_ms=BUDGET_MS,
    )
    sim = run(scenario)
    assert sim.heal_height >= 2, "the majority side should have kept committing"
    assert min(len(node.chain) for node in sim.correct) >= sim.heal_height + 2


@pytest.mark.parametrize("seed", SEEDS)
def test_heavy_drops_duplicates_and_reordering(seed: int) -> None:
    scenario = Scenario(
        seed=seed,
        powers=[1] * 7,
        drop=0.4,
        duplicate=0.3,
        delay_ms=(1, 300),
        heal_ms=5_000,
        liveness_budget_ms=BUDGET_MS,
    )
    sim = run(scenario)
    assert min(committed_after_heal(sim)) >= 2


@pytest.mark.parametrize("seed", SEEDS)
def test_crashes_and_restarts_from_the_wal(seed: int) -> None:
    scenario = Scenario(
        seed=seed,
        powers=[1] * 4,
        drop=0.1,
        crashes=[Crash(0, 300, 700), Crash(1, 1_200, 300), Crash(0, 2_500, 100)],
        heal_ms=4_000,
        liveness_budget_ms=BUDGET_MS,
    )
    sim = run(scenario)
    assert sim.nodes[0].restarts == 2
    assert min(committed_after_heal(sim)) >= 2


@pytest.mark.parametrize("kind", [SILENT, DOUBLE_VOTE, EQUIVOCATE, RANDOM_VOTES])
@pytest.mark.parametrize(("n", "byzantine"), [(4, [3]), (7, [1, 5]), (10, [0, 4, 9])])
def test_byzantine_kind_with_f_validators(kind: str, n: int, byzantine: list[int]) -> None:
    scenario = Scenario(
        seed=n,
        powers=[1] * n,
        byzantine=dict.fromkeys(byzantine, kind),
        drop=0.05,
        heal_ms=3_000,
        heights_after_heal=3,
        liveness_budget_ms=BUDGET_MS,
    )
    sim = run(scenario)
    assert min(committed_after_heal(sim)) >= 3


@pytest.mark.parametrize("n", [4, 7])
def test_every_correct_validator_detects_a_double_voter(n: int) -> None:
    scenario = Scenario(
        seed=11, powers=[1] * n, byzantine={1: DOUBLE_VOTE}, heal_ms=2_000, heights_after_heal=2
    )
    sim = run(scenario)
    culprit = sim.nodes[1].signer.public_key
    for node in sim.correct:
        # Each piece of evidence already verified against the validator set in the sim.
        assert node.evidence, f"node {node.index} saw no equivocation"
        assert {e.validator for e in node.evidence} == {culprit}


def kill_points(forget_lock: bool, writes: range) -> list[str]:
    """Kill node 0 right after each of its WAL writes in turn; collect the violations."""
    found: list[str] = []
    kills = 0
    for kill_after in writes:
        scenario = Scenario(
            seed=kill_after,
            powers=[1] * 4,
            drop=0.15,
            delay_ms=(1, 80),
            heal_ms=2_500,
            kill_after_wal_write={0: kill_after},
            down_after_kill_ms=150,
            forget_lock_on_restart=forget_lock,
            liveness_budget_ms=BUDGET_MS,
        )
        sim = Simulation(scenario)
        violations = sim.run()
        kills += sim.nodes[0].restarts
        found.extend(f"kill after write {kill_after}: {v}" for v in violations)
    assert kills == len(writes), "some kill points were never reached"
    return found


def test_killed_at_every_wal_write_never_double_signs_and_keeps_its_lock() -> None:
    # Covers every step boundary of the first heights: each boundary writes to the WAL.
    violations = kill_points(forget_lock=False, writes=range(1, 121))
    assert not violations, violations[:5]


def test_the_lock_check_fails_when_the_lock_is_dropped_on_purpose() -> None:
    # The same sweep with a restart that forgets the lock must be caught, or the check
    # above would prove nothing.
    violations = kill_points(forget_lock=True, writes=range(1, 121))
    assert any("LOCK LOST" in v for v in violations)
