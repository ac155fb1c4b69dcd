"""The fast subset of ``make mutants``: a few deliberate bugs the simulation must kill."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .catalog import FAST

REPO = Path(__file__).resolve().parents[2]


def test_fast_mutants_are_killed_and_the_baseline_passes() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.mutants", "--fast", "--seeds", "20", "--per-kind", "2"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(FAST)}/{len(FAST)} mutants killed" in proc.stdout
