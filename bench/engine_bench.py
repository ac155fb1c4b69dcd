"""Engine overhead: heights per second on a simulated 4-validator network.

A lossless, zero-delay in-process network joins four engines; every proposer answers
``RequestProposalValue`` at once and every decided block is committed at once, so the
figure is the engine's own CPU cost (message handling, vote counting, signing and
verification), not the network's or the disk's. Run::

    .venv/bin/python -m bench.engine_bench [--heights N] [--runs R]

It prints the median of R runs with fast fake keys (the target is >= 1,000 heights/s) and
with real Ed25519 keys (PyNaCl) for reference.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import deque

from consensus import (
    Broadcast,
    CommitBlock,
    ConsensusParams,
    Engine,
    HeightCommitted,
    Output,
    Proposal,
    ProposalReceived,
    ProposalValueReady,
    RequestProposalValue,
    Signer,
    Started,
    ValidatorSet,
    Verifier,
    VoteReceived,
)
from consensus.testing import FakeCodec, FakeSigner, FakeVerifier, fake_block
from node.keys import KeyPair, verify

N_VALIDATORS = 4


class _Ed25519Verifier:
    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        return verify(public_key, message, signature)


def run_network(signers: list[Signer], verifier: Verifier, heights: int) -> tuple[float, float]:
    """Run the network for heights; returns (wall seconds, seconds inside Engine.handle)."""
    vset = ValidatorSet({s.public_key: 1 for s in signers})
    codec = FakeCodec()
    engines = [
        Engine(
            chain_id="bench",
            height=1,
            validator_set=vset,
            verifier=verifier,
            codec=codec,
            signer=s,
            params=ConsensusParams(),
        )
        for s in signers
    ]
    inbox: deque[tuple[int, object]] = deque()
    engine_time = 0.0
    clock = time.perf_counter

    def feed(index: int, event: object) -> None:
        nonlocal engine_time
        started = clock()
        outputs = engines[index].handle(event)  # type: ignore[arg-type]
        engine_time += clock() - started
        route(index, outputs)

    def route(index: int, outputs: list[Output]) -> None:
        for out in outputs:
            if isinstance(out, Broadcast):
                msg = out.message
                for other in range(N_VALIDATORS):
                    if other != index:
                        if isinstance(msg, Proposal):
                            inbox.append((other, ProposalReceived(msg, 0)))
                        else:
                            inbox.append((other, VoteReceived(msg, 0)))
            elif isinstance(out, RequestProposalValue):
                value = fake_block(out.height, b"payload")
                inbox.append((index, ProposalValueReady(out.height, out.round, value, 0)))
            elif isinstance(out, CommitBlock):
                inbox.append((index, HeightCommitted(out.height, vset, 0)))

    wall_start = clock()
    for i in range(N_VALIDATORS):
        feed(i, Started(0))
    while inbox:
        index, event = inbox.popleft()
        if engines[index].height > heights:
            continue
        feed(index, event)
    wall = clock() - wall_start
    reached = min(e.height for e in engines) - 1
    if reached < heights:
        raise RuntimeError(f"the network stalled at height {reached + 1}")
    return wall, engine_time


def measure(label: str, signers: list[Signer], verifier: Verifier, heights: int, runs: int) -> None:
    """Print the median heights/s over runs."""
    walls: list[float] = []
    engine: list[float] = []
    for _ in range(runs):
        wall, engine_s = run_network(signers, verifier, heights)
        walls.append(heights / wall)
        engine.append(heights / engine_s)
    print(
        f"{label:>18}: {statistics.median(engine):9,.0f} heights/s of engine CPU "
        f"({statistics.median(walls):,.0f} with the harness), median of {runs} runs "
        f"x {heights} heights, {N_VALIDATORS} validators"
    )


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--heights", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    fake: list[Signer] = [FakeSigner.numbered(i) for i in range(N_VALIDATORS)]
    measure("fake keys", fake, FakeVerifier(), args.heights, args.runs)
    real: list[Signer] = [KeyPair.from_seed(bytes([i + 1]) * 32) for i in range(N_VALIDATORS)]
    measure("Ed25519 (PyNaCl)", real, _Ed25519Verifier(), max(args.heights // 10, 50), args.runs)


if __name__ == "__main__":
    main()
