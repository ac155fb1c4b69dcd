"""Prometheus metrics of one node.

The small HTTP server that exposes them lives in ``node._metrics_http``; ``serve_metrics``
and its constants are re-exported here.

Rules this module keeps:

1. Every family lives on the node's own ``CollectorRegistry`` (never the global default),
   so several nodes can run in one process (tests, simulations).
2. Names start with ``tenge_`` and follow Prometheus conventions: base units in the name
   (``_seconds``, ``_bytes``), counters end in ``_total``, no unit-less ``_count``/``_sum``
   names of our own. docs/monitoring.md lists every family; a test walks the registry.
3. The hot path pays little: events (a commit, a timeout, an admission) call one small
   ``on_*`` method; levels (mempool size, peers, disk, validators) are read through
   callbacks only when Prometheus scrapes.
4. Label values come from small known sets. An unexpected value becomes ``other`` rather
   than a new time series, so a buggy or hostile caller cannot grow memory without bound.
5. Metrics never break the node: a callback that raises is logged and its family skipped
   for that scrape; bad requests to the metrics port get 400/404/405, never a traceback.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Final, TypeVar

import trio
from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client import Counter as PromCounter
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from node._metrics_http import CONTENT_TYPE as CONTENT_TYPE
from node._metrics_http import MAX_CONNECTIONS as MAX_CONNECTIONS
from node._metrics_http import MAX_DRAIN_BYTES as MAX_DRAIN_BYTES
from node._metrics_http import MAX_REQUEST_HEAD as MAX_REQUEST_HEAD
from node._metrics_http import REQUEST_TIMEOUT_S as REQUEST_TIMEOUT_S
from node._metrics_http import serve_metrics as serve_metrics
from node.api._access import AUTH_REFUSAL_REASONS as API_AUTH_REFUSAL_REASONS
from node.api._access import AUTH_SCOPES as API_AUTH_SCOPES
from node.api._limits import REFUSAL_REASONS as API_REFUSAL_REASONS
from node.gc_pauses import PAUSE_BUCKETS, PauseCounts
from node.store import StateCacheStats
from proto import ledger_pb2

log = logging.getLogger("tenge.metrics")
_T = TypeVar("_T")

PREFIX: Final = "tenge_"
OTHER: Final = "other"

# Sub-second to tens of seconds: blocks come every few hundred ms under load and every
# empty_block_interval (5 s by default) when idle; a stalled round takes tens of seconds.
BLOCK_INTERVAL_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 60)
COMMIT_LATENCY_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60)
ROUNDS_BUCKETS: Final = (1, 2, 3, 4, 5, 8, 16)
WRITE_BATCH_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5)
API_LATENCY_BUCKETS: Final = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# How late a 50 ms sleeper wakes: ~0.1 ms idle; tens of ms mean the loop is starved.
LOOP_LAG_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)
LOOP_LAG_INTERVAL_S: Final = 0.05
ADMISSION_PATHS: Final = frozenset({"api", "gossip"})

STEPS: Final = frozenset({"new_height", "propose", "prevote", "precommit", "commit"})
STEP_NUMBERS: Final = {"new_height": 0, "propose": 1, "prevote": 2, "precommit": 3, "commit": 4}
TX_KINDS: Final = frozenset(
    f.name for f in ledger_pb2.TxBody.DESCRIPTOR.oneofs_by_name["kind"].fields
)
RESULT_CODES: Final = frozenset(ledger_pb2.ResultCode.keys())
EVIDENCE_KINDS: Final = frozenset({"duplicate_vote", "conflicting_proposal"})
DIRECTIONS: Final = frozenset({"in", "out"})
MAX_FREE_LABELS: Final = 64  # distinct values of an open label (route, reason, kind)
_LABEL_RE: Final = re.compile(r"^[A-Za-z0-9_./{}:-]{1,64}$")


def _version() -> str:
    try:
        return metadata.version("tenge-node")
    except metadata.PackageNotFoundError:
        return "unknown"


class _OpenLabel:
    """Label values from an open set, capped at ``limit`` distinct values."""

    def __init__(self, limit: int = MAX_FREE_LABELS) -> None:
        self._seen: set[str] = set()
        self._limit = limit

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) >= self._limit or not _LABEL_RE.match(value):
            return OTHER
        self._seen.add(value)
        return value


def _closed(value: str, allowed: frozenset[str]) -> str:
    return value if value in allowed else OTHER


def code_name(code: int | str) -> str:
    """The stable name of a ledger result code (``9`` -> ``"DUPLICATE"``), else ``other``."""
    if isinstance(code, str):
        return _closed(code, RESULT_CODES)
    try:
        return ledger_pb2.ResultCode.Name(code)
    except ValueError:
        return OTHER


def count_results(results: Iterable[tuple[str, int | str]]) -> dict[tuple[str, str], int]:
    """Tally (tx kind, result code) pairs for ``NodeMetrics.on_commit``.

    Args:
        results: one ``(kind, code)`` per transaction: kind is the ``TxBody`` oneof name
            (``"transfer"``) or ``"unknown"`` when the body did not decode; code is a
            ``ResultCode`` number or name.

    Returns:
        Counts keyed by ``(kind, code_name)``.
    """
    tally: Counter[tuple[str, str]] = Counter()
    for kind, code in results:
        tally[(_closed(kind, TX_KINDS), code_name(code))] += 1
    return dict(tally)


@dataclass(frozen=True, slots=True)
class ValidatorView:
    """The validator set as this node sees it, read at scrape time.

    Attributes:
        validators: validators in the current set.
        total_power: their summed voting power.
        missing: validators whose precommit is absent from the last commit certificate.
        missing_power: their power.
        byzantine: validators this node holds evidence against.
        byzantine_power: their power.
        own_power: this node's power (0: observer, or not in the set).
    """

    validators: int
    total_power: int
    missing: int = 0
    missing_power: int = 0
    byzantine: int = 0
    byzantine_power: int = 0
    own_power: int = 0

    @property
    def quorum_peers(self) -> int:
        """Peers needed so that this node sees 2f+1 validators, itself included."""
        if self.validators == 0:
            return 0
        faulty = (self.validators - 1) // 3
        return max(0, 2 * faulty + 1 - (1 if self.own_power > 0 else 0))


# Gauges read through callbacks when Prometheus scrapes: name -> help text.
_SCRAPED: Final = {
    "tenge_consensus_round": "Round the engine is in at the current height.",
    "tenge_consensus_step": "Step: 0 new_height, 1 propose, 2 prevote, 3 precommit, 4 commit.",
    "tenge_consensus_validators": "Validators in the current set.",
    "tenge_consensus_validators_power": "Total voting power of the current set.",
    "tenge_consensus_missing_validators": "Validators absent from the last commit certificate.",
    "tenge_consensus_missing_validators_power": "Voting power of the missing validators.",
    "tenge_consensus_byzantine_validators": "Validators this node holds evidence against.",
    "tenge_consensus_byzantine_validators_power": "Voting power of the byzantine validators.",
    "tenge_consensus_validator_power": "This node's voting power (0 on an observer).",
    "tenge_mempool_txs": "Transactions waiting in the mempool.",
    "tenge_mempool_bytes": "Bytes of transactions waiting in the mempool.",
    "tenge_mempool_capacity_txs": "The mempool's bound on transactions.",
    "tenge_mempool_capacity_bytes": "The mempool's bound on bytes.",
    "tenge_mempool_commit_capacity_tps": "Measured commit capacity of the network, tx/s "
    "(0 while unknown).",
    "tenge_mempool_room_txs": "The mempool's room now: max_pending_seconds of the measured "
    "commit capacity, within [min_pending_txs, max_txs].",
    "tenge_p2p_peers": "Connected, authenticated peers.",
    "tenge_p2p_quorum_peers": "Peers needed to see 2f+1 validators, this node included.",
    "tenge_sync_catching_up": "1 while the network is ahead of this node (block sync), else 0.",
    "tenge_store_size_bytes": "Size on disk of the node's data directory.",
    "tenge_store_filesystem_avail_bytes": "Free bytes on the data directory's filesystem.",
    "tenge_store_filesystem_size_bytes": "Size of the data directory's filesystem.",
    "tenge_api_connections": "Open HTTP API connections.",
    "tenge_api_max_connections": "The API's bound on open connections ([api] max_connections).",
    "tenge_signer_up": "1 while the remote signer is connected and authenticated, else 0 "
    "(the validator then neither votes nor proposes).",
}

# Counters kept as plain dicts (cheap per frame), exported at scrape: name, help, label.
_P2P_COUNTERS: Final = (
    ("tenge_p2p_received_bytes", "Wire bytes received from peers, by message kind.", "kind"),
    ("tenge_p2p_sent_bytes", "Wire bytes sent to peers, by message kind.", "kind"),
    ("tenge_p2p_handshake_failures", "Refused or failed peer handshakes, by reason.", "reason"),
)


# Counters the node core's driver keeps as dicts, exported at scrape: name, help, label.
_CORE_COUNTERS: Final = (
    ("tenge_p2p_peer_penalties", "Penalties counted against peers, by code.", "code"),
    ("tenge_p2p_peer_dropped", "Peers dropped for misbehaviour, by reason.", "reason"),
    (
        "tenge_consensus_misbehaviour",
        "Bad consensus input reported by the engine, by code.",
        "code",
    ),
)


@dataclass(frozen=True, slots=True)
class P2PInboundView:
    """What the p2p layer's inbound queues and gossip budgets counted (node/p2p/_inbox.py).

    Attributes:
        frames_dropped: frames received and refused or messages not sent, by reason
            (``tx_queue_full``, ``gossip_budget``, ``send_queue_full``...).
        peers_dropped: peers the p2p layer dropped, by reason (``gossip_budget``); added to
            the driver's drops in ``tenge_p2p_peer_dropped_total``.
        gossip_throttled: tx gossip frames a peer's reader waited on (over budget).
        queued_bytes: bytes received and not yet read by the node, by traffic class.
        gossip_invalid_txs: gossiped txs whose signatures failed, charged to their senders.
    """

    frames_dropped: Mapping[str, int]
    peers_dropped: Mapping[str, int]
    gossip_throttled: int
    queued_bytes: Mapping[str, int]
    gossip_invalid_txs: int = 0


class _ScrapeCollector(Collector):
    """Yields the callback-backed families of one NodeMetrics at scrape time."""

    def __init__(self, owner: NodeMetrics) -> None:
        self._owner = owner

    def describe(self) -> Iterable[Metric]:
        return []  # collect() is cheap enough; skip the registry's describe-time collect

    def collect(self) -> Iterable[Metric]:
        return list(self._owner._collect())


class NodeMetrics:
    """Every Prometheus family of one node, on its own registry.

    The node calls ``on_*`` when things happen and ``bind_*`` once at start-up to hand
    over the callbacks read at scrape time. Families without a bound source are not
    exported (an observer has no validator power; a test may bind nothing).

    Attributes:
        registry: the per-node registry; serve it with ``serve_metrics``.
    """

    def __init__(self, *, chain_id: str = "", moniker: str = "") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        build = Gauge(
            "tenge_build_info",
            "Always 1; the labels say which build runs.",
            ("version", "python", "chain_id", "moniker"),
            registry=r,
        )
        build.labels(_version(), platform.python_version(), chain_id, moniker).set(1)
        self._height = Gauge("tenge_consensus_height", "Latest committed height.", registry=r)
        self._last_commit = Gauge(
            "tenge_consensus_last_commit_timestamp_seconds",
            "Unix time of the latest commit (of start-up, before the first one).",
            registry=r,
        )
        self._last_commit.set(time.time())
        self._block_interval = Histogram(
            "tenge_consensus_block_interval_seconds",
            "Time between consecutive commits seen by this node.",
            registry=r,
            buckets=BLOCK_INTERVAL_BUCKETS,
        )
        self._commit_latency = Histogram(
            "tenge_consensus_commit_latency_seconds",
            "From proposal (or, on other nodes, from the commit decision) to durable commit.",
            registry=r,
            buckets=COMMIT_LATENCY_BUCKETS,
        )
        self._rounds = Histogram(
            "tenge_consensus_rounds_per_height",
            "Rounds needed to commit a height (1: committed in round 0).",
            registry=r,
            buckets=ROUNDS_BUCKETS,
        )
        self._timeouts = PromCounter(
            "tenge_consensus_timeouts_total", "Fired timeouts, by step.", ("step",), registry=r
        )
        self._evidence = PromCounter(
            "tenge_consensus_evidence_total",
            "Equivocation evidence seen (reported by this node's engine or received by gossip).",
            registry=r,
        )
        self._evidence_committed = PromCounter(
            "tenge_evidence_committed_total",
            "Equivocation evidence newly recorded by committed blocks, by kind.",
            ("kind",),
            registry=r,
        )
        self._missed = PromCounter(
            "tenge_consensus_missed_precommits_total",
            "Committed heights whose certificate lacks this validator's precommit.",
            registry=r,
        )
        self._txs = PromCounter(
            "tenge_txs_total",
            "Transactions in committed blocks, by kind and result code.",
            ("kind", "code"),
            registry=r,
        )
        self._admissions = PromCounter(
            "tenge_mempool_admissions_total",
            "Transactions submitted to the mempool, by result code (OK: admitted) and path "
            "(api: this node's clients; gossip: from peers).",
            ("code", "path"),
            registry=r,
        )
        self._evictions = PromCounter(
            "tenge_mempool_evictions_total",
            "Gossiped transactions evicted from a full mempool to admit a newcomer.",
            registry=r,
        )
        self._write_batch = Histogram(
            "tenge_store_write_batch_duration_seconds",
            "Duration of one block's synced LevelDB write batch.",
            registry=r,
            buckets=WRITE_BATCH_BUCKETS,
        )
        self._api_requests = PromCounter(
            "tenge_api_requests_total",
            "HTTP API requests, by route template and status code.",
            ("route", "status"),
            registry=r,
        )
        self._api_latency = Histogram(
            "tenge_api_request_duration_seconds",
            "HTTP API request duration, by route template.",
            ("route",),
            registry=r,
            buckets=API_LATENCY_BUCKETS,
        )
        self._loop_lag = Histogram(
            "tenge_event_loop_lag_seconds",
            f"How late a task sleeping {LOOP_LAG_INTERVAL_S * 1000:g} ms wakes in the node's "
            "event loop (consensus, P2P and API share it).",
            registry=r,
            buckets=LOOP_LAG_BUCKETS,
        )
        self._overload = PromCounter(
            "tenge_admission_overload_total",
            "Transactions refused unchecked because admission had too much queued, by path.",
            ("path",),
            registry=r,
        )
        self._api_refused = PromCounter(
            "tenge_api_refused_total",
            "HTTP API connections and requests refused, and idle connections shed, by reason.",
            ("reason",),
            registry=r,
        )
        self._api_auth_refused = PromCounter(
            "tenge_api_auth_refused_total",
            "HTTP API requests refused 401 (no valid bearer token) or 403 (the token lacks "
            "the scope, or reads another bank's account), by the scope the route needs.",
            ("scope", "reason"),
            registry=r,
        )
        self._routes = _OpenLabel()
        self._kinds = _OpenLabel()
        self._reasons = _OpenLabel()
        self._bytes: dict[str, Counter[str]] = {"in": Counter(), "out": Counter()}
        self._handshake_failures: Counter[str] = Counter()
        self._last_commit_monotonic: float | None = None
        self._sources: dict[str, Callable[[], float]] = {}
        self._validators: Callable[[], ValidatorView] | None = None
        self._round_step: Callable[[], tuple[int, str]] | None = None
        self._p2p_stats: Callable[[], tuple[Mapping[str, int], ...]] | None = None
        self._p2p_inbound: Callable[[], P2PInboundView] | None = None
        self._data_dir: Path | None = None
        self._state_cache: Callable[[], StateCacheStats | None] | None = None
        self._gc_pauses: Callable[[], list[PauseCounts]] | None = None
        self._signer_refusals: Callable[[], Mapping[str, int]] | None = None
        r.register(_ScrapeCollector(self))

    # ---- events (the node calls these when things happen) ----

    def on_commit(
        self,
        height: int,
        round: int,
        num_txs: int,
        codes_by_kind: Mapping[tuple[str, str], int],
        block_interval_s: float | None,
        commit_latency_s: float,
        *,
        own_precommit_included: bool | None = None,
    ) -> None:
        """A block is durably committed.

        Args:
            height: its height.
            round: the round it was decided in (0 first).
            num_txs: transactions in it (for the log of callers; counts come from
                ``codes_by_kind``).
            codes_by_kind: ``count_results`` of its receipts.
            block_interval_s: seconds since the previous commit; None to let this object
                measure it with the monotonic clock (the first commit is then not observed).
            commit_latency_s: proposal-to-commit latency.
            own_precommit_included: for a validator, whether its own precommit is in the
                certificate; None on an observer.
        """
        self._height.set(height)
        self._last_commit.set(time.time())
        now = time.monotonic()
        if block_interval_s is None and self._last_commit_monotonic is not None:
            block_interval_s = now - self._last_commit_monotonic
        self._last_commit_monotonic = now
        if block_interval_s is not None:
            self._block_interval.observe(max(0.0, block_interval_s))
        self._commit_latency.observe(max(0.0, commit_latency_s))
        self._rounds.observe(max(0, round) + 1)
        for (kind, code), count in codes_by_kind.items():
            if count > 0:
                self._txs.labels(_closed(kind, TX_KINDS), code_name(code)).inc(count)
        if own_precommit_included is False:
            self._missed.inc()

    def on_timeout(self, step: str) -> None:
        """A consensus timeout fired at ``step`` (``"propose"``, ``"prevote"``...)."""
        self._timeouts.labels(_closed(step.lower(), STEPS)).inc()

    def on_evidence(self) -> None:
        """Equivocation evidence new to this node was seen (engine report or gossip)."""
        self._evidence.inc()

    def on_evidence_committed(self, kind: str) -> None:
        """A committed block recorded a piece of evidence of this kind
        (``node.evidence.kind_of``: ``duplicate_vote`` or ``conflicting_proposal``)."""
        self._evidence_committed.labels(_closed(kind, EVIDENCE_KINDS)).inc()

    def on_admission(self, code_name_or_number: int | str, path: str = "api") -> None:
        """The mempool answered one transaction from ``path`` ("api" or "gossip")."""
        self._admissions.labels(
            code_name(code_name_or_number), _closed(path, ADMISSION_PATHS)
        ).inc()

    def on_admission_overload(self, path: str, txs: int) -> None:
        """txs transactions from ``path`` ("api" or "gossip") were refused: admission busy."""
        self._overload.labels(_closed(path, ADMISSION_PATHS)).inc(max(0, txs))

    def on_loop_lag(self, seconds: float) -> None:
        """The event-loop lag sampler woke ``seconds`` late."""
        self._loop_lag.observe(max(0.0, seconds))

    def on_evictions(self, count: int) -> None:
        """An admission evicted count gossiped transactions from the full mempool."""
        if count > 0:
            self._evictions.inc(count)

    def on_api_request(self, route: str, status: int, seconds: float) -> None:
        """An API request finished.

        Args:
            route: the route template (``/v1/txs/{tx_id}``), never the raw path, so that
                ids do not become label values; ``unmatched`` for 404s without a route.
            status: HTTP status code sent.
            seconds: time from request start to the response's last byte.
        """
        label = self._routes(route)
        status_label = str(status) if 100 <= status <= 599 else OTHER
        self._api_requests.labels(label, status_label).inc()
        self._api_latency.labels(label).observe(max(0.0, seconds))

    def on_api_refused(self, reason: str) -> None:
        """The API refused a connection (503) or a request (429), or shed an idle
        connection; ``reason`` is one of ``node.api._limits.REFUSAL_REASONS``."""
        self._api_refused.labels(_closed(reason, API_REFUSAL_REASONS)).inc()

    def on_api_auth_refused(self, scope: str, reason: str) -> None:
        """The API refused a request 401 or 403: the scope its route needs (``submit``,
        ``read:own``, ``read:all``) and why (``node.api._access.AUTH_REFUSAL_REASONS``)."""
        self._api_auth_refused.labels(
            _closed(scope, API_AUTH_SCOPES), _closed(reason, API_AUTH_REFUSAL_REASONS)
        ).inc()

    def on_write_batch(self, seconds: float) -> None:
        """A block's write batch was synced to disk in ``seconds``."""
        self._write_batch.observe(max(0.0, seconds))

    def on_handshake_failure(self, reason: str) -> None:
        """A peer handshake failed; ``reason`` is the HandshakeError's stable code."""
        self._handshake_failures[self._reasons(reason)] += 1

    def on_bytes(self, direction: str, kind: str, n: int) -> None:
        """``n`` wire bytes of message ``kind`` went ``"in"`` or ``"out"``.

        A plain dict update: cheap enough to call per frame. Either call this or
        ``bind_p2p_stats``, not both, or the bytes count twice.
        """
        if direction in DIRECTIONS and n > 0:
            self._bytes[direction][self._kinds(kind)] += n

    # ---- levels (read when Prometheus scrapes) ----

    def bind_mempool(
        self,
        size: Callable[[], int],
        size_bytes: Callable[[], int],
        *,
        max_txs: int,
        max_bytes: int,
    ) -> None:
        """Export the mempool's fill level and its bounds."""
        self._sources["tenge_mempool_txs"] = size
        self._sources["tenge_mempool_bytes"] = size_bytes
        self._sources["tenge_mempool_capacity_txs"] = lambda: max_txs
        self._sources["tenge_mempool_capacity_bytes"] = lambda: max_bytes

    def bind_mempool_room(self, capacity_tps: Callable[[], float], room: Callable[[], int]) -> None:
        """Export the measured commit capacity and the room it gives the mempool."""
        self._sources["tenge_mempool_commit_capacity_tps"] = capacity_tps
        self._sources["tenge_mempool_room_txs"] = room

    def bind_api_connections(self, count: Callable[[], int], *, max_connections: int) -> None:
        """Export the open API connections and their cap (``[api] max_connections``)."""
        self._sources["tenge_api_connections"] = count
        self._sources["tenge_api_max_connections"] = lambda: max_connections

    def bind_peers(self, count: Callable[[], int]) -> None:
        """Export the number of connected peers."""
        self._sources["tenge_p2p_peers"] = count

    def bind_validators(self, view: Callable[[], ValidatorView]) -> None:
        """Export the validator set, missing and byzantine validators, and quorum peers."""
        self._validators = view

    def bind_round_step(self, current: Callable[[], tuple[int, str]]) -> None:
        """Export the engine's current ``(round, step name)``."""
        self._round_step = current

    def bind_core_counters(
        self,
        counts: Callable[[], tuple[Mapping[str, int], Mapping[str, int], Mapping[str, int]]],
        catching_up: Callable[[], bool],
    ) -> None:
        """Export the driver's peer penalties, drops and misbehaviour counts, and whether
        the node is catching up.

        Args:
            counts: returns ``(penalties by code, drops by reason, misbehaviour by code)``.
            catching_up: the node core's judgement (node/core/_sync.py).
        """
        self._core_counts = counts
        self._sources["tenge_sync_catching_up"] = lambda: float(catching_up())

    def bind_store(self, data_dir: Path) -> None:
        """Export the data directory's size and its filesystem's free space."""
        self._data_dir = data_dir

    def bind_gc_pauses(self, counts: Callable[[], list[PauseCounts]]) -> None:
        """Export the garbage collector's pauses by generation (`GcPauses.counts`)."""
        self._gc_pauses = counts

    def bind_state_cache(self, stats: Callable[[], StateCacheStats | None]) -> None:
        """Export the store's state cache: hits, misses, evictions, entries and bytes
        (``Store.state_cache_stats``; None, a disabled cache, exports nothing)."""
        self._state_cache = stats

    def bind_p2p_stats(
        self, counts: Callable[[], tuple[Mapping[str, int], Mapping[str, int], Mapping[str, int]]]
    ) -> None:
        """Read P2P counters from the P2P layer's own stats at scrape time.

        Args:
            counts: returns ``(bytes_in, bytes_out, handshake_failures)`` by kind/reason,
                e.g. ``lambda: (s.bytes_in, s.bytes_out, s.handshake_failures)`` over
                ``node.p2p.P2PStats``. These add to what ``on_bytes`` and
                ``on_handshake_failure`` counted.
        """
        self._p2p_stats = counts

    def bind_signer(
        self, up: Callable[[], bool], refusals: Callable[[], Mapping[str, int]]
    ) -> None:
        """Export a remote signer's state: ``tenge_signer_up`` and
        ``tenge_signer_refusals_total{reason}`` (signatures not obtained, by reason)."""
        self._sources["tenge_signer_up"] = lambda: float(up())
        self._signer_refusals = refusals

    def bind_p2p_inbound(self, view: Callable[[], P2PInboundView]) -> None:
        """Export the p2p layer's dropped frames, its peer drops (with the driver's),
        throttled gossip frames and inbound queue fill by traffic class."""
        self._p2p_inbound = view

    # ---- scrape ----

    def _collect(self) -> Iterator[Metric]:
        values: dict[str, float] = {}
        for name, source in self._sources.items():
            value = _safe(name, source)
            if value is not None:
                values[name] = value
        if self._round_step is not None:
            current = _safe("tenge_consensus_round", self._round_step)
            if current is not None:
                values["tenge_consensus_round"] = current[0]
                values["tenge_consensus_step"] = STEP_NUMBERS.get(current[1].lower(), -1)
        if self._validators is not None:
            view = _safe("tenge_consensus_validators", self._validators)
            if view is not None:
                values.update(_validator_values(view))
        if self._data_dir is not None:
            values.update(_disk_values(self._data_dir))
        for name, doc in _SCRAPED.items():
            if name in values:
                yield GaugeMetricFamily(name, doc, value=values[name])
        inbound = _safe("tenge_p2p_inbound", self._p2p_inbound) if self._p2p_inbound else None
        yield from self._collect_p2p()
        yield from self._collect_core(inbound)
        if inbound is not None:
            yield from self._collect_inbound(inbound)
        cache = _safe("tenge_store_state_cache", self._state_cache) if self._state_cache else None
        if cache is not None:
            yield from _state_cache_families(cache)
        pauses = _safe("tenge_gc_pause_seconds", self._gc_pauses) if self._gc_pauses else None
        if pauses is not None:
            yield _gc_pause_family(pauses)
        if self._signer_refusals is not None:
            refusals = _safe("tenge_signer_refusals", self._signer_refusals) or {}
            metric = CounterMetricFamily(
                "tenge_signer_refusals",
                "Signatures the remote signer did not give, by reason (its refusal code, "
                "unreachable or timeout).",
                labels=("reason",),
            )
            for reason, n in sorted(refusals.items()):
                metric.add_metric((self._reasons(reason),), n)
            yield metric

    _core_counts: (
        Callable[[], tuple[Mapping[str, int], Mapping[str, int], Mapping[str, int]]] | None
    ) = None

    def _collect_core(self, inbound: P2PInboundView | None) -> Iterator[Metric]:
        counts = _safe("tenge_p2p_peer_penalties", self._core_counts) if self._core_counts else None
        for index, (name, doc, label_name) in enumerate(_CORE_COUNTERS):
            metric = CounterMetricFamily(name, doc, labels=(label_name,))
            merged: Counter[str] = Counter()
            for key, n in (counts[index] if counts else {}).items():
                merged[self._reasons(key)] += n
            if name == "tenge_p2p_peer_dropped" and inbound is not None:
                for key, n in inbound.peers_dropped.items():
                    merged[self._reasons(key)] += n
            for key, n in sorted(merged.items()):
                metric.add_metric((key,), n)
            yield metric

    def _collect_inbound(self, view: P2PInboundView) -> Iterator[Metric]:
        dropped = CounterMetricFamily(
            "tenge_p2p_frames_dropped",
            "Peer frames refused on receipt or messages not sent, by reason.",
            labels=("reason",),
        )
        merged: Counter[str] = Counter()
        for key, n in view.frames_dropped.items():
            merged[self._reasons(key)] += n
        for key, n in sorted(merged.items()):
            dropped.add_metric((key,), n)
        yield dropped
        yield CounterMetricFamily(
            "tenge_p2p_gossip_throttled",
            "Tx gossip frames a peer's reader waited on because the peer was over budget.",
            value=view.gossip_throttled,
        )
        yield CounterMetricFamily(
            "tenge_p2p_gossip_invalid_txs",
            "Gossiped transactions with an invalid signature, charged to the sending peer.",
            value=view.gossip_invalid_txs,
        )
        queued = GaugeMetricFamily(
            "tenge_p2p_inbound_queued_bytes",
            "Bytes received from peers and not yet read by the node, by traffic class.",
            labels=("class",),
        )
        for cls, n in sorted(view.queued_bytes.items()):
            queued.add_metric((self._kinds(cls),), n)
        yield queued

    def _collect_p2p(self) -> Iterator[Metric]:
        received: Counter[str] = Counter(self._bytes["in"])
        sent: Counter[str] = Counter(self._bytes["out"])
        failures: Counter[str] = Counter(self._handshake_failures)
        if self._p2p_stats is not None:
            stats = _safe("tenge_p2p_stats", self._p2p_stats)
            if stats is not None:
                for target, source, bound in zip(
                    (received, sent, failures),
                    stats,
                    (self._kinds, self._kinds, self._reasons),
                    strict=True,
                ):
                    for key, n in source.items():
                        target[bound(key)] += n
        for (name, doc, label_name), counts in zip(
            _P2P_COUNTERS, (received, sent, failures), strict=True
        ):
            metric = CounterMetricFamily(name, doc, labels=(label_name,))
            for key, n in sorted(counts.items()):
                metric.add_metric((key,), n)
            yield metric


