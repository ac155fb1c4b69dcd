"""The garbage collector's pauses (node/gc_pauses.py) and their histogram in /metrics."""

from __future__ import annotations

import gc

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from node.gc_pauses import PAUSE_BUCKETS, GcPauses, PauseCounts
from node.metrics import NodeMetrics


def test_a_pause_lands_in_the_first_bucket_that_holds_it() -> None:
    pauses = GcPauses()
    pauses.record(2, 0.003)  # <= 0.005
    pauses.record(2, 0.005)  # a bound is inclusive
    pauses.record(0, 7.0)  # past every bound: +Inf
    young, _, full = pauses.counts()
    assert full.buckets[PAUSE_BUCKETS.index(0.005)] == 2
    assert full.count == 2
    assert abs(full.sum_s - 0.008) < 1e-12
    assert young.buckets[-1] == 1
    assert young.count == 1


def test_installed_it_counts_real_collections_by_generation() -> None:
    pauses = GcPauses()
    pauses.install()
    pauses.install()  # idempotent: one callback
    try:
        gc.collect(2)
        gc.collect(0)
        after = pauses.counts()
    finally:
        pauses.uninstall()
    assert after[2].count == 1
    assert after[0].count >= 1
    assert after[2].sum_s > 0
    gc.collect(2)
    assert pauses.counts()[2].count == 1  # uninstalled: no more counting


def test_the_histogram_is_cumulative_per_generation() -> None:
    metrics = NodeMetrics()
    first, second = (0, 2, 1) + (0,) * 8, (0,) * 10 + (4,)
    metrics.bind_gc_pauses(
        lambda: [
            PauseCounts(first, 3, 0.01),
            PauseCounts(second, 4, 40.0),
            PauseCounts((0,) * 11, 0, 0.0),
        ]
    )
    text = generate_latest(metrics.registry).decode()
    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    bucket = "tenge_gc_pause_seconds_bucket"
    assert got[(bucket, (("generation", "0"), ("le", "0.001")))] == 0
    assert got[(bucket, (("generation", "0"), ("le", "0.005")))] == 2
    assert got[(bucket, (("generation", "0"), ("le", "0.01")))] == 3
    assert got[(bucket, (("generation", "0"), ("le", "+Inf")))] == 3
    assert got[(bucket, (("generation", "1"), ("le", "5.0")))] == 0
    assert got[(bucket, (("generation", "1"), ("le", "+Inf")))] == 4
    assert got[("tenge_gc_pause_seconds_sum", (("generation", "1"),))] == 40.0
    assert got[("tenge_gc_pause_seconds_count", (("generation", "2"),))] == 0
