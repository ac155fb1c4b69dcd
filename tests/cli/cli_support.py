"""A live four-validator network for the command-line tests, and a runner of `tenge-node`.

The network is started once per session from synchronous code (pytest-trio fixtures are
function-scoped), with the same files and processes as `tenge-testnet` (testnet._init,
testnet._procs).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trio
from network_support import FAST_PARAMS

from node.client import TengeClient
from node.keys import KeyPair, read_key_file
from testnet._init import free_base_port, init_testnet
from testnet._procs import LOG_FILE, start_node, stop_node

START_DEADLINE_S = 90.0
REPO = Path(__file__).resolve().parent.parent.parent


@dataclass(frozen=True, slots=True)
class CliResult:
    """What one `tenge-node` run printed and returned."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def doc(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return f"tenge-node {' '.join(self.args)} -> {self.code}\n{self.stdout}{self.stderr}"


class LiveNet:
    """The running network: API URLs, account key files, a client and the CLI."""

    def __init__(self, directory: Path, manifest: dict[str, Any]) -> None:
        self.dir = directory
        self.manifest = manifest
        self.nodes: list[dict[str, Any]] = manifest["nodes"]
        self.chain_id: str = manifest["chain_id"]

    def api(self, index: int = 0) -> str:
        return str(self.nodes[index]["api"])

    def key_file(self, account: str, k: int = 0) -> str:
        return str(self.manifest["accounts"][account]["key_files"][k])

    def keys(self, account: str) -> list[KeyPair]:
        return [read_key_file(Path(f)) for f in self.manifest["accounts"][account]["key_files"]]

    def client(self, index: int = 0) -> TengeClient:
        return TengeClient(self.api(index), chain_id=self.chain_id)

    def log_texts(self) -> dict[int, str]:
        out = {}
        for node in self.nodes:
            log = Path(node["home"]) / LOG_FILE
            out[node["index"]] = log.read_text() if log.exists() else ""
        return out

    def assert_no_traceback(self) -> None:
        for index, text in self.log_texts().items():
            assert "Traceback" not in text, f"node {index} logged a traceback:\n{text[-3000:]}"

    async def height(self, index: int = 0) -> int:
        async with httpx.AsyncClient(timeout=5) as http:
            r = await http.get(self.api(index) + "/v1/status")
            return int(r.json()["height"])

    async def wait_height(self, height: int, index: int = 0) -> None:
        """Poll until node index reports at least height (callers bound it with fail_after)."""
        while True:
            if await self.height(index) >= height:
                return
            await trio.sleep(0.1)

    async def cli(self, *args: str, env: dict[str, str] | None = None) -> CliResult:
        """Run ``python -m node.cli ARGS`` (with ``--api`` added for tx and query)."""
        full = list(args)
        if args and args[0] in ("tx", "query") and "--api" not in args:
            full += ["--api", self.api()]
        return await run_cli(*full, env=env)


async def run_cli(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """Run the `tenge-node` command in a subprocess of this Python."""
    environment = {**os.environ, **(env or {})}
    proc = await trio.run_process(
        [sys.executable, "-m", "node.cli", *args],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
        env=environment,
        cwd=REPO,
    )
    return CliResult(tuple(args), proc.returncode, proc.stdout.decode(), proc.stderr.decode())


@contextmanager
def live_network(tmp: Path) -> Iterator[LiveNet]:
    """Init a 4-validator testnet in tmp, start it, wait for height 1; stop it after.

    On the way out it checks that no node logged a traceback.
    """
    directory = tmp / "net"
    manifest = init_testnet(
        directory, validators=4, base_port=free_base_port(4), params=FAST_PARAMS
    )
    net = LiveNet(directory, manifest)
    try:
        for node in net.nodes:
            start_node(node, detach=False)
        _wait_started(net)
        yield net
    finally:
        for node in net.nodes:
            stop_node(node, grace=10)
    net.assert_no_traceback()


def _wait_started(net: LiveNet) -> None:
    deadline = time.monotonic() + START_DEADLINE_S
    with httpx.Client(timeout=2) as http:
        for node in net.nodes:
            while True:
                try:
                    if int(http.get(node["api"] + "/v1/status").json()["height"]) >= 1:
                        break
                except (httpx.HTTPError, ValueError, KeyError):
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"node {node['index']} did not reach height 1:\n"
                        + net.log_texts()[node["index"]][-2000:]
                    )
                time.sleep(0.1)
