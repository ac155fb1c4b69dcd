"""Four real validator processes on 127.0.0.1 (issue: validator node, must-show list)."""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path
from typing import Any

import httpx
import trio
from network_support import Network, running_network
from prometheus_client.parser import text_string_to_metric_families

from testnet._init import free_base_port
from testnet._procs import start_node, stop_node

NODE_CLI = (sys.executable, "-m", "node.cli")


async def _check_same_chain(net: Network, nodes: list[int], up_to: int) -> None:
    """Every listed node has the same block hash and app hash at every height."""
    for height in range(1, up_to + 1):
        seen = set()
        for i in nodes:
            block = await net.block(i, height)
            seen.add((block["hash"], block["header"]["app_hash"]))
        assert len(seen) == 1, f"nodes disagree at height {height}: {seen}"


async def _load(net: Network, count: int, nodes: list[int], results: list[str]) -> None:
    """Submit count payments bank-a -> bank-b, round robin over nodes; collect admitted ids."""
    height = max([await net.height(i) for i in nodes])
    for n in range(count):
        env = net.payment("bank-a", "bank-b", 1 + n % 7, expires_at_height=height + 200)
        node = nodes[n % len(nodes)]
        try:
            response = await net.submit(node, env)
        except OSError:
            continue
        if response.status_code == 202:
            results.append(response.json()["tx_id"])
        await trio.sleep(0.01)


async def test_four_validators_agree_on_every_block(tmp_path: Path) -> None:
    with trio.fail_after(120):
        async with running_network(tmp_path) as net:
            await net.issue("bank-a", 10_000_000)
            admitted: list[str] = []
            await _load(net, 120, [0, 1, 2, 3], admitted)
            assert len(admitted) == 120
            for tx_id in admitted:
                while True:
                    tx = await net.http.get(net.api(3) + f"/v1/txs/{tx_id}")
                    if tx.status_code == 200 and tx.json()["status"] == "committed":
                        assert tx.json()["code"] == "OK"
                        break
                    await trio.sleep(0.1)
            top = min([await net.height(i) for i in range(4)])
            await _check_same_chain(net, [0, 1, 2, 3], top)
            balance = (await net.get(2, "/v1/accounts/bank-b"))["balances"]["KZT"]
            assert int(balance) == sum(1 + n % 7 for n in range(120))


async def test_killed_validator_catches_up_and_nothing_committed_is_lost(tmp_path: Path) -> None:
    with trio.fail_after(180):
        async with running_network(tmp_path) as net:
            await net.issue("bank-a", 10_000_000)
            admitted: list[str] = []
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_load, net, 300, [0, 1, 2], admitted)
                await trio.sleep(1.0)
                before = await net.height(0)
                net.kill(3)
                # The other three keep committing while node 3 is down.
                await net.wait_height(before + 5, nodes=[0, 1, 2])
                net.start(3)
            top = await net.height(0)
            await net.wait_height(top)  # node 3 caught up
            committed = 0
            for tx_id in admitted:
                for i in range(4):
                    while True:
                        tx = (await net.http.get(net.api(i) + f"/v1/txs/{tx_id}")).json()
                        if tx.get("status") == "committed":
                            break
                        assert i != 3 or tx.get("status") != "unknown" or committed == 0
                        await trio.sleep(0.1)
                committed += 1
            assert committed == len(admitted) > 200
            await _check_same_chain(net, [0, 1, 2, 3], min([await net.height(i) for i in range(4)]))


async def _timeouts(net: Network, index: int) -> dict[str, float]:
    """tenge_consensus_timeouts_total of node index, by step."""
    text = (await net.http.get(net.nodes[index]["metrics"])).text
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "tenge_consensus_timeouts":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    out[sample.labels["step"]] = sample.value
    return out


async def test_two_of_four_down_halts_without_fork_and_resumes(tmp_path: Path) -> None:
    with trio.fail_after(120):
        async with running_network(tmp_path) as net:
            await net.wait_height(3)
            # Healthy: every height ends before its timers, and a timer of a step that is
            # over moves nothing, so it is not counted as a timeout.
            healthy = await _timeouts(net, 0)
            start = await net.height(0)
            await net.wait_height(start + 6, nodes=[0])
            fired = await _timeouts(net, 0)
            assert sum(fired.values()) - sum(healthy.values()) <= 2, (healthy, fired)
            # One validator down: the rounds it should propose in end by the propose timeout.
            net.kill(3)
            start = await net.height(0)
            await net.wait_height(start + 8, nodes=[0])
            one_down = await _timeouts(net, 0)
            assert one_down.get("propose", 0) - fired.get("propose", 0) >= 1, (fired, one_down)
            net.kill(2)
            await trio.sleep(1.0)  # let a block in flight finish
            stuck = await net.height(0)
            await trio.sleep(3.0)  # several rounds' worth of timeouts
            assert await net.height(0) <= stuck + 1
            assert await net.height(1) <= stuck + 1
            net.start(2)
            await net.wait_height(stuck + 3, nodes=[0, 1, 2])
            await _check_same_chain(net, [0, 1, 2], stuck + 3)


