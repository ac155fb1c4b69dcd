"""`tenge-testnet` in netns mode: four validators in their own network namespaces.

A 2|2 partition halts commits without a fork and heal resumes them; a 3|1 partition keeps
the majority committing and the isolated node catches up after heal. Every test removes
the namespaces, veth pairs and bridge it made, also when it fails, and checks the root
namespace is as it found it. Skipped (with the reason) where namespaces cannot be made.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from testnet._netns import destroy_network, netns_unavailable_reason, plan_of
from testnet._procs import is_running, kill_node, read_pid
from testnet.cli import build_parser

CLI_TIMEOUT_S = 90


@functools.cache
def _unavailable() -> str | None:
    return netns_unavailable_reason()


@pytest.fixture
def needs_netns() -> None:
    reason = _unavailable()
    if reason is not None:
        pytest.skip(f"network namespaces cannot be created here: {reason}")


async def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    with trio.fail_after(CLI_TIMEOUT_S):
        return await trio.run_process(
            [sys.executable, "-m", "testnet.cli", *args],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env=env,
        )


def ok(result: subprocess.CompletedProcess[bytes]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr.decode()
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def root_addresses() -> set[str]:
    out = subprocess.run(["ip", "-br", "addr"], capture_output=True, text=True, check=True)
    return {" ".join(line.split()) for line in out.stdout.splitlines()}


def root_leftovers(netns: dict[str, Any]) -> list[str]:
    """Lines of the root namespace's links, addresses and namespaces naming this network."""
    outputs = [
        subprocess.run(["ip", *cmd], capture_output=True, text=True, check=True).stdout
        for cmd in (["-o", "link"], ["-o", "addr"], ["netns", "list"])
    ]
    marks = (netns["id"], netns["gateway"])
    return [line for text in outputs for line in text.splitlines() if any(m in line for m in marks)]


class Net:
    """A running netns testnet, observed through its HTTP API from the root namespace."""

    def __init__(self, directory: Path, manifest: dict[str, Any]) -> None:
        self.dir = directory
        self.manifest = manifest
        self.http = httpx.AsyncClient(timeout=2.0)

    async def heights(self) -> list[int]:
        """Every node's height; the API must answer, partition or not."""
        heights = []
        for node in self.manifest["nodes"]:
            response = await self.http.get(f"{node['api']}/v1/status")
            response.raise_for_status()
            heights.append(int(response.json()["height"]))
        return heights

    async def wait_heights(self, predicate: Any, what: str, within_s: float = 30.0) -> list[int]:
        """Poll heights until predicate(heights) holds; fail after within_s seconds."""
        last: list[int] = []
        with trio.move_on_after(within_s):
            while True:
                last = await self.heights()
                if predicate(last):
                    return last
                await trio.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; heights {last}")

    async def block_hashes(self, node: dict[str, Any], top: int) -> list[str]:
        hashes = []
        for height in range(1, top + 1):
            response = await self.http.get(f"{node['api']}/v1/blocks/{height}")
            response.raise_for_status()
            hashes.append(str(response.json()["hash"]))
        return hashes

    async def assert_one_chain(self) -> int:
        """Every node holds the same blocks up to the lowest height; returns that height."""
        top = min(await self.heights())
        chains = [await self.block_hashes(node, top) for node in self.manifest["nodes"]]
        assert all(chain == chains[0] for chain in chains), "the nodes' chains differ"
        return top

    async def cli(self, *args: str) -> dict[str, Any]:
        return ok(await cli(*args, "--dir", str(self.dir)))


@pytest.fixture
async def net(tmp_path: Path, needs_netns: None) -> AsyncIterator[Net]:
    directory = tmp_path / "tn"
    before = root_addresses()
    result = await cli("init", "--netns", "--validators", "4", "--dir", str(directory))
    manifest = ok(result)
    assert manifest["netns"] is not None
    full = json.loads((directory / "testnet.json").read_text())
    running = Net(directory, full)
    try:
        yield running
    finally:
        await running.http.aclose()
        await cli("down", "--dir", str(directory))
        for node in full["nodes"]:  # whatever down could not do
            kill_node(node)
        plan = plan_of(full)
        assert plan is not None
        destroy_network(plan)
    assert not root_leftovers(full["netns"])
    assert root_addresses() == before


