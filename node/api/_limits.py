"""Bounds on what API clients may hold and ask for: connections, request rates.

Rules this module keeps:

1. No clock and no I/O: every method takes ``now`` (seconds, monotonic); the server
   (``node.api._server``) and the app's gate middleware (``node.api._app``) feed it.
2. Memory stays bounded whatever clients do: at most ``max_connections`` connections are
   tracked, and at most ``max_clients`` rate-limit buckets (the least recently used one is
   dropped first; a dropped client starts again with a full bucket, which costs at most one
   burst).
3. At the connection cap, the connection that has waited longest without a request in
   progress (idle keep-alive, or headers still trickling in) is shed to make room for the
   newcomer, if it has waited at least `SHED_GRACE_S`; otherwise the server may hold the
   newcomer until the one idle longest comes of age (`ConnectionTable.seconds_until_shed`)
   and ask again, then refuse it. A slowloris attacker therefore only ever displaces
   itself, and a client that sends its request at once is served, even just after a stall
   of the node let a burst of the attacker's connections in at one instant; only a flood
   of more than ``max_connections / SHED_GRACE_S`` new connections a second turns
   newcomers away.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Protocol

#: Rate-limit buckets kept at once (about 100 bytes each).
MAX_CLIENTS: Final = 10_000
#: A connection idle for less than this is never shed: a fresh client's request must have
#: time to be read, even while a flood of new connections sheds the older ones.
SHED_GRACE_S: Final = 0.25

# Reasons of ``tenge_api_refused_total`` (docs/monitoring.md).
REFUSED_CONNECTIONS: Final = "max_connections"
REFUSED_CLIENT_CONNECTIONS: Final = "max_connections_per_client"
SHED_IDLE: Final = "shed_idle"
HEAD_TIMEOUT: Final = "head_timeout"
REFUSED_RATE: Final = "rate_limit"
REFUSED_SUBMIT_RATE: Final = "submit_rate_limit"
REFUSAL_REASONS: Final = frozenset(
    {
        REFUSED_CONNECTIONS,
        REFUSED_CLIENT_CONNECTIONS,
        SHED_IDLE,
        HEAD_TIMEOUT,
        REFUSED_RATE,
        REFUSED_SUBMIT_RATE,
    }
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class ApiLimits:
    """The ``[api]`` bounds of config.toml (docs/api.md, "Limits").

    Attributes:
        max_connections: open connections at once, all clients together.
        max_connections_per_client: open connections of one client address.
        idle_timeout_s: a connection without a request in progress (its request headers
            still arriving included) is closed after this.
        requests_per_s: sustained requests per second of one client address.
        burst: requests one client may make at once above that rate.
        submit_txs_per_s: sustained transactions per second one client may submit
            (``POST /v1/txs`` counts one, a batch counts its envelopes).
        submit_burst: transactions one client may submit at once (at least one full batch).
        exempt: client networks free of the per-client bounds (not of ``max_connections``).
        max_clients: rate-limit buckets kept at once.
    """

    max_connections: int = 256
    max_connections_per_client: int = 64
    idle_timeout_s: float = 10.0
    requests_per_s: float = 1000.0
    burst: int = 2000
    submit_txs_per_s: float = 4000.0
    submit_burst: int = 8000
    exempt: tuple[Network, ...] = ()
    max_clients: int = MAX_CLIENTS

    def is_exempt(self, host: str) -> bool:
        """Whether a client address falls in one of the ``exempt`` networks."""
        if not self.exempt:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.exempt)


class ApiObserver(Protocol):
    """Where the API reports what it served and refused (``node.metrics.NodeMetrics``)."""

    def on_api_request(self, route: str, status: int, seconds: float) -> None:
        """A request finished with this status after ``seconds``."""

    def on_api_refused(self, reason: str) -> None:
        """A connection or request was refused, or an idle connection shed, for ``reason``."""

    def on_api_auth_refused(self, scope: str, reason: str) -> None:
        """A request was refused 401 or 403 (docs/api.md, "Access"): the scope its route
        needs and why (``node.api._access.AUTH_REFUSAL_REASONS``)."""


class NullObserver:
    """An observer that records nothing (tests, tools)."""

    def on_api_request(self, route: str, status: int, seconds: float) -> None:
        """Ignore a finished request."""

    def on_api_refused(self, reason: str) -> None:
        """Ignore a refusal."""

    def on_api_auth_refused(self, scope: str, reason: str) -> None:
        """Ignore a refusal for want of a token or scope."""


class RateLimiter:
    """Token buckets keyed by client address, at most ``max_keys`` of them (LRU)."""

    def __init__(self, rate: float, burst: int, max_keys: int = MAX_CLIENTS) -> None:
        if rate <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate, burst and max_keys must be positive")
        self.rate = rate
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, cost: float, now: float) -> float:
        """Take ``cost`` tokens from key's bucket: 0.0 when granted, else the seconds to
        wait before the same request would be granted (nothing is taken then)."""
        cost = min(cost, self.burst)  # a request larger than a burst needs a full bucket
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + max(0.0, now - at) * self.rate)
        wait = 0.0
        if tokens >= cost:
            tokens -= cost
        else:
            wait = (cost - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait


def retry_after(wait_s: float) -> str:
    """The Retry-After header value (whole seconds, at least 1) for a wait."""
    return str(max(1, math.ceil(wait_s)))


@dataclass(slots=True)
class _Connection:
    host: str
    shed: Callable[[], None]
    active: int = 0  # requests in progress (0 or 1 on HTTP/1.1)
    idle_since: float = 0.0
    head_ready: bool = False  # first request head read, its request not started yet


@dataclass(slots=True)
class ConnectionTable:
    """The open connections: admission at accept, request start and end, shedding.

    Connections are keyed by the client's ``(host, port)``, which is unique while the
    connection is open and is also what the ASGI scope calls ``client``.
    """

    limits: ApiLimits
    _open: dict[tuple[str, int], _Connection] = field(default_factory=dict)
    _per_host: dict[str, int] = field(default_factory=dict)
    # Connections without a request in progress, idle longest first (times only grow).
    _idle: OrderedDict[tuple[str, int], None] = field(default_factory=OrderedDict)

    def __len__(self) -> int:
        return len(self._open)

    def admit(
        self, peer: tuple[str, int], shed: Callable[[], None], now: float
    ) -> tuple[bool, str | None]:
        """Decide on a new connection from ``peer``.

        Args:
            peer: the client's (host, port).
            shed: closes this connection; called at most once, if it is shed later.
            now: the time.

        Returns:
            ``(admitted, reason)``: ``(False, REFUSED_*)`` to refuse it; ``(True,
            SHED_IDLE)`` when an idle connection was shed to make room; else ``(True,
            None)``. An admitted connection must be ``release``\\ d when it closes.
        """
        host = peer[0]
        exempt = self.limits.is_exempt(host)
        if not exempt and self._per_host.get(host, 0) >= self.limits.max_connections_per_client:
            return False, REFUSED_CLIENT_CONNECTIONS
        reason = None
        if len(self._open) >= self.limits.max_connections:
            if not self._shed_oldest_idle(now):
                return False, REFUSED_CONNECTIONS
            reason = SHED_IDLE
        self._open[peer] = _Connection(host, shed, idle_since=now)
        self._idle[peer] = None
        self._per_host[host] = self._per_host.get(host, 0) + 1
        return True, reason

    def release(self, peer: tuple[str, int]) -> None:
        """An admitted connection closed (idempotent)."""
        conn = self._open.pop(peer, None)
        if conn is None:
            return
        self._idle.pop(peer, None)
        left = self._per_host[conn.host] - 1
        if left:
            self._per_host[conn.host] = left
        else:
            del self._per_host[conn.host]

    def head_complete(self, peer: tuple[str, int]) -> None:
        """The connection's first request head has arrived: it is busy from now on (its
        ``request_started`` will not count it twice)."""
        conn = self._open.get(peer)
        if conn is not None and not conn.head_ready:
            conn.head_ready = True
            conn.active += 1
            self._idle.pop(peer, None)

    def request_started(self, peer: tuple[str, int] | None) -> None:
        """A request on this connection has its headers and is being served."""
        conn = self._open.get(peer) if peer else None
        if peer is None or conn is None:
            return
        if conn.head_ready:
            conn.head_ready = False  # counted by head_complete
        else:
            conn.active += 1
        self._idle.pop(peer, None)

    def request_finished(self, peer: tuple[str, int] | None, now: float) -> None:
        """That request is answered; the connection is idle again."""
        conn = self._open.get(peer) if peer else None
        if peer is None or conn is None:
            return
        conn.active = max(0, conn.active - 1)
        if conn.active == 0:
            conn.idle_since = now
            self._idle.pop(peer, None)
            self._idle[peer] = None  # now the most recently idle

    def is_idle(self, peer: tuple[str, int]) -> bool:
        """True when the connection is open with no request in progress or announced."""
        conn = self._open.get(peer)
        return conn is not None and conn.active == 0 and not conn.head_ready

    def connections_of(self, host: str) -> int:
        """Open connections of one client address."""
        return self._per_host.get(host, 0)

    def seconds_until_shed(self, now: float) -> float | None:
        """How long until the connection idle longest may be shed for a newcomer: 0.0 if
        it may be now, None if every open connection is busy."""
        if not self._idle:
            return None
        oldest = self._open[next(iter(self._idle))]
        return max(0.0, oldest.idle_since + SHED_GRACE_S - now)

    def _shed_oldest_idle(self, now: float) -> bool:
        if not self._idle:
            return False
        oldest = next(iter(self._idle))
        conn = self._open[oldest]
        if conn.idle_since > now - SHED_GRACE_S:
            return False  # even the one idle longest is too young to shed
        self.release(oldest)
        conn.shed()
        return True


class ApiGate:
    """The limits of one API server, shared by its accept loop and its app.

    ``create_app(..., gate=gate)`` checks the rate limits and reports every request;
    ``serve_api(..., gate=gate)`` admits connections. One gate per server.
    """

    def __init__(
        self,
        limits: ApiLimits | None = None,
        observer: ApiObserver | None = None,
    ) -> None:
        self.limits = limits or ApiLimits()
        self.observer: ApiObserver = observer or NullObserver()
        self.connections = ConnectionTable(self.limits)
        self.requests = RateLimiter(
            self.limits.requests_per_s, self.limits.burst, self.limits.max_clients
        )
        self.submissions = RateLimiter(
            self.limits.submit_txs_per_s, self.limits.submit_burst, self.limits.max_clients
        )

    def check_request(self, host: str | None, now: float) -> float:
        """Charge one request to ``host``: 0.0 if allowed, else seconds to wait."""
        if host is None or self.limits.is_exempt(host):
            return 0.0
        wait = self.requests.take(host, 1.0, now)
        if wait:
            self.observer.on_api_refused(REFUSED_RATE)
        return wait

    def check_submission(self, host: str | None, txs: int, now: float) -> float:
        """Charge ``txs`` submitted transactions to ``host``: 0.0 if allowed, else seconds
        to wait."""
        if host is None or self.limits.is_exempt(host):
            return 0.0
        wait = self.submissions.take(host, float(txs), now)
        if wait:
            self.observer.on_api_refused(REFUSED_SUBMIT_RATE)
        return wait
