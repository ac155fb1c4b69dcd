"""Batch floods on the HTTP API of a real 4-validator network (issue 11, item 3 and 7).

Seven clients post batches of 1,000 fresh junk-signature transfers to one node for about
10 s. Signature verification runs in worker threads and in slices, so that node's event
loop keeps serving ``/v1/status`` and consensus. The flooding clients' address is exempt
from the per-client rate limits (``[api] exempt``), so that the flood reaches admission
rather than stopping at 429 (tests/api/test_api_gate.py tests those limits).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import trio
from network_support import Network, running_network

from testnet._flood import (
    BATCH_TXS,
    FloodStats,
    bucket_quantile,
    histogram_buckets,
    percentile,
    probe_status,
    run_batch_flood,
    summary,
)

FLOOD_S = 10.0
CLIENTS = 7
BATCHES = 150  # distinct batches of fresh junk, so the signature cache saves nothing
LAG = "tenge_event_loop_lag_seconds"


def _exempt_loopback(net: Network) -> None:
    for node in net.nodes:
        config = Path(node["home"]) / "config.toml"
        text = config.read_text()
        assert text.count("\nexempt = []\n") == 1, "config.toml lacks [api] exempt"
        config.write_text(text.replace("\nexempt = []\n", '\nexempt = ["127.0.0.1/32"]\n'))


async def test_batch_floods_leave_status_fast_and_the_network_committing(
    tmp_path: Path,
) -> None:
    with trio.fail_after(240):
        async with running_network(tmp_path, prepare=_exempt_loopback) as net:
            await net.issue("bank-a", 10_000_000)
            target = 1
            height = await net.height(target)
            api = net.api(target)
            metrics_url = str(net.nodes[target]["metrics"])
            quiet = await probe_status(net.http, api, until=trio.current_time() + 3)
            lag_before = histogram_buckets((await net.http.get(metrics_url)).text, LAG)
            assert lag_before, "no event-loop lag histogram on /metrics"

            stats = FloodStats()
            flooded: list[float] = []
            payment: dict[str, object] = {}

            async def pay_during_flood() -> None:
                await trio.sleep(2)
                now = await net.height(target)
                envelope = net.payment("bank-a", "bank-b", 100, expires_at_height=now + 100)
                with trio.fail_after(10):
                    response = await net.submit(target, envelope, wait=True)
                payment.update(response.json(), status=response.status_code)

            async with trio.open_nursery() as nursery:
                # The flooding clients run in a child process at a lower CPU priority:
                # an attacker's CPU is not the node's, even on this one machine.
                await nursery.start(
                    partial(
                        run_batch_flood,
                        api,
                        chain_id=net.chain_id,
                        payer="bank-a",
                        payee="bank-b",
                        public_key=net.keys("bank-a")[0].public_key,
                        expires_at_height=height + 500,
                        clients=CLIENTS,
                        seconds=FLOOD_S,
                        batches=BATCHES,
                        stats=stats,
                    )
                )
                nursery.start_soon(pay_during_flood)
                heights_before = [await net.height(i) for i in range(4)]
                flooded = await probe_status(net.http, api, until=trio.current_time() + FLOOD_S)
            heights_after = [await net.height(i) for i in range(4)]
            lag_after = histogram_buckets((await net.http.get(metrics_url)).text, LAG)

    lag_p99 = bucket_quantile(lag_before, lag_after, 0.99)
    print(
        f"\nquiet /v1/status: {summary(quiet)}\nflood /v1/status: {summary(flooded)}\n"
        f"flood: {stats.requests} batches ({stats.requests / BATCHES:.2f} passes over "
        f"{BATCHES} distinct), statuses {stats.statuses}; heights "
        f"{heights_before} -> {heights_after}; event-loop lag p99 during flood "
        f"{'-' if lag_p99 is None else f'{lag_p99 * 1000:.1f} ms'}"
    )
    # Every batch was answered, every junk transaction refused, none admitted.
    assert stats.requests >= CLIENTS
    assert stats.statuses == {200: stats.requests}
    assert stats.txs_refused == stats.requests * BATCH_TXS
    assert stats.txs_admitted == 0
    # The issue's bound, /v1/status p95 under 100 ms on the flooded node, or within 10 times
    # the quiet p95 of the same run when the machine is busy with other work (a shared
    # machine slows both phases; bench/ measures the absolute figure).
    assert len(flooded) >= 20
    assert len(quiet) >= 5
    bound = max(0.1, 10 * percentile(quiet, 0.95))
    assert percentile(flooded, 0.95) < bound, (summary(quiet), summary(flooded))
    # The network kept committing, the flooded node with it, and took an honest payment.
    gained = [after - before for before, after in zip(heights_before, heights_after, strict=True)]
    assert min(gained) >= 3, (heights_before, heights_after)
    assert payment.get("status") == 200, payment
    assert payment.get("code") == "OK", payment
    # The lag sampler ran throughout: at least one sample per 100 ms of flood.
    assert lag_after[float("inf")] - lag_before[float("inf")] >= FLOOD_S * 10
