"""Reading a testnet's nodes as an operator would: their HTTP API and /metrics."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from testnet._procs import RELAY_PROGRAM, is_running, read_pid


def node_status(
    node: dict[str, Any], timeout: float = 2.0, client: httpx.Client | None = None
) -> dict[str, Any]:
    """The node's /v1/status, or {"error": ...} when it does not answer.

    A caller that polls passes one `client` for all its calls: making an httpx client
    costs tens of milliseconds of CPU (its TLS context), which the nodes share.
    """
    pid = read_pid(Path(node["home"]))
    running = pid is not None and is_running(pid)
    base: dict[str, Any] = {"index": node["index"], "moniker": node["moniker"], "running": running}
    if not running:
        return base | {"error": "not running"}
    try:
        response = (client or httpx).get(f"{node['api']}/v1/status", timeout=timeout)
        response.raise_for_status()
        status: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError) as e:
        return base | {"error": f"API unreachable: {e.__class__.__name__}"}
    return base | status


def wait_all_height(manifest: dict[str, Any], height: int, timeout: float) -> bool:
    """Poll every node until each reports at least height; False on timeout."""
    deadline = time.monotonic() + timeout
    with httpx.Client() as client:
        while time.monotonic() < deadline:
            statuses = [node_status(n, timeout=1.0, client=client) for n in manifest["nodes"]]
            if all(s.get("height", 0) >= height for s in statuses):
                return True
            time.sleep(0.25)
    return False


def relay_listening(manifest: dict[str, Any], pid: int, timeout: float) -> bool:
    """Poll until the relay (process pid) accepts connections on every node's relay port;
    False when it exits first or on timeout. (Each probe connection is one the relay
    forwards and closes again.)"""
    addresses = [n["relay"].rpartition(":") for n in manifest["nodes"] if "relay" in n]
    waiting = {(host, int(port)) for host, _, port in addresses}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and is_running(pid, program=RELAY_PROGRAM):
        for address in sorted(waiting):
            try:
                socket.create_connection(address, timeout=1.0).close()
            except OSError:
                continue
            waiting.discard(address)
        if not waiting:
            return True
        time.sleep(0.05)
    return False


def node_metrics(
    node: dict[str, Any], timeout: float = 1.0, client: httpx.Client | None = None
) -> dict[str, float]:
    """Round and committed-transaction count from the node's /metrics (empty if down)."""
    try:
        text = (client or httpx).get(node["metrics"], timeout=timeout).text
    except httpx.HTTPError:
        return {}
    out = {"round": 0.0, "txs_total": 0.0}
    for family in text_string_to_metric_families(text):
        if family.name == "tenge_consensus_round":
            out["round"] = sum(sample.value for sample in family.samples)
        elif family.name == "tenge_txs":
            out["txs_total"] = sum(
                sample.value for sample in family.samples if sample.name == "tenge_txs_total"
            )
    return out
