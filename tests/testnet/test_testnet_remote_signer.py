"""`tenge-testnet init --remote-signer I`: validator I signs through a signer process that
`up` starts before the nodes, `kill-signer` / `start-signer` take away and bring back,
and `down` stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from testnet._init import free_base_port
from testnet._procs import is_running, read_pid

DEADLINE_S = 120


def tenge_testnet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "testnet.cli", *args],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )


def wait_for(predicate: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def signer_state(node: dict[str, Any]) -> Any:
    try:
        body = httpx.get(str(node["api"]) + "/v1/health", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return None
    return body.get("signer", {}).get("up")


def test_init_up_kill_signer_start_signer_down(tmp_path: Path) -> None:
    directory = tmp_path / "tn"
    d = str(directory)
    made = tenge_testnet(
        "init", "--dir", d, "--base-port", str(free_base_port(4)), "--remote-signer", "3"
    )
    assert made.returncode == 0, made.stderr
    manifest = json.loads((directory / "testnet.json").read_text())
    node = manifest["nodes"][3]
    signer_home = Path(node["signer"]["home"])
    assert (signer_home / "validator_key.json").exists()
    assert not (Path(node["home"]) / "validator_key.json").exists()
    assert "signer" not in manifest["nodes"][0]
    try:
        up = tenge_testnet("up", "--dir", d, "--detach")
        assert up.returncode == 0, up.stderr
        wait_for(lambda: signer_state(node) is True, "node 3's signer to be up")
        status = json.loads(tenge_testnet("status", "--dir", d, "--json").stdout)
        assert status["nodes"][3]["signer_running"] is True

        assert json.loads(tenge_testnet("kill-signer", "--dir", d, "3").stdout)["signer_killed"]
        wait_for(lambda: signer_state(node) is False, "node 3's health to show its signer down")
        started = tenge_testnet("start-signer", "--dir", d, "3")
        assert started.returncode == 0, started.stderr
        wait_for(lambda: signer_state(node) is True, "node 3 to reconnect")
        assert tenge_testnet("kill-signer", "--dir", d, "0").returncode == 2

        down = tenge_testnet("down", "--dir", d)
        assert down.returncode == 0, down.stderr
        assert json.loads(down.stdout)["signers"] == {"3": "stopped"}
    finally:
        tenge_testnet("down", "--dir", d)
        for home in [*(directory / "nodes").iterdir(), signer_home]:
            for name in ("node.pid", "signer.pid"):
                pid = read_pid(home, name)
                if pid is not None and is_running(pid):
                    os.kill(pid, signal.SIGKILL)
