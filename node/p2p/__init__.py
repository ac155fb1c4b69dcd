"""Permissioned, encrypted peer-to-peer transport on trio (DESIGN.md §5, §6, docs/p2p.md).

Use::

    manager = PeerManager(P2PConfig(chain_id=..., peers=...), node_key)
    port = await nursery.start(manager.run)
    manager.broadcast(Envelope(tx_gossip=TxGossip(txs=[raw_tx])))
    async for peer_id, envelope in manager.inbound:     # consensus first, then sync
        ...
    async for peer_id, envelope in manager.tx_inbound:  # tx gossip within budget
        ...
    await manager.aclose()
"""

from node.p2p._connection import decode_envelope
from node.p2p._errors import (
    HandshakeError,
    ListenError,
    OutboundMessageError,
    P2PError,
    PeerDisconnected,
    PeerProtocolError,
)
from node.p2p._handshake import HANDSHAKE_DOMAIN, PROTOCOL_VERSION
from node.p2p._inbox import CLASS_OF_KIND, InboundStream, TrafficClass
from node.p2p._manager import PeerManager, keep_new_connection
from node.p2p._types import (
    DEFAULT_MAX_FRAME_SIZE,
    Direction,
    P2PConfig,
    P2PStats,
    PeerAddress,
    PeerInfo,
    node_id,
)

__all__ = [
    "CLASS_OF_KIND",
    "DEFAULT_MAX_FRAME_SIZE",
    "HANDSHAKE_DOMAIN",
    "PROTOCOL_VERSION",
    "Direction",
    "HandshakeError",
    "InboundStream",
    "ListenError",
    "OutboundMessageError",
    "P2PConfig",
    "P2PError",
    "P2PStats",
    "PeerAddress",
    "PeerDisconnected",
    "PeerInfo",
    "PeerManager",
    "PeerProtocolError",
    "TrafficClass",
    "decode_envelope",
    "keep_new_connection",
    "node_id",
]
