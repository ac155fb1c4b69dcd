"""deploy/ monitoring files: Prometheus config, alert rules, Grafana dashboard.

promtool (Debian package ``prometheus``) checks the config and rules and runs the alert
unit tests in alerts_test.yml; those tests skip, saying why, when promtool is absent.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from deploy_support import (
    ALERTS,
    DEPLOY,
    alert_rules,
    as_plain_promql,
    dashboard,
    dashboard_expressions,
    dashboard_panels,
    exported_families,
    exported_series_names,
    fully_bound_metrics,
    tenge_names,
)

from testnet.prometheus import render_prometheus_config

HERE = Path(__file__).resolve().parent
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not installed (apt-get install --no-install-recommends prometheus)",
)

REQUIRED_ALERTS = {
    "TengeNodeDown",
    "TengeNoNewBlock",
    "TengeMissingPrecommits",
    "TengePeersBelowQuorum",
    "TengeMempoolNearlyFull",
    "TengeEvidenceSeen",
    "TengeSignerDown",
    "TengeSignerRefusing",
    "TengeDiskFilling",
    "TengeDiskAlmostFull",
}
LOCAL_TARGETS = {
    "central-bank": "127.0.0.1:26602",
    "bank-a": "127.0.0.1:26612",
    "bank-b": "127.0.0.1:26622",
    "bank-c": "127.0.0.1:26632",
}
# Compose: peers and Prometheus reach each node by service name, ports as in the testnet.
COMPOSE_TARGETS = {name: f"{name}:{26602 + 10 * i}" for i, name in enumerate(LOCAL_TARGETS)}


def promtool(*args: str, cwd: Path = HERE) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


# ---- promtool ----


@needs_promtool
def test_promtool_accepts_local_prometheus_config() -> None:
    result = promtool("check", "config", str(DEPLOY / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_accepts_compose_prometheus_config(tmp_path: Path) -> None:
    # In the compose network both files are mounted side by side in /etc/prometheus.
    shutil.copy(DEPLOY / "compose" / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copy(ALERTS, tmp_path / "alerts.yml")
    result = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_accepts_alert_rules() -> None:
    result = promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(REQUIRED_ALERTS)} rules found" in result.stdout


@needs_promtool
def test_alert_unit_tests_pass() -> None:
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    """The checks above can fail: a rule with a PromQL syntax error is refused."""
    broken = ALERTS.read_text().replace(
        "expr: tenge_p2p_peers < tenge_p2p_quorum_peers",
        "expr: tenge_p2p_peers < < tenge_p2p_quorum_peers",
    )
    assert broken != ALERTS.read_text()
    (tmp_path / "alerts.yml").write_text(broken)
    result = promtool("check", "rules", str(tmp_path / "alerts.yml"))
    assert result.returncode != 0


@needs_promtool
def test_dashboard_expressions_are_valid_promql(tmp_path: Path) -> None:
    exprs = [as_plain_promql(e) for e in dashboard_expressions(dashboard())]
    promql = [e for e in exprs if not e.startswith("label_values(")]
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for i, expr in enumerate(promql):
        lines += [f"      - record: dashboard:panel_{i}", f"        expr: '{expr}'"]
    (tmp_path / "dashboard_rules.yml").write_text("\n".join(lines) + "\n")
    result = promtool("check", "rules", str(tmp_path / "dashboard_rules.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(promql)} rules found" in result.stdout


# ---- alert rules ----


def test_every_required_alert_is_defined_once() -> None:
    names = [name for name, _ in alert_rules()]
    assert sorted(names) == sorted(REQUIRED_ALERTS)


def test_every_alert_has_a_unit_test() -> None:
    tested = {
        line.split("alertname:", 1)[1].strip()
        for line in (HERE / "alerts_test.yml").read_text().splitlines()
        if "alertname:" in line
    }
    assert tested == REQUIRED_ALERTS


def test_alert_expressions_name_only_exported_metrics(tmp_path: Path) -> None:
    exported = exported_series_names(fully_bound_metrics(tmp_path))
    for name, expr in alert_rules():
        used = tenge_names(expr)
        assert used or name == "TengeNodeDown", f"{name}: no tenge_ metric in {expr!r}"
        assert used <= exported, f"{name} uses unknown metrics {sorted(used - exported)}"


def test_name_check_catches_unknown_metrics(tmp_path: Path) -> None:
    exported = exported_series_names(fully_bound_metrics(tmp_path))
    assert tenge_names('rate(tenge_txs_total{code="tenge_x"}[5m])') == {"tenge_txs_total"}
    assert "tenge_txs_total" in exported
    assert "tenge_txs_bucket" not in exported  # a counter has no buckets
    assert "tenge_consensus_commit_latency_seconds_bucket" in exported
    assert "tenge_consensus_commit_latency_seconds" not in exported  # only with a suffix
    assert not tenge_names("tenge_bogus_total + tenge_txs_total") <= exported


def test_alert_parser_reads_block_scalars() -> None:
    rules = dict(alert_rules())
    assert rules["TengeMempoolNearlyFull"] == (
        "tenge_mempool_txs / tenge_mempool_capacity_txs > 0.8 "
        "or tenge_mempool_bytes / tenge_mempool_capacity_bytes > 0.8"
    )
    assert rules["TengeNodeDown"] == 'up{job="tenge-node"} == 0'


# ---- dashboard ----


def test_dashboard_is_valid_with_unique_panel_ids() -> None:
    doc = dashboard()
    assert doc["uid"] == "tenge-node"
    panels = dashboard_panels(doc)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        assert panel["title"]
        if panel["type"] != "row":
            assert panel["targets"], f"panel {panel['title']!r} has no query"
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}"


def test_dashboard_expressions_name_only_exported_metrics(tmp_path: Path) -> None:
    exported = exported_series_names(fully_bound_metrics(tmp_path))
    for expr in dashboard_expressions(dashboard()):
        used = tenge_names(expr)
        assert used <= exported, f"unknown metrics {sorted(used - exported)} in {expr!r}"


def test_every_exported_family_is_on_the_dashboard(tmp_path: Path) -> None:
    families = exported_families(fully_bound_metrics(tmp_path))
    used = {name for expr in dashboard_expressions(dashboard()) for name in tenge_names(expr)}
    used_families = {
        name.removesuffix(suffix)
        for name in used
        for suffix in ("_total", "_bucket", "_sum", "_count", "")
        if name.removesuffix(suffix) in families
    }
    assert set(families) - used_families == set()


# ---- prometheus.yml ----


def test_prometheus_configs_are_the_renderer_output() -> None:
    assert (DEPLOY / "prometheus.yml").read_text() == render_prometheus_config(LOCAL_TARGETS)
    compose = (DEPLOY / "compose" / "prometheus.yml").read_text()
    assert compose == render_prometheus_config(COMPOSE_TARGETS)


def test_rendered_config_lists_targets_with_monikers() -> None:
    text = render_prometheus_config(
        {'bank "x"': "10.0.0.5:26660"}, alertmanagers=["am:9093"], scrape_interval_s=10
    )
    assert '- targets: ["10.0.0.5:26660"]' in text
    assert 'moniker: "bank \\"x\\""' in text
    assert 'targets: ["am:9093"]' in text
    assert "scrape_interval: 10s" in text


@needs_promtool
def test_rendered_config_with_alertmanager_passes_promtool(tmp_path: Path) -> None:
    text = render_prometheus_config(COMPOSE_TARGETS, alertmanagers=["alertmanager:9093"])
    (tmp_path / "prometheus.yml").write_text(text)
    shutil.copy(ALERTS, tmp_path / "alerts.yml")
    result = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("targets", "kwargs", "message"),
    [
        ({}, {}, "no scrape targets"),
        ({"a": "no-port"}, {}, "expected HOST:PORT"),
        ({"a": ":26660"}, {}, "expected HOST:PORT"),
        ({"a": "h:0"}, {}, "expected HOST:PORT"),
        ({"a": "h:70000"}, {}, "expected HOST:PORT"),
        ({"a": "h:1"}, {"alertmanagers": ["am"]}, "expected HOST:PORT"),
        ({"a": "h:1"}, {"scrape_interval_s": 0}, "at least 1 s"),
    ],
)
def test_render_refuses_bad_input(
    targets: dict[str, str], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        render_prometheus_config(targets, **kwargs)  # type: ignore[arg-type]
