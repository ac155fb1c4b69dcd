"""`tenge-testnet` driven as a script would: init, up, status, demo, kill, restart, down,
and no orphan node processes, even when the harness itself is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from testnet._init import free_base_port
from testnet._procs import is_running, read_pid

DEADLINE_S = 90


def tenge_testnet(*args: str, timeout: float = DEADLINE_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "testnet.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def status(directory: Path) -> dict[str, Any]:
    result = tenge_testnet("status", "--dir", str(directory), "--json")
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def node_pids(directory: Path) -> list[int]:
    pids = []
    for home in sorted((directory / "nodes").iterdir()):
        pid = read_pid(home)
        if pid is not None:
            pids.append(pid)
    return pids


def wait_for(predicate: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def heights(directory: Path) -> list[int]:
    return [int(n.get("height", -1)) for n in status(directory)["nodes"]]


@pytest.fixture
def testnet_dir(tmp_path: Path) -> Any:
    directory = tmp_path / "tn"
    result = tenge_testnet(
        "init", "--dir", str(directory), "--validators", "4", "--base-port", str(free_base_port(4))
    )
    assert result.returncode == 0, result.stderr
    yield directory
    tenge_testnet("down", "--dir", str(directory))
    for pid in node_pids(directory):
        if is_running(pid):
            os.kill(pid, signal.SIGKILL)


def test_init_writes_the_manifest_and_refuses_to_overwrite(testnet_dir: Path) -> None:
    manifest = json.loads((testnet_dir / "testnet.json").read_text())
    assert len(manifest["nodes"]) == 4
    assert {
        "central-bank",
        "bank-a",
        "bank-b",
        "bank-c",
        "treasury",
        "state-reserve",
        "alem-crypto-fund",
        "regulator",
    } <= set(manifest["accounts"])
    assert len(manifest["accounts"]["state-reserve"]["key_files"]) == 3
    assert len(manifest["accounts"]["alem-crypto-fund"]["key_files"]) == 3
    for node in manifest["nodes"]:
        assert {"index", "moniker", "home", "api", "metrics", "p2p", "node_id"} <= set(node)
    again = tenge_testnet("init", "--dir", str(testnet_dir))
    assert again.returncode == 2
    assert "already holds a testnet" in again.stderr
    bad = tenge_testnet("status", "--dir", str(testnet_dir / "nowhere"))
    assert bad.returncode == 1
    assert "no testnet" in bad.stderr


def test_up_demo_kill_restart_down(testnet_dir: Path) -> None:
    d = str(testnet_dir)
    up = tenge_testnet("up", "--dir", d, "--detach")
    assert up.returncode == 0, up.stderr
    assert min(heights(testnet_dir)) >= 1

    demo = tenge_testnet("demo", "--dir", d)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "every step as expected" in demo.stdout

    assert tenge_testnet("kill", "--dir", d, "2").returncode == 0
    doc = status(testnet_dir)
    assert doc["nodes"][2]["running"] is False
    top = max(heights(testnet_dir))
    wait_for(
        lambda: min(h for i, h in enumerate(heights(testnet_dir)) if i != 2) >= top + 2,
        "the other three to keep committing",
    )

    assert tenge_testnet("restart", "--dir", d, "2").returncode == 0
    top = max(heights(testnet_dir))
    wait_for(lambda: min(heights(testnet_dir)) >= top, "the restarted node to catch up")

    load = tenge_testnet(
        "load", "--dir", d, "--rate", "40", "--duration", "1", "--accounts", "4", "--batch", "5"
    )
    assert load.returncode == 0, load.stderr
    report = json.loads(load.stdout)
    assert report["offered"] == 40
    assert report["committed"] == report["admitted"] == 40, report
    assert {"p50", "p95", "p99", "max", "mean"} <= set(report["latency_ms"])
    assert {"p50", "p99", "max"} <= set(report["send_lag_ms"])
    assert report["tool_cpu_s"]["total"] > 0

    pids = node_pids(testnet_dir)
    down = tenge_testnet("down", "--dir", d)
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout)["down"] == {
        "0": "stopped",
        "1": "stopped",
        "2": "stopped",
        "3": "stopped",
    }
    assert not [pid for pid in pids if is_running(pid)], "nodes left running after down"
    assert tenge_testnet("kill", "--dir", d, "9").returncode == 2


def test_no_orphans_when_the_harness_is_killed(testnet_dir: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "testnet.cli", "up", "--dir", str(testnet_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as harness:
        try:
            wait_for(lambda: min(heights(testnet_dir)) >= 1, "the network to come up")
            pids = node_pids(testnet_dir)
            assert len(pids) == 4
            assert all(is_running(pid) for pid in pids)
            harness.send_signal(signal.SIGKILL)
            harness.wait(timeout=10)
        finally:
            if harness.poll() is None:
                harness.kill()
    wait_for(
        lambda: not any(is_running(pid) for pid in pids),
        "the nodes to die with the harness",
        timeout=15,
    )
