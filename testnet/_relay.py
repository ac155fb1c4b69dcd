"""A user-space TCP relay that adds round-trip delay between a testnet's validators.

``tenge-testnet init --rtt-ms N`` makes every node dial the other nodes' relay ports
instead of their P2P ports; this program listens on those ports (node i's relay port is
``ports_of(base, i).relay``) and forwards each accepted connection to node i's real P2P
listener. It models WAN latency only: no loss, no bandwidth limit, no jitter.

Rules it keeps:

1. Each direction of a connection is a delay line: a chunk read at time t is written to
   the other side at t + rtt/2, whatever came before it. The reader never waits for the
   writer's delays, so the delay of one chunk overlaps the reads of the next ones and
   throughput is that of a plain relay, only later.
2. Order is kept per direction: chunks leave in the order they were read.
3. Memory is bounded: a direction holds at most ``cap_bytes`` (chunk bytes plus a fixed
   cost a chunk); when it is full the reader stops reading, so TCP pushes back on the
   sender. Nothing is ever dropped.
4. An end of stream is delayed like data and forwarded as a half-close (``send_eof``);
   when both directions have ended, or either side fails, both sockets are closed and
   every task of the connection is gone.

Both directions are delayed by rtt/2, so a request and its answer between two nodes take
rtt longer than without the relay.

Run it in the foreground with ``tenge-testnet relay --dir DIR`` or
``python -m testnet._relay --dir DIR``; ``tenge-testnet up`` starts it detached (pid in
DIR/relay.pid, log in DIR/relay.log).
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import trio

log = logging.getLogger("testnet.relay")

#: Most bytes read from a socket at once.
CHUNK_BYTES: Final = 64 * 1024
#: Most bytes one direction of one connection holds in its delay line.
DEFAULT_CAP_BYTES: Final = 4 * 1024 * 1024
#: What a held chunk costs beyond its bytes (its deque entry, tuple, float and bytes
#: object), so that a stream of one-byte chunks is bounded too.
CHUNK_COST: Final = 128
CONNECT_TIMEOUT_S: Final = 5.0
MAX_RTT_MS: Final = 10_000


@dataclass(frozen=True, slots=True)
class Route:
    """Connections accepted on listen_host:listen_port go to target_host:target_port."""

    index: int
    listen_host: str
    listen_port: int
    target_host: str
    target_port: int


@dataclass(slots=True)
class RelayStats:
    """Counters of one relay (what tests and the log read)."""

    connections: int = 0
    connect_failures: int = 0
    bytes_forwarded: int = 0
    #: The most any one direction has held in its delay line (bytes plus CHUNK_COST a chunk).
    held_peak: int = 0


class DelayLine:
    """One direction's chunks in flight, each with the time it may leave; FIFO, bounded.

    The reader calls `wait_room` (which waits while another read might pass the cap),
    then `put`; the writer calls `next_due` (which waits for the oldest chunk's release
    time), writes, then `release`. An empty chunk stands for the end of the stream.
    Invariant: ``held <= cap_bytes``.
    """

    def __init__(self, delay_s: float, cap_bytes: int, stats: RelayStats) -> None:
        self.delay_s = delay_s
        self.cap_bytes = cap_bytes
        self.held = 0
        self._chunks: deque[tuple[float, bytes]] = deque()
        self._stats = stats
        self._room = trio.Event()
        self._arrived = trio.Event()

    def has_room(self) -> bool:
        """Whether a whole CHUNK_BYTES read fits below the cap."""
        return self.held + CHUNK_BYTES + CHUNK_COST <= self.cap_bytes

    async def wait_room(self) -> None:
        """Return once a read of up to CHUNK_BYTES may be put."""
        while not self.has_room():
            self._room = trio.Event()
            await self._room.wait()

    def put(self, chunk: bytes) -> None:
        """Append chunk, read now, to leave at now + delay (call after `wait_room`)."""
        self._chunks.append((trio.current_time() + self.delay_s, chunk))
        self.held += len(chunk) + CHUNK_COST
        self._stats.held_peak = max(self._stats.held_peak, self.held)
        self._arrived.set()

    async def next_due(self) -> tuple[bytes, int]:
        """Wait until the oldest chunk may leave; return it with the chunks already due
        behind it joined on (up to CHUNK_BYTES, stopping before an end of stream), and
        how many chunks that is. They stay held until `release`."""
        while not self._chunks:
            self._arrived = trio.Event()
            await self._arrived.wait()
        due, chunk = self._chunks[0]
        await trio.sleep_until(due)
        if not chunk:
            return chunk, 1
        parts = [chunk]
        size = len(chunk)
        now = trio.current_time()
        for due, more in itertools.islice(self._chunks, 1, None):
            if due > now or not more or size + len(more) > CHUNK_BYTES:
                break
            parts.append(more)
            size += len(more)
        return (chunk if len(parts) == 1 else b"".join(parts)), len(parts)

    def release(self, count: int) -> None:
        """Forget the `count` oldest chunks, now written, and make room for the reader."""
        for _ in range(count):
            _, done = self._chunks.popleft()
            self.held -= len(done) + CHUNK_COST
        self._room.set()


async def _read_into(source: trio.SocketStream, line: DelayLine) -> None:
    while True:
        await line.wait_room()
        chunk = await source.receive_some(CHUNK_BYTES)
        line.put(chunk)
        if not chunk:
            return


async def _write_from(line: DelayLine, sink: trio.SocketStream, stats: RelayStats) -> None:
    while True:
        data, count = await line.next_due()
        if not data:
            await sink.send_eof()
            line.release(count)
            return
        await sink.send_all(data)
        stats.bytes_forwarded += len(data)
        line.release(count)


async def pump(
    a: trio.SocketStream, b: trio.SocketStream, *, delay_s: float, cap_bytes: int, stats: RelayStats
) -> None:
    """Relay a <-> b, each direction through its own DelayLine, until both directions
    have ended or either socket fails; then close both."""
    try:
        async with trio.open_nursery() as nursery:
            for source, sink in ((a, b), (b, a)):
                line = DelayLine(delay_s, cap_bytes, stats)
                nursery.start_soon(_read_into, source, line)
                nursery.start_soon(_write_from, line, sink, stats)
    except* (trio.BrokenResourceError, trio.ClosedResourceError) as group:
        log.debug("relay connection failed: %s", group.exceptions[0])
    finally:
        try:  # under cancellation the first close raises Cancelled: close b anyway
            await trio.aclose_forcefully(a)
        finally:
            await trio.aclose_forcefully(b)


async def _handle(
    inbound: trio.SocketStream, route: Route, delay_s: float, cap_bytes: int, stats: RelayStats
) -> None:
    outbound: trio.SocketStream | None = None
    with trio.move_on_after(CONNECT_TIMEOUT_S):
        try:
            outbound = await trio.open_tcp_stream(route.target_host, route.target_port)
        except OSError as e:
            log.debug("relay %d: connect to %s failed: %s", route.index, route.target_port, e)
    if outbound is None:
        stats.connect_failures += 1
        await trio.aclose_forcefully(inbound)
        return
    stats.connections += 1
    log.info("relay %d: connection to %s:%d", route.index, route.target_host, route.target_port)
    await pump(inbound, outbound, delay_s=delay_s, cap_bytes=cap_bytes, stats=stats)
    log.info("relay %d: connection closed", route.index)


async def serve_relay(
    routes: list[Route],
    *,
    rtt_ms: float,
    cap_bytes: int = DEFAULT_CAP_BYTES,
    stats: RelayStats | None = None,
    task_status: trio.TaskStatus[RelayStats] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen on every route and relay its connections with rtt_ms / 2 of delay each way;
    started once every listener is bound (``task_status`` gets the stats). Runs until
    cancelled.

    Raises:
        ValueError: rtt_ms is out of range or cap_bytes is too small for one chunk.
        OSError: a listen port cannot be bound.
    """
    if not 0 <= rtt_ms <= MAX_RTT_MS:
        raise ValueError(f"rtt must be 0 to {MAX_RTT_MS} ms")
    if cap_bytes < CHUNK_BYTES + CHUNK_COST:
        raise ValueError(f"cap must be at least {CHUNK_BYTES + CHUNK_COST} bytes")
    stats = stats if stats is not None else RelayStats()
    delay_s = rtt_ms / 2000
    bound: list[tuple[Route, list[trio.SocketListener]]] = []
    try:
        for route in routes:
            listeners = await trio.open_tcp_listeners(route.listen_port, host=route.listen_host)
            bound.append((route, listeners))
    except OSError:
        for _, listeners in bound:
            for listener in listeners:
                await trio.aclose_forcefully(listener)
        raise
    async with trio.open_nursery() as nursery:
        for route, listeners in bound:

            async def handler(stream: trio.SocketStream, route: Route = route) -> None:
                await _handle(stream, route, delay_s, cap_bytes, stats)

            nursery.start_soon(trio.serve_listeners, handler, listeners)
        task_status.started(stats)


