"""Floods against a fresh 4-validator testnet: event-loop lag and commit rate per phase.

A benchmark, not a test: it prints figures and asserts nothing. A light honest load
(``--honest-rate`` payments/s bank-a -> bank-c to node 0) runs in every phase; phases,
each ``--phase-s`` long, in order:

- ``baseline``: the honest load only;
- ``api_batch``: ``--clients`` concurrent clients posting batches of 1,000 fresh
  junk-signature transfers to node 1's ``POST /v1/txs/batch``. The flooding clients
  connect from 127.0.0.9, which node 1's config.toml lists in ``[api] exempt`` (written
  before it starts), so the flood reaches admission instead of stopping at 429 after
  about 8,000 transactions (node/api/_limits.py); the other nodes keep the defaults;
- ``stranger``: 200 idle stranger connections to node 1's p2p port from 50 loopback
  addresses, each reopened when the node closes it;
- ``tiyn``: bank-b, holding 1 tiyn, posts batches of signed 1-tiyn payments to node 1
  (also from the exempt 127.0.0.9); the note counts the answers by code (admitted,
  PENDING_FUNDS_EXCEEDED, INSUFFICIENT_FUNDS once its one payment has committed...);
- ``slowloris``: 1,500 header tricklers from 30 addresses and a connection churner on
  node 1's API, default limits (testnet/_api_attack.py), after a 3 s build-up;
- ``quiet_v3_down``: validator 3 stopped (its node key is the gossip flooder's next), the
  honest load only: the baseline for the gossip phases;
- ``gossip_512``: validator 3's node key on its port floods nodes 0-2 with junk-signature
  transfer gossip in 512-transaction frames, as fast as each node reads them;
- ``gossip_4mib``: the same in frames of about 4 MiB (about 23,000 transactions).

Every flood runs in a child process at nice 10 (a real attacker's CPU is not the node's),
but for ``tiyn``, which is a few HTTP posts of pre-signed payments.

Per phase it reads from /metrics the event-loop lag p99 of the flooded node (node 1) and
of the worst running node (over the phase, interpolated within its histogram bucket as
Prometheus's ``histogram_quantile`` does), from the API the blocks/s and honest tx/s
committed, and the ``/v1/status`` p95 on the flooded node; the note holds the flood's own
counters and the flooded node's. Run::

    .venv/bin/python -m bench.flood_bench [--phase-s 15] [--clients 7] [--json PATH]
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trio

from node.keys import read_key_file
from node.ledger.txbuild import build_tx, sign_envelope, transfer
from proto import ledger_pb2
from testnet._api_attack import raise_fd_limit, run_api_attack
from testnet._flood import (
    FloodStats,
    bucket_quantile,
    counter_by_label,
    histogram_buckets,
    percentile,
    probe_status,
    run_batch_flood,
)
from testnet._init import MANIFEST, free_base_port, init_testnet
from testnet._p2p_flood import run_gossip_flood, run_strangers
from testnet._procs import start_node, stop_node

FLOODED = 1  # the node the floods aim at; the honest load goes to node 0
GOSSIP_FLOODER = 3  # the validator whose node key the gossip flooder takes
EXEMPT_SOURCE = "127.0.0.9"  # the API floods' source address, exempt on the flooded node
SLOWLORIS_BUILD_UP_S = 3.0
TIYN_BATCHES = 30  # pre-signed batches of 1,000 1-tiyn payments
LAG = "tenge_event_loop_lag_seconds"
FAST_PARAMS = {"empty_block_interval_ms": 1000}


@dataclass
class Bench:
    """A running testnet and what the phases share."""

    manifest: dict[str, Any]
    manifest_path: Path
    http: httpx.AsyncClient
    clients: int
    down: set[int] = field(default_factory=set)
    nonces: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def api(self, i: int) -> str:
        return str(self.manifest["nodes"][i]["api"])

    def port(self, i: int, service: str) -> int:
        return int(str(self.manifest["nodes"][i][service]).rsplit(":", 1)[1])

    async def height(self, i: int) -> int:
        return int((await self.http.get(self.api(i) + "/v1/status")).json()["height"])

    async def metrics(self, i: int) -> str:
        return (await self.http.get(self.manifest["nodes"][i]["metrics"])).text

    async def lag_buckets(self) -> list[dict[float, float]]:
        """Each node's loop-lag buckets; {} for a stopped node."""
        return [
            {} if i in self.down else histogram_buckets(await self.metrics(i), LAG)
            for i in range(len(self.manifest["nodes"]))
        ]

    async def counters(self, i: int, families: dict[str, str]) -> dict[str, dict[str, float]]:
        """Node i's counters: family -> {label value: count}, for each family -> label."""
        text = await self.metrics(i)
        return {f: counter_by_label(text, f, label) for f, label in families.items()}


