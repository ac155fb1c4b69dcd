"""node.api._limits without sockets: token buckets, the connection table, exemptions."""

from __future__ import annotations

import ipaddress

import pytest

from node.api import REFUSAL_REASONS, ApiGate, ApiLimits, RateLimiter
from node.api._limits import (
    REFUSED_CLIENT_CONNECTIONS,
    REFUSED_CONNECTIONS,
    REFUSED_RATE,
    REFUSED_SUBMIT_RATE,
    SHED_GRACE_S,
    SHED_IDLE,
    ConnectionTable,
    retry_after,
)


class Recorder:
    def __init__(self) -> None:
        self.refused: list[str] = []
        self.requests: list[tuple[str, int]] = []

    def on_api_request(self, route: str, status: int, seconds: float) -> None:
        self.requests.append((route, status))

    def on_api_refused(self, reason: str) -> None:
        self.refused.append(reason)


def test_bucket_grants_a_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate=10.0, burst=5)
    assert [limiter.take("a", 1, 0.0) for _ in range(5)] == [0.0] * 5
    wait = limiter.take("a", 1, 0.0)
    assert wait == pytest.approx(0.1)
    assert limiter.take("a", 1, 0.05) > 0  # half a token is not a token
    assert limiter.take("a", 1, 0.1) == 0.0
    assert limiter.take("b", 1, 0.1) == 0.0  # another client has its own bucket
    assert limiter.take("a", 1, 100.0) == 0.0  # refilled, never above the burst
    assert [limiter.take("a", 1, 100.0) for _ in range(5)].count(0.0) == 4


def test_a_refused_take_costs_nothing() -> None:
    limiter = RateLimiter(rate=1.0, burst=10)
    assert limiter.take("a", 8, 0.0) == 0.0
    assert limiter.take("a", 5, 0.0) == pytest.approx(3.0)
    assert limiter.take("a", 2, 0.0) == 0.0  # the refused 5 were not taken


def test_a_cost_above_the_burst_needs_a_full_bucket() -> None:
    limiter = RateLimiter(rate=1.0, burst=10)
    assert limiter.take("a", 50, 0.0) == 0.0
    assert limiter.take("a", 50, 5.0) == pytest.approx(5.0)


def test_the_table_of_buckets_is_bounded() -> None:
    limiter = RateLimiter(rate=1.0, burst=2, max_keys=100)
    for n in range(10_000):
        limiter.take(f"10.0.{n // 256}.{n % 256}", 1, float(n))
    assert len(limiter) == 100
    # The least recently used bucket is the one dropped; a recent client keeps its count.
    limiter.take("recent", 2, 20_000.0)
    for n in range(99):
        limiter.take(f"x{n}", 1, 20_000.0)
    assert limiter.take("recent", 1, 20_000.0) > 0


@pytest.mark.parametrize(("rate", "burst", "keys"), [(0.0, 1, 1), (1.0, 0, 1), (1.0, 1, 0)])
def test_a_limiter_needs_positive_bounds(rate: float, burst: int, keys: int) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        RateLimiter(rate, burst, keys)


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert retry_after(0.001) == "1"
    assert retry_after(1.0) == "1"
    assert retry_after(1.2) == "2"


def test_per_client_cap_then_global_cap() -> None:
    table = ConnectionTable(ApiLimits(max_connections=4, max_connections_per_client=2))
    shed: list[int] = []
    for port in (1, 2):
        assert table.admit(("10.0.0.1", port), lambda: None, 0.0) == (True, None)
    assert table.admit(("10.0.0.1", 3), lambda: None, 0.0) == (False, REFUSED_CLIENT_CONNECTIONS)
    assert table.admit(("10.0.0.2", 1), lambda: shed.append(1), 0.0) == (True, None)
    assert table.admit(("10.0.0.3", 1), lambda: None, 0.0) == (True, None)
    for peer in (("10.0.0.1", 1), ("10.0.0.1", 2), ("10.0.0.3", 1)):
        table.request_started(peer)
    # Full: the only idle connection (10.0.0.2) is shed for the newcomer.
    assert table.admit(("10.0.0.4", 1), lambda: None, 1.0) == (True, SHED_IDLE)
    assert shed == [1]
    assert table.connections_of("10.0.0.2") == 0
    table.request_started(("10.0.0.4", 1))
    # Full and every connection busy: refused.
    assert table.admit(("10.0.0.5", 1), lambda: None, 2.0) == (False, REFUSED_CONNECTIONS)
    assert len(table) == 4
    table.release(("10.0.0.1", 1))
    table.release(("10.0.0.1", 1))  # idempotent
    assert table.connections_of("10.0.0.1") == 1
    assert table.admit(("10.0.0.1", 9), lambda: None, 3.0) == (True, None)


