"""Errors of the p2p layer, typed by whose fault they are.

``PeerDisconnected`` and ``PeerProtocolError`` are the world's fault (the peer or the
network); ``OutboundMessageError`` is the caller's. Each carries a stable ``reason`` code,
which is also the key under which the failure is counted in ``P2PStats``.
"""

from __future__ import annotations

from node.errors import NodeError


class P2PError(NodeError):
    """Root of the errors raised by node.p2p."""


class PeerDisconnected(P2PError):
    """The connection ended: end of stream, reset, or a write that failed.

    Attributes:
        reason: stable code, e.g. ``"eof"`` or ``"broken"``.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class PeerProtocolError(P2PError):
    """The peer sent something this node refuses (garbage, oversized, undecodable).

    Attributes:
        reason: stable code, e.g. ``"oversized_frame"`` or ``"decrypt_failed"``.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class HandshakeError(PeerProtocolError):
    """The handshake failed: unknown key, bad proof, chain id mismatch and so on."""


class OutboundMessageError(P2PError):
    """The node asked to send something that cannot be sent (empty or too large)."""


class ListenError(P2PError):
    """The listening socket could not be opened (address in use, bad host)."""
