"""NodeMetrics and the /metrics endpoint: values, naming conventions, bad input."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from node.gc_pauses import PauseCounts
from node.metrics import (
    MAX_FREE_LABELS,
    NodeMetrics,
    ValidatorView,
    code_name,
    count_results,
    sample_loop_lag,
    serve_metrics,
)
from node.store import StateCacheStats
from proto import ledger_pb2

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(series name, sorted labels) -> value, from Prometheus text format."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def scrape(metrics: NodeMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client import generate_latest

    return samples(generate_latest(metrics.registry).decode())


def bound(tmp_path: Path) -> NodeMetrics:
    metrics = NodeMetrics(chain_id="tenge-test", moniker="bank-a")
    metrics.bind_mempool(lambda: 7, lambda: 1234, max_txs=100, max_bytes=10_000)
    metrics.bind_peers(lambda: 2)
    metrics.bind_validators(lambda: ValidatorView(4, 40, 1, 10, 1, 10, 10))
    metrics.bind_round_step(lambda: (2, "prevote"))
    metrics.bind_store(tmp_path)
    metrics.bind_state_cache(lambda: StateCacheStats(90, 10, 3, 40, 8000, 2**20))
    metrics.bind_signer(lambda: True, lambda: {"double_sign": 2})
    metrics.bind_gc_pauses(lambda: [PauseCounts((1,) + (0,) * 10, 1, 0.0005)] * 3)
    return metrics


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[NodeMetrics, int]]:
    metrics = bound(tmp_path)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_metrics, metrics, "127.0.0.1", 0)
        yield metrics, port
        nursery.cancel_scope.cancel()


async def raw_request(port: int, data: bytes) -> bytes:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(data)
        reply = bytearray()
        while chunk := await stream.receive_some(65536):
            reply += chunk
    return bytes(reply)


# ---- served over a real socket ----


async def test_scrape_over_a_socket_carries_the_values_set(
    served: tuple[NodeMetrics, int],
) -> None:
    metrics, port = served
    metrics.on_commit(
        12,
        1,
        3,
        count_results([("transfer", 0), ("transfer", 0), ("issue", ledger_pb2.FROZEN)]),
        0.8,
        0.25,
        own_precommit_included=False,
    )
    metrics.on_timeout("prevote")
    metrics.on_admission(ledger_pb2.DUPLICATE)
    metrics.on_admission("OK")
    metrics.on_admission(ledger_pb2.PENDING_FUNDS_EXCEEDED, "gossip")
    metrics.on_evictions(2)
    metrics.on_evictions(0)
    metrics.on_evidence()
    metrics.on_evidence_committed("conflicting_proposal")
    metrics.on_api_request("/v1/txs/{tx_id}", 404, 0.003)
    metrics.on_write_batch(0.004)
    metrics.on_handshake_failure("unknown_key")
    metrics.on_bytes("out", "consensus", 500)
    metrics.on_bytes("in", "tx_gossip", 70)
    with trio.fail_after(TIMEOUT):
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = samples(response.text)
    expected = {
        ("tenge_consensus_height", ()): 12,
        ("tenge_consensus_round", ()): 2,
        ("tenge_consensus_step", ()): 2,
        ("tenge_consensus_validators", ()): 4,
        ("tenge_consensus_validators_power", ()): 40,
        ("tenge_consensus_missing_validators", ()): 1,
        ("tenge_consensus_byzantine_validators_power", ()): 10,
        ("tenge_consensus_validator_power", ()): 10,
        ("tenge_consensus_missed_precommits_total", ()): 1,
        ("tenge_consensus_evidence_total", ()): 1,
        ("tenge_evidence_committed_total", (("kind", "conflicting_proposal"),)): 1,
        ("tenge_consensus_timeouts_total", (("step", "prevote"),)): 1,
        ("tenge_consensus_block_interval_seconds_count", ()): 1,
        ("tenge_consensus_block_interval_seconds_bucket", (("le", "1.0"),)): 1,
        ("tenge_consensus_block_interval_seconds_bucket", (("le", "0.5"),)): 0,
        ("tenge_consensus_commit_latency_seconds_sum", ()): 0.25,
        ("tenge_consensus_rounds_per_height_bucket", (("le", "2.0"),)): 1,
        ("tenge_consensus_rounds_per_height_bucket", (("le", "1.0"),)): 0,
        ("tenge_txs_total", (("code", "OK"), ("kind", "transfer"))): 2,
        ("tenge_txs_total", (("code", "FROZEN"), ("kind", "issue"))): 1,
        ("tenge_mempool_admissions_total", (("code", "DUPLICATE"), ("path", "api"))): 1,
        ("tenge_mempool_admissions_total", (("code", "OK"), ("path", "api"))): 1,
        (
            "tenge_mempool_admissions_total",
            (("code", "PENDING_FUNDS_EXCEEDED"), ("path", "gossip")),
        ): 1,
        ("tenge_mempool_evictions_total", ()): 2,
        ("tenge_mempool_txs", ()): 7,
        ("tenge_mempool_bytes", ()): 1234,
        ("tenge_mempool_capacity_txs", ()): 100,
        ("tenge_mempool_capacity_bytes", ()): 10_000,
        ("tenge_p2p_peers", ()): 2,
        ("tenge_p2p_quorum_peers", ()): 2,
        ("tenge_p2p_sent_bytes_total", (("kind", "consensus"),)): 500,
        ("tenge_p2p_received_bytes_total", (("kind", "tx_gossip"),)): 70,
        ("tenge_p2p_handshake_failures_total", (("reason", "unknown_key"),)): 1,
        ("tenge_store_write_batch_duration_seconds_count", ()): 1,
        ("tenge_api_requests_total", (("route", "/v1/txs/{tx_id}"), ("status", "404"))): 1,
        ("tenge_api_request_duration_seconds_count", (("route", "/v1/txs/{tx_id}"),)): 1,
    }
    assert {key: got.get(key) for key in expected} == expected
    build = [key for key in got if key[0] == "tenge_build_info"]
    assert len(build) == 1
    assert dict(build[0][1])["chain_id"] == "tenge-test"
    assert dict(build[0][1])["moniker"] == "bank-a"


def test_state_cache_families_carry_the_stores_counts(tmp_path: Path) -> None:
    got = scrape(bound(tmp_path))
    assert got[("tenge_store_state_cache_hits_total", ())] == 90
    assert got[("tenge_store_state_cache_misses_total", ())] == 10
    assert got[("tenge_store_state_cache_evictions_total", ())] == 3
    assert got[("tenge_store_state_cache_entries", ())] == 40
    assert got[("tenge_store_state_cache_bytes", ())] == 8000
    assert got[("tenge_store_state_cache_capacity_bytes", ())] == 2**20
    off = NodeMetrics()
    off.bind_state_cache(lambda: None)  # [storage] state_cache_mb = 0
    assert not any(name.startswith("tenge_store_state_cache") for name, _ in scrape(off))


async def test_disk_gauges_measure_the_data_directory(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "000005.ldb").write_bytes(b"x" * 5000)
    (tmp_path / "cs.wal").write_bytes(b"y" * 300)
    got = scrape(bound(tmp_path))
    assert got[("tenge_store_size_bytes", ())] == 5300
    assert got[("tenge_store_filesystem_avail_bytes", ())] > 0
    assert (
        got[("tenge_store_filesystem_avail_bytes", ())]
        <= got[("tenge_store_filesystem_size_bytes", ())]
    )


async def test_head_request_gets_headers_only(served: tuple[NodeMetrics, int]) -> None:
    _, port = served
    with trio.fail_after(TIMEOUT):
        reply = await raw_request(port, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert body == b""
    length = re.search(rb"Content-Length: (\d+)", head)
    assert length is not None
    assert int(length.group(1)) > 1000


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", b"404"),
        (b"GET /metrics/../etc HTTP/1.1\r\n\r\n", b"404"),
        (b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", b"405"),
        (b"DELETE /metrics HTTP/1.0\r\n\r\n", b"405"),
        (b"garbage\r\n\r\n", b"400"),
        (b"GET /metrics SPDY/3\r\n\r\n", b"400"),
        (b"\xff\xfe\x00\x01 \x00 \x80\r\n\r\n", b"400"),
        (b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20_000 + b"\r\n\r\n", b"431"),
        (b"GET /metrics HTTP/1.1\r\n", b"200"),  # head cut short by the client closing
    ],
)
async def test_bad_requests_get_an_error_and_the_server_keeps_serving(
    served: tuple[NodeMetrics, int], request_bytes: bytes, status: bytes
) -> None:
    _, port = served
    with trio.fail_after(TIMEOUT):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(request_bytes)
            await stream.send_eof()
            reply = bytearray()
            while chunk := await stream.receive_some(65536):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 " + status), reply[:80]
        if status == b"405":
            assert b"Allow: GET, HEAD" in reply
        ok = await raw_request(port, b"GET /metrics?x=1 HTTP/1.1\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200 OK")


async def test_client_closing_at_once_does_not_stop_the_server(
    served: tuple[NodeMetrics, int],
) -> None:
    _, port = served
    with trio.fail_after(TIMEOUT):
        for _ in range(5):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            await stream.aclose()
        ok = await raw_request(port, b"GET /metrics HTTP/1.1\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200 OK")


async def test_busy_port_raises_oserror(served: tuple[NodeMetrics, int]) -> None:
    metrics, port = served
    with trio.fail_after(TIMEOUT), pytest.raises(OSError, match="in use"):
        await serve_metrics(metrics, "127.0.0.1", port)


# ---- registry and naming conventions ----

_NAME = re.compile(r"^tenge_[a-z0-9]+(_[a-z0-9]+)*$")
_UNITLESS_HISTOGRAMS = {"tenge_consensus_rounds_per_height"}


def test_every_family_follows_prometheus_naming(tmp_path: Path) -> None:
    families = list(bound(tmp_path).registry.collect())
    assert len(families) >= 30
    for family in families:
        name, kind = family.name, family.type
        assert _NAME.match(name), name
        assert family.documentation.strip(), f"{name} has no help text"
        assert not name.endswith(("_count", "_sum", "_bucket", "_created")), name
        if kind == "counter":
            assert not name.endswith("_total"), f"{name}: the client adds _total"
            assert all(s.name in (f"{name}_total", f"{name}_created") for s in family.samples), name
        else:
            assert not name.endswith("_total"), f"{name}: only counters end in _total"
        if kind == "histogram":
            assert name.endswith("_seconds") or name in _UNITLESS_HISTOGRAMS, name
        if "bytes" in name:
            assert name.endswith(("_bytes", "_bytes_total")) or kind == "counter", name
        if "seconds" in name or "latency" in name or "duration" in name:
            assert name.endswith(("_seconds", "_timestamp_seconds")), name
        assert not re.search(r"_(ms|milliseconds|kb|mb|minutes)(_|$)", name), name


def test_every_family_is_documented(tmp_path: Path) -> None:
    doc = (ROOT / "docs" / "monitoring.md").read_text()
    missing = [
        f.name
        for f in bound(tmp_path).registry.collect()
        if (f.name + "_total" if f.type == "counter" else f.name) not in doc
    ]
    assert missing == []


def test_a_remote_signers_state_and_refusals_by_reason() -> None:
    state = {"up": True, "refusals": {"unreachable": 3, "double_sign": 1}}
    metrics = NodeMetrics()
    metrics.bind_signer(lambda: bool(state["up"]), lambda: state["refusals"])  # type: ignore[arg-type]
    got = scrape(metrics)
    assert got[("tenge_signer_up", ())] == 1
    assert got[("tenge_signer_refusals_total", (("reason", "unreachable"),))] == 3
    assert got[("tenge_signer_refusals_total", (("reason", "double_sign"),))] == 1
    state["up"] = False
    assert scrape(metrics)[("tenge_signer_up", ())] == 0
    assert not {k[0] for k in scrape(NodeMetrics())} & {"tenge_signer_up"}


def test_two_nodes_in_one_process_have_separate_registries() -> None:
    a, b = NodeMetrics(), NodeMetrics()
    a.on_commit(5, 0, 0, {}, 1.0, 0.1)
    b.on_commit(9, 0, 0, {}, 1.0, 0.1)
    assert scrape(a)[("tenge_consensus_height", ())] == 5
    assert scrape(b)[("tenge_consensus_height", ())] == 9


def test_unbound_families_are_not_exported() -> None:
    names = {key[0] for key in scrape(NodeMetrics())}
    assert "tenge_consensus_height" in names
    assert not names & {"tenge_mempool_txs", "tenge_p2p_peers", "tenge_store_size_bytes"}


# ---- bad input never grows the registry or breaks a scrape ----


def test_unknown_label_values_become_other() -> None:
    metrics = NodeMetrics()
    metrics.on_timeout("sideways")
    metrics.on_admission(9999)
    metrics.on_admission("NOT_A_CODE", "sideways")
    metrics.on_commit(1, 0, 1, {("teleport", "OK"): 1, ("transfer", "OK"): 0}, 1.0, 0.1)
    metrics.on_api_request("/v1/\n<script>", 200, 0.1)
    metrics.on_api_request("/v1/status", 999, 0.1)
    metrics.on_bytes("sideways", "consensus", 10)
    metrics.on_bytes("in", "consensus", -5)
    got = scrape(metrics)
    assert got[("tenge_consensus_timeouts_total", (("step", "other"),))] == 1
    assert got[("tenge_mempool_admissions_total", (("code", "other"), ("path", "api")))] == 1
    assert got[("tenge_mempool_admissions_total", (("code", "other"), ("path", "other")))] == 1
    assert got[("tenge_txs_total", (("code", "OK"), ("kind", "other")))] == 1
    assert ("tenge_txs_total", (("code", "OK"), ("kind", "transfer"))) not in got
    assert got[("tenge_api_requests_total", (("route", "other"), ("status", "200")))] == 1
    assert got[("tenge_api_requests_total", (("route", "/v1/status"), ("status", "other")))] == 1
    assert not [
        key for key in got if key[0].startswith("tenge_p2p_") and key[0].endswith("bytes_total")
    ]


def test_open_labels_are_capped() -> None:
    metrics = NodeMetrics()
    for i in range(MAX_FREE_LABELS + 50):
        metrics.on_api_request(f"/route/{i}", 200, 0.01)
        metrics.on_handshake_failure(f"reason_{i}")
    got = scrape(metrics)
    routes = {dict(k[1])["route"] for k in got if k[0] == "tenge_api_requests_total"}
    reasons = {dict(k[1])["reason"] for k in got if k[0] == "tenge_p2p_handshake_failures_total"}
    assert len(routes) == MAX_FREE_LABELS + 1
    assert "other" in routes
    assert got[("tenge_p2p_handshake_failures_total", (("reason", "other"),))] == 50
    assert len(reasons) == MAX_FREE_LABELS + 1


def test_a_failing_callback_skips_only_its_family(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = NodeMetrics()

    def broken() -> int:
        raise RuntimeError("mempool gone")

    metrics.bind_mempool(broken, lambda: 10, max_txs=5, max_bytes=50)
    metrics.bind_peers(lambda: 3)
    got = scrape(metrics)
    assert ("tenge_mempool_txs", ()) not in got
    assert got[("tenge_mempool_bytes", ())] == 10
    assert got[("tenge_p2p_peers", ())] == 3
    assert "tenge_mempool_txs" in caplog.text


def test_missing_data_directory_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = NodeMetrics()
    metrics.bind_store(tmp_path / "gone")
    got = scrape(metrics)
    assert ("tenge_store_filesystem_avail_bytes", ()) not in got
    assert "cannot measure" in caplog.text


# ---- the commit path ----


def test_block_interval_is_measured_when_not_given() -> None:
    metrics = NodeMetrics()
    metrics.on_commit(1, 0, 0, {}, None, 0.1)
    assert scrape(metrics)[("tenge_consensus_block_interval_seconds_count", ())] == 0
    metrics.on_commit(2, 0, 0, {}, None, 0.1)
    assert scrape(metrics)[("tenge_consensus_block_interval_seconds_count", ())] == 1


def test_last_commit_timestamp_moves_forward() -> None:
    metrics = NodeMetrics()
    started = scrape(metrics)[("tenge_consensus_last_commit_timestamp_seconds", ())]
    assert started > 1_600_000_000
    metrics.on_commit(1, 0, 0, {}, 1.0, 0.1)
    assert scrape(metrics)[("tenge_consensus_last_commit_timestamp_seconds", ())] >= started


def test_observer_and_included_precommit_do_not_count_as_missed() -> None:
    metrics = NodeMetrics()
    metrics.on_commit(1, 0, 0, {}, 1.0, 0.1, own_precommit_included=None)
    metrics.on_commit(2, 0, 0, {}, 1.0, 0.1, own_precommit_included=True)
    assert scrape(metrics)[("tenge_consensus_missed_precommits_total", ())] == 0


def test_p2p_stats_binding_adds_to_direct_counts() -> None:
    metrics = NodeMetrics()
    metrics.on_bytes("in", "status", 5)
    metrics.bind_p2p_stats(lambda: ({"status": 10, "vote": 3}, {"status": 7}, {"bad_proof": 2}))
    got = scrape(metrics)
    assert got[("tenge_p2p_received_bytes_total", (("kind", "status"),))] == 15
    assert got[("tenge_p2p_received_bytes_total", (("kind", "vote"),))] == 3
    assert got[("tenge_p2p_sent_bytes_total", (("kind", "status"),))] == 7
    assert got[("tenge_p2p_handshake_failures_total", (("reason", "bad_proof"),))] == 2


# ---- helpers ----


def test_count_results_and_code_names() -> None:
    tally = count_results([("transfer", 0), ("transfer", "OK"), ("seize", 19), ("?", 9999)])
    assert tally == {("transfer", "OK"): 2, ("seize", "FROZEN"): 1, ("other", "other"): 1}
    assert code_name(ledger_pb2.MEMPOOL_FULL) == "MEMPOOL_FULL"
    assert code_name(-1) == "other"


@pytest.mark.parametrize(
    ("validators", "own_power", "needed"),
    [(0, 0, 0), (1, 10, 0), (1, 0, 1), (4, 10, 2), (4, 0, 3), (7, 10, 4), (10, 10, 6)],
)
def test_quorum_peers(validators: int, own_power: int, needed: int) -> None:
    view = ValidatorView(validators, validators * 10, own_power=own_power)
    assert view.quorum_peers == needed


def _sample_names(metrics: NodeMetrics, pick: Callable[[Sample], bool]) -> set[str]:
    return {s.name for f in metrics.registry.collect() for s in f.samples if pick(s)}


def test_histograms_export_buckets_sum_and_count() -> None:
    names = _sample_names(NodeMetrics(), lambda s: s.name.startswith("tenge_consensus_commit"))
    assert {
        "tenge_consensus_commit_latency_seconds_bucket",
        "tenge_consensus_commit_latency_seconds_sum",
        "tenge_consensus_commit_latency_seconds_count",
    } <= names


def test_core_counters_and_catching_up_are_read_at_scrape_time() -> None:
    metrics = NodeMetrics(chain_id="c", moniker="m")
    penalties: dict[str, int] = {"SYNC_TIMEOUT": 2}
    drops: dict[str, int] = {}
    behind = [False]
    metrics.bind_core_counters(lambda: (penalties, drops, {"BAD_SIGNATURE": 5}), lambda: behind[0])
    first = scrape(metrics)
    assert first[("tenge_p2p_peer_penalties_total", (("code", "SYNC_TIMEOUT"),))] == 2
    assert first[("tenge_consensus_misbehaviour_total", (("code", "BAD_SIGNATURE"),))] == 5
    assert first[("tenge_sync_catching_up", ())] == 0
    penalties["BAD_SYNC_BLOCK"] = 3
    drops["BAD_SYNC_BLOCK"] = 1
    behind[0] = True
    second = scrape(metrics)
    assert second[("tenge_p2p_peer_penalties_total", (("code", "BAD_SYNC_BLOCK"),))] == 3
    assert second[("tenge_p2p_peer_dropped_total", (("reason", "BAD_SYNC_BLOCK"),))] == 1
    assert second[("tenge_sync_catching_up", ())] == 1


async def test_loop_lag_sampler_sees_a_blocked_loop() -> None:
    metrics = NodeMetrics()
    r = metrics.registry
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sample_loop_lag, metrics, 0.01)
        await trio.sleep(0.05)
        time.sleep(0.1)  # noqa: ASYNC251 - blocking the loop is the point
        await trio.sleep(0.05)
        nursery.cancel_scope.cancel()
    count = r.get_sample_value("tenge_event_loop_lag_seconds_count")
    fast = r.get_sample_value("tenge_event_loop_lag_seconds_bucket", {"le": "0.05"})
    assert count is not None
    assert fast is not None
    assert count >= 3  # it kept sampling before and after
    # The sleeper due 10 ms after its start woke at least 90 ms late, once.
    assert count - fast >= 1