def routes_of(manifest: dict[str, Any]) -> list[Route]:
    """The relay's routes from a testnet manifest (empty when it has no relay)."""
    routes = []
    for node in manifest["nodes"]:
        if "relay" not in node:
            continue
        listen_host, _, listen_port = node["relay"].rpartition(":")
        target_host, _, target_port = node["p2p"].rpartition(":")
        routes.append(
            Route(node["index"], listen_host, int(listen_port), target_host, int(target_port))
        )
    return routes


def main(argv: list[str] | None = None) -> int:
    """Run the relay of the testnet in --dir in the foreground (until SIGINT / SIGTERM)."""
    from node.logs import setup_logging
    from testnet._init import load_manifest

    parser = argparse.ArgumentParser(prog="python -m testnet._relay")
    parser.add_argument("--dir", type=Path, required=True, help="the testnet directory")
    args = parser.parse_args(argv)
    setup_logging("info")
    try:
        manifest = load_manifest(args.dir)
    except (FileNotFoundError, ValueError) as e:
        print(f"tenge-testnet relay: error: no usable testnet in {args.dir}: {e}", file=sys.stderr)
        return 1
    try:
        rtt_ms = float(manifest.get("rtt_ms", 0))
        routes = routes_of(manifest)
    except (KeyError, TypeError, ValueError) as e:
        print(f"tenge-testnet relay: error: bad relay entries in {args.dir}: {e}", file=sys.stderr)
        return 1
    if not 0 <= rtt_ms <= MAX_RTT_MS:
        print(f"tenge-testnet relay: error: rtt_ms must be 0 to {MAX_RTT_MS}", file=sys.stderr)
        return 1
    if not rtt_ms or not routes:
        print(
            f"tenge-testnet relay: error: the testnet in {args.dir} has no relay "
            "(it was initialised without --rtt-ms)",
            file=sys.stderr,
        )
        return 2

    async def run() -> None:
        await serve_relay(routes, rtt_ms=rtt_ms)

    log.info(
        "relay: %d routes, rtt %g ms: %s",
        len(routes),
        rtt_ms,
        ", ".join(f"{r.listen_port}->{r.target_port}" for r in routes),
    )
    try:
        trio.run(run)
    except OSError as e:
        print(f"tenge-testnet relay: error: cannot listen: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
