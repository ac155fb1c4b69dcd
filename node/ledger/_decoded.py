"""Decoded transactions, kept from admission to execution so each is parsed once per node.

A transaction is decoded and hashed when it is admitted (signature cache look-up, the
duplicate check, check_tx), again at every re-check, and again when its block executes.
`DecodedTxs` keeps what admission decoded, keyed by the serialized envelope, so that the
later steps on the same node reuse it.

Rules this module keeps:

1. A decoded transaction is a pure function of its bytes: looking it up by the exact
   serialized envelope gives what decoding those bytes again would give. Nothing that
   holds one may change it (the protobuf messages are shared).
2. The store is bounded: at most ``max_entries`` (FIFO; the oldest admitted go first).
   A miss only costs the decode it would have cost anyway.
3. Execution takes an entry out (`take`): a block's transactions are done with once it
   executes; a re-check reads without taking (`get`).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Final, NamedTuple

from google.protobuf.message import DecodeError

from proto import ledger_pb2 as pb

# About 2.8 kB each (two protobuf messages and two digests): 8,192 hold the few seconds of
# pending payments the mempool admits at saturation, in about 23 MB.
DEFAULT_DECODED_ENTRIES: Final = 8_192


class DecodedTx(NamedTuple):
    """A serialized TxEnvelope, decoded.

    Attributes:
        envelope: the envelope.
        body: its body, or None when the body bytes are not a TxBody.
        tx_id: SHA-256 of the body bytes.
        envelope_hash: SHA-256 of the serialized envelope (the signature cache's key).
    """

    envelope: pb.TxEnvelope
    body: pb.TxBody | None
    tx_id: bytes
    envelope_hash: bytes


def decode_tx(raw: bytes) -> DecodedTx | None:
    """raw decoded, or None when it is not a TxEnvelope."""
    try:
        envelope = pb.TxEnvelope.FromString(raw)
    except DecodeError:
        return None
    body_bytes = envelope.body  # each read of a bytes field copies it
    try:
        body: pb.TxBody | None = pb.TxBody.FromString(body_bytes)
    except DecodeError:
        body = None
    return DecodedTx(
        envelope, body, hashlib.sha256(body_bytes).digest(), hashlib.sha256(raw).digest()
    )


class DecodedTxs:
    """Decoded transactions by their serialized envelope, bounded (rule 2)."""

    def __init__(self, max_entries: int = DEFAULT_DECODED_ENTRIES) -> None:
        # Oldest first; an OrderedDict evicts in O(1) (a dict's first key is O(n) to find
        # after many removals).
        self._entries: OrderedDict[bytes, DecodedTx] = OrderedDict()
        self._max = max(0, max_entries)
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, raw: bytes) -> DecodedTx | None:
        """raw decoded: remembered, or decoded now and remembered (admission, re-checks).

        None when raw is not a TxEnvelope (not remembered: junk is refused at once).
        """
        entries = self._entries
        found = entries.get(raw)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        decoded = decode_tx(raw)
        if decoded is not None and self._max:
            if len(entries) >= self._max:
                entries.popitem(last=False)
            entries[raw] = decoded
        return decoded

    def take(self, raw: bytes) -> DecodedTx | None:
        """raw decoded, taken out of the store when it was there (execution, rule 3)."""
        found = self._entries.pop(raw, None)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        return decode_tx(raw)
