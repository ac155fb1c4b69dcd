"""The network's commit capacity (transactions per second), learnt from the commits seen.

The mempool holds a few seconds of this capacity at most (docs/mempool.md, "Room in
time"), so what it admits is committed soon and what it cannot commit soon is refused.
Pure: time comes in as an argument (monotonic seconds), nothing is read from a clock.

Rules this module keeps:

1. Only busy time counts. A block counts when the pool still held transactions right
   after the previous commit: work was waiting during the whole interval between the two
   commits, so that interval measures how fast the network commits, not how fast clients
   send. The first block after an idle pool, the first commit this process sees and blocks
   decided through block sync (a node catching up commits far faster than the network)
   do not count. So idle periods never shrink the estimate: they add nothing to it.
2. Counted blocks fill samples of at least ``sample_s`` seconds of busy time, several
   blocks each. One block's rate is noisy and biased: a block holds what arrived during
   the interval before it, and a node that commits one block late commits the next early
   (on a 4-validator testnet at 3x load, 1-second samples read 1,000-1,500 tx/s while
   the network committed 563). Over consecutive busy blocks the intervals add up to the
   busy time, so a sample's rate, its transactions over its seconds, is what the network
   committed then.
3. The capacity is the highest rate of the last ``samples`` samples (a windowed maximum
   over about ``samples * sample_s`` = 30 seconds of busy time). Under light load a sample
   measures the offered rate, which is below the capacity; the maximum remembers the rate
   of the last busy half-minute, so a pause in the load does not close the pool to the next
   burst. When the network really slows down (a validator down, rounds timing out), the
   estimate follows once the old samples leave the window.
4. Until the first sample closes the capacity is unknown (None): the mempool then holds
   its floor (``[mempool] min_pending_txs``). The floor also lets the estimate grow: a pool
   holding more than the last blocks took gives bigger blocks, which measure a higher rate.
"""

from __future__ import annotations

from collections import deque
from typing import Final

#: Seconds of busy time in one sample.
SAMPLE_S: Final = 5.0
#: Samples the windowed maximum looks at.
SAMPLES: Final = 6


class CommitCapacity:
    """Commit capacity in transactions per second, from (block size, commit time) pairs.

    Args:
        sample_s: seconds of busy time in one sample (rule 2).
        samples: samples the maximum looks at (rule 3).
    """

    def __init__(self, *, sample_s: float = SAMPLE_S, samples: int = SAMPLES) -> None:
        self._sample_s = sample_s
        self._rates: deque[float] = deque(maxlen=max(1, samples))
        self._txs = 0  # the open sample
        self._seconds = 0.0
        self._last_s: float | None = None  # time of the last commit seen
        self._backlog = False  # the pool held transactions after the last commit
        self._tps: float | None = None  # max(self._rates), kept: read on every admission
        self.counted = 0  # blocks that counted, for tests and stats

    @property
    def tps(self) -> float | None:
        """The capacity (transactions per second), or None while unknown."""
        return self._tps

    def observe(self, txs: int, *, now_s: float, pending: int, synced: bool = False) -> None:
        """One block committed.

        Args:
            txs: transactions in the block (refused ones included: they took its room).
            now_s: when this node committed it (monotonic seconds).
            pending: transactions left in the pool after the commit.
            synced: the block was decided through block sync, not by taking part.
        """
        last, self._last_s = self._last_s, now_s
        backlog, self._backlog = self._backlog, pending > 0 and not synced
        if last is None or synced or not backlog:
            return
        self.counted += 1
        self._txs += txs
        self._seconds += max(0.0, now_s - last)
        if self._seconds >= self._sample_s:
            self._rates.append(self._txs / self._seconds)
            self._tps = max(self._rates)
            self._txs, self._seconds = 0, 0.0
