"""One real validator process for the contract tests: `tenge-testnet init` files, a real
`tenge-node` on 127.0.0.1, and its HTTP API.

A guarded node has an API token file (node/api/_tokens.py) with one token of every scope
but read:own, which `LiveNode.headers` presents.

Loopback is exempt from the API's per-client limits (`[api] exempt`), so that a fuzzer's
hundreds of requests a second reach the handlers instead of 429 RATE_LIMITED (the 429 is
documented on every route; tests/api/test_api_gate.py tests the limits themselves).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from node.api._tokens import ADMIN, READ_ALL, SUBMIT, new_token, save_tokens, token_file
from node.keys import read_key_file
from node.ledger.txbuild import build_tx, sign_envelope
from testnet._init import free_base_port, init_testnet
from testnet._procs import start_node, stop_node

#: The chain id of the worked example in docs/api.md, "Signing a transaction".
DOCS_CHAIN_ID = "tenge-docs-1"
STARTUP_S = 60.0
EXEMPT_NONE = "\nexempt = []\n"


@dataclass
class LiveNode:
    """A running one-validator network."""

    api: str
    chain_id: str
    manifest: dict[str, Any]
    home: Path
    token: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header of the node's token; none for an open node."""
        return {} if self.token is None else {"Authorization": f"Bearer {self.token}"}

    def height(self) -> int:
        response = httpx.get(f"{self.api}/v1/status", timeout=10)
        response.raise_for_status()
        return int(response.json()["height"])

    def submit(self, envelope: bytes, *, wait: bool = True) -> httpx.Response:
        """POST /v1/txs with the envelope (base64), waiting for the commit by default."""
        return httpx.post(
            f"{self.api}/v1/txs" + ("?wait=commit" if wait else ""),
            json={"tx": base64.b64encode(envelope).decode()},
            headers=self.headers,
            timeout=40,
        )

    def send(self, signer: str, kind: Any, nonce: int) -> dict[str, Any]:
        """Sign kind as signer with its testnet key files and wait for the commit: code OK."""
        keys = [read_key_file(Path(f)) for f in self.manifest["accounts"][signer]["key_files"]]
        body = build_tx(
            self.chain_id, signer, kind, nonce=nonce, expires_at_height=self.height() + 100
        )
        response = self.submit(sign_envelope(body, self.chain_id, keys))
        assert response.status_code == 200, response.text
        doc: dict[str, Any] = response.json()
        assert doc["code"] == "OK", doc
        return doc


@contextmanager
def live_node(
    directory: Path,
    chain_id: str = DOCS_CHAIN_ID,
    *,
    guarded: bool = False,
    rulebook: dict[str, Any] | None = None,
) -> Iterator[LiveNode]:
    """Init a one-validator testnet in directory, start it, wait for height 1; stop it after.
    A guarded node gets a token file before it starts; rulebook: genesis rulebook entries.

    Raises:
        AssertionError: the node did not commit height 1 within STARTUP_S, or its log
            shows a traceback when it stops.
    """
    manifest = init_testnet(
        directory,
        validators=1,
        base_port=free_base_port(1),
        chain_id=chain_id,
        rulebook=rulebook,
    )
    node = manifest["nodes"][0]
    home = Path(node["home"])
    config = home / "config.toml"
    text = config.read_text()
    assert text.count(EXEMPT_NONE) == 1, "config.toml lacks [api] exempt"
    config.write_text(text.replace(EXEMPT_NONE, '\nexempt = ["127.0.0.1/32"]\n'))
    live = LiveNode(str(node["api"]), chain_id, manifest, home)
    if guarded:
        now_ms = int(time.time() * 1000)
        token, live.token = new_token("contract", [SUBMIT, READ_ALL, ADMIN], "", now_ms)
        save_tokens(token_file(home), [token])
    start_node(node, detach=False)
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            try:
                if live.height() >= 1:
                    break
            except httpx.HTTPError:
                pass
            log = home / "node.log"
            assert time.monotonic() < deadline, (
                f"the node did not reach height 1 within {STARTUP_S:g} s; its log ends:\n"
                + (log.read_text()[-2000:] if log.exists() else "(no log)")
            )
            time.sleep(0.2)
        yield live
    finally:
        stop_node(node, grace=10)
        log = home / "node.log"
        if log.exists():
            text = log.read_text()
            assert "Traceback" not in text, f"the node crashed:\n{text[-3000:]}"
