"""Configuration, peer information and counters of the p2p layer."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final, Literal

from node.errors import ConfigError
from node.keys import PUBLIC_KEY_SIZE

MiB: Final = 1024 * 1024
DEFAULT_MAX_FRAME_SIZE: Final = 4 * MiB

Direction = Literal["inbound", "outbound"]


def node_id(node_key: bytes) -> str:
    """The peer id of a node: the lowercase hex of its 32-byte Ed25519 public key."""
    return node_key.hex()


@dataclass(frozen=True, slots=True)
class PeerAddress:
    """A peer to dial: where it listens and the node key it must present."""

    host: str
    port: int
    node_key: bytes

    @property
    def peer_id(self) -> str:
        """The peer id (hex of node_key)."""
        return node_id(self.node_key)


@dataclass(frozen=True, slots=True)
class P2PConfig:
    """Settings of a PeerManager; the defaults suit a validator on a LAN or WAN.

    Attributes:
        chain_id: peers on another chain are refused at the handshake.
        listen_host: address to listen on.
        listen_port: port to listen on (0: any free port); None: do not listen.
        peers: peers to keep dialling (their keys are allow-listed implicitly).
        allow_list: 32-byte node keys allowed to connect, in addition to ``peers``.
        max_frame_size: largest frame body accepted or sent, in bytes (same on every node).
        send_queue_frames: per-peer send queue length; full means the peer is dropped.
        send_queue_bytes: per-peer queued bytes; exceeded means the peer is dropped.
        consensus_queue_frames, consensus_queue_bytes: per-peer bounds of the queue of
            consensus messages (proposals, votes, evidence); full: the peer's reader waits.
        sync_queue_frames, sync_queue_bytes: the same for block sync (status, block
            request and response); full: the peer's reader waits.
        tx_queue_frames, tx_queue_bytes: the same for tx gossip; full: the frame is dropped.
        gossip_bytes_per_s, gossip_burst_bytes: a peer's tx gossip budget in bytes (token
            bucket); over it the peer's reader waits.
        gossip_txs_per_s, gossip_burst_txs: the same in transactions; a frame carrying more
            than gossip_burst_txs is dropped.
        gossip_drop_after: seconds a peer may stay over its budget before it is dropped.
        gossip_invalid_tx_cost: budget (in txs) a gossiped tx with an invalid signature
            costs its sender, charged by the node (``charge_invalid_gossip``); 0: none.
        handshake_timeout: seconds for the whole handshake.
        connect_timeout: seconds for a TCP connect.
        write_timeout: seconds one frame may take to write before the peer is dropped.
        ping_interval: idle seconds after which a Ping is sent.
        idle_timeout: seconds without any frame from a peer before it is dropped.
        backoff_initial: first reconnect delay in seconds.
        backoff_max: upper bound of the reconnect delay.
        max_pending_handshakes: inbound handshakes at once whose Hello has not yet named
            an allow-listed key (strangers); a new one evicts the oldest.
        max_pending_per_source: such handshakes from one source address; a new one
            evicts that source's oldest.
        max_pending_per_key: handshakes at once whose Hello claims one allow-listed key
            (a separate pool, so strangers cannot keep a listed peer out); a new one
            evicts that key's oldest.
    """

    chain_id: str
    listen_host: str = "127.0.0.1"
    listen_port: int | None = 0
    peers: tuple[PeerAddress, ...] = ()
    allow_list: frozenset[bytes] = frozenset()
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
    send_queue_frames: int = 1024
    send_queue_bytes: int = 32 * MiB
    consensus_queue_frames: int = 1024
    consensus_queue_bytes: int = 16 * MiB
    sync_queue_frames: int = 256
    sync_queue_bytes: int = 16 * MiB
    tx_queue_frames: int = 64
    tx_queue_bytes: int = 8 * MiB
    gossip_bytes_per_s: int = 4 * MiB
    gossip_burst_bytes: int = 8 * MiB
    gossip_txs_per_s: int = 5000
    gossip_burst_txs: int = 10_000
    gossip_drop_after: float = 10.0
    gossip_invalid_tx_cost: int = 100
    handshake_timeout: float = 5.0
    connect_timeout: float = 5.0
    write_timeout: float = 10.0
    ping_interval: float = 10.0
    idle_timeout: float = 30.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_pending_handshakes: int = 64
    max_pending_per_source: int = 4
    max_pending_per_key: int = 2

    def validate(self) -> None:
        """Check every field.

        Raises:
            ConfigError: naming the offending field.
        """
        if not self.chain_id or len(self.chain_id.encode()) > 255:
            raise ConfigError("p2p.chain_id: must be 1 to 255 bytes")
        if self.listen_port is not None and not 0 <= self.listen_port <= 65535:
            raise ConfigError("p2p.listen_port: must be 0..65535")
        for key in self.allow_list:
            if len(key) != PUBLIC_KEY_SIZE:
                raise ConfigError("p2p.allow_list: every key must be 32 bytes")
        for peer in self.peers:
            if len(peer.node_key) != PUBLIC_KEY_SIZE:
                raise ConfigError(f"p2p.peers: {peer.host}:{peer.port}: node key must be 32 bytes")
            if not 1 <= peer.port <= 65535:
                raise ConfigError(f"p2p.peers: {peer.host}:{peer.port}: bad port")
        if self.max_frame_size < 1024:
            raise ConfigError("p2p.max_frame_size: must be at least 1024 bytes")
        positive_ints = {
            "send_queue_frames": self.send_queue_frames,
            "send_queue_bytes": self.send_queue_bytes,
            "consensus_queue_frames": self.consensus_queue_frames,
            "sync_queue_frames": self.sync_queue_frames,
            "tx_queue_frames": self.tx_queue_frames,
            "gossip_bytes_per_s": self.gossip_bytes_per_s,
            "gossip_txs_per_s": self.gossip_txs_per_s,
            "gossip_burst_txs": self.gossip_burst_txs,
            "max_pending_handshakes": self.max_pending_handshakes,
            "max_pending_per_source": self.max_pending_per_source,
            "max_pending_per_key": self.max_pending_per_key,
        }
        for name, value in positive_ints.items():
            if value < 1:
                raise ConfigError(f"p2p.{name}: must be at least 1")
        if self.gossip_invalid_tx_cost < 0:
            raise ConfigError("p2p.gossip_invalid_tx_cost: must be at least 0")
        if self.send_queue_bytes < self.max_frame_size:
            raise ConfigError("p2p.send_queue_bytes: must be at least max_frame_size")
        at_least_a_frame = {
            "consensus_queue_bytes": self.consensus_queue_bytes,
            "sync_queue_bytes": self.sync_queue_bytes,
            "tx_queue_bytes": self.tx_queue_bytes,
            "gossip_burst_bytes": self.gossip_burst_bytes,
        }
        for name, value in at_least_a_frame.items():
            if value < self.max_frame_size:
                raise ConfigError(f"p2p.{name}: must be at least max_frame_size")
        positive_floats = {
            "handshake_timeout": self.handshake_timeout,
            "connect_timeout": self.connect_timeout,
            "write_timeout": self.write_timeout,
            "ping_interval": self.ping_interval,
            "idle_timeout": self.idle_timeout,
            "backoff_initial": self.backoff_initial,
            "backoff_max": self.backoff_max,
            "gossip_drop_after": self.gossip_drop_after,
        }
        for name, seconds in positive_floats.items():
            if not seconds > 0:
                raise ConfigError(f"p2p.{name}: must be positive")
        if self.idle_timeout <= self.ping_interval:
            raise ConfigError("p2p.idle_timeout: must exceed ping_interval")
        if self.backoff_max < self.backoff_initial:
            raise ConfigError("p2p.backoff_max: must be at least backoff_initial")


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """A snapshot of one connected peer."""

    peer_id: str
    node_key: bytes
    address: str
    direction: Direction
    connected_at: float
    bytes_in: int
    bytes_out: int
    frames_in: int
    frames_out: int
    queued_frames: int
    queued_bytes: int
    rtt: float | None
    inbound_frames: int = 0
    inbound_bytes: int = 0


@dataclass(slots=True)
class P2PStats:
    """Counters since the manager was created; the metrics layer exports them.

    Attributes:
        handshake_failures: refused or failed handshakes by reason.
        disconnects: ended connections (after a handshake) by reason.
        frames_dropped: messages not sent (queue full, peer gone) or received and refused
            (oversized, undecodable...), by reason.
        bytes_in: wire bytes received, by message kind (``handshake`` included).
        bytes_out: wire bytes sent, by message kind.
        frames_in: frames received, by message kind.
        frames_out: frames sent, by message kind.
        connections: successful handshakes by direction.
        dial_failures: outbound TCP connects that failed or timed out.
        max_queued_bytes: the most bytes any one peer's send queue ever held.
        max_inbound_bytes: the most bytes any one peer's inbound queues ever held.
        inbound_waits: times a peer's reader waited for room in a full queue, by class.
        gossip_throttled: tx gossip frames a peer's reader waited on (over budget).
        gossip_invalid_txs: gossiped txs with an invalid signature charged to peers.
        peers_dropped: peers the p2p layer dropped for what they sent, by reason
            (``gossip_budget``); exported with the driver's drops.
    """

    handshake_failures: Counter[str] = field(default_factory=Counter)
    disconnects: Counter[str] = field(default_factory=Counter)
    frames_dropped: Counter[str] = field(default_factory=Counter)
    bytes_in: Counter[str] = field(default_factory=Counter)
    bytes_out: Counter[str] = field(default_factory=Counter)
    frames_in: Counter[str] = field(default_factory=Counter)
    frames_out: Counter[str] = field(default_factory=Counter)
    connections: Counter[str] = field(default_factory=Counter)
    dial_failures: int = 0
    max_queued_bytes: int = 0
    max_inbound_bytes: int = 0
    inbound_waits: Counter[str] = field(default_factory=Counter)
    gossip_throttled: int = 0
    gossip_invalid_txs: int = 0
    peers_dropped: Counter[str] = field(default_factory=Counter)
