"""``make mutants``: apply each deliberate bug of tests/mutants/catalog.py to a temporary
copy of the repository, one at a time, and run the battery (tests/mutants/probe.py, plus a
mutant's named unit tests) on it. The shared working tree is never touched.

Prints one line per mutant (killed / SURVIVED / STALE, seconds, the check that killed it)
and ``N/N mutants killed``; exits 1 if any mutant survived or is stale, or if the
unmutated baseline does not pass the battery.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.mutants.catalog import FAST, MUTANTS, Mutant

REPO = Path(__file__).resolve().parents[2]
PYTHON = REPO / ".venv" / "bin" / "python"
TIMEOUT_S = 300


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one mutant's run found."""

    name: str
    verdict: str  # "killed", "SURVIVED", "STALE", "baseline ok", "BASELINE FAILED"
    seconds: float
    detail: str


def tracked_files(tree: Path) -> list[str]:
    """The working tree as git sees it: tracked and untracked, not ignored."""
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=tree,
        check=True,
        capture_output=True,
    ).stdout
    return [p for p in out.decode().split("\0") if p]


def snapshot(tree: Path) -> Path:
    """One temporary copy of the working tree, shared (read-only) by every mutant's run."""
    root = Path(tempfile.mkdtemp(prefix="tenge-mutants-"))
    if not (tree / ".git").exists():  # a plain directory (an exported tree): copy it all
        shutil.copytree(tree, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".venv"))
        return root
    for rel in tracked_files(tree):
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        # A file removed by someone else since the listing is skipped.
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            shutil.copy2(tree / rel, target)
    return root


def make_copy(base: Path) -> Path:
    """A private copy of the snapshot for one run."""
    root = Path(tempfile.mkdtemp(prefix="tenge-mutant-"))
    shutil.copytree(base, root, dirs_exist_ok=True)
    return root


def apply(root: Path, mutant: Mutant) -> str | None:
    """Apply mutant's edits in the copy; the reason it is stale, or None."""
    for rel, old, new in mutant.edits:
        path = root / rel
        text = path.read_text() if path.is_file() else ""
        count = text.count(old)
        if count != 1:
            return f"{rel}: old text found {count} times"
        path.write_text(text.replace(old, new))
    return None


def run_in(root: Path, argv: list[str]) -> tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=f"{root}:{root / 'tests' / 'sim'}", PYTHONHASHSEED="0")
    env.pop("TENGE_SIM_SEED", None)
    try:
        proc = subprocess.run(
            [str(PYTHON), *argv],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return 1, f"TIMEOUT after {TIMEOUT_S} s"
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return proc.returncode, lines[-1] if lines else ""


def check(mutant: Mutant | None, base: Path, seeds: int, per_kind: int) -> Outcome:
    """Run the battery on a copy with mutant applied (None: the baseline)."""
    start = time.monotonic()
    root = make_copy(base)
    name = mutant.name if mutant is not None else "baseline"
    try:
        if mutant is not None:
            stale = apply(root, mutant)
            if stale is not None:
                return Outcome(name, "STALE", time.monotonic() - start, stale)
        code = 0
        if mutant is not None and mutant.tests:  # the cheap check first
            code, last = run_in(
                root, ["-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *mutant.tests]
            )
            last = f"unit tests: {last}"
        if code == 0:
            probe = [
                "-m",
                "tests.mutants.probe",
                "--seeds",
                str(seeds),
                "--per-kind",
                str(per_kind),
            ]
            code, last = run_in(root, probe)
        elapsed = time.monotonic() - start
        if mutant is None:
            return Outcome(name, "baseline ok" if code == 0 else "BASELINE FAILED", elapsed, last)
        return Outcome(name, "killed" if code != 0 else "SURVIVED", elapsed, last)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def show(outcome: Outcome) -> None:
    print(f"{outcome.verdict:15} {outcome.name:24} {outcome.seconds:6.1f}s  {outcome.detail}")
    sys.stdout.flush()


def run(names: list[str] | None, seeds: int, per_kind: int, workers: int, tree: Path) -> int:
    """Run the baseline, then the chosen mutants; print the table; the exit status."""
    chosen = [m for m in MUTANTS if names is None or m.name in names]
    unknown = set(names or ()) - {m.name for m in MUTANTS}
    if unknown:
        print(f"unknown mutants: {sorted(unknown)}")
        return 2
    started = time.monotonic()
    base = snapshot(tree)
    try:
        # The unmutated battery must pass, or no kill would mean anything.
        baseline = check(None, base, seeds, per_kind)
        show(baseline)
        if baseline.verdict != "baseline ok":
            print("the unmutated tree fails the battery: no mutant run")
            return 1
        with ThreadPoolExecutor(max_workers=workers) as pool:
            jobs = [pool.submit(check, m, base, seeds, per_kind) for m in chosen]
            results = []
            for job in jobs:
                results.append(job.result())
                show(results[-1])
    finally:
        shutil.rmtree(base, ignore_errors=True)
    killed = sum(o.verdict == "killed" for o in results)
    print(f"{killed}/{len(results)} mutants killed in {time.monotonic() - started:.0f} s")
    return 0 if killed == len(results) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutants", description=__doc__)
    parser.add_argument("names", nargs="*", help="mutants to run (default: all)")
    parser.add_argument("--fast", action="store_true", help=f"only {', '.join(FAST)}")
    parser.add_argument("--seeds", type=int, default=300, help="random sweep seeds per mutant")
    parser.add_argument("--per-kind", type=int, default=10, help="seeds per adversary kind")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--tree", type=Path, default=REPO, help="the tree to copy (default: this working tree)"
    )
    args = parser.parse_args(argv)
    names = list(FAST) if args.fast else (args.names or None)
    return run(names, args.seeds, args.per_kind, args.workers, args.tree)


if __name__ == "__main__":
    sys.exit(main())
