"""API benchmark (not a test): submissions/s from one client, and ?wait=commit latency.

Run: ``.venv/bin/python tests/api/bench_api.py [N]``. The API runs on a real socket
(serve_api, 127.0.0.1) over an in-process node with a real store, ledger and mempool but no
consensus: a block is committed as soon as a transaction is admitted, so the latency
figure is the API's and the commit path's share, not a network's finality.
"""

from __future__ import annotations

import base64
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import trio

sys.path.insert(0, str(Path(__file__).parent))

from api_support import LocalNode

from node.api import create_app, serve_api
from node.ledger.txbuild import transfer
from node.mempool import Mempool


def bodies(node: LocalNode, n: int) -> list[bytes]:
    out = []
    for _ in range(n):
        raw = node.tx("halyk", transfer(("halyk", "kaspi", "KZT", 1)))
        out.append(b'{"tx": "' + base64.b64encode(raw) + b'"}')
    return out


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as home:
        node = LocalNode(Path(home) / "store")
        node.mempool = Mempool(node.ledger, max_txs=100_000, max_bytes=1 << 30)
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_api, create_app(node), "127.0.0.1", 0)
            url = f"http://127.0.0.1:{port}"
            headers = {"content-type": "application/json"}
            async with httpx.AsyncClient(base_url=url) as http:
                for label, concurrency in (("sequential", 1), ("16 in flight", 16)):
                    payloads = bodies(node, n)
                    started = time.perf_counter()

                    async def worker(chunk: list[bytes]) -> None:
                        for body in chunk:
                            r = await http.post("/v1/txs", content=body, headers=headers)
                            assert r.status_code == 202, r.text

                    async with trio.open_nursery() as workers:
                        for i in range(concurrency):
                            workers.start_soon(worker, payloads[i::concurrency])
                    elapsed = time.perf_counter() - started
                    print(f"submit, {label}: {n / elapsed:,.0f} tx/s ({n} txs, {elapsed:.2f} s)")
                    node.commit_block()
                nursery.start_soon(node.auto_commit)
                latencies = []
                for _ in range(200):
                    [body] = bodies(node, 1)  # signed now: each commit advances the height
                    started = time.perf_counter()
                    r = await http.post(
                        "/v1/txs", params={"wait": "commit"}, content=body, headers=headers
                    )
                    assert r.status_code == 200, r.text
                    latencies.append(time.perf_counter() - started)
                latencies.sort()
                print(
                    "wait=commit latency, one at a time, immediate commit: "
                    f"median {statistics.median(latencies) * 1000:.1f} ms, "
                    f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f} ms"
                )
            nursery.cancel_scope.cancel()
        node.close()


if __name__ == "__main__":
    trio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
