"""A real node process records its API requests and refusals in /metrics (issue 11, item 7).

One validator (a network of one): requests of known routes and statuses are made, then the
node's own /metrics must count them by route template (never the raw path) and status, with
a duration histogram, and count connections refused over ``max_connections_per_client``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import trio
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "node"))  # tests/node helpers

from network_support import Network, running_network

PER_CLIENT_CAP = 64  # the default [api] max_connections_per_client
SOURCE = "127.0.30.1"
EVENTS = b"GET /v1/events HTTP/1.1\r\nhost: node\r\n\r\n"


def samples(text: str) -> Iterator[Sample]:
    for family in text_string_to_metric_families(text):
        yield from family.samples


async def scrape(net: Network) -> list[Sample]:
    response = await net.http.get(net.nodes[0]["metrics"])
    assert response.status_code == 200
    return list(samples(response.text))


def value(found: list[Sample], name: str, **labels: str) -> float:
    return sum(s.value for s in found if s.name == name and labels.items() <= s.labels.items())


async def hold_event_streams(stack: AsyncExitStack, port: int, n: int) -> list[bytes]:
    """Open n connections from SOURCE each asking for /v1/events; their first answers."""
    heads = []
    for _ in range(n):
        sock = trio.socket.socket()
        stack.callback(sock.close)
        await sock.bind((SOURCE, 0))
        await sock.connect(("127.0.0.1", port))
        stream = trio.SocketStream(sock)
        await stream.send_all(EVENTS)
        with trio.fail_after(10):
            heads.append(bytes(await stream.receive_some(4096)))
    return heads


async def test_a_live_node_records_requests_and_refusals(tmp_path: Path) -> None:
    with trio.fail_after(120):
        async with running_network(tmp_path, validators=1) as net:
            before = await scrape(net)
            api = net.api(0)
            for _ in range(5):
                assert (await net.http.get(api + "/v1/status")).status_code == 200
            for tx_id in ("ab" * 32, "cd" * 32, "ef" * 32):
                assert (await net.http.get(f"{api}/v1/txs/{tx_id}")).status_code == 404
            assert (await net.http.get(api + "/v1/no-such-route")).status_code == 404
            port = int(api.rsplit(":", 1)[1])
            async with AsyncExitStack() as stack:
                heads = await hold_event_streams(stack, port, PER_CLIENT_CAP + 3)
            after = await scrape(net)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "tenge_api_requests_total"
    assert delta(requests, route="/v1/status", status="200") >= 5  # the harness polls too
    assert delta(requests, route="/v1/txs/{tx_id}", status="404") == 3
    assert delta(requests, route="unmatched", status="404") == 1
    assert not [s for s in after if s.name == requests and "ab" * 32 in s.labels["route"]]
    count = "tenge_api_request_duration_seconds_count"
    assert delta(count, route="/v1/txs/{tx_id}") == 3
    assert delta(count, route="/v1/status") >= 5
    refused = [h for h in heads if h.startswith(b"HTTP/1.1 503")]
    assert len(refused) == 3, heads[-4:]
    assert all(b"TOO_MANY_CONNECTIONS" in h and b"retry-after: 1" in h for h in refused)
    assert delta("tenge_api_refused_total", reason="max_connections_per_client") == 3
    assert value(after, "tenge_api_max_connections") == 256
    assert value(after, "tenge_api_connections") >= 1
