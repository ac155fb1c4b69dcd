"""Signature verification with a bounded cache of verified envelopes.

Verification is the ledger's hot path. A node verifies an envelope when the mempool
admits it, and again when a block carrying it executes; the cache makes the second time
free. The cache key is the SHA-256 of the whole envelope bytes, not the tx id: a block may
carry the same body with other signatures. Whether signatures verify depends only on the
envelope bytes and the chain id, never on state, so caching cannot change a result.

Threads: the node touches the cache from the event loop only. Work meant for a worker
thread (`Ledger.verify_detached`) computes outcomes with `first_invalid_signature`, which
reads nothing shared, and the loop merges them with `remember`. Should another thread
write anyway, `remember` takes a lock (eviction iterates the dict) and a lookup is one
dict read, atomic under the GIL.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Final

from node.keys import TX_DOMAIN, sign_bytes, verify
from node.ledger._fifo import FifoMap
from proto import ledger_pb2

DEFAULT_CACHE_ENTRIES: Final = 200_000


class SignatureCache:
    """Verifies envelope signatures, remembering the outcome for recent envelopes."""

    __slots__ = ("_lock", "_prefix", "_results")

    def __init__(self, chain_id: str, max_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        self._prefix = sign_bytes(TX_DOMAIN, chain_id, b"")
        self._results: FifoMap[bytes, int] = FifoMap(max_entries)  # oldest dropped first
        self._lock = threading.Lock()

    @property
    def prefix(self) -> bytes:
        """The sign-bytes framing that precedes every body (domain tag and chain id)."""
        return self._prefix

    def __len__(self) -> int:
        return len(self._results)

    def lookup(self, envelope_hash: bytes) -> int | None:
        """The remembered outcome for this envelope (see `first_invalid`), or None."""
        return self._results.get(envelope_hash)

    def remember(self, envelope_hash: bytes, result: int) -> None:
        """Record an outcome computed elsewhere (`first_invalid_signature`)."""
        with self._lock:  # one writer at a time
            self._results.put(envelope_hash, result)

    def first_invalid(
        self, envelope_hash: bytes, body: bytes, signatures: Sequence[ledger_pb2.Signature]
    ) -> int:
        """Index of the first signature that does not verify over body, or -1 if all do."""
        cached = self._results.get(envelope_hash)
        if cached is not None:
            return cached
        result = first_invalid_signature(self._prefix, body, signatures)
        self.remember(envelope_hash, result)
        return result


def first_invalid_signature(
    prefix: bytes, body: bytes, signatures: Sequence[ledger_pb2.Signature]
) -> int:
    """Index of the first signature that does not verify over prefix + body, or -1.

    Touches no shared state, so any thread may run it (libsodium releases the GIL).
    """
    message = prefix + body
    for index, sig in enumerate(signatures):
        if not verify(sig.public_key, message, sig.signature):
            return index
    return -1