def _state_cache_families(stats: StateCacheStats) -> Iterator[Metric]:
    for name, doc, value in (
        ("hits", "State reads answered from the store's state cache.", stats.hits),
        ("misses", "State reads that went to LevelDB (not in the state cache).", stats.misses),
        ("evictions", "Entries dropped from the state cache to keep its bound.", stats.evictions),
    ):
        yield CounterMetricFamily(f"tenge_store_state_cache_{name}", doc, value=value)
    for name, doc, value in (
        ("entries", "Entries in the state cache (absent keys included).", stats.entries),
        ("bytes", "Estimated memory the state cache holds.", stats.bytes),
        ("capacity_bytes", "The state cache's bound ([storage] state_cache_mb).", stats.max_bytes),
    ):
        yield GaugeMetricFamily(f"tenge_store_state_cache_{name}", doc, value=value)


def _safe(name: str, source: Callable[[], _T]) -> _T | None:
    try:
        return source()
    except Exception:  # a metrics callback must never break a scrape, let alone the node
        log.exception("metrics callback for %s failed", name)
        return None


def _validator_values(view: ValidatorView) -> dict[str, float]:
    return {
        "tenge_consensus_validators": view.validators,
        "tenge_consensus_validators_power": view.total_power,
        "tenge_consensus_missing_validators": view.missing,
        "tenge_consensus_missing_validators_power": view.missing_power,
        "tenge_consensus_byzantine_validators": view.byzantine,
        "tenge_consensus_byzantine_validators_power": view.byzantine_power,
        "tenge_consensus_validator_power": view.own_power,
        "tenge_p2p_quorum_peers": view.quorum_peers,
    }