async def _raw_connect(port: int) -> trio.SocketStream:
    return await trio.open_tcp_stream("127.0.0.1", port)


async def _closed_by_peer(stream: trio.SocketStream) -> bool:
    """True once the node closes the connection (reads until EOF or reset)."""
    try:
        with trio.fail_after(10):
            while await stream.receive_some(65536):
                pass
    except trio.BrokenResourceError:
        pass
    return True


async def test_strangers_garbage_and_oversized_frames_are_cut_off(tmp_path: Path) -> None:
    with trio.fail_after(120):
        async with running_network(tmp_path) as net:
            port = int(net.nodes[0]["p2p"].rsplit(":", 1)[1])
            # 1. Garbage bytes instead of a handshake.
            async with await _raw_connect(port) as stream:
                await stream.send_all(os.urandom(4096))
                assert await _closed_by_peer(stream)
            # 2. A frame header announcing 1 GiB.
            async with await _raw_connect(port) as stream:
                await stream.send_all(struct.pack(">I", 1 << 30) + b"x" * 1024)
                assert await _closed_by_peer(stream)
            # 3. A well-formed handshake from a node key nobody allowed.
            from node.keys import KeyPair
            from node.p2p import P2PConfig, PeerAddress, PeerManager

            stranger = PeerManager(
                P2PConfig(
                    chain_id=net.chain_id,
                    listen_port=None,
                    peers=(PeerAddress("127.0.0.1", port, bytes.fromhex(net.nodes[0]["node_id"])),),
                ),
                KeyPair.generate(),
            )
            async with trio.open_nursery() as nursery:
                await nursery.start(stranger.run)
                await trio.sleep(2.0)
                assert stranger.peers() == [], "an unknown node key was accepted"
                nursery.cancel_scope.cancel()
            await stranger.aclose()
            # The node still commits with its peers.
            height = await net.height(0)
            await net.wait_height(height + 3)
            status = await net.get(0, "/v1/status")
            assert status["peers"] == 3
            metrics = (await net.http.get(net.nodes[0]["metrics"])).text
            failures = [
                line
                for line in metrics.splitlines()
                if line.startswith("tenge_p2p_handshake_failures_total")
            ]
            assert failures, "handshake failures are not counted"


async def test_observer_follows_the_chain_and_serves_queries(tmp_path: Path) -> None:
    with trio.fail_after(120):
        async with running_network(tmp_path) as net:
            await net.issue("bank-a", 123_456)
            base = free_base_port(1)
            home = tmp_path / "observer"
            validator = net.nodes[0]
            await trio.run_process(
                [
                    *NODE_CLI, "init", "--home", str(home), "--moniker", "observer", "--observer",
                    "--genesis", str(Path(validator["home"]) / "genesis.json"),
                    "--p2p-listen", f"127.0.0.1:{base}",
                    "--api-listen", f"127.0.0.1:{base + 1}",
                    "--metrics-listen", f"127.0.0.1:{base + 2}",
                    "--peer", f"{validator['node_id']}@{validator['p2p']}",
                ],
                capture_stdout=True,
            )  # fmt: skip
            shown = await trio.run_process(
                [*NODE_CLI, "show-node-id", "--home", str(home)], capture_stdout=True
            )
            observer_id = shown.stdout.decode().strip()
            # The validator must allow the observer's key: restart it with the new allow-list.
            config = Path(validator["home"]) / "config.toml"
            config.write_text(
                config.read_text().replace("allowed = []", f'allowed = ["{observer_id}"]')
            )
            net.kill(0)
            net.start(0)
            observer = {"index": 9, "home": str(home)}
            start_node(observer, detach=False)
            try:
                api = f"http://127.0.0.1:{base + 1}"
                target = await net.height(1) + 2
                status: dict[str, Any] = {}
                while status.get("height", 0) < target:
                    await trio.sleep(0.2)
                    try:
                        status = (await net.http.get(api + "/v1/status")).json()
                    except (httpx.HTTPError, ValueError):  # not listening yet
                        status = {}
                assert status["validator"] is False
                account = (await net.http.get(api + "/v1/accounts/bank-a")).json()
                assert account["balances"]["KZT"] == "123456"
                for height in range(1, target + 1):
                    ours = (await net.http.get(api + f"/v1/blocks/{height}")).json()
                    theirs = await net.block(1, height)
                    assert ours["hash"] == theirs["hash"]
            finally:
                assert stop_node(observer) == "stopped"
