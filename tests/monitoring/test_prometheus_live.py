"""A real Prometheus server watches a live 4-validator testnet (issue 7, must-show list).

Prometheus scrapes the four ``tenge-node`` processes every second and evaluates the alert
rules every second; the test reads everything back through Prometheus's HTTP API, as an
operator's dashboard would: heights rise on every node, the commit-latency histogram has
samples, transaction and admission counts by result code equal what the test submitted,
and TengeNoNewBlock fires on the two survivors once two of the four validators are killed.

The rules are deploy/alerts.yml with one change: TengeNoNewBlock's 30 s threshold becomes
``NO_BLOCK_THRESHOLD_S`` so that the test does not idle for half a minute (the threshold
itself is unit-tested by promtool in tests/deploy/alerts_test.yml).

Skips, saying why, when the ``prometheus`` binary (Debian package ``prometheus``) is absent.
"""

from __future__ import annotations

import math
import shutil
import socket
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import IO, Any, Final, TypeVar

import httpx
import pytest
import trio
from network_support import Network, running_network

from node.keys import KeyPair
from node.ledger.txbuild import transfer
from proto import ledger_pb2
from testnet.prometheus import render_prometheus_config

PROMETHEUS: Final = shutil.which("prometheus")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        PROMETHEUS is None,
        reason="prometheus not installed (apt-get install --no-install-recommends prometheus)",
    ),
]

ROOT: Final = Path(__file__).resolve().parents[2]
ALERTS: Final = ROOT / "deploy" / "alerts.yml"
#: How many alert rules the file defines (every one must load and evaluate).
ALERT_COUNT: Final = ALERTS.read_text().count("- alert:")
NO_BLOCK_RULE: Final = "time() - tenge_consensus_last_commit_timestamp_seconds > "
NO_BLOCK_THRESHOLD_S: Final = 10
POLL_S: Final = 0.25
CUSTOMER: Final = "aigul.bank-a"
TIER1_PER_PAYMENT: Final = 10_000_000  # tiyn; testnet TIER_LIMITS, tier 1
TIER1_DAILY: Final = 20_000_000

