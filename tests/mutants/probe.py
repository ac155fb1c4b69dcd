"""The battery a mutant must survive: adversary families, crash points, the random sweep.

Run inside a copy of the repository (cwd and PYTHONPATH at the copy). Stops at the first
violated check and prints ``KILLED <check>: <detail>`` (exit 1), else ``SURVIVED`` (exit 0).
The same battery runs unmutated first, as the baseline, and must survive.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Iterator

import sim_byzantine as byz
from consensus_sim import Scenario, Simulation
from sim_scenarios import lock_split, random_scenario

SIZES = (4, 7, 10)


def battery(seeds: int, per_kind: int) -> Iterator[tuple[str, Scenario]]:
    """(label, scenario) pairs, the quick killers first."""
    for seed in range(12):
        yield f"lock split seed {seed}", lock_split(seed)
    for kind in (*byz.BYZANTINE_KINDS, *byz.FORGING_KINDS):
        for seed in range(per_kind):
            scenario = random_scenario(10_000 + seed, SIZES[seed % 3], kinds=(kind,))
            if kind in byz.FORGING_KINDS and not byz.BLAME_FIX_LANDED:
                scenario.tolerated_blame = frozenset({"BAD_SIGNATURE"})
            yield f"{kind} seed {10_000 + seed}", scenario
    for kill_after in range(1, 61):
        yield (
            f"kill after WAL write {kill_after}",
            Scenario(
                seed=kill_after,
                powers=[1] * 4,
                drop=0.15,
                delay_ms=(1, 80),
                heal_ms=2_500,
                kill_after_wal_write={0: kill_after},
                down_after_kill_ms=150,
                liveness_budget_ms=20_000,
            ),
        )
    for seed in range(seeds):
        yield f"sweep seed {seed}", random_scenario(seed, SIZES[seed % 3])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=150, help="random sweep seeds")
    parser.add_argument("--per-kind", type=int, default=10, help="seeds per adversary kind")
    args = parser.parse_args(argv)
    for label, scenario in battery(args.seeds, args.per_kind):
        try:
            violations = Simulation(scenario).run()
        except Exception as e:  # a mutant may make an engine raise: that is a kill
            detail = traceback.format_exception_only(e)[-1].strip()
            print(f"KILLED CRASH: {detail} [{label}]")
            return 1
        if violations:
            print(f"KILLED {violations[0]} [{label}]")
            return 1
    print("SURVIVED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
