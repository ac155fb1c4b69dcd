"""Signature verification with a bounded cache of verified envelopes.

Verification is the ledger's hot path. A node verifies an envelope when the mempool
admits it, and again when a block carrying it executes; the cache makes the second time
free. The cache key is the SHA-256 of the whole envelope bytes, not the tx id: a block may
carry the same body with other signatures. Whether signatures verify depends only on the
envelope bytes and the chain id, never on state, so caching cannot change a result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from node.keys import TX_DOMAIN, sign_bytes, verify
from proto import ledger_pb2

DEFAULT_CACHE_ENTRIES: Final = 200_000


class SignatureCache:
    """Verifies envelope signatures, remembering the outcome for recent envelopes."""

    __slots__ = ("_max_entries", "_prefix", "_results")

    def __init__(self, chain_id: str, max_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        self._prefix = sign_bytes(TX_DOMAIN, chain_id, b"")
        self._max_entries = max(1, max_entries)
        self._results: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self._results)

    def first_invalid(
        self, envelope_hash: bytes, body: bytes, signatures: Sequence[ledger_pb2.Signature]
    ) -> int:
        """Index of the first signature that does not verify over body, or -1 if all do."""
        cached = self._results.get(envelope_hash)
        if cached is not None:
            return cached
        message = self._prefix + body
        result = -1
        for index, sig in enumerate(signatures):
            if not verify(sig.public_key, message, sig.signature):
                result = index
                break
        results = self._results
        while len(results) >= self._max_entries:
            # Evict the oldest entry (dicts keep insertion order). Tolerates another
            # thread evicting at the same time: a lost race costs a re-verification.
            try:
                results.pop(next(iter(results)), None)
            except (StopIteration, RuntimeError):
                break
        results[envelope_hash] = result
        return result