def _disk_values(data_dir: Path) -> dict[str, float]:
    values: dict[str, float] = {}
    total = 0
    try:
        for root, _dirs, files in os.walk(data_dir):
            for name in files:
                try:
                    total += os.stat(os.path.join(root, name)).st_size
                except OSError:
                    continue  # LevelDB removed a file between listing and stat
        values["tenge_store_size_bytes"] = total
        usage = shutil.disk_usage(data_dir)
        values["tenge_store_filesystem_avail_bytes"] = usage.free
        values["tenge_store_filesystem_size_bytes"] = usage.total
    except OSError as e:
        log.warning("cannot measure %s: %s", data_dir, e)
    return values


def _gc_pause_family(pauses: list[PauseCounts]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        "tenge_gc_pause_seconds",
        "How long each cyclic garbage collection stopped the node's threads, by generation "
        "(2: a full collection).",
        labels=("generation",),
    )
    for generation, counts in enumerate(pauses):
        cumulative, buckets = 0, []
        for bound, n in zip((*map(str, PAUSE_BUCKETS), "+Inf"), counts.buckets, strict=True):
            cumulative += n
            buckets.append((bound, cumulative))
        family.add_metric((str(generation),), buckets, counts.sum_s)
    return family


async def sample_loop_lag(metrics: NodeMetrics, interval_s: float = LOOP_LAG_INTERVAL_S) -> None:
    """Forever: sleep interval_s and record how late the wake-up came (trio's clock)."""
    while True:
        start = trio.current_time()
        await trio.sleep(interval_s)
        metrics.on_loop_lag(trio.current_time() - start - interval_s)
