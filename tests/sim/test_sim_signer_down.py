"""A validator whose signer is down for a while: the rest commit, it rejoins, no evidence."""

from __future__ import annotations

import pytest
from consensus_sim import Scenario, Simulation

DOWN_MS = (300, 4_000)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_validator_with_its_signer_down_stays_silent_then_signs_again(seed: int) -> None:
    # The heal is when the signer comes back: liveness is checked from there on.
    scenario = Scenario(
        seed=seed,
        powers=[1] * 4,
        drop=0.05,
        signer_down={3: DOWN_MS},
        heal_ms=DOWN_MS[1],
        heights_after_heal=3,
        liveness_budget_ms=20_000,
    )
    sim = Simulation(scenario)
    violations = sim.run()
    assert not violations, f"seed {seed}: {violations[:5]}"
    down = sim.nodes[3]
    assert down.signer_refusals > 0, "the signer was never asked while down"
    assert sim.heal_height >= 3, "three of four validators should commit while one cannot sign"
    guard = down.host.guard
    assert guard is not None
    assert guard.height > sim.heal_height, "the validator did not sign again after its signer"
    assert all(not node.evidence for node in sim.nodes)