_T = TypeVar("_T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_test_rules(path: Path, threshold_s: int) -> None:
    """deploy/alerts.yml with TengeNoNewBlock's threshold replaced, and nothing else."""
    text = ALERTS.read_text()
    original = NO_BLOCK_RULE + "30\n"
    assert text.count(original) == 1, f"{ALERTS}: TengeNoNewBlock is no longer {original!r}"
    path.write_text(text.replace(original, f"{NO_BLOCK_RULE}{threshold_s}\n"))


def open_log(path: Path) -> IO[bytes]:
    return path.open("wb")


def read_tail(path: Path, size: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError as e:
        return f"({e})"


async def kill_now(process: trio.Process) -> None:
    """Cancelling the Prometheus task kills it at once (no SIGTERM grace to wait out)."""
    process.kill()


def prepare_prometheus(directory: Path, targets: dict[str, str], web: int) -> list[str]:
    """Write Prometheus's config and rules into directory; return its command line.

    Scrape and evaluation every second, its own TSDB in directory, the rules of
    ``write_test_rules``, the web API on 127.0.0.1:web.
    """
    assert PROMETHEUS is not None
    directory.mkdir()
    config = render_prometheus_config(targets, scrape_interval_s=1)
    (directory / "prometheus.yml").write_text(config)
    write_test_rules(directory / "alerts.yml", NO_BLOCK_THRESHOLD_S)
    return [
        PROMETHEUS,
        f"--config.file={directory / 'prometheus.yml'}",
        f"--storage.tsdb.path={directory / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{web}",
    ]


async def run_prometheus(
    directory: Path,
    targets: dict[str, str],
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run Prometheus over these targets until cancelled, then kill it.

    Reports the web port at once (Prometheus may still be starting; callers poll).

    Raises:
        AssertionError: Prometheus exited by itself (its log tail says why).
    """
    web = free_port()
    command = prepare_prometheus(directory, targets, web)
    log_path = directory / "prometheus.log"
    try:
        with open_log(log_path) as log:
            task_status.started(web)
            done = await trio.run_process(
                command, stdout=log, stderr=log, check=False, deliver_cancel=kill_now
            )
    finally:
        # Captured output: pytest shows it when the test fails.
        print("---- prometheus log (tail) ----\n" + read_tail(log_path))
    raise AssertionError(f"prometheus exited with {done.returncode}; its log is above")


async def eventually(
    what: str,
    probe: Callable[[], Awaitable[_T]],
    done: Callable[[_T], bool],
    *,
    within: float,
) -> _T:
    """Call probe until done(result); fail naming what and the last result after within s."""
    deadline = trio.current_time() + within
    while True:
        last = await probe()
        if done(last):
            return last
        if trio.current_time() > deadline:
            raise AssertionError(f"{what}: not within {within:g} s; last seen: {last!r}")
        await trio.sleep(POLL_S)


class PrometheusApi:
    """The few calls of Prometheus's HTTP API the test needs."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.http = client

    async def _data(self, path: str, params: dict[str, str] | None = None) -> Any:
        """The ``data`` of a successful answer; None while Prometheus is not answering."""
        try:
            response = await self.http.get(path, params=params)
        except httpx.TransportError:
            return None  # still starting
        # 400/422: the test's own PromQL is wrong; fail now rather than poll it to the end.
        assert response.status_code not in (400, 422), (params, response.text)
        if response.status_code != 200:
            return None  # 503 while starting
        doc = response.json()
        assert doc["status"] == "success", doc
        return doc["data"]

    async def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query's vector (empty while Prometheus starts)."""
        data = await self._data("/api/v1/query", {"query": promql})
        if data is None:
            return []
        assert data["resultType"] == "vector", data
        result: list[dict[str, Any]] = data["result"]
        return result

    async def by_moniker(self, promql: str) -> dict[str, float]:
        """moniker -> value of a query whose series carry one moniker each."""
        out: dict[str, float] = {}
        for series in await self.query(promql):
            moniker = series["metric"]["moniker"]
            assert moniker not in out, f"{promql}: two series for {moniker}"
            out[moniker] = float(series["value"][1])
        return out

    async def rules(self) -> list[dict[str, Any]]:
        data = await self._data("/api/v1/rules")
        if data is None:
            return []
        return [rule for group in data["groups"] for rule in group["rules"]]

    async def alerts(self) -> list[dict[str, Any]]:
        data = await self._data("/api/v1/alerts")
        if data is None:
            return []
        alerts: list[dict[str, Any]] = data["alerts"]
        return alerts


class Submitter:
    """Submits transactions through the API and tallies what the metrics should show."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self.admissions: Counter[tuple[str, str]] = Counter()  # (moniker, code)
        self.executed: Counter[tuple[str, str]] = Counter()  # (tx kind, code)
        self.last_height = 0  # of the latest commit a submission waited for

    async def submit(self, index: int, kind: str, envelope: bytes, *, expect: str) -> None:
        """Submit to node index; wait for the commit when admitted; check the code.

        Args:
            index: the node whose API gets it (and whose admission counter moves).
            kind: the TxBody oneof name, for the expected tenge_txs_total labels.
            envelope: the signed TxEnvelope.
            expect: the admission refusal code, or else the code of the committed receipt.
        """
        # Admission checks the node's own committed state: let it see the last commit.
        await eventually(
            f"node {index} at height {self.last_height}",
            partial(self.net.height, index),
            lambda height: height >= self.last_height,
            within=15,
        )
        response = await self.net.submit(index, envelope, wait=True)
        moniker = self.net.nodes[index]["moniker"]
        doc = response.json()
        if response.status_code == 200:
            self.admissions[(moniker, "OK")] += 1
            assert doc["status"] == "committed", doc
            self.executed[(kind, doc["code"])] += 1
            self.last_height = max(self.last_height, int(doc["height"]))
            code = doc["code"]
        else:
            assert response.status_code == 400, response.text
            code = doc["error"]["code"]
            self.admissions[(moniker, code)] += 1
        assert code == expect, f"{kind} on node {index}: {response.status_code} {doc}"


async def submit_known_mix(net: Network) -> Submitter:
    """Commit 5 OK and 2 LIMIT_DAILY transactions; have 3 refused at admission.

    LIMIT_DAILY is the refusal that reaches blocks deterministically: admission checks the
    per-payment limit and the balance but not the daily limit (it needs block time), so a
    tier-1 customer's third 100,000 KZT payment of the day is admitted and then refused by
    execution. An INSUFFICIENT_FUNDS refusal inside a block would need two spends of the
    same funds admitted before either commits, which races with the proposer.
    """
    s = Submitter(net)
    expires = await net.height(0) + 100
    issue = net.sign(
        "central-bank",
        ledger_pb2.Issue(asset="KZT", to="bank-a", amount=100_000_000),
        expires_at_height=expires,
    )
    await s.submit(0, "issue", issue, expect="OK")
    customer = KeyPair.generate()
    register = ledger_pb2.RegisterAccount(
        account_id=CUSTOMER,
        role=ledger_pb2.CUSTOMER,
        zone=ledger_pb2.NATIONAL,
        kyc_tier=1,
        public_keys=[customer.public_key],
    )
    envelope = net.sign("bank-a", register, expires_at_height=expires)
    await s.submit(1, "register_account", envelope, expect="OK")
    funding = net.payment("bank-a", CUSTOMER, 4 * TIER1_PER_PAYMENT, expires_at_height=expires)
    await s.submit(2, "transfer", funding, expect="OK")
    # Four payments at the per-payment limit: two fill the daily limit, two go past it.
    for n, expect in enumerate(["OK", "OK", "LIMIT_DAILY", "LIMIT_DAILY"]):
        assert (n + 1) * TIER1_PER_PAYMENT > TIER1_DAILY or expect == "OK"
        pay = transfer((CUSTOMER, "bank-b", "KZT", TIER1_PER_PAYMENT))
        envelope = net.sign(CUSTOMER, pay, expires_at_height=expires, keys=[customer])
        await s.submit((3 + n) % 4, "transfer", envelope, expect=expect)
    # Refused at admission: they never reach a block, only the admission counter.
    await s.submit(
        3,
        "transfer",
        net.payment("bank-c", "bank-a", 1, expires_at_height=expires),
        expect="INSUFFICIENT_FUNDS",
    )
    await s.submit(0, "issue", issue, expect="DUPLICATE")
    too_big = transfer((CUSTOMER, "bank-b", "KZT", TIER1_PER_PAYMENT + 1))
    envelope = net.sign(CUSTOMER, too_big, expires_at_height=expires, keys=[customer])
    await s.submit(1, "transfer", envelope, expect="LIMIT_PER_PAYMENT")
    assert sum(s.executed.values()) == 7
    assert sum(s.admissions.values()) == 10
    return s


async def check_tx_counts(prom: PrometheusApi, s: Submitter, monikers: set[str]) -> None:
    """tenge_txs_total on every node and tenge_mempool_admissions_total per node match."""

    async def txs() -> dict[str, dict[tuple[str, str], float]]:
        out: dict[str, dict[tuple[str, str], float]] = {}
        for series in await prom.query('tenge_txs_total{job="tenge-node"}'):
            labels = series["metric"]
            key = (labels["kind"], labels["code"])
            out.setdefault(labels["moniker"], {})[key] = float(series["value"][1])
        return out

    want_txs = {moniker: {key: float(n) for key, n in s.executed.items()} for moniker in monikers}
    await eventually("tenge_txs_total by kind and code", txs, want_txs.__eq__, within=15)

    async def admissions() -> dict[tuple[str, str], float]:
        result = await prom.query('tenge_mempool_admissions_total{job="tenge-node", path="api"}')
        return {(r["metric"]["moniker"], r["metric"]["code"]): float(r["value"][1]) for r in result}

    want_admissions = {key: float(n) for key, n in s.admissions.items()}
    await eventually(
        "tenge_mempool_admissions_total by node and code",
        admissions,
        want_admissions.__eq__,
        within=15,
    )


async def check_commit_latency(prom: PrometheusApi, monikers: set[str]) -> None:
    """Every node's commit-latency histogram has samples, consistent buckets, a quantile."""
    name = "tenge_consensus_commit_latency_seconds"
    counts = await prom.by_moniker(f'{name}_count{{job="tenge-node"}}')
    assert set(counts) == monikers, counts
    assert all(n >= 1 for n in counts.values()), counts
    # One expression each, so both sides come from the same scrape.
    inf_minus_count = await prom.by_moniker(
        f'{name}_bucket{{job="tenge-node", le="+Inf"}} - ignoring(le) {name}_count'
    )
    assert inf_minus_count == dict.fromkeys(monikers, 0.0), inf_minus_count
    mean = await prom.by_moniker(f'{name}_sum{{job="tenge-node"}} / {name}_count')
    assert set(mean) == monikers, mean
    assert all(0 < v < 60 for v in mean.values()), mean
    p99 = await prom.by_moniker(
        f'histogram_quantile(0.99, sum by (moniker, le) ({name}_bucket{{job="tenge-node"}}))'
    )
    assert set(p99) == monikers, p99
    assert all(math.isfinite(v) and 0 < v <= 60 for v in p99.values()), p99


def alerts_named(alerts: list[dict[str, Any]], name: str, state: str) -> dict[str, float]:
    """moniker -> value of the alerts called name in state."""
    return {
        a["labels"]["moniker"]: float(a["value"])
        for a in alerts
        if a["labels"]["alertname"] == name and a["state"] == state
    }


async def test_prometheus_watches_a_live_testnet(tmp_path: Path) -> None:
    assert PROMETHEUS is not None
    with trio.fail_after(150):
        async with running_network(tmp_path) as net, trio.open_nursery() as nursery:
            monikers = {str(node["moniker"]) for node in net.nodes}
            targets = {str(n["moniker"]): str(n["metrics"]).split("/")[2] for n in net.nodes}
            # What `tenge-testnet init` wrote is the config scraped here, but for the interval.
            assert (net.dir / "prometheus.yml").read_text() == render_prometheus_config(targets)
            assert (net.dir / "alerts.yml").read_text() == ALERTS.read_text()
            web = await nursery.start(run_prometheus, tmp_path / "prometheus", targets)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{web}", timeout=10) as http:
                prom = PrometheusApi(http)
                up = await eventually(
                    "every node scraped",
                    partial(prom.by_moniker, 'up{job="tenge-node"}'),
                    lambda v: v == dict.fromkeys(monikers, 1.0),
                    within=30,
                )
                assert len(up) == 4

                rules = await eventually(
                    "every alert rule evaluated without error",
                    prom.rules,
                    lambda rs: len(rs) == ALERT_COUNT and all(r["health"] == "ok" for r in rs),
                    within=15,
                )
                no_block = next(r for r in rules if r["name"] == "TengeNoNewBlock")
                assert no_block["query"] == f"{NO_BLOCK_RULE}{NO_BLOCK_THRESHOLD_S}"

                # The height rises on every node.
                before = await prom.by_moniker('tenge_consensus_height{job="tenge-node"}')
                assert set(before) == monikers, before
                await eventually(
                    "tenge_consensus_height rising on every node",
                    partial(prom.by_moniker, 'tenge_consensus_height{job="tenge-node"}'),
                    lambda now: all(now.get(m, 0) >= before[m] + 3 for m in monikers),
                    within=30,
                )

                submitted = await submit_known_mix(net)
                await check_tx_counts(prom, submitted, monikers)
                await check_commit_latency(prom, monikers)

                # A healthy network: the rules the kill below sets off are quiet.
                states = {r["name"]: r["state"] for r in await prom.rules()}
                for name in ("TengeNoNewBlock", "TengeNodeDown", "TengePeersBelowQuorum"):
                    assert states[name] == "inactive", (name, await prom.alerts())

                # Two of four validators gone: the other two cannot reach 2/3 and stall.
                survivors = {str(net.nodes[i]["moniker"]) for i in (0, 1)}
                for i in (2, 3):
                    net.kill(i)
                alerts = await eventually(
                    "TengeNoNewBlock firing on both survivors",
                    prom.alerts,
                    lambda a: set(alerts_named(a, "TengeNoNewBlock", "firing")) == survivors,
                    within=NO_BLOCK_THRESHOLD_S + 30,
                )
                fired = alerts_named(alerts, "TengeNoNewBlock", "firing")
                assert all(v > NO_BLOCK_THRESHOLD_S for v in fired.values()), fired
                firing = [a for a in alerts if a["labels"]["alertname"] == "TengeNoNewBlock"]
                assert all(a["labels"]["severity"] == "critical" for a in firing), firing
                # The dead nodes are not scraped: their TengeNodeDown waits out its 1m `for`.
                await eventually(
                    "TengeNodeDown pending for the killed nodes",
                    prom.alerts,
                    lambda a: (
                        set(alerts_named(a, "TengeNodeDown", "pending")) == monikers - survivors
                    ),
                    within=15,
                )
                # Each survivor sees one peer; seeing 2f+1 = 3 validators needs two.
                await eventually(
                    "TengePeersBelowQuorum pending on the survivors",
                    prom.alerts,
                    lambda a: set(alerts_named(a, "TengePeersBelowQuorum", "pending")) == survivors,
                    within=15,
                )
            nursery.cancel_scope.cancel()
