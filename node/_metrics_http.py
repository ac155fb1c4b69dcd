"""The small HTTP server that exposes one node's metrics at ``GET /metrics``.

Split from ``node.metrics``, which re-exports ``serve_metrics`` and the constants below.
Rules this module keeps:

1. It never raises on a client's bytes: a bad request gets 400/404/405/408/431, a failed
   collection 500, and a client that goes away is simply dropped.
2. Everything a client can make it hold is bounded: connections (``MAX_CONNECTIONS``), the
   request head (``MAX_REQUEST_HEAD``), the time to send it (``REQUEST_TIMEOUT_S``) and what
   is read after an error response (``MAX_DRAIN_BYTES``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

import trio
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest

if TYPE_CHECKING:
    from node.metrics import NodeMetrics

log = logging.getLogger("tenge.metrics")

MAX_REQUEST_HEAD: Final = 8192
REQUEST_TIMEOUT_S: Final = 10.0
MAX_CONNECTIONS: Final = 32
MAX_DRAIN_BYTES: Final = 1 << 20
# generate_latest writes the classic text format, whatever newer clients call "latest".
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
_REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
}


async def serve_metrics(
    metrics: NodeMetrics,
    host: str,
    port: int,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``GET /metrics`` (Prometheus text format) until cancelled.

    One request per connection (``Connection: close``); at most ``MAX_CONNECTIONS`` served
    at once; a client gets ``REQUEST_TIMEOUT_S`` to send its request head. Other paths get
    404, other methods 405, malformed requests 400.

    Args:
        metrics: whose registry to expose.
        host: interface to bind (``127.0.0.1`` unless Prometheus scrapes from elsewhere).
        port: TCP port; 0 lets the OS pick one.
        task_status: receives the bound port once the socket listens.

    Raises:
        OSError: the port cannot be bound (in use, address not available).
    """
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound_port: int = listeners[0].socket.getsockname()[1]
    limiter = trio.CapacityLimiter(MAX_CONNECTIONS)

    async def handler(stream: trio.SocketStream) -> None:
        async with limiter:
            await _serve_connection(stream, metrics.registry)

    log.info("metrics listening on %s:%d", host, bound_port)
    task_status.started(bound_port)
    await trio.serve_listeners(handler, listeners)


async def _serve_connection(stream: trio.SocketStream, registry: CollectorRegistry) -> None:
    try:
        status, body = 408, b""
        headers: dict[str, str] = {}
        with trio.move_on_after(REQUEST_TIMEOUT_S):
            head = await _read_head(stream)
            status, headers, body = _respond(head, registry)
        await _send_response(stream, status, headers, body)
        if status != 200:
            await _drain(stream)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass  # the client went away; nothing to answer
    finally:
        with trio.move_on_after(1):
            await stream.aclose()


async def _read_head(stream: trio.SocketStream) -> bytes | None:
    """The request head up to the blank line; None when too large or cut short."""
    buffer = bytearray()
    while b"\r\n\r\n" not in buffer:
        if len(buffer) > MAX_REQUEST_HEAD:
            return None
        chunk = await stream.receive_some(4096)
        if not chunk:
            return bytes(buffer) if b"\n" in buffer else b""
        buffer += chunk
    return bytes(buffer)


async def _drain(stream: trio.SocketStream) -> None:
    """Read what the client still sends (bounded), so closing does not reset the
    connection before the client has read an error response."""
    await stream.send_eof()
    drained = 0
    with trio.move_on_after(1):
        while drained < MAX_DRAIN_BYTES and (chunk := await stream.receive_some(65536)):
            drained += len(chunk)


def _respond(head: bytes | None, registry: CollectorRegistry) -> tuple[int, dict[str, str], bytes]:
    if head is None:
        return 431, {}, b"request head too large\n"
    request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return 400, {}, b"malformed request\n"
    method, target, _version = parts
    if target.split("?", 1)[0] != "/metrics":
        return 404, {}, b"not found: try /metrics\n"
    if method not in ("GET", "HEAD"):
        return 405, {"Allow": "GET, HEAD"}, b"method not allowed\n"
    try:
        body = generate_latest(registry)
    except Exception:
        log.exception("collecting metrics failed")
        return 500, {}, b"collecting metrics failed\n"
    headers = {"Content-Type": CONTENT_TYPE}
    if method == "HEAD":
        headers["Content-Length"] = str(len(body))
        body = b""
    return 200, headers, body


async def _send_response(
    stream: trio.SocketStream, status: int, headers: dict[str, str], body: bytes
) -> None:
    lines = [f"HTTP/1.1 {status} {_REASONS[status]}"]
    fields = {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body))}
    fields.update(headers)
    fields["Connection"] = "close"
    lines += [f"{name}: {value}" for name, value in fields.items()]
    await stream.send_all(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
