"""Hostile load for tests and benchmarks: junk-signature batch floods on the HTTP API, a
``/v1/status`` latency probe, and readings of a node's ``/metrics``.

`run_batch_flood` runs the flood in a child process at a lower CPU priority (nice 10):
a real attacker floods from its own machine, so on one shared machine the flooding
clients should not take the cores that the node under test and the probe need.

Junk transactions are well-formed transfers from a real account, carrying that account's
public key and a random signature, each with a fresh nonce: the node cannot refuse them
before verifying the signature, and its signature cache never saves it the work.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import math
import os
import re
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import httpx
import trio

from node.ledger.txbuild import transfer
from proto import ledger_pb2

BATCH_TXS: Final = 1000  # node.api MAX_BATCH
FLOOD_NICE: Final = 10
_BUCKET_RE: Final = re.compile(r'^(\w+)_bucket\{(?:[^}]*,)?le="([^"]+)"(?:,[^}]*)?\} (\S+)$')
_COUNTS_RE: Final = re.compile(rb'\{"admitted":\s*(\d+),\s*"refused":\s*(\d+)')
_nonces = itertools.count(1 << 40)


def junk_batch_bodies(
    chain_id: str,
    payer: str,
    payee: str,
    public_key: bytes,
    *,
    expires_at_height: int,
    batches: int,
    size: int = BATCH_TXS,
) -> list[bytes]:
    """JSON bodies for ``POST /v1/txs/batch``, each of `size` fresh junk-signature transfers."""
    body = ledger_pb2.TxBody(
        chain_id=chain_id,
        signer=payer,
        expires_at_height=expires_at_height,
        transfer=transfer((payer, payee, "KZT", 1)),
    )
    out = []
    for _ in range(batches):
        txs = []
        for _ in range(size):
            body.nonce = next(_nonces)
            env = ledger_pb2.TxEnvelope(
                body=body.SerializeToString(),
                signatures=[ledger_pb2.Signature(public_key=public_key, signature=os.urandom(64))],
            )
            txs.append(base64.b64encode(env.SerializeToString()).decode())
        out.append(json.dumps({"txs": txs}).encode())
    return out


@dataclass
class FloodStats:
    """What a flood sent and how the node answered."""

    requests: int = 0
    txs_admitted: int = 0
    txs_refused: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


async def flood_batches(
    client: httpx.AsyncClient,
    api: str,
    bodies: list[bytes],
    *,
    clients: int,
    until: float,
    stats: FloodStats,
) -> None:
    """`clients` concurrent loops posting bodies (round robin) until trio time `until`."""
    cursor = itertools.count()

    async def one() -> None:
        while trio.current_time() < until:
            body = bodies[next(cursor) % len(bodies)]
            response = await client.post(
                api + "/v1/txs/batch", content=body, headers={"content-type": "application/json"}
            )
            stats.requests += 1
            stats.statuses[response.status_code] = stats.statuses.get(response.status_code, 0) + 1
            if response.status_code == 200:
                # {"admitted": A, "refused": R, "results": [...]}: read the head only, so
                # that the flooding process spends little CPU of the machine it measures.
                head = _COUNTS_RE.match(response.content)
                if head is not None:
                    stats.txs_admitted += int(head.group(1))
                    stats.txs_refused += int(head.group(2))

    async with trio.open_nursery() as nursery:
        for _ in range(clients):
            nursery.start_soon(one)


async def probe_status(
    client: httpx.AsyncClient,
    api: str,
    *,
    until: float,
    interval_s: float = 0.05,
    failures: list[str] | None = None,
) -> list[float]:
    """Latencies (s) of ``GET /v1/status`` polled every interval_s until trio time `until`.

    A failed poll (no answer, or not 200) raises, or, when failures is given, is appended
    to it and its latency is still counted.
    """
    latencies = []
    while trio.current_time() < until:
        start = trio.current_time()
        try:
            response = await client.get(api + "/v1/status")
            response.raise_for_status()
        except httpx.HTTPError as e:
            if failures is None:
                raise
            failures.append(repr(e)[:200])
        latencies.append(trio.current_time() - start)
        await trio.sleep(interval_s)
    return latencies


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values, nearest rank; nan when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def histogram_buckets(metrics_text: str, family: str) -> dict[float, float]:
    """Cumulative bucket counts (upper bound -> count) of an unlabeled histogram."""
    out: dict[float, float] = {}
    for line in metrics_text.splitlines():
        match = _BUCKET_RE.match(line)
        if match and match.group(1) == family:
            out[float(match.group(2))] = float(match.group(3))
    return out


def bucket_quantile(
    before: dict[float, float], after: dict[float, float], q: float
) -> float | None:
    """The q-quantile of what was observed in between, interpolated within its bucket as
    Prometheus's ``histogram_quantile`` does; None if nothing was observed."""
    delta = sorted((le, after[le] - before.get(le, 0.0)) for le in after)
    if not delta or delta[-1][1] <= 0:
        return None
    rank = q * delta[-1][1]
    lower, below = 0.0, 0.0
    for le, count in delta:
        if count >= rank:
            if math.isinf(le):
                return lower  # past the last finite bucket: its bound, as Prometheus does
            return lower + (le - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = le, count
    return None


def summary(latencies: list[float]) -> str:
    """p50 / p95 / max of latencies in ms."""
    if not latencies:
        return "no samples"
    return (
        f"n={len(latencies)} p50={statistics.median(latencies) * 1000:.1f} ms "
        f"p95={percentile(latencies, 0.95) * 1000:.1f} ms max={max(latencies) * 1000:.1f} ms"
    )


async def run_flood_child(
    command: list[str], *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> dict[str, Any]:
    """Run a flood's child process; its JSON result (the last line of its stdout).

    The child prints one line when it begins to flood (reported as started, for
    ``await nursery.start(...)``), then its JSON result when done. The child lowers its
    own CPU priority (`FLOOD_NICE`). It is killed if the caller is cancelled.
    """
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
    assert process.stdout is not None
    try:
        output = b""
        while b"\n" not in output:
            chunk = await process.stdout.receive_some()
            if not chunk:
                raise RuntimeError(f"the flood process ended early: {output!r}")
            output += chunk
        task_status.started()
        while chunk := await process.stdout.receive_some():
            output += chunk
        if await process.wait() != 0:
            raise RuntimeError(f"the flood process failed: {output!r}")
    finally:
        with trio.CancelScope(shield=True):
            process.kill()
            await process.wait()
    result: dict[str, Any] = json.loads(output.decode().strip().splitlines()[-1])
    return result


def lower_priority() -> None:
    """Run this (child) process at nice `FLOOD_NICE`, as a flood's child processes do."""
    if hasattr(os, "nice"):
        os.nice(FLOOD_NICE)


def counter_by_label(metrics_text: str, family: str, label: str) -> dict[str, float]:
    """A counter family's samples (``family_total{label="x",...} n``) summed by label's
    value ("" for samples without that label, or unlabeled)."""
    pattern = re.compile(rf"^{family}(?:_total)?(?:\{{([^}}]*)\}})? (\S+)$")
    value_re = re.compile(rf'(?:^|,){label}="([^"]*)"')
    out: dict[str, float] = {}
    for line in metrics_text.splitlines():
        match = pattern.match(line)
        if match is None:
            continue
        key = value_re.search(match.group(1) or "")
        name = key.group(1) if key else ""
        out[name] = out.get(name, 0.0) + float(match.group(2))
    return out


async def run_batch_flood(
    api: str,
    *,
    chain_id: str,
    payer: str,
    payee: str,
    public_key: bytes,
    expires_at_height: int,
    clients: int,
    seconds: float,
    batches: int,
    stats: FloodStats,
    source: str | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """`flood_batches` from a child process at nice 10, filling stats when it is done.

    Use with ``await nursery.start(...)``: it reports started once the child has built
    its junk bodies and begins to flood, which then lasts `seconds`. source, if given, is
    the local address the flooding clients connect from (e.g. a loopback address listed
    in the node's ``[api] exempt``).
    """
    command = [
        sys.executable,
        "-m",
        "testnet._flood",
        f"--api={api}",
        f"--chain-id={chain_id}",
        f"--payer={payer}",
        f"--payee={payee}",
        f"--public-key={public_key.hex()}",
        f"--expires-at-height={expires_at_height}",
        f"--clients={clients}",
        f"--seconds={seconds}",
        f"--batches={batches}",
    ]
    if source is not None:
        command.append(f"--source={source}")
    doc = await run_flood_child(command, task_status=task_status)
    stats.requests = doc["requests"]
    stats.txs_admitted = doc["txs_admitted"]
    stats.txs_refused = doc["txs_refused"]
    stats.statuses = {int(k): v for k, v in doc["statuses"].items()}


def _main() -> None:
    parser = argparse.ArgumentParser(description="junk-signature batch flood (a child process)")
    for name in ("api", "chain-id", "payer", "payee", "public-key"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--expires-at-height", type=int, required=True)
    parser.add_argument("--clients", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batches", type=int, default=150)
    parser.add_argument("--source", default=None, help="local address to connect from")
    args = parser.parse_args()
    lower_priority()
    bodies = junk_batch_bodies(
        args.chain_id,
        args.payer,
        args.payee,
        bytes.fromhex(args.public_key),
        expires_at_height=args.expires_at_height,
        batches=args.batches,
    )
    stats = FloodStats()
    print("flooding", flush=True)

    async def flood() -> None:
        transport = httpx.AsyncHTTPTransport(local_address=args.source)
        async with httpx.AsyncClient(timeout=60, transport=transport) as client:
            until = trio.current_time() + args.seconds
            await flood_batches(
                client, args.api, bodies, clients=args.clients, until=until, stats=stats
            )

    trio.run(flood)
    print(json.dumps(asdict(stats)))


if __name__ == "__main__":
    _main()
