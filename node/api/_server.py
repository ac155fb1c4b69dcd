"""Serving the API with Hypercorn's HTTP/1.1 protocol inside the caller's nursery.

Hypercorn's trio worker accepts every connection it is offered. This module runs the same
pieces (``hypercorn.trio.tcp_server.TCPServer`` per connection over the sockets Hypercorn's
config binds) behind its own accept loop, so that each connection is first admitted by the
server's `ApiGate` (node/api/_limits.py):

1. over ``max_connections_per_client`` from one address, or at ``max_connections`` with
   no connection come free within `ADMIT_WAIT_S` (step 2), the newcomer gets 503
   TOO_MANY_CONNECTIONS (the API's error shape, ``Retry-After``) and is closed within
   `REFUSE_TIMEOUT_S`; at most `MAX_REFUSING` refusals are written at once, the rest are
   closed unanswered;
2. at ``max_connections`` with some connection idle for at least ``SHED_GRACE_S``, the one
   idle longest is closed to make room (``shed_idle``); when every idle one is younger
   (a stall of the node let a burst of connections in at once), or every connection
   busy, up to `MAX_WAITING` newcomers keep asking, each for at most `ADMIT_WAIT_S`;
3. a new connection's first request head (request line and headers) is read here, before
   Hypercorn sees the connection: it must arrive whole within ``idle_timeout_s`` (else 408
   HEADERS_TIMEOUT) and within `MAX_HEAD_BYTES` (else 431 HEADERS_TOO_LARGE), so that a
   slowloris connection costs a small task and never a Hypercorn connection; later requests
   on a keep-alive connection are held to ``idle_timeout_s`` by Hypercorn's keep-alive
   timer (it runs until a request's head is complete) and to `MAX_HEAD_BYTES` by h11;
   bodies by the app's ``body_timeout_s``; a send that makes no progress for
   `SEND_TIMEOUT_S` (a client that does not read) closes the connection.
"""

from __future__ import annotations

import errno
import json
import logging
import re
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Final, cast

import trio
from hypercorn.config import Config
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState
from hypercorn.utils import repr_socket_addr, wrap_app
from starlette.types import ASGIApp

from node.api import _errors as e
from node.api._limits import (
    HEAD_TIMEOUT,
    REFUSED_CLIENT_CONNECTIONS,
    REFUSED_CONNECTIONS,
    ApiGate,
    ApiLimits,
    retry_after,
)

log = logging.getLogger("tenge.api")

