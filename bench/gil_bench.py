"""Does PyNaCl's Ed25519 verification release the GIL, and does a worker thread help?

Three figures, each the median of R runs over N fresh (envelope-sized) signatures:

- verifications/s on 1 thread, on 2 threads (plain ``threading``), and through
  ``trio.to_thread.run_sync`` in slices of 64 with up to 2 slices in flight;
- the event-loop stall: a trio task that sleeps 1 ms in a loop records its largest
  lateness while the N verifications run inline in the loop (in slices of 64 with
  ``trio.sleep(0)`` between them, and in one go) versus in a worker thread.

Run::

    .venv/bin/python -m bench.gil_bench [--n 5000] [--runs 5]

If verification holds the GIL, two threads give no more than one and a thread gives the
loop no relief; if it releases it, two threads approach twice one on two cores and the
loop's stall in the thread case stays near its idle value.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence

import trio
import trio.lowlevel

from node.keys import KeyPair, verify

_Item = tuple[bytes, bytes, bytes]
SLICE = 64


def make_items(n: int) -> list[_Item]:
    """n (public key, message, signature) triples over distinct 200-byte messages."""
    key = KeyPair.from_seed(b"\x07" * 32)
    items = []
    for i in range(n):
        message = i.to_bytes(8, "big") + os.urandom(192)
        items.append((key.public_key, message, key.sign(message)))
    return items


def verify_all(items: Sequence[_Item]) -> int:
    """How many verify; the bench asserts all do."""
    return sum(1 for pk, msg, sig in items if verify(pk, msg, sig))


def rate_threads(items: list[_Item], threads: int) -> float:
    """Verifications/s with the items split across `threads` OS threads."""
    parts = [items[i::threads] for i in range(threads)]
    counts = [0] * threads

    def work(index: int) -> None:
        counts[index] = verify_all(parts[index])

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    assert sum(counts) == len(items)
    return len(items) / elapsed


def rate_to_thread(items: list[_Item], in_flight: int) -> float:
    """Verifications/s through trio.to_thread in slices, in_flight slices at once."""

    async def main() -> float:
        limiter = trio.CapacityLimiter(in_flight)
        done = 0

        async def one(chunk: list[_Item]) -> None:
            nonlocal done
            count = await trio.to_thread.run_sync(verify_all, chunk, limiter=limiter)
            done += count

        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            for i in range(0, len(items), SLICE):
                nursery.start_soon(one, items[i : i + SLICE])
        assert done == len(items)
        return len(items) / (trio.current_time() - start)

    return trio.run(main)


async def _stall(work: Callable[[], object]) -> float:
    """Largest lateness (s) of a 1 ms sleeper while `work` (awaited) runs."""
    worst = 0.0
    finished = False

    async def sleeper() -> None:
        nonlocal worst
        while not finished:
            before = trio.current_time()
            await trio.sleep(0.001)
            worst = max(worst, trio.current_time() - before - 0.001)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sleeper)
        await trio.sleep(0.01)
        await work()  # type: ignore[misc]
        finished = True
    return worst


def stalls(items: list[_Item]) -> dict[str, float]:
    """Event-loop stall of verifying items inline (whole, sliced) versus in a thread."""

    async def inline_whole() -> None:
        verify_all(items)

    async def inline_sliced() -> None:
        for i in range(0, len(items), SLICE):
            verify_all(items[i : i + SLICE])
            await trio.lowlevel.checkpoint()

    async def threaded() -> None:
        for i in range(0, len(items), SLICE):
            await trio.to_thread.run_sync(verify_all, items[i : i + SLICE])

    async def idle() -> None:
        await trio.sleep(len(items) / 20_000)

    return {
        name: trio.run(_stall, fn)
        for name, fn in (
            ("idle", idle),
            ("inline_whole", inline_whole),
            ("inline_sliced", inline_sliced),
            ("thread_sliced", threaded),
        )
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    items = make_items(args.n)
    rates: dict[str, list[float]] = {"1 thread": [], "2 threads": [], "to_thread x2": []}
    lags: dict[str, list[float]] = {}
    for _ in range(args.runs):
        rates["1 thread"].append(rate_threads(items, 1))
        rates["2 threads"].append(rate_threads(items, 2))
        rates["to_thread x2"].append(rate_to_thread(items, 2))
        for name, value in stalls(items).items():
            lags.setdefault(name, []).append(value)
    print(f"cores: {os.cpu_count()}, n = {args.n}, median of {args.runs} runs")
    base = statistics.median(rates["1 thread"])
    for name, values in rates.items():
        med = statistics.median(values)
        print(f"  {name:<14} {med:>9,.0f} verifications/s  ({med / base:.2f}x)")
    print(f"event-loop stall while verifying {args.n} signatures (worst 1 ms sleeper lateness):")
    for name, values in lags.items():
        print(f"  {name:<14} {statistics.median(values) * 1000:>8.1f} ms")


if __name__ == "__main__":
    main()
