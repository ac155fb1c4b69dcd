"""PeerManager: the long-running p2p service of a node.

Rules this module keeps:

1. At most one live connection per peer. When a second one completes its handshake the
   pair keeps, on both sides, the connection dialled by the node with the lower node key
   (bytes order); two connections of the same direction keep the newer one (the older
   is presumed stale). Messages queued on the closed duplicate are discarded.
2. Every configured peer has one dial task: while the peer is not connected it dials,
   and after a failure waits ``min(backoff_max, backoff_initial * 2**n)`` scaled by a
   random factor in [0.5, 1], n being the failures in a row. A connection that stayed up
   for at least ``backoff_max`` resets n; a shorter one counts as a failure, so a peer
   that accepts and then drops us is not redialled in a tight loop.
3. Inbound handshakes run under ``handshake_timeout``. Until its Hello names an
   allow-listed key a connection is a stranger: at most ``max_pending_per_source`` per
   source address and ``max_pending_handshakes`` in all, a new one evicting the oldest
   (so an idle flood only evicts itself). A Hello naming an allowed key moves the
   connection to a separate pool, at most ``max_pending_per_key`` per key; one naming
   any other key is refused before any cryptography. Any failure closes that connection
   and is counted by reason (``evicted_source``, ``evicted_total``, ``evicted_key``,
   ``unknown_key``, ``timeout``...), and the listener keeps serving.
4. ``send``/``broadcast`` never block: they serialize once and put the bytes in each
   peer's bounded queue; a full queue drops that peer (see _connection.py).
5. Everything runs in the nursery of ``run``; ``aclose`` cancels it and waits for it.
6. What peers send is queued per peer and traffic class and read from ``inbound``
   (consensus, then sync) and ``tx_inbound`` (tx gossip within budget): see _inbox.py.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from typing import Final

import trio

from node.keys import PUBLIC_KEY_SIZE, KeyPair
from node.p2p._connection import Connection
from node.p2p._errors import (
    HandshakeError,
    ListenError,
    OutboundMessageError,
    PeerDisconnected,
    PeerProtocolError,
)
from node.p2p._handshake import perform_handshake
from node.p2p._inbox import InboundStream, Inbox, TrafficClass
from node.p2p._types import Direction, P2PConfig, P2PStats, PeerAddress, PeerInfo, node_id
from node.p2p._wire import FrameStream, sealed_size
from proto import p2p_pb2

log = logging.getLogger(__name__)

_ACLOSE_TIMEOUT: Final = 5.0
_LINGER_SECONDS: Final = 0.5
_LINGER_BYTES: Final = 65536

PeerCallback = Callable[[str], None]


class _Pending:
    """One inbound handshake in progress: its source, claimed key and cancel scope."""

    __slots__ = ("claimed", "evicted", "scope", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.claimed: bytes | None = None
        self.evicted: str | None = None
        self.scope = trio.CancelScope()


def keep_new_connection(
    own_key: bytes, peer_key: bytes, existing: Direction, new: Direction
) -> bool:
    """Whether a new connection to a peer replaces the existing one (rule 1)."""
    if existing == new:
        return True
    preferred: Direction = "outbound" if own_key < peer_key else "inbound"
    return new == preferred


class PeerManager:
    """Listens, dials, authenticates and keeps the node's peer connections.

    Start with ``port = await nursery.start(manager.run)``; read what peers send from
    ``manager.inbound`` as ``(peer_id, Envelope)`` pairs; stop with ``await
    manager.aclose()``. Peer ids are the hex of the peer's node key.
    """

    def __init__(
        self,
        config: P2PConfig,
        identity: KeyPair,
        *,
        on_peer_connected: PeerCallback | None = None,
        on_peer_disconnected: PeerCallback | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """Create a manager; nothing happens on the network until ``run``.

        Args:
            config: settings; validated here.
            identity: this node's Ed25519 node key.
            on_peer_connected: called with the peer id each time a connection becomes
                the live one for its peer (also when it replaces a duplicate).
            on_peer_disconnected: called with the peer id when a peer has no live
                connection any more.
            rng: source of backoff jitter (tests pass a seeded one).

        Raises:
            ConfigError: a setting is invalid.
        """
        config.validate()
        self.config = config
        self.identity = identity
        self.node_id = node_id(identity.public_key)
        self.stats = P2PStats()
        self.listen_port: int | None = None
        self._dialled_keys = {p.node_key for p in config.peers}
        self._allowed = set(config.allow_list) | self._dialled_keys
        self._on_connected = on_peer_connected
        self._on_disconnected = on_peer_disconnected
        self._rng = rng or random.Random()
        self._conns: dict[str, Connection] = {}
        self._changed = trio.Event()
        self._pending_handshakes = 0
        self._strangers: list[_Pending] = []
        self._listed: list[_Pending] = []
        self._inbox = Inbox(config, self.stats)
        self._dialling: set[str] = set()
        self._nursery: trio.Nursery | None = None
        self._scope = trio.CancelScope()
        self._started = False
        self._closing = False
        self._done = trio.Event()

    @property
    def inbound(self) -> InboundStream:
        """Consensus and block-sync messages from peers, consensus first (Ping, Pong and
        tx gossip excluded); see _inbox.py."""
        return self._inbox.inbound

    @property
    def tx_inbound(self) -> InboundStream:
        """Tx gossip from peers that passed their budget; see _inbox.py."""
        return self._inbox.tx_inbound

    def inbound_queued(self, peer_id: str) -> dict[TrafficClass, tuple[int, int]]:
        """``{class: (frames, bytes)}`` received from peer_id and not yet read."""
        return self._inbox.queued(peer_id)

    def charge_invalid_gossip(self, peer_id: str, txs: int) -> None:
        """peer_id gossiped txs transactions whose signatures failed: charge its budget
        ``gossip_invalid_tx_cost`` txs for each (honest nodes gossip only verified txs).
        Call it from the trio thread."""
        self._inbox.charge_invalid(peer_id, txs)

    def inbound_queued_bytes(self) -> dict[str, int]:
        """Bytes received from all peers and not yet read, by traffic class."""
        return self._inbox.queued_bytes_by_class()

    # ----------------------------------------------------------------- lifecycle

    async def run(
        self, *, task_status: trio.TaskStatus[int | None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen and dial until ``aclose``; reports the bound port (None: not listening).

        Raises:
            ListenError: the listening address cannot be bound.
            RuntimeError: run was called twice.
        """
        if self._started or self._closing:
            raise RuntimeError("PeerManager.run called twice, or after aclose")
        self._started = True
        try:
            with self._scope:
                listeners: list[trio.SocketListener] = []
                if self.config.listen_port is not None:
                    listeners = await self._open_listeners()
                    self.listen_port = listeners[0].socket.getsockname()[1]
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    if listeners:
                        nursery.start_soon(trio.serve_listeners, self._serve_inbound, listeners)
                    for peer in self.config.peers:
                        self.add_peer(peer)
                    log.info(
                        "p2p node %s listening on %s:%s, dialling %d peers",
                        self.node_id[:16],
                        self.config.listen_host,
                        self.listen_port,
                        len(self.config.peers),
                    )
                    task_status.started(self.listen_port)
                    await trio.sleep_forever()
        finally:
            self._closing = True
            self._nursery = None
            self._inbox.close()
            self._done.set()

    async def _open_listeners(self) -> list[trio.SocketListener]:
        host, port = self.config.listen_host, self.config.listen_port
        try:
            return await trio.open_tcp_listeners(port or 0, host=host)
        except OSError as e:
            raise ListenError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e

    async def aclose(self) -> None:
        """Close every connection and stop the service; safe to call more than once."""
        self._closing = True
        self._scope.cancel()
        if self._started:
            with trio.move_on_after(_ACLOSE_TIMEOUT) as bound:
                bound.shield = True
                await self._done.wait()
        else:
            self._inbox.close()

    # ----------------------------------------------------------------- sending

    def send(self, peer_id: str, envelope: p2p_pb2.Envelope) -> bool:
        """Queue envelope for one peer; never blocks.

        Returns:
            True when queued; False when the peer is not connected or its queue was full
            (the peer has then been dropped).

        Raises:
            OutboundMessageError: the envelope is empty or larger than max_frame_size.
        """
        kind, payload = self._encode(envelope)
        conn = self._conns.get(peer_id)
        if conn is None or conn.closed:
            self.stats.frames_dropped["not_connected"] += 1
            return False
        return conn.enqueue(kind, payload)

    def broadcast(self, envelope: p2p_pb2.Envelope, exclude: Iterable[str] = ()) -> int:
        """Queue envelope for every connected peer not in exclude; never blocks.

        Returns:
            The number of peers it was queued for.

        Raises:
            OutboundMessageError: the envelope is empty or larger than max_frame_size.
        """
        kind, payload = self._encode(envelope)
        skip = set(exclude)
        targets = [c for pid, c in self._conns.items() if pid not in skip and not c.closed]
        return sum(1 for conn in targets if conn.enqueue(kind, payload))

    def _encode(self, envelope: p2p_pb2.Envelope) -> tuple[str, bytes]:
        kind = envelope.WhichOneof("kind")
        if kind is None:
            raise OutboundMessageError("the Envelope has no message kind set")
        payload = envelope.SerializeToString()
        if sealed_size(len(payload)) > self.config.max_frame_size:
            raise OutboundMessageError(
                f"{kind} message of {len(payload)} bytes exceeds max_frame_size "
                f"{self.config.max_frame_size}"
            )
        return kind, payload

    # ----------------------------------------------------------------- peers

    def peers(self) -> list[PeerInfo]:
        """Snapshots of the connected peers (closing ones excluded), ordered by peer id."""
        return [c.info() for _, c in sorted(self._conns.items()) if not c.closed]

    def is_connected(self, peer_id: str) -> bool:
        """Whether peer_id has a live connection (one being closed does not count)."""
        conn = self._conns.get(peer_id)
        return conn is not None and not conn.closed

    def disconnect(self, peer_id: str, reason: str) -> bool:
        """Close peer_id's connection with reason (a stable code); the dial loop reconnects
        to a configured peer after its backoff. Returns whether a connection was closed."""
        conn = self._conns.get(peer_id)
        if conn is None or conn.closed:
            return False
        conn.close(reason)
        return True

    def set_allow_list(self, node_keys: Iterable[bytes]) -> None:
        """Replace the allow-list (dialled peers stay allowed); drops peers not in it."""
        self._allowed = set(node_keys) | self._dialled_keys
        for conn in list(self._conns.values()):
            if conn.peer_key not in self._allowed:
                conn.close("not_allowed")

    def add_peer(self, peer: PeerAddress) -> None:
        """Allow-list peer's key and keep dialling it from now on (while running).

        Raises:
            RuntimeError: the manager is not running.
        """
        if self._nursery is None:
            raise RuntimeError("PeerManager.add_peer needs a running manager")
        if len(peer.node_key) != PUBLIC_KEY_SIZE:
            raise ValueError("a peer's node key is 32 bytes")
        self._dialled_keys.add(peer.node_key)
        self._allowed.add(peer.node_key)
        if peer.peer_id not in self._dialling and peer.node_key != self.identity.public_key:
            self._dialling.add(peer.peer_id)
            self._nursery.start_soon(self._dial_loop, peer)

    def _is_allowed(self, node_key: bytes) -> bool:
        return node_key in self._allowed

    async def wait_changed(self) -> None:
        """Wait until the set of connected peers next changes."""
        await self._changed.wait()

    def _notify_changed(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _register(self, conn: Connection) -> None:
        existing = self._conns.get(conn.peer_id)
        if existing is not None and not existing.closed:
            if not keep_new_connection(
                self.identity.public_key, conn.peer_key, existing.direction, conn.direction
            ):
                conn.close("duplicate")
                return
            existing.close("duplicate")
        if self._closing or not self._is_allowed(conn.peer_key):
            conn.close("shutdown" if self._closing else "not_allowed")
            return
        self._conns[conn.peer_id] = conn
        self.stats.connections[conn.direction] += 1
        log.info("peer %s connected (%s, %s)", conn.peer_id[:16], conn.direction, conn.address)
        self._notify_changed()
        if self._on_connected is not None:
            self._on_connected(conn.peer_id)

    def _unregister(self, conn: Connection) -> None:
        if self._conns.get(conn.peer_id) is not conn:
            return
        del self._conns[conn.peer_id]
        log.info("peer %s disconnected: %s", conn.peer_id[:16], conn.close_reason)
        self._notify_changed()
        if self._on_disconnected is not None:
            self._on_disconnected(conn.peer_id)

    # ----------------------------------------------------------------- connections

    def pending_strangers(self) -> int:
        """Inbound handshakes whose Hello has not named an allow-listed key yet."""
        return len(self._strangers)

    async def _serve_inbound(self, stream: trio.SocketStream) -> None:
        try:
            host, port = stream.socket.getpeername()[:2]
            address = f"{host}:{port}"
        except OSError:
            host, address = "unknown", "unknown"
        pending = _Pending(str(host))
        same_source = [p for p in self._strangers if p.source == pending.source]
        if len(same_source) >= self.config.max_pending_per_source:
            self._evict(same_source[0], "evicted_source")
        elif len(self._strangers) >= self.config.max_pending_handshakes:
            self._evict(self._strangers[0], "evicted_total")
        self._strangers.append(pending)
        try:
            await self._serve(stream, "inbound", address, expected_key=None, pending=pending)
        finally:
            for pool in (self._strangers, self._listed):
                if pending in pool:
                    pool.remove(pending)

    def _evict(self, pending: _Pending, reason: str) -> None:
        for pool in (self._strangers, self._listed):
            if pending in pool:
                pool.remove(pending)
        pending.evicted = reason
        pending.scope.cancel()

    def _claimed(self, pending: _Pending, key: bytes) -> None:
        """The Hello named an allow-listed key: move to the listed pool."""
        if pending in self._strangers:
            self._strangers.remove(pending)
        same_key = [p for p in self._listed if p.claimed == key]
        if len(same_key) >= self.config.max_pending_per_key:
            self._evict(same_key[0], "evicted_key")
        pending.claimed = key
        self._listed.append(pending)

    async def _serve(
        self,
        stream: trio.SocketStream,
        direction: Direction,
        address: str,
        expected_key: bytes | None,
        pending: _Pending | None = None,
    ) -> float | None:
        """Handshake then serve one connection; returns how long it was up (None: refused)."""
        frames = FrameStream(stream)
        reason: str | None = None
        detail = "no answer within handshake_timeout"
        self._pending_handshakes += 1
        scope = pending.scope if pending is not None else trio.CancelScope()
        on_claimed = None
        if pending is not None:
            on_claimed = lambda key: self._claimed(pending, key)  # noqa: E731
        try:
            with scope, trio.move_on_after(self.config.handshake_timeout) as deadline:
                session = await perform_handshake(
                    frames,
                    identity=self.identity,
                    chain_id=self.config.chain_id,
                    is_allowed=self._is_allowed,
                    expected_key=expected_key,
                    on_claimed_key=on_claimed,
                )
            if deadline.cancelled_caught:
                reason = "timeout"
            elif scope.cancelled_caught:
                reason = pending.evicted if pending is not None else None
                reason, detail = reason or "evicted", "evicted by newer connections"
        except (HandshakeError, PeerProtocolError) as e:
            reason, detail = e.reason, str(e)
        except PeerDisconnected as e:
            reason, detail = "disconnected", str(e)
        finally:
            self._pending_handshakes -= 1
        self.stats.bytes_in["handshake"] += frames.bytes_in
        self.stats.bytes_out["handshake"] += frames.bytes_out
        if reason is not None:
            self.stats.handshake_failures[reason] += 1
            log.info("handshake with %s (%s) failed: %s", address, direction, detail)
            await _linger_close(stream)
            return None
        frames.bytes_in = frames.bytes_out = 0
        conn = Connection(
            frames,
            peer_key=session.peer_key,
            address=address,
            direction=direction,
            config=self.config,
            stats=self.stats,
            inbox=self._inbox,
            on_closed=self._unregister,
        )
        self._register(conn)
        await conn.run()
        return trio.current_time() - conn.connected_at

    async def _dial_loop(self, peer: PeerAddress) -> None:
        failures = 0
        while True:
            while self.is_connected(peer.peer_id):
                await self.wait_changed()
            stream: trio.SocketStream | None = None
            with trio.move_on_after(self.config.connect_timeout):
                try:
                    stream = await trio.open_tcp_stream(peer.host, peer.port)
                except OSError as e:
                    log.debug("dial %s:%s failed: %s", peer.host, peer.port, e)
            uptime: float | None = None
            if stream is None:
                self.stats.dial_failures += 1
            else:
                address = f"{peer.host}:{peer.port}"
                uptime = await self._serve(stream, "outbound", address, peer.node_key)
            if uptime is not None and uptime >= self.config.backoff_max:
                failures = 0
            else:
                failures += 1
            await trio.sleep(self._backoff(failures))

    def _backoff(self, failures: int) -> float:
        base = min(self.config.backoff_max, self.config.backoff_initial * 2.0 ** min(failures, 32))
        return base * self._rng.uniform(0.5, 1.0)


async def _linger_close(stream: trio.SocketStream) -> None:
    """Close after a refused handshake so that the refusal reaches the peer.

    Closing a socket with unread input sends a reset, and a reset can destroy the
    refusal still unread at the peer. So: stop sending, read (and discard) what the peer
    still sends until it closes, for at most _LINGER_SECONDS and _LINGER_BYTES; then close.
    """
    with trio.move_on_after(_LINGER_SECONDS):
        try:
            await stream.send_eof()
            drained = 0
            while drained < _LINGER_BYTES:
                data = await stream.receive_some(_LINGER_BYTES)
                if not data:
                    break
                drained += len(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
    await trio.aclose_forcefully(stream)
