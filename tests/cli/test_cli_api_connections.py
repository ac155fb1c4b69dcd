"""A real node releases an API connection as soon as its client closes it.

Hypercorn keeps a connection whose client has gone until its keep-alive timer ends; the
connection cap must not count such a connection, or one client opening a connection per
request reaches `[api] max_connections_per_client` (64) within seconds and is refused.
"""

from __future__ import annotations

import re

import httpx
import trio
from cli_support import LiveNet

CLIENTS = 100  # more than max_connections_per_client


async def open_connections(net: LiveNet, index: int) -> float:
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(str(net.nodes[index]["metrics"]))
    match = re.search(r"^tenge_api_connections (\S+)$", r.text, re.M)
    assert match is not None, "tenge_api_connections is not exported"
    return float(match.group(1))


async def test_a_connection_per_request_is_never_refused(net: LiveNet) -> None:
    with trio.fail_after(60):
        for n in range(CLIENTS):
            async with httpx.AsyncClient(base_url=net.api(1), timeout=10) as client:
                r = await client.get("/v1/status")
            assert r.status_code == 200, f"request {n}: {r.status_code} {r.text}"
        for _ in range(200):  # each closes right after its client: the count drains
            if await open_connections(net, 1) == 0:
                break
            await trio.sleep(0.05)
        assert await open_connections(net, 1) == 0
