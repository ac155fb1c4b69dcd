"""Committed equivocation evidence in ledger state: recorded by execution, listed for the API.

State keys (the ledger's key space, see ``_keys``):

==========================================================  =============================
key                                                         value
==========================================================  =============================
``evid/`` + evidence id                                     ``CommittedEvidence``
``evby/`` + (2^64 - 1 - height) (u64 BE) + index (u32 BE)   evidence id
==========================================================  =============================

The evidence id encodes ``evidence.key``: kind (1 byte: 1 duplicate vote, 2 conflicting
proposal), height (u64 BE), round (u32 BE), vote type or step (1 byte), validator key.
``evby/`` orders by committing height, newest first, so a forward scan lists the latest.
Recorded evidence stays in state for good: it is a record, not a queue. Blocks are judged
(node/evidence.py) before execution, so execution does not verify again.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final, Protocol

import consensus as cs
from node.consensus_codec import decode_evidence, evidence_to_proto
from node.ledger._keys import U64_MAX
from node.ledger._state import Overlay, StateReader, StateScanner
from proto import ledger_pb2 as pb

EVIDENCE: Final = b"evid/"
EVIDENCE_BY_HEIGHT: Final = b"evby/"
MAX_EVIDENCE_PAGE: Final = 100


class EvidenceReader(StateReader, StateScanner, Protocol):
    """Committed state with reads by key and by prefix (``node.store.Store``)."""


_ID = struct.Struct(">BQIB")
_AT = struct.Struct(">QI")
_KINDS: Final = {"duplicate_vote": 1, "conflicting_proposal": 2}


def evidence_id(evidence: cs.Evidence) -> bytes:
    """The state id of evidence: its ``key`` as bytes."""
    kind, validator, height, round_, slot = evidence.key
    return _ID.pack(_KINDS[kind], height, round_, slot) + validator


def evidence_cursor(record: pb.CommittedEvidence) -> str:
    """The pagination cursor of a committed record: "HEIGHT-INDEX"."""
    return f"{record.height}-{record.index}"


def record_evidence(
    ov: Overlay, height: int, evidence: Sequence[cs.Evidence | bytes]
) -> list[cs.Evidence]:
    """Record the evidence of block height that no earlier block committed.

    Returns:
        The newly recorded pieces, in block order (a repeat is ignored, not an error).

    Raises:
        ConsensusCodecError: a bytes item does not decode (block validity refuses such a
            block, so this is the caller's bug).
    """
    recorded: list[cs.Evidence] = []
    for index, item in enumerate(evidence):
        piece = decode_evidence(item) if isinstance(item, bytes) else item
        eid = evidence_id(piece)
        if ov.get_raw(EVIDENCE + eid) is not None:
            continue
        record = pb.CommittedEvidence(evidence=evidence_to_proto(piece), height=height, index=index)
        ov.put_raw(EVIDENCE + eid, record.SerializeToString(deterministic=True))
        ov.put_raw(EVIDENCE_BY_HEIGHT + _AT.pack(U64_MAX - height, index), eid)
        recorded.append(piece)
    return recorded


def get_evidence(state: StateReader, evidence: cs.Evidence) -> pb.CommittedEvidence | None:
    """The committed record of a piece of evidence (by its key), or None."""
    raw = state.get(EVIDENCE + evidence_id(evidence))
    return None if raw is None else pb.CommittedEvidence.FromString(raw)


def list_evidence(
    state: EvidenceReader, *, after: str | None = None, limit: int = MAX_EVIDENCE_PAGE
) -> list[pb.CommittedEvidence]:
    """Committed evidence, newest committing block first, paginated.

    Args:
        state: committed state with a prefix scan (``node.store.Store``).
        after: the cursor of the last record of the previous page (``evidence_cursor``).
        limit: at most this many records (capped at MAX_EVIDENCE_PAGE).

    Raises:
        ValueError: the cursor is malformed.
    """
    start = EVIDENCE_BY_HEIGHT
    if after is not None:
        height, index = _parse_cursor(after)
        start = EVIDENCE_BY_HEIGHT + _AT.pack(U64_MAX - height, index) + b"\x00"
    out: list[pb.CommittedEvidence] = []
    limit = min(limit, MAX_EVIDENCE_PAGE)
    if limit <= 0:
        return out
    for _, eid in state.iter_state(EVIDENCE_BY_HEIGHT, start=start):
        raw = state.get(EVIDENCE + eid)
        if raw is not None:
            out.append(pb.CommittedEvidence.FromString(raw))
        if len(out) >= limit:
            break
    return out


def _parse_cursor(cursor: str) -> tuple[int, int]:
    height_text, sep, index_text = cursor.partition("-")
    if not (sep and height_text.isdigit() and index_text.isdigit()):
        raise ValueError(f"malformed cursor {cursor[:40]!r}")
    height, index = int(height_text), int(index_text)
    if height > U64_MAX or index >= 2**32:
        raise ValueError(f"malformed cursor {cursor[:40]!r}")
    return height, index
