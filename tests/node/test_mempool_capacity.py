"""The mempool's room in time: the commit capacity estimate, the bound, per-source shares.

A stub ledger admits every envelope (no signatures, no state), so these tests see the
mempool's own rules only: node/capacity.py and the room of node/mempool.py (rule 5).
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass

import pytest

from node.capacity import CommitCapacity
from node.mempool import Mempool, api_source
from proto import ledger_pb2

_nonce = itertools.count()


def envelope(account: str | None = None) -> bytes:
    """A fresh envelope; its (fake) body names the account that authorised it."""
    n = next(_nonce)
    body = f"{account or f'acct-{n}'}|{n}".encode()
    return ledger_pb2.TxEnvelope(body=body).SerializeToString()


@dataclass(frozen=True, slots=True)
class _Outcome:
    code: int
    message: str
    tx_id: bytes
    expires_at_height: int
    accounts: tuple[str, ...]
    debits: tuple[()] = ()
    rule: str = ""
    rulebook_version: int = 1
    reads: frozenset[bytes] = frozenset()


class StubLedger:
    """check_tx that admits every envelope, counting its calls."""

    def __init__(self) -> None:
        self.checks = 0

    def check_tx(self, raw: bytes, *, next_height: int) -> _Outcome:
        self.checks += 1
        body = ledger_pb2.TxEnvelope.FromString(raw).body
        account = body.decode().split("|")[0]
        return _Outcome(ledger_pb2.OK, "", hashlib.sha256(body).digest(), 100, (account,))


def busy(capacity: CommitCapacity, blocks: int, txs: int, interval_s: float, t0: float) -> float:
    """Commit blocks of txs, interval_s apart, with work left after each; the last time."""
    now = t0
    for _ in range(blocks):
        now += interval_s
        capacity.observe(txs, now_s=now, pending=txs)
    return now


# ---- the capacity estimate ----


def test_busy_commits_measure_the_rate_and_idle_time_adds_nothing() -> None:
    capacity = CommitCapacity(sample_s=1.0, samples=30)
    assert capacity.tps is None
    now = busy(capacity, 11, 500, 0.5, 0.0)  # 1000 tx/s; the first commit has no interval
    assert capacity.tps == pytest.approx(1000)
    # The pool drains: the last busy block leaves nothing, then 10 s without a commit.
    capacity.observe(500, now_s=now + 0.5, pending=0)
    counted = capacity.counted
    capacity.observe(3, now_s=now + 10.5, pending=0)  # after an idle pool: not counted
    capacity.observe(0, now_s=now + 11.5, pending=0)  # an empty block: not counted
    assert capacity.counted == counted
    assert capacity.tps == pytest.approx(1000)
    # Light load: every block leaves a little work, at 50 tx/s; the maximum remembers.
    busy(capacity, 10, 5, 0.1, now + 11.5)
    assert capacity.tps == pytest.approx(1000)


def test_synced_blocks_do_not_count_and_the_window_forgets_old_samples() -> None:
    capacity = CommitCapacity(sample_s=1.0, samples=3)
    now = busy(capacity, 5, 1000, 1.0, 0.0)
    assert capacity.tps == pytest.approx(1000)
    counted = capacity.counted
    for n in range(50):  # catching up: 50 blocks in 0.5 s
        capacity.observe(1000, now_s=now + 0.01 * (n + 1), pending=10, synced=True)
    assert capacity.counted == counted
    assert capacity.tps == pytest.approx(1000)
    # The network slows down (a validator down): three samples later the estimate follows.
    busy(capacity, 5, 200, 1.0, now + 0.5)
    assert capacity.tps == pytest.approx(200)


def test_a_stall_with_work_waiting_lowers_a_sample_not_the_maximum() -> None:
    capacity = CommitCapacity(sample_s=1.0)
    now = busy(capacity, 4, 800, 1.0, 0.0)
    capacity.observe(800, now_s=now + 30.0, pending=500)  # 30 s for one block
    assert capacity.tps == pytest.approx(800)


# ---- the room ----


def pool(**kwargs: object) -> Mempool:
    args: dict[str, object] = {
        "max_txs": 10_000,
        "max_bytes": 1 << 24,
        "max_pending_s": 4.0,
        "min_pending_txs": 50,
    }
    args.update(kwargs)
    return Mempool(StubLedger(), **args)  # type: ignore[arg-type]


def measured(mempool: Mempool, tps: float) -> None:
    """Make the pool measure tps (blocks of tps/2 every half second, work left after)."""
    capacity = mempool.capacity
    for n in range(12):
        capacity.observe(int(tps / 2), now_s=n * 0.5, pending=1)


def test_the_room_is_seconds_of_measured_capacity_within_floor_and_max_txs() -> None:
    mempool = pool()
    assert mempool.room_txs == 50  # not measured yet: the floor
    measured(mempool, 100)
    assert mempool.room_txs == 400  # 4 s of 100 tx/s
    assert pool(max_txs=300, min_pending_txs=50).room_txs == 50
    small = pool(max_txs=300)
    measured(small, 100)
    assert small.room_txs == 300  # never above max_txs
    slow = pool()
    measured(slow, 5)
    assert slow.room_txs == 50  # never below the floor
    assert pool(max_pending_s=None).room_txs == 10_000  # no bound in time


def test_past_the_room_a_newcomer_gets_mempool_full_in_seconds() -> None:
    mempool = pool(capacity=CommitCapacity(sample_s=1.0, samples=4))
    measured(mempool, 100)
    for _ in range(400):
        assert mempool.add(envelope(), next_height=1).added
    full = mempool.add(envelope(), next_height=1)
    assert full.code == ledger_pb2.MEMPOOL_FULL
    assert "4 s of the network's measured commit capacity of 100 tx/s" in full.message
    assert "holds 4.0 s" in full.message
    assert full.retry_after_s == 1.0  # one transaction over: the least Retry-After
    assert len(mempool) == 400
    # The capacity falls to 50 tx/s: the room halves; the pool drains 200 before room.
    for n in range(10):
        mempool.capacity.observe(25, now_s=6 + n * 0.5, pending=1)
    assert mempool.room_txs == 200
    late = mempool.add(envelope(), next_height=1)
    assert late.code == ledger_pb2.MEMPOOL_FULL
    assert late.retry_after_s == pytest.approx(201 / 50)


def test_refusals_ahead_answer_what_cannot_fit_without_the_ledger() -> None:
    mempool = pool(min_pending_txs=10, max_pending_s=None, max_txs=10)
    ledger = mempool._checker
    assert isinstance(ledger, StubLedger)
    pending = [envelope() for _ in range(9)]
    for raw in pending:
        assert mempool.add(raw, next_height=1).added
    offered = [envelope() for _ in range(5)]
    # Room for one: add judges them all (most may be refused for other reasons).
    assert mempool.refusals_ahead(offered, source="api") == [None] * 5
    assert mempool.add(envelope(), next_height=1).added
    ahead = mempool.refusals_ahead([*offered, pending[0], b"\xff junk"], source="api")
    assert all(a is not None and a.code == ledger_pb2.MEMPOOL_FULL for a in ahead[:5])
    assert ahead[2] is not None
    body = ledger_pb2.TxEnvelope.FromString(offered[2]).body
    assert ahead[2].tx_id == hashlib.sha256(body).digest()
    assert ahead[5:] == [None, None]  # already pending, not an envelope: add answers
    assert ledger.checks == 10
    assert mempool.results[ledger_pb2.MEMPOOL_FULL] == 5


# ---- shares of the room ----


def test_a_flooding_client_leaves_room_for_a_light_one() -> None:
    mempool = pool()
    measured(mempool, 100)  # room 400; one client may hold 200
    flooder, light = api_source("10.0.0.1"), api_source("10.0.0.2")
    answers = [mempool.add(envelope(), next_height=1, source=flooder) for _ in range(1200)]
    assert sum(a.added for a in answers) == 200
    refused = answers[-1]
    assert refused.code == ledger_pb2.MEMPOOL_FULL
    assert "for this client" in refused.message
    assert mempool.refusals_ahead([envelope()], source=flooder)[0] is not None
    assert mempool.refusals_ahead([envelope()], source=light) == [None]
    assert mempool.add(envelope("alice"), next_height=1, source=light).added
    assert mempool.source_count(flooder) == 200


def test_at_the_room_an_api_client_evicts_gossip_and_a_peer_keeps_its_share() -> None:
    mempool = pool()
    measured(mempool, 100)  # room 400; one peer may hold 200
    for peer in ("peer-1", "peer-2"):
        answers = [mempool.add(envelope(), next_height=1, source=peer) for _ in range(300)]
        assert sum(a.added for a in answers) == 200
        assert answers[-1].code == ledger_pb2.PEER_SHARE_EXCEEDED
    assert len(mempool) == mempool.room_txs == 400
    assert mempool.refusals_ahead([envelope()], source="peer-1")[0] is not None
    # A light API client still gets in: it displaces the newest gossiped copy.
    light = api_source("10.0.0.2")
    assert mempool.refusals_ahead([envelope()], source=light) == [None]
    admitted = mempool.add(envelope("alice"), next_height=1, source=light)
    assert admitted.added
    assert admitted.evicted == 1
    assert len(mempool) == 400


def test_a_sample_spans_several_blocks_so_uneven_intervals_average_out() -> None:
    capacity = CommitCapacity()  # 5 s samples
    now = 0.0
    capacity.observe(0, now_s=now, pending=1)
    for interval in [0.2, 1.8] * 5:  # 500 txs per block, every other one bunched
        now += interval
        capacity.observe(500, now_s=now, pending=500)
    assert capacity.tps == pytest.approx(500)  # not 2500, the bunched blocks' rate
