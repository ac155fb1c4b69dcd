"""The one way transactions enter the mempool: API submits, API batches and tx gossip.

Signature verification is the costly part of admission, and the event loop that admits
also runs consensus. So `Admitter.admit` first refuses what cannot fit, then verifies,
slice by slice, and only then runs the (now cheap) ledger check of each transaction.

Rules this module keeps:

0. Refuse before any work. Before a slice is verified, `Mempool.refusals_ahead` answers
   MEMPOOL_FULL (or PEER_SHARE_EXCEEDED) for its new envelopes when their source has no
   room left now (the pool holds its room in time, or the source its share of it); they
   are never verified nor checked. With any room left the slice goes on as below, so at
   most one slice per call is verified beyond the room. At three times
   the network's capacity two of three transactions are refused, and a refusal that cost
   a signature check would take the CPU the commits need (issue 13). `refused_early`
   counts them.
1. A slice holds at most ``slice_txs`` envelopes and ``slice_bytes`` bytes. Its
   envelopes the signature cache does not know are verified in a worker thread when there
   are at least ``thread_min_txs`` of them (PyNaCl releases the GIL: bench/gil_bench.py
   measured 1.85x on two threads and a loop stall of 1.8 ms instead of 457 ms for 5,000
   signatures), inline otherwise (a thread hop costs more than a few verifications). The
   worker threads run at a lower CPU priority (nice 10 on Linux), so on a busy machine
   they take the cores the event loop and consensus leave, not the other way round.
2. The ledger checks that follow run ``check_txs`` at a time, and the loop yields after
   each group so that every task ready then (consensus, P2P, ``/v1/status``) runs before
   the next. One caller runs its group at a time (a fair lock); the others wait
   unscheduled, so a light request waits for one group per scheduling round, not one per
   concurrent batch.
3. The signature cache is written by the loop only: the thread computes outcomes
   (`Ledger.verify_detached`, no shared state) and the loop merges them.
4. At most ``threads`` slices verify at once (a FIFO CapacityLimiter, so concurrent
   batches interleave slice by slice). Each queue (the API, all its clients together; or
   one peer) may have at most ``max_pending_txs`` transactions and ``max_pending_bytes``
   bytes inside `admit` at once. A call that would pass either is refused whole, before
   any work, with `AdmissionBusy`: memory and queued CPU stay bounded, and API floods
   never make the node drop a peer's gossip (nor the reverse).
5. The answers are `Mempool.add`'s, one per input, in input order.
6. No check runs while a block is being committed: between the moment its state reaches
   the store and the moment the mempool has taken its transactions out, a check would see
   the new balances beside pending sums that still count the block's payments, and
   refuse a payment that can be paid. The driver holds `Admitter.checks` for that span.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeVar

import trio

from node.errors import NodeError
from node.ledger import Ledger
from node.mempool import API_SOURCE, Admission, Mempool, is_api_source

SLICE_TXS: Final = 64
SLICE_BYTES: Final = 64 * 1024
THREAD_MIN_TXS: Final = 8
CHECK_TXS: Final = 16  # ~40 us each on a signature-cache hit: < 1 ms between yields
VERIFY_THREADS: Final = 2
MAX_PENDING_TXS: Final = 16_000  # per source
MAX_PENDING_BYTES: Final = 32 * 1024 * 1024  # per source
VERIFY_NICE: Final = 10  # Linux nice value of the verification threads

_T = TypeVar("_T")
_A = TypeVar("_A")


def _lower_priority() -> None:
    """Run this worker thread at a lower CPU priority (Linux: nice is per thread)."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):  # a sandbox may forbid it; verification still works
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), VERIFY_NICE)


class _VerifyPool:
    """Worker threads for signature verification, at a lower CPU priority than the loop.

    Their own threads, not trio's thread cache: a lowered priority cannot be raised back
    without privilege, and the cache also runs the commit's write batch.
    """

    def __init__(self, threads: int) -> None:
        self._executor = ThreadPoolExecutor(
            threads, thread_name_prefix="tenge-verify", initializer=_lower_priority
        )

    async def run(self, fn: Callable[[_A], _T], arg: _A) -> _T:
        """fn(arg) in a worker thread. Not abandoned on cancel: a slice is short."""
        token = trio.lowlevel.current_trio_token()
        finished = trio.Event()
        future = self._executor.submit(fn, arg)
        future.add_done_callback(lambda _: token.run_sync_soon(finished.set))
        with trio.CancelScope(shield=True):
            await finished.wait()
        return future.result()


async def _let_others_run() -> None:
    """Yield so that every task ready now runs before we go on.

    Trio runs each ready task once per scheduling batch, in random order; two
    checkpoints put one whole batch between our two steps.
    """
    await trio.lowlevel.checkpoint()
    await trio.lowlevel.checkpoint()


class AdmissionBusy(NodeError):
    """Too many transactions are waiting for admission; retry later (not the tx's fault)."""


