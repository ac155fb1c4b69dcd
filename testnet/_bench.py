"""`tenge-testnet bench`: a fresh local network, a ramp that finds saturation, the
overload steps, and a JSON report.

The run, in order (each step open-loop, `testnet._load`; the pools drain between steps):
1. Ed25519 verifications per second on one core, before the nodes start (the bound).
2. The ramp: from RAMP_START_TPS, x RAMP_FACTOR a step of `step_s` seconds, until
   committed tx/s stops keeping up (`ramp_should_stop`); saturation = the best
   committed tx/s of the ramp, the unit of the next steps' offered rates.
3. 0.5x saturation, in steady state: finality p50 / p95 / p99.
4. 1x, 2x and 3x saturation: committed tx/s of each, CPU per node over the three, and
   during 3x a probe of GET /v1/status on every node every PROBE_EVERY_S.
5. 0.5x saturation again, right after the overload: how finality recovers.
6. ?wait=commit latency of single payments at light load; RSS of every node.

committed_tps is the peak: the best committed tx/s of any step (a network that batches
more under heavier load can commit more at 2x than the ramp saw).

docs/testnet.md explains each field of the report.
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
from prometheus_client.parser import text_string_to_metric_families

from node.keys import KeyPair
from node.ledger.txbuild import transfer
from testnet._init import api_headers, free_base_port, init_testnet
from testnet._load import Load, LoadReport, genesis_load_accounts, percentile, summary_ms
from testnet._procs import read_pid, start_node, start_relay, stop_node, stop_relay
from testnet._status import relay_listening, wait_all_height

RAMP_START_TPS: Final = 200.0
RAMP_FACTOR: Final = 1.5
RAMP_MAX_TPS: Final = 50_000.0
KEEP_UP: Final = 0.9  # a step keeps up when it commits at least this share of its offer
P99_LIMIT_MS: Final = 3000.0  # ... and its p99 finality stays below this
WAIT_SAMPLES: Final = 30
UP_TIMEOUT_S: Final = 120.0
#: More time to reach height 1 per funded account and node: each node writes the accounts
#: file into its store at its first start (~0.1 ms an account on one core, measured by
#: bench/genesis_bench.py), and the nodes share the cores.
FIRST_START_S_PER_ACCOUNT: Final = 0.0004
DRAIN_S: Final = 30.0  # longest wait for the mempools to empty between steps
PROBE_EVERY_S: Final = 0.5
PROBE_TIMEOUT_S: Final = 10.0
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


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak) of a process, in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out["rss_mb" if key == "VmRSS" else "peak_rss_mb"] = round(
                int(value.split()[0]) / 1024, 1
            )
    return out


def ramp_should_stop(offered_tps: float, committed_tps: float, p99_ms: float | None) -> bool:
    """The ramp stops at the first step the network did not keep up with: it committed
    less than KEEP_UP of the offer, or its p99 finality passed P99_LIMIT_MS (None: no
    payment committed at all)."""
    if p99_ms is None:
        return True
    return committed_tps < KEEP_UP * offered_tps or p99_ms > P99_LIMIT_MS


def next_rate(rate: float) -> float:
    """The ramp's next offered rate."""
    return round(rate * RAMP_FACTOR, 1)


def _step(report: LoadReport) -> dict[str, Any]:
    return {
        "offered_tps": report.offered_rate,
        "committed_tps": report.committed_tps,
        "latency_ms": report.latency_ms,
        "send_lag_ms": report.send_lag_ms,
        "committed": report.committed,
        "refusals": report.refusals,
        "failed": report.failed,
    }


def _height_mark(api: str) -> tuple[int, float]:
    """Node api's height now, and the monotonic time it was read."""
    with httpx.Client(timeout=5) as client:
        height = int(client.get(f"{api}/v1/status").json()["height"])
    return height, time.monotonic()


def _block_time_ms(api: str, mark: tuple[int, float]) -> float | None:
    """Mean milliseconds a block at node api since mark (None: no block since)."""
    height, now = _height_mark(api)
    blocks = height - mark[0]
    return round((now - mark[1]) * 1000 / blocks, 1) if blocks > 0 else None


