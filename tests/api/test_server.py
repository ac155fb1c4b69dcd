"""The API through serve_api on a real socket (127.0.0.1, port 0): Hypercorn's trio worker."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import trio
from api_support import LocalNode, key

from node.api import create_app, serve_api
from node.client import ApiError, TengeClient, Unreachable
from node.ledger.txbuild import transfer, tx_id_of


@pytest.fixture
async def base_url(local_node: LocalNode) -> AsyncIterator[str]:
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            app = create_app(local_node, keepalive_s=0.2, body_timeout_s=1.0)
            port = await nursery.start(serve_api, app, "127.0.0.1", 0)
            assert port > 0
            yield f"http://127.0.0.1:{port}"
            nursery.cancel_scope.cancel()


async def raw_exchange(port: int, request: bytes, *, close_write: bool = False) -> bytes:
    """Send raw bytes on a fresh connection; everything the server answers until it closes."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(request)
        if close_write:
            await stream.send_eof()
        out = b""
        while chunk := await stream.receive_some(65536):
            out += chunk
        return out


def port_of(base_url: str) -> int:
    return int(base_url.rsplit(":", 1)[1])


async def test_client_round_trip_over_a_real_socket(local_node: LocalNode, base_url: str) -> None:
    async with TengeClient(base_url) as api:
        assert (await api.status())["chain_id"] == "tenge-api-test"
        async with trio.open_nursery() as nursery:
            nursery.start_soon(local_node.auto_commit)
            result = await api.transfer(
                keys=[key("halyk")], legs=[("halyk", "kaspi", "KZT", 125050)], wait=True
            )
            nursery.cancel_scope.cancel()
        assert result.ok, result
        assert result.height == 1
        assert (await api.account("kaspi"))["balances"] == {"KZT": "125050"}
        with pytest.raises(ApiError) as info:
            await api.account("nobody")
        assert (info.value.status, info.value.code) == (404, "NOT_FOUND")


async def test_event_stream_delivers_committed_blocks(local_node: LocalNode, base_url: str) -> None:
    raw = local_node.tx("halyk", transfer(("halyk", "kaspi", "KZT", 3)))
    received: list[dict[str, object]] = []
    async with TengeClient(base_url) as api, trio.open_nursery() as nursery:

        async def listen() -> None:
            async with api.events() as stream:
                async for event in stream:
                    received.append(event)
                    if len(received) == 2:
                        break

        nursery.start_soon(listen)
        await local_node.subscribed.wait()
        local_node.commit_block([raw])
        local_node.commit_block([])
    assert [e["height"] for e in received] == [1, 2]
    assert received[0]["txs"] == [
        {"tx_id": tx_id_of(raw).hex(), "code": "OK", "speaks_for_tx": True}
    ]
    assert received[1]["num_txs"] == 0
    assert local_node.store.height_of(bytes.fromhex(str(received[0]["hash"]))) == 1


async def test_event_stream_replays_from_a_height_then_goes_live(
    local_node: LocalNode, base_url: str
) -> None:
    for _ in range(3):
        local_node.commit_block([])
    heights: list[int] = []
    async with TengeClient(base_url) as api, trio.open_nursery() as nursery:

        async def listen() -> None:
            async with api.events(after=1) as stream:
                async for event in stream:
                    heights.append(int(event["height"]))
                    if len(heights) == 3:
                        break

        nursery.start_soon(listen)
        await local_node.subscribed.wait()
        local_node.commit_block([])
    assert heights == [2, 3, 4]


