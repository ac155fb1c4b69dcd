"""How long the interpreter's cyclic garbage collector stops the node, by generation.

A collection runs inside whichever thread allocated past the threshold, holding the
GIL, so consensus, P2P and the API all wait for it; a full (generation 2) collection
walks every tracked object and grows with the heap. `GcPauses.install` hooks
``gc.callbacks``; ``tenge_gc_pause_seconds`` (node/metrics.py) exports what it counted.

The callback only does arithmetic on its own lists: no lock, no allocation of note, no
call into prometheus_client, since a collection may start while any thread is inside
any of those.
"""

from __future__ import annotations

import bisect
import gc
import time
from dataclasses import dataclass
from typing import Any, Final

#: Upper bounds of the pause histogram, in seconds.
PAUSE_BUCKETS: Final = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
GENERATIONS: Final = 3


@dataclass(frozen=True, slots=True)
class PauseCounts:
    """Pauses of one generation: per-bucket counts (not cumulative; the last is +Inf),
    their number and their total seconds."""

    buckets: tuple[int, ...]
    count: int
    sum_s: float


class GcPauses:
    """Counts the collector's pauses per generation once `install`\\ ed."""

    def __init__(self) -> None:
        self._buckets = [[0] * (len(PAUSE_BUCKETS) + 1) for _ in range(GENERATIONS)]
        self._sums = [0.0] * GENERATIONS
        self._started = 0.0
        self._installed = False

    def install(self) -> None:
        """Start counting (idempotent)."""
        if not self._installed:
            gc.callbacks.append(self._on_gc)
            self._installed = True

    def uninstall(self) -> None:
        """Stop counting (idempotent)."""
        if self._installed:
            gc.callbacks.remove(self._on_gc)
            self._installed = False

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.record(int(info.get("generation", 0)), time.perf_counter() - self._started)

    def record(self, generation: int, seconds: float) -> None:
        """Count one pause of `seconds` in `generation` (0 to 2)."""
        generation = min(max(generation, 0), GENERATIONS - 1)
        self._buckets[generation][bisect.bisect_left(PAUSE_BUCKETS, seconds)] += 1
        self._sums[generation] += seconds

    def counts(self) -> list[PauseCounts]:
        """What each generation counted so far, generation 0 first."""
        return [
            PauseCounts(tuple(buckets), sum(buckets), total)
            for buckets, total in zip(self._buckets, self._sums, strict=True)
        ]


#: The process's recorder: the collector is one per process, whatever runs in it.
PROCESS_PAUSES: Final = GcPauses()