def consensus_timeouts(metrics_urls: list[str]) -> dict[str, float]:
    """``tenge_consensus_timeouts_total`` of every node summed by step (propose,
    prevote, precommit): a timeout that moved consensus, such as a round change after a
    late proposal. Nodes that do not answer count nothing."""
    out = dict.fromkeys(("precommit", "prevote", "propose"), 0.0)  # a step never fired: 0
    with httpx.Client(timeout=5) as client:
        for url in metrics_urls:
            try:
                text = client.get(url).text
            except httpx.HTTPError:
                continue
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if sample.name == "tenge_consensus_timeouts_total":
                        step = sample.labels.get("step", "")
                        out[step] = out.get(step, 0.0) + sample.value
    return out


def timeouts_since(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """The timeouts by step between two `consensus_timeouts` readings (pure)."""
    return {step: after[step] - before.get(step, 0.0) for step in sorted(after)}


def wait_drained(apis: list[str], timeout: float = DRAIN_S) -> bool:
    """Poll /v1/status until every node's mempool is empty; False on timeout."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline:
            try:
                sizes = [client.get(f"{a}/v1/status").json()["mempool"]["txs"] for a in apis]
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                sizes = [-1]
            if all(s == 0 for s in sizes):
                return True
            time.sleep(0.2)
    return False


async def probe_status(
    apis: list[str], samples: dict[str, list[float]], failures: dict[str, int]
) -> None:
    """Every PROBE_EVERY_S, GET /v1/status on every node at once; record the seconds
    each answer took (a failure: an error or no answer within PROBE_TIMEOUT_S)."""

    async def one(client: httpx.AsyncClient, api: str) -> None:
        t0 = trio.current_time()
        try:
            response = await client.get(f"{api}/v1/status")
            ok = response.status_code == 200
        except httpx.HTTPError:
            ok = False
        samples[api].append(trio.current_time() - t0)
        if not ok:
            failures[api] += 1

    async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as client:
        while True:
            async with trio.open_nursery() as nursery:
                for api in apis:
                    nursery.start_soon(one, client, api)
                await trio.sleep(PROBE_EVERY_S)


async def run_probed(
    load: Load, rate: float, duration: float, say: Callable[[str], None]
) -> tuple[LoadReport, dict[str, dict[str, float]]]:
    """One load step with `probe_status` running during it; the report and, per node
    index, the probe's p99 / max ms and failures."""
    samples: dict[str, list[float]] = {a: [] for a in load.apis}
    failures = dict.fromkeys(load.apis, 0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(probe_status, load.apis, samples, failures)
        report = await load.run(rate, duration, say)
        nursery.cancel_scope.cancel()
    probes = {
        str(i): {**summary_ms(samples[a], ("p99", "max")), "failures": failures[a]}
        for i, a in enumerate(load.apis)
    }
    return report, probes


def run_bench(
    *,
    validators: int = 4,
    step_s: float = 8.0,
    accounts: int = 100,
    rtt_ms: int = 0,
    workdir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the benchmark on a fresh network of `validators` nodes; return the report.

    Args:
        validators: nodes, all validators.
        step_s: seconds of offered load per step.
        accounts: funded load accounts, written into genesis.
        rtt_ms: round-trip delay between the validators, through the relay
            (testnet._relay; 0: none, the nodes dial each other directly).
        workdir: where the temporary network lives (default: the system's temp dir).
        progress: called with a line of progress now and then.
    """
    say = progress or (lambda line: None)
    chain_id = f"tenge-bench-{int(time.time())}"
    with tempfile.TemporaryDirectory(prefix="tenge-bench-", dir=workdir) as tmp:
        t_init = time.perf_counter()
        net_dir = Path(tmp) / "net"
        manifest = init_testnet(
            net_dir,
            validators=validators,
            base_port=free_base_port(validators),
            chain_id=chain_id,
            file_accounts=genesis_load_accounts(chain_id, accounts),
            rtt_ms=rtt_ms,
        )
        init_s = time.perf_counter() - t_init
        nodes = manifest["nodes"]
        apis = [n["api"] for n in nodes]
        metrics_urls = [n["metrics"] for n in nodes]
        verify_rate = measure_verify_rate()  # before the nodes compete for the cores
        relay: int | None = None
        try:
            t_up = time.perf_counter()
            if rtt_ms:
                relay = start_relay(net_dir, detach=False)
                if not relay_listening(manifest, relay, UP_TIMEOUT_S):
                    raise RuntimeError("the relay did not start listening")
            for node in nodes:
                start_node(node, detach=False)
            say(f"network of {validators} validators starting, {accounts} funded accounts")
            up_timeout = UP_TIMEOUT_S + accounts * validators * FIRST_START_S_PER_ACCOUNT
            if not wait_all_height(manifest, 1, up_timeout):
                raise RuntimeError(f"the network did not reach height 1 within {up_timeout:g} s")
            up_s = time.perf_counter() - t_up
            pids = [read_pid(Path(n["home"])) for n in nodes]
            load = Load(manifest, accounts=accounts, in_genesis=True, drain_timeout_s=DRAIN_S)

            ramp: list[dict[str, Any]] = []
            rate = RAMP_START_TPS
            saturation = 0.0
            while True:
                say(f"ramp: {rate:.0f} tx/s offered for {step_s:g} s")
                report = trio.run(load.run, rate, step_s, say)
                ramp.append(_step(report))
                saturation = max(saturation, report.committed_tps)
                p99 = report.latency_ms.get("p99")
                wait_drained(apis)
                if ramp_should_stop(rate, report.committed_tps, p99) or rate >= RAMP_MAX_TPS:
                    break
                rate = next_rate(rate)
            if saturation <= 0:
                raise RuntimeError("nothing was committed during the ramp")
            say(f"saturation: {saturation:.0f} tx/s committed")

            half_rate = max(1.0, saturation / 2)
            say(f"half of saturation: {half_rate:.0f} tx/s offered for {step_s:g} s")
            mark, counted = _height_mark(apis[0]), consensus_timeouts(metrics_urls)
            half = trio.run(load.run, half_rate, step_s, say)
            block_time_ms = {"half": _block_time_ms(apis[0], mark)}
            timeouts = {"half": timeouts_since(counted, consensus_timeouts(metrics_urls))}
            wait_drained(apis)

            steps: dict[str, LoadReport] = {}
            cpu_before = [_cpu_seconds(p) if p else 0.0 for p in pids]
            relay_before = _cpu_seconds(relay) if relay else 0.0
            probes: dict[str, dict[str, float]] = {}
            counted = consensus_timeouts(metrics_urls)
            for mult in (1, 2, 3):
                say(f"{mult}x saturation: {saturation * mult:.0f} tx/s offered for {step_s:g} s")
                if mult == 3:
                    steps["3x"], probes = trio.run(run_probed, load, saturation * 3, step_s, say)
                else:
                    steps[f"{mult}x"] = trio.run(load.run, saturation * mult, step_s, say)
                wait_drained(apis)
            cpu = [
                round(_cpu_seconds(p) - before, 2) if p else None
                for p, before in zip(pids, cpu_before, strict=True)
            ]
            relay_cpu = round(_cpu_seconds(relay) - relay_before, 2) if relay else None
            counted_after = consensus_timeouts(metrics_urls)
            timeouts["overload"] = timeouts_since(counted, counted_after)
            say(f"half of saturation after the overload: {half_rate:.0f} tx/s for {step_s:g} s")
            half_after = trio.run(load.run, half_rate, step_s, say)
            timeouts["half_after_overload"] = timeouts_since(
                counted_after, consensus_timeouts(metrics_urls)
            )
            wait_drained(apis)
            say("?wait=commit latency at light load")
            mark = _height_mark(apis[0])
            waits = trio.run(wait_commit_latencies, manifest, WAIT_SAMPLES)
            block_time_ms["light"] = _block_time_ms(apis[0], mark)
            memory = {str(i): memory_mb(p) if p else {} for i, p in enumerate(pids)}
        finally:
            for node in nodes:
                stop_node(node, grace=10)
            stop_relay(net_dir)
    return assemble_report(
        validators=validators,
        rtt_ms=rtt_ms,
        relay_cpu=relay_cpu,
        block_time_ms=block_time_ms,
        timeouts=timeouts,
        step_s=step_s,
        accounts=accounts,
        verify_rate=verify_rate,
        cores=os.cpu_count() or 1,
        ramp=ramp,
        saturation=saturation,
        steps=steps,
        half_rate=half_rate,
        half=half,
        half_after=half_after,
        cpu=cpu,
        probes=probes,
        memory=memory,
        waits=waits,
        start_s={"init": round(init_s, 2), "up_to_height_1": round(up_s, 2)},
    )


def assemble_report(
    *,
    validators: int,
    rtt_ms: int = 0,
    relay_cpu: float | None = None,
    block_time_ms: dict[str, float | None] | None = None,
    timeouts: dict[str, dict[str, float]] | None = None,
    step_s: float,
    accounts: int,
    verify_rate: float,
    cores: int,
    ramp: list[dict[str, Any]],
    saturation: float,
    steps: dict[str, LoadReport],
    half_rate: float,
    half: LoadReport,
    cpu: list[float | None],
    half_after: LoadReport | None = None,
    probes: dict[str, dict[str, float]],
    memory: dict[str, dict[str, float]],
    waits: list[float],
    start_s: dict[str, float],
) -> dict[str, Any]:
    """The JSON report from the figures of one run (pure: see docs/testnet.md)."""
    bound = verify_rate * cores / validators
    us_per_verify = 1e6 / verify_rate
    measured = sum(steps[k].committed for k in ("1x", "2x", "3x"))
    cpu_us = {
        str(i): round(c * 1e6 / measured, 1) if c is not None and measured else None
        for i, c in enumerate(cpu)
    }
    known = [v for v in cpu_us.values() if v is not None]
    at1 = steps["1x"]
    peak = max([saturation, *(r.committed_tps for r in steps.values())])
    return {
        "validators": validators,
        "rtt_ms": rtt_ms,
        "accounts": accounts,
        "step_s": step_s,
        "committed_tps": round(peak, 1),
        "saturation_tps": round(saturation, 1),
        "latency_ms": at1.latency_ms,
        "offered": at1.offered,
        "admitted": at1.admitted,
        "committed": at1.committed,
        "refusals": at1.refusals,
        "committed_tps_at": {k: r.committed_tps for k, r in steps.items()},
        "refusals_at": {k: r.refusals for k, r in steps.items()},
        "send_lag_ms_at": {k: r.send_lag_ms for k, r in steps.items()},
        "overload_ratio_3x": round(steps["3x"].committed_tps / peak, 3),
        "block_time_ms": block_time_ms or {},
        "consensus_timeouts": timeouts or {},
        "half_saturation_rate": round(half_rate, 1),
        "half_saturation_committed_tps": half.committed_tps,
        "latency_ms_half": half.latency_ms,
        "send_lag_ms_half": half.send_lag_ms,
        "latency_ms_half_after_overload": half_after.latency_ms if half_after else {},
        "send_lag_ms_half_after_overload": half_after.send_lag_ms if half_after else {},
        "ramp": ramp,
        "cpu_seconds": {str(i): c for i, c in enumerate(cpu)},
        "relay_cpu_seconds": relay_cpu,
        "cpu_us_per_tx": cpu_us,
        "cpu_per_tx_in_verifications": {
            k: None if v is None else round(v / us_per_verify, 2) for k, v in cpu_us.items()
        },
        "cpu_per_tx_in_verifications_max": (
            round(max(known) / us_per_verify, 2) if known else None
        ),
        "memory_mb": memory,
        "status_probe_ms_3x": probes,
        "tool_cpu_s": {
            key: round(sum(r.tool_cpu_s.get(key, 0.0) for r in [*steps.values(), half]), 2)
            for key in ("offering", "total")
        },
        "wait_commit_latency_ms": {
            "p50": round(percentile(waits, 50), 1),
            "p95": round(percentile(waits, 95), 1),
            "max": round(max(waits), 1) if waits else None,
        },
        "start_s": start_s,
        "cores": cores,
        "ed25519_verify_per_s": round(verify_rate),
        "verify_bound_tps": round(bound),
        "ratio_to_bound": round(peak / bound, 3),
    }


async def wait_commit_latencies(manifest: dict[str, Any], count: int) -> list[float]:
    """Milliseconds of `count` sequential POST /v1/txs?wait=commit payments."""
    load = Load(manifest, accounts=2)
    out = []
    async with httpx.AsyncClient(timeout=60, headers=api_headers(manifest)) as client:
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


def median_report(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The medians of several runs' reports: each number of the first report (nested
    objects included) is replaced by its median over the reports that have it as a number;
    what is not a number (lists, text, null) is left out (pure).

    Returns:
        ``{"runs": N, "median": {...}, "each": reports}``.
    """

    def medians(docs: list[Any]) -> Any:
        first = docs[0]
        if isinstance(first, bool):
            return None
        if isinstance(first, int | float):
            values = [d for d in docs if isinstance(d, int | float) and not isinstance(d, bool)]
            return round(statistics.median(values), 3) if values else None
        if isinstance(first, dict):
            out = {}
            for key in first:
                value = medians([d[key] for d in docs if isinstance(d, dict) and key in d])
                if value is not None and value != {}:
                    out[key] = value
            return out
        return None

    return {"runs": len(reports), "median": medians(reports), "each": reports}
