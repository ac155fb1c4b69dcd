"""Seeded simulation sweep: every fault kind mixed, n = 4, 7, 10, f Byzantine by power.

TENGE_SIM_SEEDS=N runs N seeds (default 500; ``make sim SEEDS=N``); TENGE_SIM_SEED=S
replays seed S alone. No seed is ever excluded.
"""

from __future__ import annotations

import os

import pytest
from consensus_sim import Simulation
from sim_scenarios import random_scenario

DEFAULT_SEEDS = 500
SIZES = (4, 7, 10)


def _cases() -> list[tuple[int, int]]:
    only = os.environ.get("TENGE_SIM_SEED")
    seeds = [int(only)] if only else range(int(os.environ.get("TENGE_SIM_SEEDS", DEFAULT_SEEDS)))
    return [(seed, SIZES[seed % len(SIZES)]) for seed in seeds]


def replay_hint(seed: int, n: int, violations: list[str]) -> str:
    """The failure message: what broke and the command that replays it exactly."""
    shown = "\n  ".join(violations[:5])
    return (
        f"seed {seed} (n={n}) violated:\n  {shown}\n"
        f"replay: TENGE_SIM_SEED={seed} .venv/bin/pytest -q tests/sim/test_sim_random_faults.py"
    )


@pytest.mark.parametrize(("seed", "n"), _cases(), ids=lambda v: str(v))
def test_safety_certificates_and_liveness_after_heal(seed: int, n: int) -> None:
    scenario = random_scenario(seed, n)
    sim = Simulation(scenario)
    violations = sim.run()
    assert not violations, replay_hint(seed, n, violations)
    # Something was decided, so the safety check had material to compare.
    assert min(len(node.chain) for node in sim.correct) >= scenario.heights_after_heal
