"""A bounded map that forgets its oldest entries first, in O(1) and lean on memory.

A plain dict cannot do this cheaply: finding its first key (``next(iter(d))``) walks past
every slot emptied since the dict last resized, so a full cache pays more per insert the
longer it runs. An OrderedDict evicts in O(1) but doubles the table (about 100 bytes an
entry, 10 MB more for the 200,000 envelopes of the signature cache). Here a dict holds
the values and a deque the keys in insertion order (8 bytes an entry).
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

_K = TypeVar("_K")
_V = TypeVar("_V")


class FifoMap(Generic[_K, _V]):
    """At most ``max_entries`` keys; `put` of a new key past the bound drops the key put
    first. Putting a key that is already there changes its value, not its age.

    Reads (`get`, ``in``, ``len``) are single dict operations, safe while another thread
    puts; puts need one writer at a time.
    """

    __slots__ = ("_map", "_max", "_order")

    def __init__(self, max_entries: int) -> None:
        self._map: dict[_K, _V] = {}
        self._order: deque[_K] = deque()
        self._max = max(1, max_entries)

    def __len__(self) -> int:
        return len(self._map)

    def __contains__(self, key: object) -> bool:
        return key in self._map

    def get(self, key: _K) -> _V | None:
        """The value of key, or None."""
        return self._map.get(key)

    def put(self, key: _K, value: _V) -> None:
        """Set key's value; a new key past the bound drops the oldest first."""
        entries = self._map
        if key in entries:
            entries[key] = value
            return
        order = self._order
        while len(entries) >= self._max:
            del entries[order.popleft()]
        entries[key] = value
        order.append(key)
