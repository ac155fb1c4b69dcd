"""Floods against a fresh 4-validator testnet: event-loop lag and commit rate per phase.

A benchmark, not a test: it prints figures and asserts nothing. Phases, each `--phase-s`
long, in order:

- ``baseline``: only a light honest load (``--honest-rate`` payments/s to node 0);
- ``api_batch``: the honest load plus ``--clients`` concurrent clients posting batches of
  1,000 fresh junk-signature transfers to node 1's ``POST /v1/txs/batch``;
- ``gossip``, ``stranger``, ``tiyn``: hooks for the junk-gossip flood from an allowed
  peer, the idle-stranger flood and the 1-tiyn mempool flood; each prints "n/a" until its
  flood function is filled in (`FLOODS`).

Per phase it reads from /metrics the event-loop lag p99 of the flooded node and of the
worst node (over the phase, interpolated within its histogram bucket as Prometheus's
``histogram_quantile`` does), from the API the blocks/s and honest tx/s committed, and
the ``/v1/status`` p95 on the flooded node. Run::

    .venv/bin/python -m bench.flood_bench [--phase-s 15] [--clients 7]
"""

from __future__ import annotations

import argparse
import base64
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trio

from node.keys import read_key_file
from node.ledger.txbuild import build_tx, sign_envelope, transfer
from proto import ledger_pb2
from testnet._flood import (
    FloodStats,
    bucket_quantile,
    histogram_buckets,
    percentile,
    probe_status,
    run_batch_flood,
)
from testnet._init import free_base_port, init_testnet
from testnet._procs import start_node, stop_node

FLOODED = 1  # the node the floods aim at; the honest load goes to node 0
LAG = "tenge_event_loop_lag_seconds"
FAST_PARAMS = {"empty_block_interval_ms": 1000}


@dataclass
class Bench:
    """A running testnet and what the phases share."""

    manifest: dict[str, Any]
    http: httpx.AsyncClient
    clients: int
    honest_committed: int = 0

    def api(self, i: int) -> str:
        return str(self.manifest["nodes"][i]["api"])

    async def height(self, i: int) -> int:
        return int((await self.http.get(self.api(i) + "/v1/status")).json()["height"])

    async def lag_buckets(self) -> list[dict[float, float]]:
        texts = [(await self.http.get(node["metrics"])).text for node in self.manifest["nodes"]]
        return [histogram_buckets(text, LAG) for text in texts]


# A flood: runs `seconds` once started (``await nursery.start(flood, bench, seconds,
# notes)``) and appends a one-line summary to notes.
Flood = Callable[..., Awaitable[None]]


