"""What the HTTP API needs from the node, and the commit feed that serves waiters and streams.

The API never reaches into the driver or the P2P layer: it sees the node through
`NodeFacade`. `CommitFeed` is a ready implementation of the two commit-driven parts of
that facade (``wait_committed`` and ``subscribe``): the node calls `CommitFeed.publish`
after each block's write batch is durable, and delegates to the feed.

Rules this module keeps:

1. A waiter or a subscriber hears of a block only after ``Store.commit_block`` returned
   (the caller publishes after the write), so nothing is announced before it is durable.
2. ``wait_committed`` registers before it looks at the store, so a commit that lands
   between the two is never missed.
3. Subscribers get bounded channels. One that falls behind by a full buffer is dropped
   (its channel ends) rather than let memory grow; it reconnects from its last height.
4. A waiter wakes only for a receipt that speaks for its tx id (``Receipt.speaks_for_tx``):
   a copy refused for its envelope (a victim's body with junk signatures) never answers a
   ``?wait=commit``; the waiter keeps waiting for the real transaction.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Final, Protocol

import trio

import consensus as cs
from node.ledger import Ledger
from node.mempool import Admission, Mempool
from node.store import Store, TxLocation
from proto import ledger_pb2

log = logging.getLogger("tenge.api")

SUBSCRIBER_BUFFER: Final = 256


@dataclass(frozen=True, slots=True)
class BlockSummary:
    """A committed block as the event stream shows it.

    Attributes:
        height: the block's height.
        block_hash: SHA-256 of its header.
        time_ms: block time from its header (Unix ms).
        txs: (tx id, result code, speaks for the tx) of each transaction, in block order;
            the flag is ``Receipt.speaks_for_tx`` (False: a copy refused for its envelope).
    """

    height: int
    block_hash: bytes
    time_ms: int
    txs: tuple[tuple[bytes, int, bool], ...]

    @classmethod
    def of(
        cls,
        *,
        height: int,
        block_hash: bytes,
        time_ms: int,
        receipts: Sequence[ledger_pb2.Receipt],
    ) -> BlockSummary:
        """The summary of a block from its receipts."""
        txs = tuple((r.tx_id, r.code, r.speaks_for_tx) for r in receipts)
        return cls(height, block_hash, time_ms, txs)


class NodeFacade(Protocol):
    """The node as the HTTP API sees it. The node process implements it.

    Attributes are read-only as far as the API is concerned; plain attributes satisfy
    the protocol as well as properties do.
    """

    @property
    def chain_id(self) -> str: ...

    @property
    def node_id(self) -> str:
        """Hex of the node's P2P public key."""

    @property
    def moniker(self) -> str: ...

    @property
    def is_validator(self) -> bool: ...

    @property
    def store(self) -> Store:
        """The node's store; also the ledger's committed-state reader."""

    @property
    def ledger(self) -> Ledger: ...

    @property
    def mempool(self) -> Mempool: ...

    @property
    def catching_up(self) -> bool:
        """True while the node is syncing blocks from peers."""

    @property
    def signer_status(self) -> Mapping[str, object] | None:
        """A remote signer's state (``up``, ``address``, ``error`` while down); None for a
        file or PKCS#11 signer, or an observer."""

    @property
    def peers(self) -> Sequence[str]:
        """Ids (hex) of the peers connected now."""

    @property
    def last_commit_time(self) -> float | None:
        """``trio.current_time()`` of the last commit this process made, or None."""

    def evidence(self) -> Sequence[cs.Evidence]:
        """Evidence this node holds that no block has committed yet, oldest first
        (``EvidencePool.pending``); the API drops any piece the store shows committed."""
        ...

    async def submit(self, raw: bytes, *, client: str | None = None) -> Admission:
        """Mempool admission of one serialized TxEnvelope, and gossip when admitted.

        client: the API client's key (its address), which holds a share of the mempool's
        room (``node.mempool.api_source``); None for a client without a share.

        Raises:
            node.admission.AdmissionBusy: too much is waiting for admission.
        """
        ...

    async def submit_batch(
        self, raws: Sequence[bytes], *, client: str | None = None
    ) -> list[Admission]:
        """`submit` of each envelope, signatures verified off the event loop, in order.

        Raises:
            node.admission.AdmissionBusy: too much is waiting; none was admitted.
        """
        ...

    async def wait_committed(self, tx_id: bytes, timeout_s: float) -> TxLocation | None:
        """Where tx_id was committed, waiting at most timeout_s; None on timeout."""
        ...

    def subscribe(self) -> AbstractAsyncContextManager[trio.MemoryReceiveChannel[BlockSummary]]:
        """A channel of the blocks committed from now on (see `CommitFeed.subscribe`)."""
        ...


