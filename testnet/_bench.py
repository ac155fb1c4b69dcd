"""`tenge-testnet bench`: a fresh local network, a saturating load, and a JSON report.

The report holds:
- committed_tps: payments committed per second with offered load well above capacity;
- latency_ms at saturation, and latency_ms_half at half of the measured saturation rate
  (the figure to compare with a 1 s finality target);
- cpu_seconds per node during the saturating run;
- the signature-verification bound measured in the same run: Ed25519 verifications per
  second on one core of this machine x cores / validators (each validator verifies every
  transaction), and committed_tps / bound.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import httpx
import nacl.bindings
import trio

from node.keys import KeyPair
from node.ledger.txbuild import transfer
from testnet._init import free_base_port, init_testnet
from testnet._load import Load, percentile
from testnet._procs import read_pid, start_node, stop_node
from testnet._status import wait_all_height

SATURATING_RATE: Final = 4000.0
WAIT_SAMPLES: Final = 30
UP_TIMEOUT_S: Final = 60.0
VERIFY_SAMPLES: Final = 3000


def measure_verify_rate(rounds: int = 5) -> float:
    """Median Ed25519 verifications per second on one core (PyNaCl / libsodium)."""
    key = KeyPair.from_seed(b"\x07" * 32)
    message = b"m" * 150
    signed = key.sign(message) + message
    rates = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(VERIFY_SAMPLES):
            nacl.bindings.crypto_sign_open(signed, key.public_key)
        rates.append(VERIFY_SAMPLES / (time.perf_counter() - t0))
    return statistics.median(rates)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_bench(
    *,
    validators: int = 4,
    duration: float = 15.0,
    workdir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the benchmark on a fresh network of `validators` nodes; return the report."""
    say = progress or (lambda line: None)
    with tempfile.TemporaryDirectory(prefix="tenge-bench-", dir=workdir) as tmp:
        manifest = init_testnet(
            Path(tmp) / "net", validators=validators, base_port=free_base_port(validators)
        )
        nodes = manifest["nodes"]
        verify_rate = measure_verify_rate()  # before the nodes compete for the cores
        try:
            for node in nodes:
                start_node(node, detach=False)
            say(f"network of {validators} validators starting")
            load = Load(manifest, accounts=100)
            pids = [read_pid(Path(n["home"])) for n in nodes]
            cpu_before = [_cpu_seconds(p) if p else 0.0 for p in pids]
            say(f"saturating load: {SATURATING_RATE:.0f} tx/s offered for {duration:g} s")
            if not wait_all_height(manifest, 1, UP_TIMEOUT_S):
                raise RuntimeError(f"the network did not reach height 1 within {UP_TIMEOUT_S:g} s")
            saturated = trio.run(load.run, SATURATING_RATE, duration, say)
            cpu = [
                round(_cpu_seconds(p) - before, 2) if p else None
                for p, before in zip(pids, cpu_before, strict=True)
            ]
            half_rate = max(1.0, saturated.committed_tps / 2)
            say(f"half of saturation: {half_rate:.0f} tx/s offered for {duration:g} s")
            half = trio.run(load.run, half_rate, duration, say)
            say("one client, one payment per request, no waiting")
            single = Load(manifest, accounts=20, workers=16, batch=1)
            api = trio.run(single.run, SATURATING_RATE, min(duration, 5.0), say)
            say("?wait=commit latency at light load")
            waits = trio.run(wait_commit_latencies, manifest, WAIT_SAMPLES)
        finally:
            for node in nodes:
                stop_node(node, grace=10)
    cores = os.cpu_count() or 1
    bound = verify_rate * cores / validators
    return {
        "validators": validators,
        "duration_s": duration,
        "committed_tps": saturated.committed_tps,
        "latency_ms": saturated.latency_ms,
        "half_saturation_rate": round(half_rate, 1),
        "half_saturation_committed_tps": half.committed_tps,
        "latency_ms_half": half.latency_ms,
        "offered": saturated.offered,
        "admitted": saturated.admitted,
        "committed": saturated.committed,
        "refusals": saturated.refusals,
        "cpu_seconds": {str(i): c for i, c in enumerate(cpu)},
        "api_submissions_per_s": api.admitted_per_s,
        "wait_commit_latency_ms": {
            "p50": round(percentile(waits, 50), 1),
            "p95": round(percentile(waits, 95), 1),
            "max": round(max(waits), 1),
        },
        "cores": cores,
        "ed25519_verify_per_s": round(verify_rate),
        "verify_bound_tps": round(bound),
        "ratio_to_bound": round(saturated.committed_tps / bound, 3),
    }


async def wait_commit_latencies(manifest: dict[str, Any], count: int) -> list[float]:
    """Milliseconds of `count` sequential POST /v1/txs?wait=commit payments."""
    load = Load(manifest, accounts=2)
    out = []
    async with httpx.AsyncClient(timeout=60) as client:
        await load.setup(client)
        top = await load.height(client) + 200
        for n in range(count):
            payer, payee = load.customers[0], load.merchants[0]
            env = load.sign(payer, transfer((payer, payee, "KZT", 1 + n)), top)
            t0 = time.perf_counter()
            response = await load.submit(client, load.apis[n % len(load.apis)], env, wait=True)
            out.append((time.perf_counter() - t0) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"wait=commit failed: {response.status_code} {response.text}")
            await trio.sleep(0.05)
    return out
