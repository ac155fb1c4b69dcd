"""A real local network for integration tests: `tenge-testnet init` files, real
`tenge-node` processes on 127.0.0.1, and their HTTP APIs."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import trio

from node.config import SignerSettings
from node.keys import KeyPair, read_key_file
from node.ledger.txbuild import build_tx, sign_envelope, transfer
from proto import ledger_pb2
from testnet._init import free_base_port, init_testnet
from testnet._procs import kill_node, start_node, start_signer, stop_node, stop_signer

#: Quick rounds so tests spend seconds, not minutes.
FAST_PARAMS = {
    "timeout_propose_ms": 600,
    "timeout_prevote_ms": 300,
    "timeout_precommit_ms": 300,
    "timeout_delta_ms": 200,
    "timeout_max_ms": 3000,
    "empty_block_interval_ms": 300,
}


class Network:
    """A running testnet: node processes plus an HTTP client."""

    def __init__(self, directory: Path, manifest: dict[str, Any], client: httpx.AsyncClient):
        self.dir = directory
        self.manifest = manifest
        self.nodes: list[dict[str, Any]] = manifest["nodes"]
        self.chain_id: str = manifest["chain_id"]
        self.http = client
        self._nonce = itertools.count(1)
        self._keys: dict[str, list[KeyPair]] = {}

    # ---- processes ----

    def start(self, index: int) -> None:
        start_node(self.nodes[index], detach=False)

    def kill(self, index: int) -> None:
        assert kill_node(self.nodes[index])

    def stop_all(self) -> None:
        for node in self.nodes:
            stop_node(node, grace=10)

    # ---- API ----

    def api(self, index: int) -> str:
        return str(self.nodes[index]["api"])

    async def get(self, index: int, path: str) -> Any:
        response = await self.http.get(self.api(index) + path)
        response.raise_for_status()
        return response.json()

    async def height(self, index: int) -> int:
        try:
            return int((await self.get(index, "/v1/status"))["height"])
        except (httpx.HTTPError, KeyError, ValueError):
            return -1

    async def wait_height(self, height: int, nodes: list[int] | None = None) -> None:
        """Poll until every listed node (default: all) reports at least height."""
        targets = range(len(self.nodes)) if nodes is None else nodes
        while True:
            heights = [await self.height(i) for i in targets]
            if min(heights) >= height:
                return
            await trio.sleep(0.1)

    async def health(self, index: int) -> tuple[int, Any]:
        """GET /v1/health: (status code, body); (0, error text) when it does not answer."""
        try:
            response = await self.http.get(self.api(index) + "/v1/health")
        except httpx.HTTPError as e:
            return 0, repr(e)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text

    async def block(self, index: int, height: int) -> dict[str, Any]:
        result: dict[str, Any] = await self.get(index, f"/v1/blocks/{height}")
        return result

    # ---- transactions ----

    def keys(self, account: str) -> list[KeyPair]:
        if account not in self._keys:
            files = self.manifest["accounts"][account]["key_files"]
            self._keys[account] = [read_key_file(Path(f)) for f in files]
        return self._keys[account]

    def sign(
        self, signer: str, kind: Any, *, expires_at_height: int, keys: list[KeyPair] | None = None
    ) -> bytes:
        body = build_tx(
            self.chain_id,
            signer,
            kind,
            nonce=next(self._nonce),
            expires_at_height=expires_at_height,
        )
        return sign_envelope(body, self.chain_id, keys if keys is not None else self.keys(signer))

    def payment(self, payer: str, payee: str, amount: int, *, expires_at_height: int) -> bytes:
        return self.sign(
            payer, transfer((payer, payee, "KZT", amount)), expires_at_height=expires_at_height
        )

    async def submit(self, index: int, envelope: bytes, *, wait: bool = False) -> httpx.Response:
        query = "?wait=commit" if wait else ""
        return await self.http.post(
            self.api(index) + "/v1/txs" + query,
            json={"tx": base64.b64encode(envelope).decode()},
        )

    async def issue(self, to: str, amount: int) -> dict[str, Any]:
        height = await self.height(0)
        env = self.sign(
            "central-bank",
            ledger_pb2.Issue(asset="KZT", to=to, amount=amount),
            expires_at_height=height + 100,
        )
        response = await self.submit(0, env, wait=True)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        assert result["code"] == "OK", result
        return result


@asynccontextmanager
async def running_network(
    tmp_path: Path,
    validators: int = 4,
    prepare: Callable[[Network], None] | None = None,
    hsm_signers: dict[int, SignerSettings] | None = None,
    remote_signers: tuple[int, ...] = (),
) -> AsyncIterator[Network]:
    """Init a testnet in tmp_path, start every node, wait for height 1; stop all after.

    prepare, if given, runs after init and before any node starts (e.g. to edit each
    node's config.toml). hsm_signers: validators whose key is made in a PKCS#11 token;
    remote_signers: validators whose key is at a remote signer process, started before
    the nodes and stopped after them (testnet._init.init_testnet).
    """
    directory = tmp_path / "net"
    manifest = init_testnet(
        directory,
        validators=validators,
        base_port=free_base_port(validators),
        params=FAST_PARAMS,
        hsm_signers=hsm_signers,
        remote_signers=remote_signers,
    )
    async with httpx.AsyncClient(timeout=10) as client:
        net = Network(directory, manifest, client)
        if prepare is not None:
            prepare(net)
        try:
            for node in net.nodes:
                start_signer(node, detach=False)
            for i in range(validators):
                net.start(i)
            with trio.move_on_after(STARTUP_S) as startup:
                await net.wait_height(1)
            if startup.cancelled_caught:
                raise AssertionError(await _startup_report(net))
            yield net
        finally:
            net.stop_all()
            for node in net.nodes:
                stop_signer(node, grace=10)
            for node in net.nodes:
                log = Path(node["home"]) / "node.log"
                if log.exists():
                    text = log.read_text()
                    assert "Traceback" not in text, f"node {node['index']} crashed:\n{text[-3000:]}"


#: How long a fresh network may take to commit height 1 on every node.
STARTUP_S = 60


async def _startup_report(net: Network) -> str:
    """Why the network did not start: each node's height and the end of its log."""
    lines = [f"the network did not reach height 1 within {STARTUP_S} s:"]
    for i, node in enumerate(net.nodes):
        log = Path(node["home"]) / "node.log"
        tail = log.read_text()[-600:] if log.exists() else "(no log)"
        lines.append(f"node {i}: height {await net.height(i)}; log ends:\n{tail}")
    return "\n".join(lines)


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=1)[:2000]
