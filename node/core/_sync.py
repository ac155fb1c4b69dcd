"""Block sync: whom a lagging node asks for which block, what it accepts, whom it gives up on.

Rules this module keeps (all time comes in as arguments):

1. A peer's height claim is believed for ``claim_ttl_ms`` after its last status message and
   dies with the peer. Every age is checked on both sides (0 <= age <= bound), so a clock
   set back never makes a claim or a request live for ever. Claims only decide whom to
   ask; they never prove anything.
2. At most ``window`` heights are requested at once, each from one peer. A response is
   accepted only for a height we asked for, from the peer we asked; anything else is counted
   and ignored, so a later junk answer can never overwrite a good one.
3. A request that times out, or an answer that fails verification, costs that peer one
   penalty and the height is asked again from ANOTHER peer that claims it (rotating through
   the candidates, fewest penalties first). A peer with ``max_penalties`` is dropped.
4. "Catching up" needs more than one peer's word: f + 1 live claims ahead of us, or one live
   claim ahead while the blocks we sync keep verifying.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import consensus as cs
from node.core._events import PeerId

UNSOLICITED_BLOCK: Final = "UNSOLICITED_BLOCK"
BAD_SYNC_BLOCK: Final = "BAD_SYNC_BLOCK"
SYNC_TIMEOUT: Final = "SYNC_TIMEOUT"
MISSING_BLOCK: Final = "MISSING_BLOCK"


@dataclass(frozen=True, slots=True)
class SyncParams:
    """Bounds of block sync (milliseconds and counts)."""

    window: int = 8
    request_timeout_ms: int = 5_000
    claim_ttl_ms: int = 10_000
    max_penalties: int = 3
    verified_progress_ms: int = 10_000


@dataclass(slots=True)
class _Claim:
    height: int
    at_ms: int


@dataclass(slots=True)
class _Request:
    peer: PeerId
    sent_ms: int


@dataclass(frozen=True, slots=True)
class SyncedBlock:
    """An answer we asked for, waiting for its height to come up."""

    height: int
    value: bytes
    certificate: cs.CommitCertificate
    peer: PeerId


@dataclass(slots=True)
class BlockSync:
    """The block-sync bookkeeping of one node."""

    params: SyncParams = field(default_factory=SyncParams)
    _claims: dict[PeerId, _Claim] = field(default_factory=dict)
    _penalties: dict[PeerId, int] = field(default_factory=dict)
    _pending: dict[int, _Request] = field(default_factory=dict)
    _tried: dict[int, set[PeerId]] = field(default_factory=dict)
    _ready: dict[int, SyncedBlock] = field(default_factory=dict)
    _last_verified_ms: int | None = None
    unsolicited: int = 0

    # ---- claims

    def on_status(self, peer: PeerId, height: int, now_ms: int) -> None:
        """Record peer's claim of its latest height."""
        self._claims[peer] = _Claim(height, now_ms)

    def forget(self, peer: PeerId) -> None:
        """The peer is gone: its claims, requests and penalties go with it."""
        self._claims.pop(peer, None)
        self._penalties.pop(peer, None)
        for height in [h for h, r in self._pending.items() if r.peer == peer]:
            del self._pending[height]
        for height in [h for h, b in self._ready.items() if b.peer == peer]:
            del self._ready[height]

    def _live_claims(self, now_ms: int) -> dict[PeerId, int]:
        ttl = self.params.claim_ttl_ms
        return {p: c.height for p, c in self._claims.items() if 0 <= now_ms - c.at_ms <= ttl}

    def catching_up(self, our_height: int, now_ms: int, *, f_plus_one: int) -> bool:
        """Whether this node is behind the network (rule 4)."""
        ahead = [h for h in self._live_claims(now_ms).values() if h > our_height + 1]
        if len(ahead) >= f_plus_one:
            return True
        recent = self._last_verified_ms
        return (
            bool(ahead)
            and recent is not None
            and 0 <= now_ms - recent <= self.params.verified_progress_ms
        )

    # ---- requests

    def expire(self, our_height: int, now_ms: int) -> list[tuple[PeerId, str, str]]:
        """Forget what is below our height; return (peer, code, detail) for timed-out requests.

        Call it before ``requests`` so the timed-out peers' penalties already count there.
        """
        for book in (self._pending, self._ready, self._tried):
            for height in [h for h in book if h <= our_height]:
                del book[height]
        penalties: list[tuple[PeerId, str, str]] = []
        for height, request in list(self._pending.items()):
            # A clock set back makes a request look sent in the future: it has expired too.
            if not 0 <= now_ms - request.sent_ms <= self.params.request_timeout_ms:
                del self._pending[height]
                penalties.append((request.peer, SYNC_TIMEOUT, f"no answer for block {height}"))
        return penalties

    def requests(self, our_height: int, now_ms: int) -> list[tuple[PeerId, int]]:
        """The (peer, height) requests to send now (rules 2 and 3)."""
        claims = self._live_claims(now_ms)
        best = max(claims.values(), default=0)
        out: list[tuple[PeerId, int]] = []
        for height in range(our_height + 1, min(best, our_height + self.params.window) + 1):
            if height in self._pending or height in self._ready:
                continue
            peer = self._choose(height, claims)
            if peer is None:
                continue
            self._pending[height] = _Request(peer, now_ms)
            self._tried.setdefault(height, set()).add(peer)
            out.append((peer, height))
        return out

    def _choose(self, height: int, claims: dict[PeerId, int]) -> PeerId | None:
        candidates = [p for p, h in claims.items() if h >= height]
        if not candidates:
            return None
        tried = self._tried.get(height, set())
        fresh = [p for p in candidates if p not in tried]
        if not fresh:  # everyone was asked once: start another rotation
            self._tried[height] = set()
            fresh = candidates
        return min(fresh, key=lambda p: (self._penalties.get(p, 0), p))

    # ---- answers

    def on_response(
        self,
        peer: PeerId,
        height: int,
        value: bytes | None,
        certificate: cs.CommitCertificate | None,
        value_id: Callable[[bytes], bytes],
    ) -> tuple[str, str] | None:
        """Take an answer; returns a (code, detail) penalty for the peer, or None.

        value_id computes the codec's id of a value; it runs only for an answer we asked for.
        """
        request = self._pending.get(height)
        if request is None or request.peer != peer:
            self.unsolicited += 1
            return None  # not asked for, or asked of someone else: ignored (rule 2)
        del self._pending[height]
        if value is None:
            claim = self._claims.get(peer)
            if claim is not None and claim.height >= height:
                claim.height = height - 1  # it claimed a height it cannot serve
            return (MISSING_BLOCK, f"claimed but lacks block {height}")
        if certificate is None or certificate.height != height:
            return (BAD_SYNC_BLOCK, f"block {height}: no usable certificate")
        if certificate.block_hash != value_id(value):
            return (BAD_SYNC_BLOCK, f"block {height}: certificate is for another block")
        self._ready[height] = SyncedBlock(height, value, certificate, peer)
        return None

    def take(self, height: int) -> SyncedBlock | None:
        """The accepted answer for height, removed from the buffer."""
        return self._ready.pop(height, None)

    def verified(self, peer: PeerId, now_ms: int) -> None:
        """A synced block from peer verified and was decided: its penalties are forgiven."""
        self._last_verified_ms = now_ms
        self._penalties.pop(peer, None)

    def penalise(self, peer: PeerId) -> bool:
        """Count one penalty against peer; True when it has reached the limit."""
        count = self._penalties.get(peer, 0) + 1
        self._penalties[peer] = count
        return count >= self.params.max_penalties

    @property
    def pending_heights(self) -> list[int]:
        """Heights requested and not yet answered (for tests and status)."""
        return sorted(self._pending)
