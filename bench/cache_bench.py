"""The node's bounded caches at their bound: microseconds to add one entry.

Once full, every admitted payment adds an entry to the signature cache (200,000
envelopes), the stateless-check memo (100,000 tx ids) and the decoded-transaction cache
(8,192), each dropping its oldest. Dropping "the oldest" of a plain dict with
``next(iter(d))`` walks past every slot emptied since the dict's last resize, so it costs
more the longer the cache has been full; the caches use ``OrderedDict.popitem``
instead. This prints, for each bound, the cost per entry of both ways, and of the
node's `SignatureCache.remember` and `DecodedTxs.get` themselves.

Run::

    .venv/bin/python -m bench.cache_bench [--ops 50000]

Figures only; nothing here fails on speed.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import OrderedDict

from node.keys import KeyPair
from node.ledger._decoded import DecodedTxs
from node.ledger._verify import SignatureCache
from node.ledger.txbuild import build_tx, sign_envelope, transfer


def _plain_dict_fifo(bound: int, ops: int) -> float:
    entries: dict[bytes, int] = {os.urandom(32): -1 for _ in range(bound)}
    keys = [os.urandom(32) for _ in range(ops)]
    t0 = time.perf_counter()
    for key in keys:
        del entries[next(iter(entries))]
        entries[key] = -1
    return (time.perf_counter() - t0) / ops * 1e6


def _ordered_dict_fifo(bound: int, ops: int) -> float:
    entries: OrderedDict[bytes, int] = OrderedDict((os.urandom(32), -1) for _ in range(bound))
    keys = [os.urandom(32) for _ in range(ops)]
    t0 = time.perf_counter()
    for key in keys:
        entries.popitem(last=False)
        entries[key] = -1
    return (time.perf_counter() - t0) / ops * 1e6


def _signature_cache(bound: int, ops: int) -> float:
    cache = SignatureCache("bench", bound)
    for _ in range(bound):
        cache.remember(os.urandom(32), -1)
    keys = [os.urandom(32) for _ in range(ops)]
    t0 = time.perf_counter()
    for key in keys:
        cache.remember(key, -1)
    return (time.perf_counter() - t0) / ops * 1e6


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
            f"OrderedDict {_ordered_dict_fifo(bound, args.ops):5.2f} us per entry"
        )
    print(f"SignatureCache.remember at 200,000: {_signature_cache(200_000, args.ops):.2f} us")
    print(f"DecodedTxs.get at 8,192, beyond the decode: {_decoded_txs(8_192, args.ops):.2f} us")


if __name__ == "__main__":
    main()
