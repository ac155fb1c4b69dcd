"""A prometheus.yml for a set of tenge-node metrics listeners.

``tenge-testnet init`` calls ``render_prometheus_config`` for the local network;
deploy/prometheus.yml and deploy/compose/prometheus.yml are its output for the default
local testnet and for the compose network (a test keeps them in sync).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Final

DEFAULT_JOB: Final = "tenge-node"


def render_prometheus_config(
    targets: Mapping[str, str],
    *,
    job: str = DEFAULT_JOB,
    scrape_interval_s: int = 5,
    rule_files: Sequence[str] = ("alerts.yml",),
    alertmanagers: Sequence[str] = (),
) -> str:
    """The text of a prometheus.yml scraping these nodes (``tenge-testnet init`` writes one).

    Args:
        targets: node moniker -> ``HOST:PORT`` of its metrics listener. Each target gets a
            ``moniker`` label, which the dashboard and the alerts show.
        job: the scrape job name; deploy/alerts.yml's TengeNodeDown matches ``tenge-node``.
        scrape_interval_s: scrape and rule evaluation interval. Keep it well under 30 s,
            the "no new block" alert's threshold.
        rule_files: alert rule files, relative to the config file.
        alertmanagers: ``HOST:PORT`` of Alertmanagers, if any.

    Raises:
        ValueError: no targets, a target is not ``HOST:PORT``, or an interval below 1 s.
    """
    if not targets:
        raise ValueError("no scrape targets")
    if scrape_interval_s < 1:
        raise ValueError(f"scrape interval must be at least 1 s, got {scrape_interval_s}")
    for address in (*targets.values(), *alertmanagers):
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
            raise ValueError(f"scrape target {address!r}: expected HOST:PORT")

    def q(text: str) -> str:
        return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar

    out = [
        "# Prometheus configuration for tenge-node validators (docs/monitoring.md).",
        "global:",
        f"  scrape_interval: {scrape_interval_s}s",
        f"  evaluation_interval: {scrape_interval_s}s",
        f"  scrape_timeout: {min(scrape_interval_s, 10)}s",
        "",
        "rule_files:",
        *[f"  - {q(name)}" for name in rule_files],
    ]
    if alertmanagers:
        out += [
            "",
            "alerting:",
            "  alertmanagers:",
            "    - static_configs:",
            "        - targets: [" + ", ".join(q(a) for a in alertmanagers) + "]",
        ]
    out += ["", "scrape_configs:", f"  - job_name: {q(job)}", "    static_configs:"]
    for moniker, address in targets.items():
        out += [
            f"      - targets: [{q(address)}]",
            "        labels:",
            f"          moniker: {q(moniker)}",
        ]
    return "\n".join(out) + "\n"