# A flood: runs `seconds` once started (``await nursery.start(flood, bench, seconds,
# notes)``) and appends a one-line summary to notes.
Flood = Callable[..., Awaitable[None]]


def _delta(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]
) -> dict[str, dict[str, int]]:
    """after - before per family and label value, the zero ones left out."""
    out: dict[str, dict[str, int]] = {}
    for family, values in after.items():
        diff = {k: int(v - before.get(family, {}).get(k, 0.0)) for k, v in values.items()}
        out[family] = {k: v for k, v in diff.items() if v}
    return out


def _short(delta: dict[str, dict[str, int]]) -> str:
    """family{label: n, ...} for each family, without the tenge_ prefix."""
    parts = []
    for family, values in delta.items():
        inner = ", ".join(f"{k or '-'}: {v}" for k, v in sorted(values.items()))
        parts.append(f"{family.removeprefix('tenge_')} {{{inner}}}")
    return " ".join(parts)


ADMISSION = {
    "tenge_mempool_admissions": "code",
    "tenge_mempool_evictions": "",
    "tenge_admission_overload": "path",
}


async def api_batch_flood(
    bench: Bench,
    seconds: float,
    notes: list[str],
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Junk-signature batches on the flooded node's API from a child process at nice 10,
    connecting from the exempt source address."""
    height = await bench.height(FLOODED)
    key = read_key_file(Path(bench.manifest["accounts"]["bank-b"]["key_files"][0]))
    stats = FloodStats()
    before = await bench.counters(FLOODED, ADMISSION)
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
        source=EXEMPT_SOURCE,
        task_status=task_status,
    )
    after = await bench.counters(FLOODED, ADMISSION)
    notes.append(
        f"from {EXEMPT_SOURCE}, exempt from [api] per-client limits on node {FLOODED}: "
        f"{stats.requests} batches, {stats.txs_admitted} admitted, {stats.txs_refused} "
        f"refused, http {stats.statuses}; node {FLOODED}: {_short(_delta(before, after))}"
    )


async def stranger_flood(
    bench: Bench,
    seconds: float,
    notes: list[str],
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """200 idle strangers on the flooded node's p2p port, from a child at nice 10."""
    families = {"tenge_p2p_handshake_failures": "reason", "tenge_p2p_peer_dropped": "reason"}
    before = await bench.counters(FLOODED, families)
    tally = await run_strangers(
        [bench.port(FLOODED, "p2p")], per_port=200, seconds=seconds, task_status=task_status
    )
    after = await bench.counters(FLOODED, families)
    peers = (await bench.http.get(bench.api(FLOODED) + "/v1/status")).json()["peers"]
    notes.append(
        f"200 strangers: {tally.opened} connections opened, {tally.closed_by_node} closed by "
        f"the node, {tally.connect_failed} failed; node {FLOODED}: "
        f"{_short(_delta(before, after))}, {peers} peers at the end"
    )


def _tiyn_batches(bench: Bench, expires_at_height: int) -> list[bytes]:
    """TIYN_BATCHES JSON bodies of 1,000 signed 1-tiyn payments bank-b -> bank-c."""
    chain_id = bench.manifest["chain_id"]
    keys = [read_key_file(Path(f)) for f in bench.manifest["accounts"]["bank-b"]["key_files"]]
    out = []
    for _ in range(TIYN_BATCHES):
        txs = []
        for _ in range(1000):
            body = build_tx(
                chain_id,
                "bank-b",
                transfer(("bank-b", "bank-c", "KZT", 1)),
                nonce=next(bench.nonces),
                expires_at_height=expires_at_height,
            )
            txs.append(base64.b64encode(sign_envelope(body, chain_id, keys)).decode())
        out.append(json.dumps({"txs": txs}).encode())
    return out


async def tiyn_flood(
    bench: Bench,
    seconds: float,
    notes: list[str],
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """bank-b (1 tiyn) posts pre-signed batches of 1-tiyn payments to the flooded node."""
    height = await bench.height(FLOODED)
    batches = await trio.to_thread.run_sync(_tiyn_batches, bench, height + 300)
    codes: dict[str, int] = {}
    statuses: dict[int, int] = {}
    before = await bench.counters(FLOODED, ADMISSION)
    sent = 0
    transport = httpx.AsyncHTTPTransport(local_address=EXEMPT_SOURCE)
    async with httpx.AsyncClient(timeout=60, transport=transport) as client:
        task_status.started()
        until = trio.current_time() + seconds
        for body in batches:
            if trio.current_time() >= until:
                break
            response = await client.post(
                bench.api(FLOODED) + "/v1/txs/batch",
                content=body,
                headers={"content-type": "application/json"},
            )
            sent += 1
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code == 200:
                for result in response.json()["results"]:
                    code = result.get("code", "OK")
                    codes[code] = codes.get(code, 0) + 1
        left = until - trio.current_time()
        if left > 0:
            await trio.sleep(left)
    after = await bench.counters(FLOODED, ADMISSION)
    notes.append(
        f"1-tiyn bank-b from {EXEMPT_SOURCE} (exempt): {sent} of {len(batches)} batches of "
        f"1,000 sent{' (all: ran out)' if sent == len(batches) else ''}, answers {codes}, "
        f"http {statuses}; node {FLOODED}: {_short(_delta(before, after))}"
    )


async def slowloris_flood(
    bench: Bench,
    seconds: float,
    notes: list[str],
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Tricklers and a churner on the flooded node's API from a child at nice 10; the
    phase starts after a build-up."""
    families = {"tenge_api_refused": "reason"}
    before = await bench.counters(FLOODED, families)
    tallies = []

    async def attack(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        port = bench.port(FLOODED, "api")
        tallies.append(
            await run_api_attack(port, SLOWLORIS_BUILD_UP_S + seconds, task_status=task_status)
        )

    async with trio.open_nursery() as nursery:
        await nursery.start(attack)
        await trio.sleep(SLOWLORIS_BUILD_UP_S)
        task_status.started()
    after = await bench.counters(FLOODED, families)
    tally = tallies[0]
    notes.append(
        f"{tally.trickles_opened} trickles opened, {tally.trickles_closed_by_node} closed by "
        f"the node, {len(tally.trickle_answers)} answered; churn {tally.churn_admitted} "
        f"admitted, {tally.churn_refused} refused (max "
        f"{max(tally.refusal_s, default=0) * 1000:.0f} ms), {len(tally.churn_other)} other; "
        f"node {FLOODED}: {_short(_delta(before, after))}"
    )


GOSSIP = {
    "tenge_p2p_gossip_throttled": "",
    "tenge_p2p_frames_dropped": "reason",
    "tenge_p2p_peer_dropped": "reason",
    "tenge_p2p_gossip_invalid_txs": "",
    "tenge_mempool_admissions": "code",
}


async def _gossip_flood(
    bench: Bench,
    seconds: float,
    notes: list[str],
    per_frame: int,
    task_status: trio.TaskStatus[None],
) -> None:
    honest = [i for i in range(len(bench.manifest["nodes"])) if i not in bench.down]
    height = max([await bench.height(i) for i in honest])
    before = await bench.counters(FLOODED, GOSSIP)
    figures = await run_gossip_flood(
        bench.manifest_path,
        flooder=GOSSIP_FLOODER,
        targets=honest,
        payer="bank-a",
        payee="bank-b",
        expires_at_height=height + 500,
        per_frame=per_frame,
        seconds=seconds,
        task_status=task_status,
    )
    after = await bench.counters(FLOODED, GOSSIP)
    notes.append(
        f"validator {GOSSIP_FLOODER}'s key to nodes {honest}: {figures['frames_sent']} frames "
        f"of {figures['txs_per_frame']} txs ({figures['frame_bytes'] / 1e6:.2f} MB) sent; "
        f"node {FLOODED}: {_short(_delta(before, after))}"
    )


async def gossip_512_flood(
    bench: Bench,
    seconds: float,
    notes: list[str],
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Junk gossip in 512-tx frames from validator 3's key, from a child at nice 10."""
    await _gossip_flood(bench, seconds, notes, 512, task_status)


async def gossip_4mib_flood(
    bench: Bench,
    seconds: float,
    notes: list[str],
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Junk gossip in frames of about 4 MiB from validator 3's key, from a child at nice 10."""
    await _gossip_flood(bench, seconds, notes, 0, task_status)


FLOODS: dict[str, Flood | None] = {
    "baseline": None,
    "api_batch": api_batch_flood,
    "stranger": stranger_flood,
    "tiyn": tiyn_flood,
    "slowloris": slowloris_flood,
    "quiet_v3_down": None,
    "gossip_512": gossip_512_flood,
    "gossip_4mib": gossip_4mib_flood,
}
#: Validators stopped before a phase (and left stopped).
STOP_BEFORE = {"quiet_v3_down": GOSSIP_FLOODER}


async def honest_load(bench: Bench, rate: float, until: float) -> None:
    """Payments bank-a -> bank-c to node 0 at `rate`/s; counts the admitted ones."""
    accounts = bench.manifest["accounts"]
    keys = [read_key_file(Path(f)) for f in accounts["bank-a"]["key_files"]]
    chain_id = bench.manifest["chain_id"]
    while trio.current_time() < until:
        height = await bench.height(0)
        body = build_tx(
            chain_id,
            "bank-a",
            transfer(("bank-a", "bank-c", "KZT", 1)),
            nonce=next(bench.nonces),
            expires_at_height=height + 50,
        )
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
    notes: list[str] = []
    status: list[float] = []
    failures: list[str] = []
    if name in STOP_BEFORE:
        index = STOP_BEFORE[name]
        notes.append(f"validator {index} {stop_node(bench.manifest['nodes'][index], grace=10)}")
        bench.down.add(index)
        await trio.sleep(2)  # let the others' round robin settle without it
    async with trio.open_nursery() as nursery:
        if flood is not None:
            await nursery.start(flood, bench, seconds, notes)
        lag0 = await bench.lag_buckets()
        h0 = await bench.height(0)
        ok0 = await committed_ok(bench)
        start = trio.current_time()
        until = start + seconds
        nursery.start_soon(honest_load, bench, honest_rate, until)
        probe = await probe_status(bench.http, bench.api(FLOODED), until=until, failures=failures)
        status.extend(probe)
    await trio.sleep(1)  # let the last honest payments commit
    elapsed = trio.current_time() - start
    lag1 = await bench.lag_buckets()
    lags = [bucket_quantile(a, b, 0.99) if b else None for a, b in zip(lag0, lag1, strict=True)]
    if failures:
        notes.append(f"{len(failures)} /v1/status polls failed (first: {failures[0]})")
    return {
        "phase": name,
        "lag_p99_flooded_s": lags[FLOODED],
        "lag_p99_worst_s": max((x for x in lags if x is not None), default=None),
        "blocks_per_s": (await bench.height(0) - h0) / elapsed,
        "honest_tx_per_s": (await committed_ok(bench) - ok0) / elapsed,
        "status_p95_ms": percentile(status, 0.95) * 1000,
        "note": "; ".join(notes) or "honest load only",
        "load_average_1m": os.getloadavg()[0],
    }


def exempt_flood_source(node: dict[str, Any]) -> None:
    """List EXEMPT_SOURCE in node's ``[api] exempt`` (its config.toml, before it starts)."""
    config = Path(node["home"]) / "config.toml"
    text, n = re.subn(
        r"(?m)^exempt = \[\]$", f'exempt = ["{EXEMPT_SOURCE}/32"]', config.read_text()
    )
    if n != 1:
        raise RuntimeError(f"{config} has no [api] exempt = [] line")
    config.write_text(text)


async def main_async(args: argparse.Namespace, directory: Path) -> list[dict[str, Any]]:
    manifest = init_testnet(
        directory, validators=4, base_port=free_base_port(4), params=FAST_PARAMS
    )
    exempt_flood_source(manifest["nodes"][FLOODED])
    phases = [p for p in FLOODS if not args.phases or p in args.phases.split(",")]
    async with httpx.AsyncClient(timeout=30) as http:
        bench = Bench(manifest, directory / MANIFEST, http, args.clients)
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
            await issue(bench, "bank-b", 1)  # the 1-tiyn account of the tiyn phase
            rows = []
            for name in phases:
                rows.append(await run_phase(bench, name, args.phase_s, args.honest_rate))
                print(json.dumps(rows[-1]), flush=True)
            return rows
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
        nonce=next(bench.nonces),
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
    parser.add_argument("--phases", default="", help="comma-separated subset (default: all)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    raise_fd_limit(8192)  # before the nodes start: they inherit it
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="tenge-flood-") as tmp:
        rows = trio.run(main_async, args, Path(tmp) / "net")
    load_after = os.getloadavg()
    if args.json is not None:
        doc = {
            "phase_s": args.phase_s,
            "clients": args.clients,
            "honest_rate": args.honest_rate,
            "load_average_before": load_before,
            "load_average_after": load_after,
            "rows": rows,
        }
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    print(
        f"{'phase':<13} {'lag p99 flooded':>16} {'lag p99 worst':>14} {'blocks/s':>9} "
        f"{'honest tx/s':>12} {'status p95':>11}  note"
    )
    for row in rows:
        print(
            f"{row['phase']:<13} {fmt(row['lag_p99_flooded_s'], 1000, ' ms'):>16} "
            f"{fmt(row['lag_p99_worst_s'], 1000, ' ms'):>14} {row['blocks_per_s']:>9.2f} "
            f"{row['honest_tx_per_s']:>12.1f} {fmt(row['status_p95_ms'], 1, ' ms'):>11}  "
            f"{row['note']}"
        )
    print(f"load average before {load_before}, after {load_after}")


if __name__ == "__main__":
    main()
