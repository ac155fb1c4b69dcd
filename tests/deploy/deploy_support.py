"""Helpers for the deploy/ tests: the metric names NodeMetrics exports, and the PromQL
expressions of the alert rules and the Grafana dashboard."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from node.metrics import NodeMetrics, P2PInboundView, ValidatorView

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ALERTS = DEPLOY / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "tenge-node.json"

_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "gauge": ("",),
    "info": ("_info",),
}
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"' + r"|'(?:[^'\\]|\\.)*'")
_TENGE_NAME = re.compile(r"(?<![A-Za-z0-9_:])tenge_[A-Za-z0-9_:]*")


def fully_bound_metrics(tmp: Path) -> NodeMetrics:
    """A NodeMetrics with every scrape-time source bound, so that every family shows."""
    metrics = NodeMetrics(chain_id="test-chain", moniker="node0")
    metrics.bind_mempool(lambda: 3, lambda: 300, max_txs=100, max_bytes=10_000)
    metrics.bind_peers(lambda: 3)
    metrics.bind_validators(lambda: ValidatorView(4, 40, 1, 10, 0, 0, 10))
    metrics.bind_round_step(lambda: (0, "propose"))
    metrics.bind_store(tmp)
    metrics.bind_core_counters(lambda: ({"SYNC_TIMEOUT": 1}, {}, {}), lambda: False)
    metrics.bind_p2p_inbound(
        lambda: P2PInboundView(
            {"tx_queue_full": 1}, {"gossip_budget": 1}, 2, {"consensus": 0, "sync": 0, "tx": 10}, 3
        )
    )
    metrics.bind_api_connections(lambda: 2, max_connections=256)
    metrics.bind_signer(lambda: True, lambda: {"unreachable": 1})
    return metrics


def exported_families(metrics: NodeMetrics) -> dict[str, str]:
    """Family name (as Prometheus stores it, counters without ``_total``) -> type."""
    return {family.name: family.type for family in metrics.registry.collect()}


def exported_series_names(metrics: NodeMetrics) -> set[str]:
    """Every series name an expression may use: families plus their type's suffixes."""
    names: set[str] = set()
    for name, kind in exported_families(metrics).items():
        names.update(name + suffix for suffix in _SUFFIXES.get(kind, ("",)))
    return names


def tenge_names(expr: str) -> set[str]:
    """Identifiers starting with ``tenge_`` in a PromQL expression (quoted text ignored)."""
    return set(_TENGE_NAME.findall(_QUOTED.sub('""', expr)))


def alert_rules(path: Path = ALERTS) -> list[tuple[str, str]]:
    """(alert name, expr) of a rules file, read without a YAML library.

    Handles ``expr:`` on one line and block scalars (``expr: >-`` followed by deeper
    indented lines), which is how deploy/alerts.yml is written.
    """
    rules: list[tuple[str, str]] = []
    lines = path.read_text().splitlines()
    name = None
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("- alert:"):
            name = stripped.removeprefix("- alert:").strip()
        elif stripped.startswith("expr:"):
            value = stripped.removeprefix("expr:").strip()
            if value in (">", ">-", "|", "|-"):
                indent = len(line) - len(line.lstrip())
                parts = []
                while i + 1 < len(lines) and (
                    not lines[i + 1].strip()
                    or len(lines[i + 1]) - len(lines[i + 1].lstrip()) > indent
                ):
                    i += 1
                    parts.append(lines[i].strip())
                value = " ".join(p for p in parts if p)
            assert name is not None, f"{path}: expr before any alert name"
            rules.append((name, value))
            name = None
        i += 1
    return rules


def dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return doc


def dashboard_panels(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' nested panels included."""
    out: list[dict[str, Any]] = []
    for panel in doc.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def dashboard_expressions(doc: dict[str, Any]) -> list[str]:
    """Every PromQL expression: panel targets and query variables."""
    exprs = [
        target["expr"]
        for panel in dashboard_panels(doc)
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    for var in doc.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            query = var["query"]
            exprs.append(query["query"] if isinstance(query, dict) else query)
    return exprs


def as_plain_promql(expr: str) -> str:
    """A dashboard expression with Grafana's variables replaced, for promtool."""
    return expr.replace("$instance", ".*").replace("$__rate_interval", "5m")
