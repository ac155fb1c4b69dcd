"""Connection caps, idle and send timeouts, rate limits and request metrics through
serve_api on real sockets (127.0.0.0/8, port 0), with small limits."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
import trio
from api_support import LocalNode
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

import node.api._server as server_module
from node.api import ApiGate, ApiLimits, create_app, serve_api
from node.api._limits import (
    REFUSED_CLIENT_CONNECTIONS,
    REFUSED_CONNECTIONS,
    REFUSED_RATE,
    REFUSED_SUBMIT_RATE,
    SHED_GRACE_S,
    SHED_IDLE,
)
from node.ledger.txbuild import transfer
from node.metrics import NodeMetrics

HEAD = b"GET /v1/status HTTP/1.1\r\nhost: node\r\n\r\n"
HEAD_CLOSE = b"GET /v1/status HTTP/1.1\r\nhost: node\r\nconnection: close\r\n\r\n"
EVENTS = b"GET /v1/events HTTP/1.1\r\nhost: node\r\n\r\n"


class Recorder:
    def __init__(self) -> None:
        self.refused: list[str] = []
        self.requests: list[tuple[str, int]] = []

    def on_api_request(self, route: str, status: int, seconds: float) -> None:
        self.requests.append((route, status))

    def on_api_refused(self, reason: str) -> None:
        self.refused.append(reason)


@dataclass
class Served:
    port: int
    gate: ApiGate
    recorder: Recorder

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@asynccontextmanager
async def serving(local_node: LocalNode, **limits: object) -> AsyncIterator[Served]:
    recorder = Recorder()
    gate = ApiGate(ApiLimits(**limits), recorder)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        app = create_app(local_node, keepalive_s=0.2, body_timeout_s=1.0, gate=gate)
        port = await nursery.start(serve_api, app, "127.0.0.1", 0)
        yield Served(port, gate, recorder)
        nursery.cancel_scope.cancel()


async def wait_until(predicate: Callable[[], bool], limit_s: float = 5.0) -> None:
    """Poll predicate until true, failing past limit_s."""
    with trio.fail_after(limit_s):
        while True:
            if predicate():
                return
            await trio.sleep(0.01)


async def connect(port: int, source: str = "127.0.0.1") -> trio.SocketStream:
    sock = trio.socket.socket()
    await sock.bind((source, 0))
    await sock.connect(("127.0.0.1", port))
    return trio.SocketStream(sock)


async def read_all(stream: trio.SocketStream, limit_s: float = 5.0) -> bytes:
    """Everything the server sends until it closes (fails past limit_s)."""
    out = b""
    with trio.fail_after(limit_s):
        while chunk := await stream.receive_some(65536):
            out += chunk
    return out


async def read_head(stream: trio.SocketStream) -> bytes:
    out = b""
    with trio.fail_after(5):
        while b"\r\n\r\n" not in out:
            chunk = await stream.receive_some(65536)
            assert chunk, f"closed after {out!r}"
            out += chunk
    return out


def parse_response(raw: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    return status, headers, json.loads(body) if body else {}


async def open_streams(
    stack: AsyncExitStack, port: int, n: int, source: str = "127.0.0.1"
) -> list[trio.SocketStream]:
    """n connections each holding GET /v1/events (a request in progress)."""
    streams = []
    for _ in range(n):
        stream = await connect(port, source)
        await stack.enter_async_context(stream)
        await stream.send_all(EVENTS)
        assert b" 200 " in (await read_head(stream)).split(b"\r\n")[0]
        streams.append(stream)
    return streams


async def test_over_the_per_client_cap_a_connection_gets_503_and_is_closed(
    local_node: LocalNode,
) -> None:
    async with serving(local_node, max_connections=10, max_connections_per_client=3) as s:
        async with AsyncExitStack() as stack:
            await open_streams(stack, s.port, 3)
            extra = await connect(s.port)
            async with extra:
                await extra.send_all(HEAD)
                t0 = trio.current_time()
                status, headers, body = parse_response(await read_all(extra))
                assert trio.current_time() - t0 < 2.0  # answered and closed at once, not held
            assert status == 503
            assert headers["retry-after"] == "1"
            assert headers["connection"] == "close"
            assert body["error"]["code"] == "TOO_MANY_CONNECTIONS"  # type: ignore[index]
            # Another address still gets in.
            other = await connect(s.port, "127.0.0.2")
            async with other:
                await other.send_all(HEAD)
                assert parse_response(await read_all_keepalive(other))[0] == 200
        assert s.recorder.refused == [REFUSED_CLIENT_CONNECTIONS]


async def read_all_keepalive(stream: trio.SocketStream) -> bytes:
    """One response on a keep-alive connection (head plus content-length body)."""
    raw = await read_head(stream)
    head, _, body = raw.partition(b"\r\n\r\n")
    length = int(parse_headers(head)["content-length"])
    with trio.fail_after(5):
        while len(body) < length:
            body += await stream.receive_some(65536)
    return head + b"\r\n\r\n" + body


def parse_headers(head: bytes) -> dict[str, str]:
    lines = head.decode().split("\r\n")[1:]
    return {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}


async def test_at_the_cap_with_every_connection_busy_a_newcomer_gets_503(
    local_node: LocalNode,
) -> None:
    async with serving(local_node, max_connections=4, max_connections_per_client=4) as s:
        async with AsyncExitStack() as stack:
            await open_streams(stack, s.port, 4)
            for source in ("127.0.0.3", "127.0.0.6"):
                extra = await connect(s.port, source)
                async with extra:
                    await extra.send_all(HEAD)
                    status, headers, body = parse_response(await read_all(extra))
                assert status == 503, body
                assert body["error"]["code"] == "TOO_MANY_CONNECTIONS"  # type: ignore[index]
                assert headers["retry-after"] == "1"
            assert len(s.gate.connections) == 4
        assert s.recorder.refused == [REFUSED_CONNECTIONS] * 2
        # Closing the streams frees their slots.
        await wait_until(lambda: len(s.gate.connections) == 0)
        async with httpx.AsyncClient(base_url=s.url) as http:
            assert (await http.get("/v1/status")).status_code == 200


async def test_at_the_cap_the_connection_idle_longest_is_shed_for_a_newcomer(
    local_node: LocalNode,
) -> None:
    async with (
        serving(local_node, max_connections=4, max_connections_per_client=4) as s,
        AsyncExitStack() as stack,
    ):
        tricklers = []
        for _ in range(4):  # headers begun, never finished
            stream = await stack.enter_async_context(await connect(s.port, "127.0.0.4"))
            await stream.send_all(b"GET /v1/status HTTP/1.1\r\nhost: n")
            tricklers.append(stream)
            await trio.sleep(0.01)
        await wait_until(lambda: len(s.gate.connections) == 4)
        await trio.sleep(SHED_GRACE_S + 0.05)  # younger ones are never shed
        async with httpx.AsyncClient(base_url=s.url) as http:
            response = await http.get("/v1/status")
        assert response.status_code == 200, response.text
        assert await read_all(tricklers[0]) == b""  # the oldest was closed, unanswered
        assert s.recorder.refused == [SHED_IDLE]


async def test_at_the_cap_with_only_young_idle_connections_a_newcomer_waits_its_turn(
    local_node: LocalNode,
) -> None:
    """A burst fills the table at one instant (as after a stall of the node): the newcomer
    that follows is held until the oldest of the burst may be shed, then served."""
    async with (
        serving(local_node, max_connections=4, max_connections_per_client=4) as s,
        AsyncExitStack() as stack,
    ):
        tricklers = []
        for _ in range(4):
            stream = await stack.enter_async_context(await connect(s.port, "127.0.0.4"))
            await stream.send_all(b"GET /v1/status HTTP/1.1\r\nhost: n")
            tricklers.append(stream)
        await wait_until(lambda: len(s.gate.connections) == 4)
        async with httpx.AsyncClient(base_url=s.url) as http:
            response = await http.get("/v1/status")
        assert response.status_code == 200, response.text
        assert await read_all(tricklers[0]) == b""  # the oldest was closed, unanswered
        assert s.recorder.refused == [SHED_IDLE]


async def test_newcomers_at_the_cap_racing_for_young_idle_slots_are_all_served(
    local_node: LocalNode,
) -> None:
    """Three newcomers arrive together after a burst of tricklers (each a few ms younger
    than the one before): woken at once, they race for the oldest slot; the losers keep
    asking and get the next ones instead of a 503."""
    async with (
        serving(local_node, max_connections=4, max_connections_per_client=4) as s,
        AsyncExitStack() as stack,
    ):
        for _ in range(4):
            stream = await stack.enter_async_context(await connect(s.port, "127.0.0.4"))
            await stream.send_all(b"GET /v1/status HTTP/1.1\r\nhost: n")
            await trio.sleep(0.02)
        await wait_until(lambda: len(s.gate.connections) == 4)
        statuses: list[int] = []

        async def newcomer(source: str) -> None:
            extra = await connect(s.port, source)
            async with extra:
                await extra.send_all(HEAD_CLOSE)
                status, _headers, _body = parse_response(await read_all(extra))
            statuses.append(status)

        async with trio.open_nursery() as nursery:
            for source in ("127.0.0.5", "127.0.0.6", "127.0.0.7"):
                nursery.start_soon(newcomer, source)
        assert statuses == [200, 200, 200]
        assert REFUSED_CONNECTIONS not in s.recorder.refused
        assert SHED_IDLE in s.recorder.refused  # a slot freed by a served newcomer counts none


async def test_at_the_cap_a_newcomer_takes_the_slot_of_a_busy_connection_that_ends(
    local_node: LocalNode,
) -> None:
    async with serving(local_node, max_connections=4, max_connections_per_client=4) as s:
        async with AsyncExitStack() as stack:
            busy = await open_streams(stack, s.port, 4)
            extra = await connect(s.port, "127.0.0.3")
            async with extra, trio.open_nursery() as nursery:

                async def end_one_soon() -> None:
                    await trio.sleep(0.3)
                    await busy[0].aclose()

                nursery.start_soon(end_one_soon)
                await extra.send_all(HEAD_CLOSE)
                status, _headers, body = parse_response(await read_all(extra))
            assert status == 200, body
        assert s.recorder.refused == []


async def trickle_until_closed(stream: trio.SocketStream, head: bytes) -> tuple[bytes, float]:
    """Send head one byte every 0.1 s (never its blank line) until the server answers or
    closes: (what it sent, seconds it took)."""
    got = b""
    t0 = trio.current_time()
    with trio.fail_after(10):
        for byte in head[:-4]:
            try:
                await stream.send_all(bytes([byte]))
            except trio.BrokenResourceError:
                break
            with trio.move_on_after(0.1):
                got = await stream.receive_some(65536)
                break
        if got:
            got += await read_all(stream)
    return got, trio.current_time() - t0


async def test_trickled_headers_are_cut_off_at_the_idle_timeout(local_node: LocalNode) -> None:
    async with serving(local_node, idle_timeout_s=0.5) as s:
        async with await connect(s.port) as stream:
            got, took = await trickle_until_closed(stream, HEAD)
        status, _headers, body = parse_response(got)
        assert status == 408
        assert body["error"]["code"] == "HEADERS_TIMEOUT"  # type: ignore[index]
        assert 0.4 < took < 5.0
        await wait_until(lambda: len(s.gate.connections) == 0, 5)
        assert s.recorder.refused == ["head_timeout"]


async def test_a_keep_alive_connection_trickling_its_next_request_is_closed(
    local_node: LocalNode,
) -> None:
    async with serving(local_node, idle_timeout_s=0.5) as s:
        async with await connect(s.port) as stream:
            await stream.send_all(HEAD)
            assert parse_response(await read_all_keepalive(stream))[0] == 200
            got, took = await trickle_until_closed(stream, HEAD)
        assert got == b""  # Hypercorn's keep-alive timer closes it unanswered
        assert 0.4 < took < 5.0
        await wait_until(lambda: len(s.gate.connections) == 0, 5)


async def test_headers_past_the_bound_are_refused(local_node: LocalNode) -> None:
    async with serving(local_node) as s:
        stream = await connect(s.port)
        async with stream:
            head = b"GET /v1/status HTTP/1.1\r\nhost: n\r\nx-pad: "
            try:  # the head never ends; the server gives up past its bound
                await stream.send_all(head + b"a" * (server_module.MAX_HEAD_BYTES + 1))
                raw = await read_all(stream)
            except trio.BrokenResourceError:
                raw = b""  # reset while we were still sending: refused as well
        assert raw == b"" or raw.startswith(b"HTTP/1.1 4"), raw[:200]
        await wait_until(lambda: len(s.gate.connections) == 0, 5)


async def test_a_client_that_does_not_read_is_cut_off(
    local_node: LocalNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "SEND_TIMEOUT_S", 0.5)
    async with serving(local_node) as s:
        sock = trio.socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await sock.connect(("127.0.0.1", s.port))
        stream = trio.SocketStream(sock)
        async with stream:
            request = b"GET /openapi.json HTTP/1.1\r\nhost: n\r\n\r\n"
            with trio.move_on_after(3):  # pipeline requests, read nothing
                for _ in range(2000):
                    await stream.send_all(request)
            await wait_until(lambda: len(s.gate.connections) == 0, 10)


async def test_over_the_request_rate_a_client_gets_429_with_retry_after(
    local_node: LocalNode,
) -> None:
    async with serving(local_node, requests_per_s=0.5, burst=3) as s:
        async with httpx.AsyncClient(base_url=s.url) as http:
            codes = [(await http.get("/v1/status")).status_code for _ in range(3)]
            refused = await http.get("/v1/status")
        async with httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(local_address="127.0.0.5"), base_url=s.url
        ) as other:
            assert (await other.get("/v1/status")).status_code == 200
    assert codes == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "2"
    assert refused.json()["error"]["code"] == "RATE_LIMITED"
    assert s.recorder.refused == [REFUSED_RATE]
    assert s.recorder.requests[3] == ("/v1/status", 429)


async def test_over_the_submission_budget_a_client_gets_429(local_node: LocalNode) -> None:
    env = local_node.tx("halyk", transfer(("halyk", "kaspi", "KZT", 1)))
    tx = base64.b64encode(env).decode()
    async with (
        serving(local_node, submit_txs_per_s=0.1, submit_burst=3) as s,
        httpx.AsyncClient(base_url=s.url) as http,
    ):
        first = await http.post("/v1/txs/batch", json={"txs": [tx, tx]})
        single = await http.post("/v1/txs", json={"tx": tx})
        over = await http.post("/v1/txs/batch", json={"txs": [tx, tx]})
        also_over = await http.post("/v1/txs", json={"tx": tx})
        reads = await http.get("/v1/status")
    assert first.status_code == 200
    assert single.status_code in (200, 202, 400)
    assert over.status_code == 429
    assert also_over.status_code == 429
    assert over.json()["error"]["code"] == "RATE_LIMITED"
    assert int(over.headers["retry-after"]) >= 10
    assert reads.status_code == 200  # reads have their own budget
    assert s.recorder.refused == [REFUSED_SUBMIT_RATE] * 2


async def test_requests_are_recorded_by_route_template(local_node: LocalNode) -> None:
    metrics = NodeMetrics(chain_id="tenge-api-test", moniker="api-test")
    gate = ApiGate(ApiLimits(), metrics)
    async with trio.open_nursery() as nursery:
        app = create_app(local_node, gate=gate)
        port = await nursery.start(serve_api, app, "127.0.0.1", 0)  # finds the app's gate
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for tx_id in ("ab" * 32, "cd" * 32):
                assert (await http.get(f"/v1/txs/{tx_id}")).status_code == 404
            assert (await http.get("/v1/status")).status_code == 200
            assert (await http.get("/no/such/path")).status_code == 404
            assert (await http.delete("/v1/status")).status_code == 405
        nursery.cancel_scope.cancel()
    families = {
        f.name: f
        for f in text_string_to_metric_families(generate_latest(metrics.registry).decode())
    }
    counts = {
        (s.labels["route"], s.labels["status"]): s.value
        for s in families["tenge_api_requests"].samples
        if s.name == "tenge_api_requests_total"
    }
    assert counts == {
        ("/v1/txs/{tx_id}", "404"): 2,
        ("/v1/status", "200"): 1,
        ("unmatched", "404"): 1,
        ("/v1/status", "405"): 1,
    }
    durations = {
        s.labels["route"]: s.value
        for s in families["tenge_api_request_duration_seconds"].samples
        if s.name == "tenge_api_request_duration_seconds_count"
    }
    assert durations == {"/v1/txs/{tx_id}": 2, "/v1/status": 2, "unmatched": 1}