async def test_event_stream_sends_keepalives_and_sse_framing(base_url: str) -> None:
    lines: list[str] = []
    async with (
        httpx.AsyncClient(base_url=base_url) as http,
        http.stream("GET", "/v1/events") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        with trio.CancelScope() as scope:  # stop by cancelling: httpx's generators unwind
            async for line in response.aiter_lines():
                lines.append(line)
                if line == ": keepalive":
                    scope.cancel()
    assert lines[0] == ": stream of committed blocks"


async def test_slow_subscriber_is_dropped_and_told(local_node: LocalNode, base_url: str) -> None:
    local_node.feed._buffer = 2  # a tiny buffer so that falling behind is quick
    async with (
        httpx.AsyncClient(base_url=base_url) as http,
        http.stream("GET", "/v1/events") as response,
    ):
        lines = response.aiter_lines()
        assert await anext(lines) == ": stream of committed blocks"
        assert local_node.feed.subscriber_count == 1
        for _ in range(60):  # the client reads nothing meanwhile
            local_node.commit_block([])
        assert local_node.feed.dropped_subscribers >= 1
        rest = [line async for line in lines]  # to the end: the server closes it
    assert "event: dropped" in rest
    assert local_node.feed.subscriber_count == 0


async def test_client_gone_mid_body_does_not_hurt_the_server(
    local_node: LocalNode, base_url: str
) -> None:
    port = port_of(base_url)
    head = (
        b"POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n"
    )
    for _ in range(5):
        answer = await raw_exchange(port, head + b'{"tx": "AAAA', close_write=True)
        assert answer.startswith(b"HTTP/1.1 400 "), answer
        assert b"Traceback" not in answer
    for _ in range(5):  # abrupt close, nothing more read
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(head + b'{"tx": "AAAA')
        await stream.aclose()
    async with TengeClient(base_url) as api:
        assert (await api.status())["height"] == 0
        raw = local_node.tx("halyk", transfer(("halyk", "kaspi", "KZT", 1)))
        assert (await api.submit(raw)).status == "pending"


async def test_client_that_stops_sending_mid_body_gets_408_body_timeout(
    local_node: LocalNode, base_url: str
) -> None:
    port = port_of(base_url)
    head = (
        b"POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n"
    )
    with trio.fail_after(10):
        async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
            await stream.send_all(head + b'{"tx": "AAAA')  # then nothing more
            answer = b""
            while b"}}" not in answer:
                chunk = await stream.receive_some(65536)
                assert chunk, answer
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    doc = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert doc["error"]["code"] == "BODY_TIMEOUT"
    assert len(local_node.mempool) == 0


async def test_client_gone_while_waiting_for_commit_stops_the_wait(
    local_node: LocalNode, base_url: str
) -> None:
    raw = local_node.tx("halyk", transfer(("halyk", "kaspi", "KZT", 1)))
    body = json.dumps({"tx": base64.b64encode(raw).decode()}).encode()
    request = (
        b"POST /v1/txs?wait=commit&timeout=300 HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    ) + body
    stream = await trio.open_tcp_stream("127.0.0.1", port_of(base_url))
    await stream.send_all(request)
    await local_node.waiting.wait()
    await stream.aclose()
    await local_node.wait_ended.wait()  # long before the 300 s timeout
    assert local_node.feed._waiters == {}
    assert tx_id_of(raw) in local_node.mempool  # still pending, as promised


async def test_oversized_chunked_body_over_the_socket(base_url: str) -> None:
    port = port_of(base_url)
    chunk = b"10000\r\n" + b"{" * 0x10000 + b"\r\n"
    head = b"POST /v1/txs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(head)
        answer = b""
        with trio.move_on_after(10):
            for _ in range(32):  # 2 MiB offered; the server answers after 1 MiB
                try:
                    await stream.send_all(chunk)
                except trio.BrokenResourceError:
                    break
        while b"\r\n\r\n" not in answer or b"}}" not in answer:
            more = await stream.receive_some(65536)
            if not more:
                break
            answer += more
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 413 ", answer[:200]
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["error"]["code"] == "BODY_TOO_LARGE"


async def test_unknown_route_over_the_socket(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        r = await http.get("/v2/anything")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NOT_FOUND"


async def test_client_reports_an_unreachable_node() -> None:
    with trio.fail_after(10):
        listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
        port = listener.socket.getsockname()[1]
        await listener.aclose()  # nothing listens on that port any more
        async with TengeClient(f"http://127.0.0.1:{port}", timeout_s=5) as api:
            with pytest.raises(Unreachable):
                await api.status()
