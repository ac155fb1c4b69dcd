"""The node's bounded caches at their bound: microseconds to add one entry, and memory.

Once full, every admitted payment adds an entry to the signature cache (200,000
envelopes), the stateless-check memo (100,000 tx ids) and the decoded-transaction cache
(8,192), each dropping its oldest. Dropping "the oldest" of a plain dict with
``next(iter(d))`` walks past every slot emptied since the dict's last resize, so it costs
more the longer the cache has been full. The first two use `FifoMap` (a dict and a deque
of keys), the third an OrderedDict. This prints, for each bound, the cost per entry of a
plain dict, an OrderedDict and a FifoMap, the memory of each at 200,000 entries (keys
excluded), and the cost of the node's `SignatureCache.remember` and `DecodedTxs.get`.

Run::

    .venv/bin/python -m bench.cache_bench [--ops 50000]

Figures only; nothing here fails on speed.
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc
from collections import OrderedDict
from collections.abc import Callable

from node.keys import KeyPair
from node.ledger._decoded import DecodedTxs
from node.ledger._fifo import FifoMap
from node.ledger._verify import SignatureCache
from node.ledger.txbuild import build_tx, sign_envelope, transfer


def _per_new_key_us(put: Callable[[bytes], None], bound: int, ops: int) -> float:
    """Microseconds per `put` of a new 32-byte key into a structure filled to `bound`."""
    for _ in range(bound):
        put(os.urandom(32))
    keys = [os.urandom(32) for _ in range(ops)]
    t0 = time.perf_counter()
    for key in keys:
        put(key)
    return (time.perf_counter() - t0) / ops * 1e6


def _plain_dict_fifo(bound: int, ops: int) -> float:
    entries: dict[bytes, int] = {}

    def put(key: bytes) -> None:
        if len(entries) >= bound:
            del entries[next(iter(entries))]
        entries[key] = -1

    return _per_new_key_us(put, bound, ops)


def _ordered_dict_fifo(bound: int, ops: int) -> float:
    entries: OrderedDict[bytes, int] = OrderedDict()

    def put(key: bytes) -> None:
        if len(entries) >= bound:
            entries.popitem(last=False)
        entries[key] = -1

    return _per_new_key_us(put, bound, ops)


def _fifo_map(bound: int, ops: int) -> float:
    entries: FifoMap[bytes, int] = FifoMap(bound)
    return _per_new_key_us(lambda key: entries.put(key, -1), bound, ops)


def _signature_cache(bound: int, ops: int) -> float:
    cache = SignatureCache("bench", bound)
    return _per_new_key_us(lambda key: cache.remember(key, -1), bound, ops)


def _memory_mb(kind: str, entries: int) -> float:
    """Bytes (MiB) a structure takes for `entries` 32-byte keys already in memory."""
    keys = [os.urandom(32) for _ in range(entries)]
    tracemalloc.start()
    if kind == "dict":
        held: object = dict.fromkeys(keys, -1)
    elif kind == "OrderedDict":
        held = OrderedDict.fromkeys(keys, -1)
    else:
        fifo: FifoMap[bytes, int] = FifoMap(entries)
        for key in keys:
            fifo.put(key, -1)
        held = fifo
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del held
    return size / 2**20


def _decoded_txs(bound: int, ops: int) -> float:
    """Per get of a new envelope at the bound, less the decode itself."""
    key = KeyPair.from_seed(b"\x05" * 32)
    raws = [
        sign_envelope(
            build_tx("bench", "a", transfer(("a", "b", "KZT", 1)), nonce=n, expires_at_height=9),
            "bench",
            [key],
        )
        for n in range(bound + ops)
    ]
    cache = DecodedTxs(bound)
    for raw in raws[:bound]:
        cache.get(raw)
    t0 = time.perf_counter()
    for raw in raws[bound:]:
        cache.get(raw)
    with_cache = time.perf_counter() - t0
    fresh = DecodedTxs(0)
    t0 = time.perf_counter()
    for raw in raws[bound:]:
        fresh.get(raw)
    return (with_cache - (time.perf_counter() - t0)) / ops * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--ops", type=int, default=50_000, help="entries added at the bound")
    args = parser.parse_args()
    for bound in (8_192, 100_000, 200_000):
        print(
            f"bound {bound:>7,}: plain dict {_plain_dict_fifo(bound, args.ops):6.2f} us, "
            f"OrderedDict {_ordered_dict_fifo(bound, args.ops):5.2f} us, "
            f"FifoMap {_fifo_map(bound, args.ops):5.2f} us per entry"
        )
    sizes = {kind: _memory_mb(kind, 200_000) for kind in ("dict", "OrderedDict", "FifoMap")}
    print("memory at 200,000 entries: " + ", ".join(f"{k} {v:.1f} MiB" for k, v in sizes.items()))
    print(f"SignatureCache.remember at 200,000: {_signature_cache(200_000, args.ops):.2f} us")
    print(f"DecodedTxs.get at 8,192, beyond the decode: {_decoded_txs(8_192, args.ops):.2f} us")


if __name__ == "__main__":
    main()
