"""Random scenarios for the sweep: every fault kind and adversary mixed, from the seed alone."""

from __future__ import annotations

import random

import sim_byzantine as byz
from consensus_sim import Crash, Partition, Scenario

# Kinds in the random mix. The forging kinds need an engine that does not blame the claimed
# signer of a message whose signature fails (issue 10, 2d).
SWEEP_KINDS = byz.BYZANTINE_KINDS + (byz.FORGING_KINDS if byz.BLAME_FIX_LANDED else ())
SKEWS_MS = (0, 0, 60_000, -60_000)


def byzantine_by_power(rng: random.Random, powers: list[int]) -> list[int]:
    """As many validators as possible whose total power stays strictly below 1/3."""
    total = sum(powers)
    order = [i for i in range(len(powers)) if powers[i] > 0]
    rng.shuffle(order)
    chosen: list[int] = []
    power = 0
    for index in order:
        if 3 * (power + powers[index]) < total:
            chosen.append(index)
            power += powers[index]
    return chosen


def bound_holds(powers: list[int], byzantine: set[int]) -> bool:
    """Whether the Byzantine validators hold strictly less than 1/3 of this set's power."""
    total = sum(powers)
    return total > 0 and 3 * sum(powers[i] for i in byzantine) < total


def validator_set_changes(
    rng: random.Random, powers: list[int], byzantine: set[int]
) -> list[tuple[int, list[int]]]:
    """Add, remove and re-weight validators at increasing heights, keeping the f bound.

    powers is the set of height 1 (a 0 is a key outside it, to be added).
    """
    changes: list[tuple[int, list[int]]] = []
    current = list(powers)
    height = 1
    for action in rng.sample(("add", "remove", "reweight"), 3):
        height += rng.randint(1, 3)
        proposal = list(current)
        outside = [i for i, p in enumerate(current) if p == 0]
        members = [i for i, p in enumerate(current) if p > 0 and i not in byzantine]
        if action == "add" and outside:
            proposal[rng.choice(outside)] = rng.randint(1, 4)
        elif action == "remove" and len(members) > 1:
            proposal[rng.choice(members)] = 0
        elif action == "reweight":
            index = rng.choice([i for i, p in enumerate(current) if p > 0])
            proposal[index] = rng.randint(1, 5)
        if proposal != current and bound_holds(proposal, byzantine):
            current = proposal
            changes.append((height, list(current)))
    return changes


def random_scenario(seed: int, n: int, kinds: tuple[str, ...] = SWEEP_KINDS) -> Scenario:
    """A scenario mixing every fault kind and adversary, derived from the seed alone."""
    rng = random.Random(seed * 7919 + n)
    powers = [1] * n if rng.random() < 0.5 else [rng.randint(1, 4) for _ in range(n)]
    changing = rng.random() < 0.35
    if changing:
        powers[rng.randrange(n)] = 0  # joins the set later
    byzantine = {i: rng.choice(kinds) for i in byzantine_by_power(rng, powers)}
    valsets = validator_set_changes(rng, powers, set(byzantine)) if changing else []
    heal_ms = rng.randint(2_000, 6_000)
    correct = [i for i in range(n) if i not in byzantine]
    partitions = []
    for _ in range(rng.randint(0, 2)):
        start = rng.randint(0, heal_ms - 500)
        end = rng.randint(start + 200, heal_ms)
        members = list(range(n))
        rng.shuffle(members)
        cut = rng.randint(1, n - 1)
        partitions.append(Partition(start, end, [set(members[:cut]), set(members[cut:])]))
    # At most one skewed clock: its values (stamped by its clock) or its verdicts on others'
    # are off, so with the f Byzantine it still stays below a quorum (liveness).
    crashes = [
        Crash(
            rng.choice(correct),
            rng.randint(0, heal_ms - 300),
            rng.randint(50, 1_000),
            rng.choice(SKEWS_MS) if index == 0 else 0,
        )
        for index in range(rng.randint(0, 2))
    ]
    return Scenario(
        seed=seed,
        powers=powers,
        byzantine=byzantine,
        drop=rng.choice((0.0, 0.05, 0.2)),
        duplicate=rng.choice((0.0, 0.1)),
        delay_ms=(1, rng.choice((20, 60, 150))),
        partitions=partitions,
        crashes=crashes,
        heal_ms=heal_ms,
        valsets=valsets,
        twins_until_ms=rng.randint(1_000, heal_ms) if byz.TWINS in byzantine.values() else 0,
    )


def lock_split(seed: int) -> Scenario:
    """The scripted stale proof-of-lock attack (sim_byzantine.LockSplit), n = 4."""
    return Scenario(
        seed=seed,
        powers=[1] * 4,
        byzantine={seed % 4: byz.FAKE_POL},
        delay_ms=(1, 30),
        heal_ms=8_000,
        liveness_budget_ms=20_000,
        script=byz.LOCK_SPLIT,
    )