def test_the_connection_idle_longest_is_shed_first() -> None:
    table = ConnectionTable(ApiLimits(max_connections=3, max_connections_per_client=3))
    shed: list[str] = []
    for name, opened in (("a", 0.0), ("b", 1.0), ("c", 2.0)):
        assert table.admit((name, 1), lambda name=name: shed.append(name), opened)[0]
    table.request_started(("a", 1))
    table.request_finished(("a", 1), 5.0)  # a served a request since: idle since 5.0
    assert table.admit(("d", 1), lambda: shed.append("d"), 6.0) == (True, SHED_IDLE)
    assert table.admit(("e", 1), lambda: shed.append("e"), 6.0) == (True, SHED_IDLE)
    assert shed == ["b", "c"]
    # Requests on unknown connections (tests driving the app without a server) are ignored.
    table.request_started(("nobody", 1))
    table.request_finished(None, 7.0)


def test_seconds_until_shed_counts_down_the_grace_of_the_idle_longest() -> None:
    table = ConnectionTable(ApiLimits(max_connections=2, max_connections_per_client=2))
    assert table.seconds_until_shed(0.0) is None  # nothing open
    table.admit(("a", 1), lambda: None, 1.0)
    table.admit(("b", 1), lambda: None, 1.1)
    assert table.admit(("c", 1), lambda: None, 1.1) == (False, REFUSED_CONNECTIONS)
    assert table.seconds_until_shed(1.1) == pytest.approx(SHED_GRACE_S - 0.1)
    assert table.seconds_until_shed(1.0 + SHED_GRACE_S + 1) == 0.0
    assert table.admit(("c", 1), lambda: None, 1.0 + SHED_GRACE_S) == (True, SHED_IDLE)
    for peer in (("b", 1), ("c", 1)):
        table.request_started(peer)
    assert table.seconds_until_shed(9.0) is None  # every connection busy


def test_exempt_networks_skip_per_client_bounds_only() -> None:
    limits = ApiLimits(
        max_connections=3,
        max_connections_per_client=1,
        requests_per_s=1.0,
        burst=1,
        exempt=(ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")),
    )
    assert limits.is_exempt("127.0.0.1")
    assert limits.is_exempt("::1")
    assert not limits.is_exempt("10.0.0.1")
    assert not limits.is_exempt("not-an-address")
    table = ConnectionTable(limits)
    for port in (1, 2, 3):
        table.admit(("127.0.0.1", port), lambda: None, 0.0)
        table.request_started(("127.0.0.1", port))
    assert table.admit(("127.0.0.1", 4), lambda: None, 0.0) == (False, REFUSED_CONNECTIONS)
    gate = ApiGate(limits)
    assert all(gate.check_request("127.0.0.1", 0.0) == 0.0 for _ in range(100))
    assert all(gate.check_submission("::1", 1000, 0.0) == 0.0 for _ in range(100))


def test_the_gate_reports_its_refusals() -> None:
    recorder = Recorder()
    gate = ApiGate(
        ApiLimits(requests_per_s=1.0, burst=2, submit_txs_per_s=10.0, submit_burst=10), recorder
    )
    assert [gate.check_request("10.0.0.1", 0.0) > 0 for _ in range(3)] == [False, False, True]
    assert gate.check_submission("10.0.0.1", 10, 0.0) == 0.0
    assert gate.check_submission("10.0.0.1", 1, 0.0) == pytest.approx(0.1)
    assert recorder.refused == [REFUSED_RATE, REFUSED_SUBMIT_RATE]
    assert set(recorder.refused) <= REFUSAL_REASONS