class CommitFeed:
    """Commit waiters and block subscribers, fed by `publish` after each durable commit.

    Args:
        store: where ``wait_committed`` looks for transactions committed already.
        subscriber_buffer: blocks a subscriber may fall behind before it is dropped.
    """

    def __init__(self, store: Store, *, subscriber_buffer: int = SUBSCRIBER_BUFFER) -> None:
        self._store = store
        self._buffer = subscriber_buffer
        self._waiters: dict[bytes, set[trio.Event]] = {}
        self._subscribers: set[trio.MemorySendChannel[BlockSummary]] = set()
        self.dropped_subscribers = 0

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, summary: BlockSummary) -> None:
        """Announce a committed block. Call it after the block's write batch is durable."""
        if self._waiters:
            for tx_id, _, speaks in summary.txs:
                if not speaks:  # rule 4
                    continue
                for event in self._waiters.pop(tx_id, ()):
                    event.set()
        for channel in list(self._subscribers):
            try:
                channel.send_nowait(summary)
            except trio.WouldBlock:
                self._subscribers.discard(channel)
                channel.close()
                self.dropped_subscribers += 1
                log.info("event subscriber dropped: %d blocks behind", self._buffer)
            except trio.BrokenResourceError:
                self._subscribers.discard(channel)

    async def wait_committed(self, tx_id: bytes, timeout_s: float) -> TxLocation | None:
        """Where tx_id was committed, waiting up to timeout_s for it; None on timeout.

        The answer is the tx index entry: the receipt that speaks for tx_id (store rules).
        A settled entry is final and answers at once; a body-only refusal found at the start
        is an earlier verdict (the caller has just had the tx admitted again, e.g. after
        TTL_TOO_LONG or UNKNOWN_ACCOUNT), so the wait is for the next one.
        """
        deadline = trio.current_time() + timeout_s
        event = self._register(tx_id)  # rule 2: before looking at the store
        try:
            earlier = self._store.find_tx(tx_id)
            if earlier is not None and earlier.settled:
                return earlier
            while True:
                with trio.move_on_at(deadline):
                    await event.wait()
                location = self._store.find_tx(tx_id)
                if location != earlier:
                    return location
                if trio.current_time() >= deadline:
                    return None
                self._unregister(tx_id, event)
                event = self._register(tx_id)
        finally:
            self._unregister(tx_id, event)

    def _register(self, tx_id: bytes) -> trio.Event:
        event = trio.Event()
        self._waiters.setdefault(tx_id, set()).add(event)
        return event

    def _unregister(self, tx_id: bytes, event: trio.Event) -> None:
        waiting = self._waiters.get(tx_id)
        if waiting is not None:
            waiting.discard(event)
            if not waiting:
                del self._waiters[tx_id]

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[trio.MemoryReceiveChannel[BlockSummary]]:
        """A bounded channel of blocks committed while the context is open.

        The channel ends (``EndOfChannel``) if the subscriber falls a full buffer behind.
        """
        send, receive = trio.open_memory_channel[BlockSummary](self._buffer)
        self._subscribers.add(send)
        try:
            async with receive:
                yield receive
        finally:
            self._subscribers.discard(send)
            send.close()