GRACEFUL_TIMEOUT_S: Final = 2.0
MAX_HEAD_BYTES: Final = 16 * 1024  # request line and headers (h11 answers 400 past it)
BACKLOG: Final = 1024
SEND_TIMEOUT_S: Final = 30.0
REFUSE_TIMEOUT_S: Final = 1.0
MAX_REFUSING: Final = 256
MAX_WAITING: Final = 256  # newcomers held at the cap until an idle connection may be shed
ADMIT_WAIT_S: Final = 1.0  # how long such a newcomer keeps asking before it is refused
BUSY_RECHECK_S: Final = 0.05  # asking again while every connection is busy
MIN_RECHECK_S: Final = 0.005
MAX_RECV_HEAD: Final = 4096  # bytes read at once while waiting for a request head
ACCEPT_BATCH: Final = 64  # connections accepted per wake-up of the accept loop
_ACCEPT_RESOURCE_ERRNOS: Final = frozenset(
    {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
)
_ACCEPT_RETRY_ERRNOS: Final = frozenset({errno.ECONNABORTED, errno.EPROTO, errno.EPERM})
REFUSE_DRAIN_BYTES: Final = 64 * 1024
REFUSE_DRAIN_S: Final = 0.25
RETRY_AFTER_CONNECTIONS_S: Final = 1.0


def hypercorn_config(host: str, port: int, limits: ApiLimits | None = None) -> Config:
    """Hypercorn settings for the node's API: plain HTTP/1.1 on one address."""
    limits = limits or ApiLimits()
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("tenge.api.server")
    config.graceful_timeout = GRACEFUL_TIMEOUT_S
    config.keep_alive_timeout = limits.idle_timeout_s
    config.h11_max_incomplete_size = MAX_HEAD_BYTES
    config.backlog = BACKLOG
    config.include_server_header = False
    return config


_REASONS: Final = {
    408: "Request Timeout",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


def refusal_bytes(status: int, code: str, message: str, retry_s: float | None = None) -> bytes:
    """A whole HTTP/1.1 error response in the API's shape, closing the connection."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    retry = "" if retry_s is None else f"retry-after: {retry_after(retry_s)}\r\n"
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        f"{retry}connection: close\r\n\r\n"
    )
    return head.encode() + body


_TOO_MANY: Final = refusal_bytes(
    503,
    e.TOO_MANY_CONNECTIONS,
    "the node holds its maximum of API connections and none came free; retry later",
    RETRY_AFTER_CONNECTIONS_S,
)
_TOO_MANY_OF_CLIENT: Final = refusal_bytes(
    503,
    e.TOO_MANY_CONNECTIONS,
    "this client address holds its maximum of API connections; close one or retry later",
    RETRY_AFTER_CONNECTIONS_S,
)


_HEAD_TOO_LARGE: Final = refusal_bytes(
    431, e.HEADERS_TOO_LARGE, f"the request line and headers exceed {MAX_HEAD_BYTES} bytes"
)
_HEAD_END: Final = re.compile(rb"\r?\n\r?\n")


class _GuardedStream(trio.abc.HalfCloseableStream):
    """A socket stream whose sends give up after `SEND_TIMEOUT_S` without progress, and
    whose close ends the connection's tasks at once (``on_close``).

    Hypercorn shields its sends from cancellation; the deadline here still applies, and a
    client that stops reading then looks like one that went away. Hypercorn also keeps a
    closed connection's keep-alive timer running; ``on_close`` cancels it, so the slot is
    free as soon as the socket is.
    """

    def __init__(
        self,
        stream: trio.SocketStream,
        on_close: Callable[[], None],
        prefix: bytes = b"",
        on_eof: Callable[[], None] = lambda: None,
    ) -> None:
        self._stream = stream
        self._on_close = on_close
        self._on_eof = on_eof
        self._prefix = prefix  # bytes already read from the socket, handed out first
        self.socket = stream.socket  # TCPServer reads the peer address from it

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        with trio.move_on_after(SEND_TIMEOUT_S):
            await self._stream.send_all(data)
            return
        # Closing also wakes Hypercorn's reader, which would otherwise wait for the client.
        await self.aclose()
        raise trio.BrokenResourceError(f"client read nothing for {SEND_TIMEOUT_S:g} s")

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if self._prefix:
            await trio.lowlevel.checkpoint()
            cut = len(self._prefix) if max_bytes is None else max_bytes
            data, self._prefix = self._prefix[:cut], self._prefix[cut:]
            return data
        data = await self._stream.receive_some(max_bytes)
        if not data:
            self._on_eof()
        return data

    async def send_eof(self) -> None:
        await self._stream.send_eof()

    async def aclose(self) -> None:
        self._on_close()
        await trio.aclose_forcefully(self._stream)


class _Acceptor:
    """Admits each accepted connection through the gate, then runs Hypercorn on it."""

    def __init__(self, app: ASGIApp, config: Config, gate: ApiGate) -> None:
        self.app = wrap_app(cast(Any, app), config.wsgi_max_body_size, "asgi")
        self.config = config
        self.gate = gate
        self.context = WorkerContext(None)
        self.state = ConnectionState({})
        self.refusing = 0
        self.waiting = 0

    async def handle(self, stream: trio.SocketStream) -> None:
        try:
            address = stream.socket.getpeername()
            peer = (str(address[0]), int(address[1]))
        except OSError:  # gone before we looked
            await trio.aclose_forcefully(stream)
            return
        scope = trio.CancelScope()
        admitted, reason = await self._admit(peer, scope)
        if reason is not None:
            self.gate.observer.on_api_refused(reason)
        if not admitted:
            await self._refuse(
                stream, _TOO_MANY_OF_CLIENT if reason == REFUSED_CLIENT_CONNECTIONS else _TOO_MANY
            )
            return

        def closed() -> None:
            self.gate.connections.release(peer)
            scope.cancel()

        def client_left() -> None:
            # Hypercorn would hold an idle connection whose client closed until its
            # keep-alive timer ends; with no request in progress nothing is lost now.
            if self.gate.connections.is_idle(peer):
                closed()

        try:
            with scope:
                head = await self._read_head(stream)
                if head is None:
                    return
                self.gate.connections.head_complete(peer)
                guarded = cast(
                    Any, _GuardedStream(stream, closed, head, client_left)
                )  # typed as SSLStream
                server = TCPServer(self.app, self.config, self.context, self.state, guarded)
                await server.run()
        except Exception:  # one connection's failure must never stop the server
            log.exception("API connection from %s failed", peer[0])
        finally:
            self.gate.connections.release(peer)
            await trio.aclose_forcefully(stream)

    async def _admit(
        self, peer: tuple[str, int], scope: trio.CancelScope
    ) -> tuple[bool, str | None]:
        """The gate's decision on a new connection. At the cap, a newcomer is asked again
        whenever a connection may have come free (the one idle longest coming of age, or
        every `BUSY_RECHECK_S` while all are busy) until `ADMIT_WAIT_S` have passed: many
        newcomers woken at once race for the same shed slot, and a loser must not be
        refused while the next slot is a moment away."""
        table = self.gate.connections
        now = trio.current_time()
        deadline = now + ADMIT_WAIT_S
        admitted, reason = table.admit(peer, scope.cancel, now)
        if admitted or reason != REFUSED_CONNECTIONS or self.waiting >= MAX_WAITING:
            return admitted, reason
        self.waiting += 1
        try:
            while not admitted and reason == REFUSED_CONNECTIONS and now < deadline:
                wait = table.seconds_until_shed(now)
                wait = BUSY_RECHECK_S if wait is None else max(wait, MIN_RECHECK_S)
                await trio.sleep(min(wait, deadline - now))
                now = trio.current_time()
                admitted, reason = table.admit(peer, scope.cancel, now)
        finally:
            self.waiting -= 1
        return admitted, reason

    async def _read_head(self, stream: trio.SocketStream) -> bytes | None:
        """The first bytes of a new connection, up to the end of its first request head;
        None when the connection is closed, answered with 408 or 431, or the client left."""
        buffer = b""
        timeout = self.gate.limits.idle_timeout_s
        with trio.move_on_after(timeout):
            try:
                while not _HEAD_END.search(buffer, max(0, len(buffer) - MAX_RECV_HEAD - 4)):
                    if len(buffer) > MAX_HEAD_BYTES:
                        await self._refuse(stream, _HEAD_TOO_LARGE)
                        return None
                    chunk = await stream.receive_some(MAX_RECV_HEAD)
                    if not chunk:
                        return None
                    buffer += chunk
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                return None
            return buffer
        self.gate.observer.on_api_refused(HEAD_TIMEOUT)
        if buffer.strip():  # a head begun and not finished in time: tell the client
            message = f"the request head did not arrive within {timeout:g} s"
            await self._refuse(stream, refusal_bytes(408, e.HEADERS_TIMEOUT, message))
        return None

    async def _refuse(self, stream: trio.SocketStream, response: bytes) -> None:
        """Answer a refused connection and close it, within `REFUSE_TIMEOUT_S`.

        After the answer the request is drained (up to `REFUSE_DRAIN_BYTES` for up to
        `REFUSE_DRAIN_S`) so that closing does not reset the connection before the client
        has read the answer.
        """
        if self.refusing >= MAX_REFUSING:
            await trio.aclose_forcefully(stream)
            return
        self.refusing += 1
        try:
            with trio.move_on_after(REFUSE_TIMEOUT_S):
                await stream.send_all(response)
                await stream.send_eof()
            with trio.move_on_after(REFUSE_DRAIN_S):
                drained = 0
                while drained < REFUSE_DRAIN_BYTES:
                    chunk = await stream.receive_some(16 * 1024)
                    if not chunk:
                        break
                    drained += len(chunk)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass  # the client is gone; nothing to tell it
        finally:
            self.refusing -= 1
            await trio.aclose_forcefully(stream)


async def _accept_forever(
    sock: socket.socket,
    handle: Callable[[trio.SocketStream], Awaitable[None]],
    nursery: trio.Nursery,
) -> None:
    """Accept connections on a listening socket, up to `ACCEPT_BATCH` per wake-up.

    ``trio.serve_listeners`` accepts one connection per pass of the scheduler, which a
    connection flood outruns on a busy node (the kernel's queue fills and a fresh client
    waits behind the flood); draining the queue at each wake-up keeps the wait short.
    """
    with sock:
        while True:
            await trio.lowlevel.wait_readable(sock)
            for _ in range(ACCEPT_BATCH):
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    break
                except OSError as err:
                    if err.errno in _ACCEPT_RESOURCE_ERRNOS:
                        log.error("API accept: %s; pausing accepts for 100 ms", err.strerror)
                        await trio.sleep(0.1)
                        break
                    if err.errno in _ACCEPT_RETRY_ERRNOS:
                        continue
                    raise
                nursery.start_soon(handle, trio.SocketStream(trio.socket.from_stdlib_socket(conn)))
            await trio.lowlevel.checkpoint()


async def serve_api(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    gate: ApiGate | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve app on host:port until cancelled; report the bound port when listening.

    Port 0 binds a free port; ``await nursery.start(serve_api, app, host, 0)`` returns it.

    Args:
        app: the ASGI app (``create_app``).
        host: the address to listen on.
        port: the port, 0 for a free one.
        gate: the connection and rate limits; pass the gate the app was created with, so
            that requests in progress are never shed. Default: the app's gate, if it has
            one, else a gate with default limits.

    Raises:
        OSError: the address cannot be bound.
    """
    if gate is None:
        state = getattr(app, "state", None)
        gate = getattr(state, "gate", None) or ApiGate()
    config = hypercorn_config(host, port, gate.limits)
    sockets = config.create_sockets()
    binds = []
    for sock in sockets.insecure_sockets:
        sock.listen(config.backlog)
        sock.setblocking(False)
        binds.append(repr_socket_addr(sock.family, sock.getsockname()))
    acceptor = _Acceptor(app, config, gate)
    async with trio.open_nursery() as nursery:
        for sock in sockets.insecure_sockets:
            nursery.start_soon(_accept_forever, sock, acceptor.handle, nursery)
        bound = int(binds[0].rsplit(":", 1)[1])
        log.info("API listening on http://%s", binds[0])
        task_status.started(bound)
