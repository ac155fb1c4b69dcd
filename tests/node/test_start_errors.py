"""`tenge-node start` refuses to run with a clear one-line error and a non-zero exit."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testnet._init import free_base_port, init_testnet
from testnet._procs import start_node, stop_node


def start(home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.cli", "start", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("tenge-node: error:")]
    assert len(errors) == 1, result.stderr
    assert text in errors[0]
    assert "Traceback" not in result.stderr


@pytest.fixture
def home(tmp_path: Path) -> Path:
    manifest = init_testnet(tmp_path / "net", validators=1, base_port=free_base_port(1))
    return Path(manifest["nodes"][0]["home"])


def test_port_in_use(home: Path) -> None:
    config = (home / "config.toml").read_text()
    port = int(config.split('listen = "127.0.0.1:', 1)[1].split('"', 1)[0])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        assert_one_line_error(start(home), "Address already in use")


def test_data_directory_locked_by_another_node(tmp_path: Path) -> None:
    manifest = init_testnet(tmp_path / "net", validators=1, base_port=free_base_port(1))
    node = manifest["nodes"][0]
    start_node(node, detach=False)
    try:
        deadline = time.monotonic() + 30
        while not (Path(node["home"]) / "data" / "store" / "LOCK").exists():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.5)
        assert_one_line_error(start(Path(node["home"])), "locked by another process")
    finally:
        assert stop_node(node) == "stopped"


def test_missing_and_invalid_files(home: Path, tmp_path: Path) -> None:
    assert_one_line_error(start(tmp_path / "nowhere"), "config.toml: not found")
    genesis = (home / "genesis.json").read_text()
    (home / "genesis.json").write_text('{"chain_id": 5}')
    assert_one_line_error(start(home), "genesis.json")
    (home / "genesis.json").unlink()
    assert_one_line_error(start(home), "no such file")
    (home / "genesis.json").write_text(genesis)
    (home / "config.toml").write_text((home / "config.toml").read_text() + "\n[log]\nformat = 5\n")
    assert_one_line_error(start(home), "config.toml")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_with_exit_0(home: Path, signum: int) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "node.cli", "start", "--home", str(home)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stderr is not None
            deadline = time.monotonic() + 60
            for line in proc.stderr:  # wait for the first commit
                assert time.monotonic() < deadline
                if "committed block" in line:
                    break
            proc.send_signal(signum)
            _, rest = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, rest
        assert "stopped cleanly" in rest
    # The store closed cleanly: a new process can open it and resumes from its height.
    from node.store import Store

    with Store(home / "data" / "store") as store:
        assert store.height >= 1
