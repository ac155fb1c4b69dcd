"""Real processes: 200 idle stranger connections while a validator restarts (issue 11).

Strangers keep 200 idle TCP connections open against every validator, from 50 source
addresses in 127.0.0.0/8, reopening each one the node closes (an attacker's flood). A
validator killed and restarted in the middle of it must have all its peers again.
"""

from __future__ import annotations

import sys
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/node helpers

from network_support import Network, running_network

from testnet._p2p_flood import STRANGER_SOURCES, idle_stranger


async def _peers(net: Network, index: int) -> int:
    try:
        return int((await net.get(index, "/v1/status"))["peers"])
    except Exception:  # not up yet
        return -1


async def _wait_peers(net: Network, index: int, count: int, within_s: float, what: str) -> None:
    seen = -1
    with trio.move_on_after(within_s) as waited:
        while True:
            seen = await _peers(net, index)
            if seen == count:
                return
            await trio.sleep(0.1)
    assert not waited.cancelled_caught, f"{what}: node {index} has {seen} peers after {within_s} s"


def _p2p_port(net: Network, index: int) -> int:
    return int(net.nodes[index]["p2p"].rsplit(":", 1)[1])


async def test_200_idle_strangers_while_a_validator_restarts(tmp_path: Path) -> None:
    with trio.fail_after(120):
        async with running_network(tmp_path) as net, trio.open_nursery() as strangers:
            for index in range(4):
                for n in range(200):
                    strangers.start_soon(
                        idle_stranger, _p2p_port(net, index), STRANGER_SOURCES[n % 50]
                    )
            await trio.sleep(1.0)  # let the flood settle in (it only grows the pressure)
            net.kill(1)
            await _wait_peers(net, 0, 2, 30, "after the kill")
            net.start(1)
            # The bound: all its peers again within 10 s.
            await _wait_peers(net, 1, 3, 10, "after the restart")
            height = await net.height(1)
            with trio.fail_after(60):
                await net.wait_height(height + 2)
            strangers.cancel_scope.cancel()
