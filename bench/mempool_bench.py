"""Mempool benchmark: admission bookkeeping and the re-check after a commit.

With real Ed25519 and a real LevelDB store, on one core:
- admission: Mempool.add of N pre-signed payments with a cold signature cache, then with
  a warm one next to check_tx alone (warm), so the mempool's own cost (pending sums,
  per-account cap, indexes) shows as the difference;
- update: after a block of B of them commits, Mempool.update with the keys the block
  wrote (what the node core asks for), and with written=None (re-check everything), as
  milliseconds and check_tx calls;
- refusal at the room in time (``--refusals R``): microseconds per transaction through
  the node's Admitter (signatures verified inline, one core) for R fresh payments admitted
  into a pool with room, then for R more refused by a pool at its room (refused before
  verification, docs/mempool.md), and for R refused the old way: verified and checked,
  then refused (``Mempool.add`` on a full pool without the early refusal).

Run: ``make bench`` or
``.venv/bin/python -m bench.mempool_bench [--txs N] [--block B] [--refusals R]``.
Figures only; nothing here fails on speed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import trio

from bench.ledger_bench import CHAIN, _genesis, _key
from node.admission import Admitter
from node.genesis import parse_genesis
from node.ledger import Ledger, genesis_app_hash, genesis_state
from node.ledger.txbuild import build_tx, sign_envelope, transfer
from node.mempool import Mempool
from node.store import BlockCommit, Store

PER_CUSTOMER = 10  # pending payments per paying account


class _Counting:
    """The ledger, counting check_tx calls."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.calls = 0

    def check_tx(self, raw: bytes, *, next_height: int):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.ledger.check_tx(raw, next_height=next_height)

    def balance(self, account: str, asset: str) -> int:
        return self.ledger.balance(account, asset)

    def rulebook_version_at(self, height: int) -> int:
        return self.ledger.rulebook_version_at(height)


def run(txs_n: int, block_n: int) -> dict[str, float]:
    """The figures of one run."""
    customers = max(1, txs_n // PER_CUSTOMER)
    genesis = parse_genesis(_genesis(customers))
    txs = []
    for n in range(txs_n):
        payer = f"cust-{n % customers:05d}"
        body = build_tx(
            CHAIN, payer, transfer((payer, "bank-a", "KZT", 1)), nonce=n, expires_at_height=50
        )
        txs.append(sign_envelope(body, CHAIN, [_key(payer)]))
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "db") as store:
        store.init_genesis(b"g", genesis_state(genesis), genesis_app_hash(genesis))
        ledger = Ledger(genesis, store, verify_cache_entries=txs_n * 2)
        checker = _Counting(ledger)
        pool = Mempool(checker, max_txs=txs_n, max_bytes=1 << 30)
        t0 = time.perf_counter()
        assert all(pool.add(raw, next_height=1).added for raw in txs)
        t_add = time.perf_counter() - t0
        t0 = time.perf_counter()
        assert all(ledger.check_tx(raw, next_height=1).ok for raw in txs)
        t_check_warm = time.perf_counter() - t0
        again = Mempool(ledger, max_txs=txs_n, max_bytes=1 << 30)
        t0 = time.perf_counter()
        assert all(again.add(raw, next_height=1).added for raw in txs)
        t_add_warm = time.perf_counter() - t0

        block = pool.reap(max_txs=block_n, max_bytes=1 << 30)
        result = ledger.execute_block(
            height=1, time_ms=1_767_225_601_000, txs=block, prev_app_hash=store.app_hash
        )
        store.commit_block(
            BlockCommit(
                height=1,
                block=b"b",
                block_hash=b"h" * 32,
                commit=b"",
                receipts=result.receipts,
                writes=result.writes,
                app_hash=result.app_hash,
            )
        )
        included = [r.tx_id for r in result.receipts]
        written = tuple(key for key, _ in result.writes)
        checker.calls = 0
        t0 = time.perf_counter()
        pool.update(included, next_height=2, written=written)
        t_update = time.perf_counter() - t0
        calls_written = checker.calls
        checker.calls = 0
        t0 = time.perf_counter()
        pool.update([], next_height=2, written=None)
        t_all = time.perf_counter() - t0
    return {
        "txs": txs_n,
        "block_txs": block_n,
        "add_per_s_cold": txs_n / t_add,
        "add_per_s_warm": txs_n / t_add_warm,
        "check_tx_per_s_warm": txs_n / t_check_warm,
        "update_written_ms": t_update * 1000,
        "update_written_check_tx_calls": calls_written,
        "update_all_ms": t_all * 1000,
        "update_all_check_tx_calls": checker.calls,
    }


def run_refusals(n: int) -> dict[str, float]:
    """Microseconds per transaction: admitted, refused early at the room, refused late."""
    customers = max(1, 3 * n // PER_CUSTOMER)
    genesis = parse_genesis(_genesis(customers))
    txs = []
    for k in range(3 * n):
        payer = f"cust-{k % customers:05d}"
        body = build_tx(
            CHAIN, payer, transfer((payer, "bank-a", "KZT", 1)), nonce=k, expires_at_height=50
        )
        txs.append(sign_envelope(body, CHAIN, [_key(payer)]))
    admitted, early, late = txs[:n], txs[n : 2 * n], txs[2 * n :]
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "db") as store:
        store.init_genesis(b"g", genesis_state(genesis), genesis_app_hash(genesis))
        ledger = Ledger(genesis, store, verify_cache_entries=6 * n)
        # Room for exactly n: the time bound is on, the capacity not measured yet.
        pool = Mempool(ledger, max_txs=10 * n, max_bytes=1 << 30, max_pending_s=4.0)
        pool.min_pending_txs = n
        admitter = Admitter(ledger, pool, next_height=lambda: 1, thread_min_txs=10**9)

        async def timed(raws: list[bytes]) -> tuple[float, set[int]]:
            t0 = time.perf_counter()
            answers = await admitter.admit(raws, source="api")
            return time.perf_counter() - t0, {a.code for a in answers}

        t_admit, codes_admit = trio.run(timed, admitted)
        t_early, codes_early = trio.run(timed, early)
        full = Mempool(ledger, max_txs=n, max_bytes=1 << 30)
        for raw in admitted:
            full.add(raw, next_height=1)
        t0 = time.perf_counter()
        codes_late = {full.add(raw, next_height=1).code for raw in late}
        t_late = time.perf_counter() - t0
    assert codes_admit == {0}, codes_admit
    assert len(codes_early) == len(codes_late) == 1, (codes_early, codes_late)
    return {
        "refusals": n,
        "admit_us_per_tx": t_admit / n * 1e6,
        "refuse_at_room_us_per_tx": t_early / n * 1e6,
        "refuse_after_checks_us_per_tx": t_late / n * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=20_000)
    parser.add_argument("--block", type=int, default=500)
    parser.add_argument("--refusals", type=int, default=0, help="measure refusals instead")
    args = parser.parse_args()
    figures = run_refusals(args.refusals) if args.refusals else run(args.txs, args.block)
    print(json.dumps({k: round(v, 1) for k, v in figures.items()}, indent=1))


if __name__ == "__main__":
    main()
