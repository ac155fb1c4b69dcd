"""The pure parts of `tenge-testnet load` / `bench`: the open-loop schedule, batches spread
over the nodes, refusals counted as answers, the commit rate, the ramp's stopping rule,
the report, and load accounts funded in genesis. No processes."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from node.genesis import parse_genesis, read_accounts_file
from proto import ledger_pb2
from testnet._bench import (
    assemble_report,
    median_report,
    memory_mb,
    next_rate,
    ramp_should_stop,
    timeouts_since,
)
from testnet._init import init_testnet
from testnet._load import (
    Batch,
    Load,
    LoadReport,
    Outcome,
    Schedule,
    commit_rate,
    finality_s,
    genesis_load_accounts,
    load_key,
    percentile,
    summary_ms,
    tally,
)

APIS = [f"http://127.0.0.1:{9000 + i}" for i in range(4)]


def manifest() -> dict[str, Any]:
    return {"chain_id": "tenge-test", "nodes": [{"api": a} for a in APIS], "accounts": {}}


def test_schedule_due_times_and_batches_cover_every_payment_once() -> None:
    s = Schedule(rate=1000.0, count=105, max_batch=100)
    assert s.batch_size == 20  # TICK_S (20 ms) worth of payments
    assert s.due(0) == 0.0
    assert s.due(500) == pytest.approx(0.5)
    ranges = s.batches()
    assert ranges[0] == (0, 20)
    assert ranges[-1] == (100, 105)
    assert [n for a, b in ranges for n in range(a, b)] == list(range(105))
    # A batch leaves when its last payment is due, never before.
    assert s.send_at(0) == pytest.approx(s.due(19))
    assert s.send_at(len(ranges) - 1) == pytest.approx(s.due(104))
    assert Schedule(rate=10.0, count=3).batch_size == 1
    assert Schedule(rate=1e6, count=3, max_batch=100).batch_size == 100


def test_prepare_sends_batches_to_every_node_in_turn_with_encoded_bodies() -> None:
    load = Load(manifest(), accounts=10, batch=5, in_genesis=True)
    batches = load.prepare(Schedule(rate=250.0, count=40, max_batch=5), expires=100)
    assert [b.api for b in batches] == APIS * 2
    assert [b.first for b in batches] == list(range(0, 40, 5))
    for batch in batches:
        raws = [base64.b64decode(t) for t in json.loads(batch.body)["txs"]]
        ids = [
            hashlib.sha256(ledger_pb2.TxEnvelope.FromString(r).body).digest().hex() for r in raws
        ]
        assert ids == batch.ids
    assert len({i for b in batches for i in b.ids}) == 40


def test_tally_counts_whole_request_and_per_result_refusals_by_code() -> None:
    report, refusals, admitted = LoadReport(), Counter[str](), set[str]()
    batch = Batch(0, ["a", "b", "c"], APIS[0], b"{}")
    tally(report, refusals, admitted, batch, Outcome(refused_code="MEMPOOL_FULL"))
    results = [
        {"tx_id": "a", "status": "pending"},
        {"tx_id": "b", "status": "refused", "code": "MEMPOOL_FULL"},
        {"tx_id": "c", "status": "refused", "code": "PENDING_TXS_EXCEEDED"},
    ]
    tally(report, refusals, admitted, batch, Outcome(results=results))
    tally(report, refusals, admitted, batch, Outcome(failed=True))
    assert admitted == {"a"}
    assert refusals == {"MEMPOOL_FULL": 4, "PENDING_TXS_EXCEEDED": 1}
    assert report.refused == 5
    assert report.failed == 3


async def test_post_batch_reads_refusals_failures_and_results() -> None:
    answers = {
        APIS[0]: httpx.Response(
            429,
            headers={"Retry-After": "1"},
            json={"error": {"code": "MEMPOOL_FULL", "message": "full"}},
        ),
        APIS[1]: httpx.Response(503, text="no json"),
        APIS[2]: httpx.Response(500, json={"error": {"code": "INTERNAL", "message": "x"}}),
        APIS[3]: httpx.Response(200, json={"results": [{"tx_id": "a", "status": "pending"}]}),
    }
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        assert request.url.path == "/v1/txs/batch"
        return answers[f"{request.url.scheme}://{request.url.host}:{request.url.port}"]

    load = Load(manifest(), in_genesis=True)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        out = [await load._post_batch(client, Batch(0, ["a"], api, b'{"txs":[]}')) for api in APIS]
    assert out[0] == Outcome(refused_code="MEMPOOL_FULL")
    assert out[1] == Outcome(refused_code="HTTP_503")
    assert out[2] == Outcome(failed=True)
    assert out[3] == Outcome(results=[{"tx_id": "a", "status": "pending"}])
    assert seen == [b'{"txs":[]}'] * 4  # the pre-encoded body, as is


def test_finality_runs_from_each_payments_due_time_not_from_its_send() -> None:
    s = Schedule(rate=100.0, count=4, max_batch=2)
    batches = [Batch(0, ["a", "b"], APIS[0], b""), Batch(2, ["c", "d"], APIS[1], b"")]
    # "a" is due at t0, "b" at t0 + 0.01; both committed at t0 + 1 (the batch left late).
    out = finality_s(s, batches, 5.0, {"a": 6.0, "b": 6.0, "d": 6.5})
    assert out == pytest.approx([1.0, 0.99, 1.47])


def test_commit_rate_counts_neither_latency_nor_drain_as_offering_time() -> None:
    # 100 tx/s for 4 s, every payment final 1 s after it was due, blocks every 0.1 s.
    times = [10.0 + 1.0 + math.floor(n / 10) / 10 for n in range(400)]
    assert commit_rate(times, t0=10.0) == pytest.approx(100.0, rel=0.05)
    assert commit_rate([], t0=0.0) == 0.0
    assert commit_rate([2.0, 2.0], t0=1.0) == 2.0  # one block: count over time since t0


def test_percentile_and_summary() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert math.isnan(percentile([], 50))
    summary = summary_ms([0.1, 0.2, 0.3, 0.4], ("p50", "p99", "max", "mean"))
    assert summary == {"p50": 200.0, "p99": 400.0, "max": 400.0, "mean": 250.0}
    assert summary_ms([], ("p50",)) == {}


def test_ramp_stops_when_the_network_stops_keeping_up() -> None:
    assert not ramp_should_stop(1000.0, 950.0, 800.0)
    assert ramp_should_stop(1000.0, 850.0, 800.0)  # committed < 0.9 x offered
    assert ramp_should_stop(1000.0, 1000.0, 3500.0)  # p99 past the limit
    assert ramp_should_stop(1000.0, 0.0, None)  # nothing committed
    assert next_rate(200.0) == 300.0


def _report(committed_tps: float, committed: int, p99: float = 300.0) -> LoadReport:
    r = LoadReport(offered=committed, admitted=committed, committed=committed)
    r.committed_tps = committed_tps
    r.latency_ms = {"p50": 100.0, "p95": 200.0, "p99": p99}
    r.tool_cpu_s = {"offering": 1.0, "total": 2.0}
    return r


def test_report_assembly_ratios_and_cpu_per_transaction() -> None:
    steps = {"1x": _report(1000, 8000), "2x": _report(980, 8000), "3x": _report(950, 4000)}
    report = assemble_report(
        validators=4,
        step_s=8.0,
        accounts=100,
        verify_rate=10_000.0,
        cores=2,
        ramp=[],
        saturation=1000.0,
        steps=steps,
        half_rate=500.0,
        half=_report(500, 4000),
        half_after=_report(480, 3800, p99=700.0),
        cpu=[4.0, 2.0, None, 2.0],
        probes={},
        memory={},
        waits=[10.0, 20.0],
        start_s={},
    )
    assert report["verify_bound_tps"] == 5000  # 10,000/s x 2 cores / 4 validators
    assert report["ratio_to_bound"] == 0.2
    assert report["overload_ratio_3x"] == 0.95
    assert report["committed_tps"] == report["saturation_tps"] == 1000.0
    assert report["committed_tps_at"] == {"1x": 1000, "2x": 980, "3x": 950}
    # 4 CPU s over 20,000 committed = 200 us = 2 verifications of 100 us.
    assert report["cpu_us_per_tx"] == {"0": 200.0, "1": 100.0, "2": None, "3": 100.0}
    assert report["cpu_per_tx_in_verifications"]["0"] == 2.0
    assert report["cpu_per_tx_in_verifications_max"] == 2.0
    assert report["latency_ms_half"]["p99"] == 300.0
    assert report["latency_ms_half_after_overload"]["p99"] == 700.0
    assert report["tool_cpu_s"] == {"offering": 4.0, "total": 8.0}
    for old in ("committed_tps", "latency_ms", "half_saturation_rate", "refusals"):
        assert old in report


def test_the_peak_is_the_best_step_and_the_ratios_use_it() -> None:
    steps = {"1x": _report(900, 100), "2x": _report(1200, 100), "3x": _report(1080, 100)}
    report = assemble_report(
        validators=4,
        step_s=8.0,
        accounts=100,
        verify_rate=10_000.0,
        cores=2,
        ramp=[],
        saturation=1000.0,
        steps=steps,
        half_rate=500.0,
        half=_report(500, 100),
        cpu=[1.0],
        probes={},
        memory={},
        waits=[],
        start_s={},
    )
    assert report["committed_tps"] == 1200.0
    assert report["saturation_tps"] == 1000.0
    assert report["overload_ratio_3x"] == 0.9
    assert report["ratio_to_bound"] == 0.24
    assert report["wait_commit_latency_ms"]["max"] is None


def test_load_accounts_in_genesis_have_their_keys_and_funds(tmp_path: Path) -> None:
    manifest = init_testnet(
        tmp_path / "net",
        validators=1,
        chain_id="tenge-test",
        file_accounts=genesis_load_accounts("tenge-test", 6),
    )
    genesis = parse_genesis(json.loads((tmp_path / "net" / "genesis.json").read_text()))
    assert genesis.accounts_file.accounts == 6
    home = Path(manifest["nodes"][0]["home"])
    by_id = {e.account.account_id: e for e in read_accounts_file(genesis, home)}
    load = Load(manifest, accounts=6, in_genesis=True)
    assert sorted(by_id) == sorted(load.customers + load.merchants)
    for name in load.customers + load.merchants:
        assert by_id[name].account.public_keys == [load_key("tenge-test", name).public_key]
        assert load.key(name).public_key == load_key("tenge-test", name).public_key
    assert all(by_id[c].balances for c in load.customers)
    assert not any(by_id[m].balances for m in load.merchants)


def test_memory_of_this_process() -> None:
    mem = memory_mb(os.getpid())
    assert 0 < mem["rss_mb"] <= mem["peak_rss_mb"]


def test_several_runs_report_the_median_of_every_figure() -> None:
    runs = [
        {"committed_tps": 1000.0, "latency_ms_half": {"p99": 900.0}, "ramp": [1], "ok": True},
        {"committed_tps": 1400.0, "latency_ms_half": {"p99": 300.0}, "ramp": [2], "ok": True},
        {"committed_tps": 1100.0, "latency_ms_half": {"p99": 2500.0}, "ramp": [3], "ok": False},
    ]
    report = median_report(runs)
    assert report["runs"] == 3
    assert report["each"] == runs
    assert report["median"] == {"committed_tps": 1100.0, "latency_ms_half": {"p99": 900.0}}
    two = median_report([{"a": 1, "b": None}, {"a": 2, "b": 5}])
    assert two["median"] == {"a": 1.5}


def test_timeouts_since_counts_each_step_between_two_readings() -> None:
    before = {"precommit": 1.0, "propose": 2.0}
    after = {"precommit": 1.0, "prevote": 3.0, "propose": 5.0}
    assert timeouts_since(before, after) == {"precommit": 0.0, "prevote": 3.0, "propose": 3.0}