async def test_two_two_partition_halts_without_fork_and_heal_resumes(net: Net) -> None:
    with trio.fail_after(80):
        nodes = net.manifest["nodes"]
        netns = net.manifest["netns"]
        assert [n["netns"] for n in nodes] == [n["namespace"] for n in netns["nodes"]]
        assert [n["p2p"].split(":")[0] for n in nodes] == [n["address"] for n in netns["nodes"]]
        await net.cli("up", "--detach", "--netns")
        await net.wait_heights(lambda h: min(h) >= 2, "the network to commit")

        assert await net.cli("partition", "0,1") == {"partition": [[0, 1], [2, 3]]}
        start = max(await net.heights())
        # Observe for a while: no side has 2/3 of the power, so at most the block that was
        # in flight when the cut came may still commit.
        with trio.move_on_after(6):
            while True:
                heights = await net.heights()
                assert max(heights) <= start + 1, f"committed during a 2|2 partition: {heights}"
                await trio.sleep(0.2)

        assert await net.cli("heal") == {"healed": True}
        await net.wait_heights(lambda h: min(h) >= start + 3, "commits to resume after heal")
        assert await net.assert_one_chain() >= start + 3

        pids = [read_pid(Path(n["home"])) for n in nodes]
        down = await net.cli("down")
        assert set(down["down"].values()) == {"stopped"}
        assert sorted(down["removed"]["namespaces"]) == [n["namespace"] for n in netns["nodes"]]
        assert not [pid for pid in pids if pid is not None and is_running(pid)]
        assert not root_leftovers(netns)
        again = await net.cli("down")
        assert again["removed"] == {"namespaces": [], "links": [], "killed": []}


async def test_three_one_partition_majority_commits_and_isolated_catches_up(net: Net) -> None:
    with trio.fail_after(80):
        await net.cli("up", "--detach")
        await net.wait_heights(lambda h: min(h) >= 2, "the network to commit")

        assert await net.cli("partition", "3") == {"partition": [[3], [0, 1, 2]]}
        start = max(await net.heights())

        def majority_ahead(h: list[int]) -> bool:
            assert h[3] <= start + 1, f"the isolated node committed alone: {h}"
            return min(h[:3]) >= start + 4

        cut = await net.wait_heights(majority_ahead, "the majority to keep committing")
        status = ok(await cli("status", "--dir", str(net.dir), "--json"))
        assert status["nodes"][3]["running"] is True  # its API answers through the bridge
        assert [n["cut_off_from"] for n in status["nodes"]] == [[3], [3], [3], [0, 1, 2]]

        assert await net.cli("heal") == {"healed": True}
        await net.wait_heights(lambda h: h[3] >= max(cut[:3]), "the isolated node to catch up")
        await net.assert_one_chain()
        status = ok(await cli("status", "--dir", str(net.dir), "--json"))
        assert [n["cut_off_from"] for n in status["nodes"]] == [[], [], [], []]

        # A harness that crashed may have lost a pid file: down still finds the node
        # inside its namespace, and kills it before removing the namespace.
        home = Path(net.manifest["nodes"][0]["home"])
        lost = read_pid(home)
        (home / "node.pid").unlink()
        down = await net.cli("down")
        assert down["down"]["0"] == "not running"
        assert down["removed"]["killed"] == [str(lost)]
        assert lost is not None
        assert not is_running(lost)
        assert not root_leftovers(net.manifest["netns"])


async def test_partition_arguments_are_checked(net: Net) -> None:
    with trio.fail_after(30):
        for spec, message in (
            ("0,1,2,3", "cuts nobody off"),
            ("4", "no node 4"),
            ("x", "expected node indices"),
            ("1,1", "repeated"),
        ):
            result = await cli("partition", "--dir", str(net.dir), spec)
            assert result.returncode == 2
            assert message in result.stderr.decode()
        # Partition and heal need no running node: they are routes in the namespaces.
        assert await net.cli("partition", "2") == {"partition": [[2], [0, 1, 3]]}
        assert await net.cli("partition", "0,1") == {"partition": [[0, 1], [2, 3]]}
        assert await net.cli("heal") == {"healed": True}


async def test_plain_testnet_refuses_partition(tmp_path: Path) -> None:
    with trio.fail_after(30):
        directory = str(tmp_path / "plain")
        ok(await cli("init", "--validators", "1", "--dir", directory))
        for command in (["partition", "0"], ["up", "--netns"]):
            result = await cli(*command, "--dir", directory)
            assert result.returncode == 2
            assert "not initialised with --netns" in result.stderr.decode()
        assert (await cli("heal", "--dir", directory)).returncode == 2


async def test_without_ip_netns_init_says_so_in_one_line(tmp_path: Path) -> None:
    with trio.fail_after(30):
        empty = tmp_path / "bin"
        empty.mkdir()
        directory = tmp_path / "tn"
        result = await cli("init", "--netns", "--dir", str(directory), env={"PATH": str(empty)})
        assert result.returncode == 1
        lines = result.stderr.decode().splitlines()
        assert lines == [
            "tenge-testnet: error: network namespaces unavailable: "
            "the `ip` command (iproute2) was not found"
        ]
        assert not directory.exists()


def test_docs_show_every_command() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "testnet.md").read_text()
    parser = build_parser()
    commands = next(
        action.choices
        for action in parser._actions
        if isinstance(action.choices, dict) and "init" in action.choices
    )
    missing = [name for name in commands if f"tenge-testnet {name} " not in doc]
    assert not missing, f"docs/testnet.md shows no example of: {missing}"
