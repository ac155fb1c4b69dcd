"""Testnet port selection stays below the kernel's ephemeral range (client ports)."""

from __future__ import annotations

import socket

from testnet._init import LOWEST_BASE_PORT, ephemeral_port_start, free_base_port


def test_free_base_port_is_below_the_ephemeral_range_and_binds() -> None:
    for nodes in (1, 4, 7):
        base = free_base_port(nodes)
        assert base >= LOWEST_BASE_PORT
        assert base + 10 * nodes <= ephemeral_port_start()
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", base))