async def api_batch_flood(
    bench: Bench,
    seconds: float,
    notes: list[str],
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Junk-signature batches on the flooded node's API from a child process at nice 10."""
    height = await bench.height(FLOODED)
    key = read_key_file(Path(bench.manifest["accounts"]["bank-b"]["key_files"][0]))
    stats = FloodStats()
    await run_batch_flood(
        bench.api(FLOODED),
        chain_id=bench.manifest["chain_id"],
        payer="bank-b",
        payee="bank-a",
        public_key=key.public_key,
        expires_at_height=height + 550,
        clients=bench.clients,
        seconds=seconds,
        batches=150,
        stats=stats,
        task_status=task_status,
    )
    notes.append(
        f"{stats.requests} batches, {stats.txs_refused} junk refused, http {stats.statuses}"
    )


FLOODS: dict[str, Flood | None] = {
    "baseline": None,
    "api_batch": api_batch_flood,
    "gossip": None,  # junk tx gossip from an allowed peer: needs a Byzantine peer process
    "stranger": None,  # idle stranger connections: see tests/node/p2p strangers
    "tiyn": None,  # 1-tiyn account filling the mempool: needs per-account caps to matter
}


async def honest_load(bench: Bench, rate: float, until: float) -> None:
    """Payments bank-a -> bank-c to node 0 at `rate`/s; counts the admitted ones."""
    accounts = bench.manifest["accounts"]
    keys = [read_key_file(Path(f)) for f in accounts["bank-a"]["key_files"]]
    chain_id = bench.manifest["chain_id"]
    nonce = 1
    while trio.current_time() < until:
        height = await bench.height(0)
        body = build_tx(
            chain_id,
            "bank-a",
            transfer(("bank-a", "bank-c", "KZT", 1)),
            nonce=nonce,
            expires_at_height=height + 50,
        )
        nonce += 1
        raw = sign_envelope(body, chain_id, keys)
        await bench.http.post(bench.api(0) + "/v1/txs", json={"tx": base64.b64encode(raw).decode()})
        await trio.sleep(1 / rate)


async def committed_ok(bench: Bench) -> float:
    """Transfers committed OK so far, from node 0's tenge_txs_total."""
    text = (await bench.http.get(bench.manifest["nodes"][0]["metrics"])).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("tenge_txs_total{") and 'code="OK"' in line and "transfer" in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


async def run_phase(bench: Bench, name: str, seconds: float, honest_rate: float) -> dict[str, Any]:
    flood = FLOODS[name]
    if name != "baseline" and flood is None:
        return {"phase": name, "note": "n/a (flood not available yet)"}
    notes: list[str] = []
    status: list[float] = []
    async with trio.open_nursery() as nursery:
        if flood is not None:
            await nursery.start(flood, bench, seconds, notes)
        lag0 = await bench.lag_buckets()
        h0 = await bench.height(0)
        ok0 = await committed_ok(bench)
        start = trio.current_time()
        until = start + seconds
        nursery.start_soon(honest_load, bench, honest_rate, until)
        status.extend(await probe_status(bench.http, bench.api(FLOODED), until=until))
    await trio.sleep(1)  # let the last honest payments commit
    elapsed = trio.current_time() - start
    lag1 = await bench.lag_buckets()
    lags = [bucket_quantile(a, b, 0.99) for a, b in zip(lag0, lag1, strict=True)]
    return {
        "phase": name,
        "lag_p99_flooded_s": lags[FLOODED],
        "lag_p99_worst_s": max((x for x in lags if x is not None), default=None),
        "blocks_per_s": (await bench.height(0) - h0) / elapsed,
        "honest_tx_per_s": (await committed_ok(bench) - ok0) / elapsed,
        "status_p95_ms": percentile(status, 0.95) * 1000,
        "note": "; ".join(notes) or "honest load only",
    }


async def main_async(args: argparse.Namespace, directory: Path) -> list[dict[str, Any]]:
    manifest = init_testnet(
        directory, validators=4, base_port=free_base_port(4), params=FAST_PARAMS
    )
    async with httpx.AsyncClient(timeout=30) as http:
        bench = Bench(manifest, http, args.clients)
        try:
            for node in manifest["nodes"]:
                start_node(node, detach=False)
            with trio.fail_after(60):
                while True:
                    try:
                        if min([await bench.height(i) for i in range(4)]) >= 1:
                            break
                    except (httpx.HTTPError, KeyError, ValueError):
                        pass
                    await trio.sleep(0.2)
            await issue(bench, "bank-a", 10_000_000)
            return [await run_phase(bench, name, args.phase_s, args.honest_rate) for name in FLOODS]
        finally:
            for node in manifest["nodes"]:
                stop_node(node, grace=10)


async def issue(bench: Bench, to: str, amount: int) -> None:
    """The central bank issues KZT to `to` (waits for the commit)."""
    accounts = bench.manifest["accounts"]
    keys = [read_key_file(Path(f)) for f in accounts["central-bank"]["key_files"]]
    chain_id = bench.manifest["chain_id"]
    body = build_tx(
        chain_id,
        "central-bank",
        ledger_pb2.Issue(asset="KZT", to=to, amount=amount),
        nonce=1,
        expires_at_height=await bench.height(0) + 100,
    )
    raw = sign_envelope(body, chain_id, keys)
    response = await bench.http.post(
        bench.api(0) + "/v1/txs?wait=commit", json={"tx": base64.b64encode(raw).decode()}
    )
    response.raise_for_status()


def fmt(value: Any, scale: float = 1.0, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value * scale:.1f}{unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase-s", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=7)
    parser.add_argument("--honest-rate", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tenge-flood-") as tmp:
        rows = trio.run(main_async, args, Path(tmp) / "net")
    print(
        f"{'phase':<10} {'lag p99 flooded':>16} {'lag p99 worst':>14} {'blocks/s':>9} "
        f"{'honest tx/s':>12} {'status p95':>11}  note"
    )
    for row in rows:
        if "blocks_per_s" not in row:
            print(f"{row['phase']:<10} {row['note']}")
            continue
        print(
            f"{row['phase']:<10} {fmt(row['lag_p99_flooded_s'], 1000, ' ms'):>16} "
            f"{fmt(row['lag_p99_worst_s'], 1000, ' ms'):>14} {row['blocks_per_s']:>9.2f} "
            f"{row['honest_tx_per_s']:>12.1f} {fmt(row['status_p95_ms'], 1, ' ms'):>11}  "
            f"{row['note']}"
        )


if __name__ == "__main__":
    main()