class Admitter:
    """Admits batches of serialized TxEnvelopes to the mempool without stalling the loop.

    Args:
        ledger: whose signature cache `admit` fills ahead of ``mempool.add``.
        mempool: where admitted transactions go (it runs the ledger's check_tx).
        next_height: the height pending transactions would go into (read per slice).
        threads: slices verified at once in worker threads.
        max_pending_txs, max_pending_bytes: what one source may have inside `admit`.
        slice_txs, slice_bytes: the bounds of one slice.
        thread_min_txs: unverified envelopes in a slice from which a thread is used.
        check_txs: ledger checks (``Mempool.add``) run between two yields.
    """

    def __init__(
        self,
        ledger: Ledger,
        mempool: Mempool,
        *,
        next_height: Callable[[], int],
        threads: int = VERIFY_THREADS,
        max_pending_txs: int = MAX_PENDING_TXS,
        max_pending_bytes: int = MAX_PENDING_BYTES,
        slice_txs: int = SLICE_TXS,
        slice_bytes: int = SLICE_BYTES,
        thread_min_txs: int = THREAD_MIN_TXS,
        check_txs: int = CHECK_TXS,
    ) -> None:
        self._ledger = ledger
        self._mempool = mempool
        self._next_height = next_height
        self._limiter = trio.CapacityLimiter(max(1, threads))
        self._pool = _VerifyPool(max(1, threads))
        self._turn = trio.Lock()  # one caller's slice of checks at a time (FIFO)
        self.max_pending_txs = max_pending_txs
        self.max_pending_bytes = max_pending_bytes
        self._slice_txs = max(1, slice_txs)
        self._slice_bytes = slice_bytes
        self._thread_min = thread_min_txs
        self._check_txs = max(1, check_txs)
        self._pending: dict[str, tuple[int, int]] = {}  # source -> (txs, bytes) inside admit
        self.slices = 0  # verified slices so far (threaded or inline), for tests and stats
        self.refused_early = 0  # refused by rule 0, never verified

    @property
    def checks(self) -> trio.Lock:
        """Held while ledger checks run. A commit holds it from its write to the mempool's
        update (rule 6), so no check sees the new state with the old pending sums."""
        return self._turn

    @property
    def pending_txs(self) -> int:
        """Transactions inside `admit` now, from every source."""
        return sum(txs for txs, _ in self._pending.values())

    async def admit(self, raws: Sequence[bytes], *, source: str) -> list[Admission]:
        """Verify the signatures of raws in slices, then add each to the mempool.

        Args:
            raws: serialized TxEnvelopes, judged each on its own.
            source: who sent them, passed to ``Mempool.add``: an API source
                (``node.mempool.api_source``), or the peer id.

        Returns:
            The answer for each, in order: ``Mempool.refusals_ahead``'s refusal, or
            ``Mempool.add``'s answer.

        Raises:
            AdmissionBusy: admitting raws would pass ``max_pending_txs`` or
                ``max_pending_bytes`` of this source's queue; nothing was done.
        """
        queue = API_SOURCE if is_api_source(source) else source
        txs, size = self._pending.get(queue, (0, 0))
        count, nbytes = len(raws), sum(map(len, raws))
        if txs + count > self.max_pending_txs or size + nbytes > self.max_pending_bytes:
            raise AdmissionBusy(
                f"admission queue full ({txs} transactions, {size} bytes waiting from this "
                f"source; limits {self.max_pending_txs}, {self.max_pending_bytes}); retry later"
            )
        self._pending[queue] = (txs + count, size + nbytes)
        try:
            out: list[Admission] = []
            for part in self._slices(raws):
                ahead = self._mempool.refusals_ahead(part, source=source)
                todo = [raw for raw, refused in zip(part, ahead, strict=True) if refused is None]
                self.refused_early += len(part) - len(todo)
                if not todo:  # all refused ahead: nothing to verify nor check
                    out.extend(refused for refused in ahead if refused is not None)
                    await trio.lowlevel.checkpoint()
                    continue
                await self._verify(todo)
                for start in range(0, len(part), self._check_txs):
                    async with self._turn:
                        height = self._next_height()
                        add = self._mempool.add
                        for raw, refused in zip(
                            part[start : start + self._check_txs],
                            ahead[start : start + self._check_txs],
                            strict=True,
                        ):
                            out.append(refused or add(raw, next_height=height, source=source))
                    await _let_others_run()
            return out
        finally:
            txs, size = self._pending.pop(queue)
            if txs > count:
                self._pending[queue] = (txs - count, size - nbytes)

    def _slices(self, raws: Sequence[bytes]) -> Iterator[Sequence[bytes]]:
        start = 0
        while start < len(raws):
            end = start + 1
            size = len(raws[start])
            while end < len(raws) and end - start < self._slice_txs:
                size += len(raws[end])
                if size > self._slice_bytes:
                    break
                end += 1
            yield raws[start:end]
            start = end

    async def _verify(self, part: Sequence[bytes]) -> None:
        """Fill the signature cache for the envelopes of part it does not know."""
        ledger = self._ledger
        todo = ledger.unverified(part, skip_included=True)
        if not todo:
            return
        self.slices += 1
        if len(todo) >= self._thread_min:
            async with self._limiter:
                outcomes = await self._pool.run(ledger.verify_detached, todo)
        else:
            outcomes = ledger.verify_detached(todo)
        ledger.remember_signatures(outcomes)
