"""One authenticated peer connection: a reader task, a writer task, a bounded send queue.

Rules this module keeps:

1. Exactly one task reads the socket (``_reader``) and one writes it (``_writer``); both
   live in the connection's own nursery, and ``close()`` cancels that nursery. The
   writer seals whatever is queued (up to 256 KiB) and writes it with one send.
2. The send queue is bounded twice, by frames and by bytes. ``enqueue`` never blocks:
   when either bound would be exceeded the peer is dropped (reason ``send_queue_full``)
   and the message is discarded. A slow peer therefore costs at most
   ``send_queue_bytes`` of memory, never more.
3. The reader hands each message to the manager's Inbox (_inbox.py): per-peer queues per
   traffic class, bounded by frames and bytes, and the tx gossip budget. While the Inbox
   makes it wait (a full consensus or sync queue, a throttled peer) it does not read the
   socket, so TCP pushes back on that peer only.
4. Ping and Pong are handled here and never delivered. The writer sends a Ping after
   ``ping_interval`` idle seconds; the reader drops the peer after ``idle_timeout``
   seconds without a frame.
5. Anything the peer sends that is not a decodable Envelope of a known kind closes the
   connection with a stable reason; nothing a peer sends raises past ``run``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Final

import trio
from google.protobuf.message import DecodeError

from node.p2p._errors import PeerDisconnected, PeerProtocolError
from node.p2p._inbox import Inbox
from node.p2p._types import Direction, P2PConfig, P2PStats, PeerInfo, node_id
from node.p2p._wire import HEADER, FrameStream, sealed_size
from proto import p2p_pb2

log = logging.getLogger(__name__)

_CLOSE_TIMEOUT: Final = 1.0
_WRITE_BATCH_BYTES: Final = 256 * 1024


class Connection:
    """A live, authenticated connection to one peer."""

    def __init__(
        self,
        frames: FrameStream,
        *,
        peer_key: bytes,
        address: str,
        direction: Direction,
        config: P2PConfig,
        stats: P2PStats,
        inbox: Inbox,
        on_closed: Callable[[Connection], None],
    ) -> None:
        self.frames = frames
        self.peer_key = peer_key
        self.peer_id = node_id(peer_key)
        self.address = address
        self.direction: Direction = direction
        self.connected_at = trio.current_time()
        self.close_reason: str | None = None
        self._config = config
        self._stats = stats
        self._inbox = inbox
        self._on_closed = on_closed
        self._scope = trio.CancelScope()
        # The byte bound (rule 2) is enforced in enqueue; the channel's own bound is the
        # frame count, so send_nowait never has to wait.
        self._queue_send, self._queue_recv = trio.open_memory_channel[tuple[str, bytes]](
            config.send_queue_frames
        )
        self._queued_bytes = 0
        self._frames_in = 0
        self._frames_out = 0
        self._ping_nonce: int | None = None
        self._ping_sent_at = 0.0
        self._rtt: float | None = None

    @property
    def closed(self) -> bool:
        """True once close() was called or the connection ended."""
        return self.close_reason is not None

    def info(self) -> PeerInfo:
        """A snapshot for ``PeerManager.peers()``."""
        inbound_frames, inbound_bytes = self._inbox.queued_total(self.peer_id)
        return PeerInfo(
            peer_id=self.peer_id,
            node_key=self.peer_key,
            address=self.address,
            direction=self.direction,
            connected_at=self.connected_at,
            bytes_in=self.frames.bytes_in,
            bytes_out=self.frames.bytes_out,
            frames_in=self._frames_in,
            frames_out=self._frames_out,
            queued_frames=self._queue_send.statistics().current_buffer_used,
            queued_bytes=self._queued_bytes,
            rtt=self._rtt,
            inbound_frames=inbound_frames,
            inbound_bytes=inbound_bytes,
        )

    def close(self, reason: str) -> None:
        """Stop the connection; the first reason given is the one counted."""
        if self.close_reason is None:
            self.close_reason = reason
            log.info("peer %s (%s): closing: %s", self.peer_id[:16], self.address, reason)
        self._scope.cancel()

    def enqueue(self, kind: str, payload: bytes) -> bool:
        """Queue one Envelope's bytes for the writer; never blocks.

        Returns:
            True when queued; False when the connection is closed or the queue is full,
            in which case the peer has been dropped.
        """
        if self.closed:
            self._stats.frames_dropped["peer_closed"] += 1
            return False
        if self._queued_bytes + len(payload) > self._config.send_queue_bytes:
            return self._drop_slow_peer()
        try:
            self._queue_send.send_nowait((kind, payload))
        except trio.WouldBlock:
            return self._drop_slow_peer()
        self._queued_bytes += len(payload)
        self._stats.max_queued_bytes = max(self._stats.max_queued_bytes, self._queued_bytes)
        return True

    def _drop_slow_peer(self) -> bool:
        self._stats.frames_dropped["send_queue_full"] += 1
        self.close("send_queue_full")
        return False

    async def run(self) -> None:
        """Serve the connection until either side ends it, then release everything."""
        try:
            with self._scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._guard, self._reader)
                    nursery.start_soon(self._guard, self._writer)
        finally:
            if self.close_reason is None:
                self.close_reason = "cancelled"
            self._discard_queue()
            self._stats.disconnects[self.close_reason] += 1
            self._on_closed(self)
            with trio.move_on_after(_CLOSE_TIMEOUT) as cleanup:
                cleanup.shield = True
                await trio.aclose_forcefully(self.frames.stream)

    def _discard_queue(self) -> None:
        self._queue_send.close()
        dropped = 0
        while True:
            try:
                self._queue_recv.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                break
            dropped += 1
        self._queue_recv.close()
        self._queued_bytes = 0
        if dropped:
            self._stats.frames_dropped["peer_closed"] += dropped

    async def _guard(self, task: Callable[[], Awaitable[None]]) -> None:
        try:
            await task()
        except PeerProtocolError as e:
            self._stats.frames_dropped[e.reason] += 1  # the offending frame
            self.close(e.reason)
        except PeerDisconnected as e:
            self.close(e.reason)

    async def _reader(self) -> None:
        while True:
            raw: bytes | None = None
            with trio.move_on_after(self._config.idle_timeout):
                raw = await self.frames.receive_frame(self._config.max_frame_size)
            if raw is None:
                raise PeerDisconnected("idle_timeout", "no frame within idle_timeout")
            envelope, kind = decode_envelope(raw)
            self._frames_in += 1
            self._stats.frames_in[kind] += 1
            self._stats.bytes_in[kind] += wire_size(len(raw))
            if kind == "ping":
                pong = p2p_pb2.Envelope(pong=p2p_pb2.Pong(nonce=envelope.ping.nonce))
                self.enqueue("pong", pong.SerializeToString())
            elif kind == "pong":
                if envelope.pong.nonce == self._ping_nonce:
                    self._rtt = trio.current_time() - self._ping_sent_at
                    self._ping_nonce = None
            else:
                try:
                    await self._inbox.put(self.peer_id, kind, envelope, len(raw))
                except trio.ClosedResourceError as e:
                    raise PeerDisconnected("inbound_closed", "the node stopped reading") from e

    async def _writer(self) -> None:
        while True:
            item: tuple[str, bytes] | None = None
            with trio.move_on_after(self._config.ping_interval):
                item = await self._queue_recv.receive()
            if item is None:
                self._ping_nonce = secrets.randbits(64)
                self._ping_sent_at = trio.current_time()
                ping = p2p_pb2.Envelope(ping=p2p_pb2.Ping(nonce=self._ping_nonce))
                await self._write([("ping", ping.SerializeToString())])
                continue
            batch = [item]
            batch_bytes = len(item[1])
            while batch_bytes < _WRITE_BATCH_BYTES:  # coalesce what is already queued
                try:
                    item = self._queue_recv.receive_nowait()
                except trio.WouldBlock:
                    break
                batch.append(item)
                batch_bytes += len(item[1])
            self._queued_bytes -= batch_bytes
            await self._write(batch)

    async def _write(self, batch: list[tuple[str, bytes]]) -> None:
        """Seal the batch's frames and write them with one send, under write_timeout."""
        wires = [(kind, self.frames.encode_frame(payload)) for kind, payload in batch]
        written = False
        with trio.move_on_after(self._config.write_timeout):
            await self.frames.send_wire(b"".join(wire for _, wire in wires))
            written = True
        if not written:
            raise PeerDisconnected("write_timeout", "a write took longer than write_timeout")
        self._frames_out += len(wires)
        for kind, wire in wires:
            self._stats.frames_out[kind] += 1
            self._stats.bytes_out[kind] += len(wire)


def wire_size(plaintext_size: int) -> int:
    """Bytes on the wire of a sealed frame carrying plaintext_size bytes."""
    return HEADER.size + sealed_size(plaintext_size)


def decode_envelope(raw: bytes) -> tuple[p2p_pb2.Envelope, str]:
    """Parse one Envelope and name its kind.

    Raises:
        PeerProtocolError: ``undecodable`` or ``unknown_kind`` (no known oneof member set).
    """
    envelope = p2p_pb2.Envelope()
    try:
        envelope.ParseFromString(raw)
    except DecodeError as e:
        raise PeerProtocolError("undecodable", "frame is not an Envelope") from e
    kind = envelope.WhichOneof("kind")
    if kind is None:
        raise PeerProtocolError("unknown_kind", "Envelope carries no known message kind")
    return envelope, kind
