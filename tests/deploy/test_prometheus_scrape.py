"""A real Prometheus server scrapes a node's /metrics and evaluates deploy/alerts.yml.

Skips, saying why, when the ``prometheus`` binary (Debian package ``prometheus``) is absent.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from deploy_support import ALERTS, alert_rules

from node.metrics import NodeMetrics, ValidatorView, count_results, serve_metrics
from testnet.prometheus import render_prometheus_config

PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="prometheus not installed (apt-get install --no-install-recommends prometheus)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def poll(client: httpx.AsyncClient, path: str, params: dict[str, str], want: Any) -> Any:
    """GET path until ``want(data)`` is true; returns the last data."""
    while True:
        try:
            response = await client.get(path, params=params)
            data = response.json().get("data") if response.status_code == 200 else None
        except httpx.TransportError:
            data = None  # Prometheus still starting
        if data is not None and want(data):
            return data
        await trio.sleep(0.2)


async def test_prometheus_scrapes_the_node_and_fires_the_evidence_alert(tmp_path: Path) -> None:
    assert PROMETHEUS is not None
    metrics = NodeMetrics(chain_id="scrape-test", moniker="bank-a")
    metrics.bind_peers(lambda: 3)
    metrics.bind_validators(lambda: ValidatorView(4, 40, own_power=10))
    metrics.bind_store(tmp_path)
    metrics.on_commit(41, 0, 2, count_results([("transfer", 0), ("issue", 17)]), 1.0, 0.3)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_metrics, metrics, "127.0.0.1", 0)
            config = render_prometheus_config({"bank-a": f"127.0.0.1:{port}"}, scrape_interval_s=1)
            (tmp_path / "prometheus.yml").write_text(config)
            shutil.copy(ALERTS, tmp_path / "alerts.yml")
            web = free_port()
            command = [
                PROMETHEUS,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{web}",
            ]
            await nursery.start(
                partial(
                    trio.run_process,
                    command,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=False,
                )
            )
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{web}") as client:
                query = "/api/v1/query"
                height = await poll(
                    client,
                    query,
                    {"query": 'tenge_consensus_height{job="tenge-node", moniker="bank-a"}'},
                    lambda d: len(d["result"]) == 1,
                )
                assert height["result"][0]["value"][1] == "41"
                txs = await poll(
                    client,
                    query,
                    {"query": "tenge_txs_total"},
                    lambda d: len(d["result"]) == 2,
                )
                by_code = {r["metric"]["code"]: r["value"][1] for r in txs["result"]}
                assert by_code == {"OK": "1", "UNAUTHORIZED": "1"}
                rules = await poll(
                    client, "/api/v1/rules", {}, lambda d: len(d.get("groups", [])) == 1
                )
                assert len(rules["groups"][0]["rules"]) == len(alert_rules())
                assert all(r["health"] != "err" for r in rules["groups"][0]["rules"])

                metrics.on_evidence()
                alerts = await poll(
                    client,
                    "/api/v1/alerts",
                    {},
                    lambda d: any(
                        a["labels"]["alertname"] == "TengeEvidenceSeen" for a in d["alerts"]
                    ),
                )
                fired = [
                    a for a in alerts["alerts"] if a["labels"]["alertname"] == "TengeEvidenceSeen"
                ]
                assert fired[0]["labels"]["moniker"] == "bank-a"
                assert fired[0]["state"] == "firing"
            nursery.cancel_scope.cancel()
