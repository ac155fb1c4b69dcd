"""GET /v1/persons/{ref}: one person's accounts across every bank (docs/api.md).

The reference is 64 hex (a keyed hash of a national ID; the API never sees the ID). Today's
outflow is that of the Asia/Almaty day of the last committed block (block time, not the
node's clock), the figure the next block's daily limits start from on that day.
"""

from __future__ import annotations

from typing import Any

from node.api import _errors as e
from node.api._requests import parse_hex32
from node.blocks import decode_block
from node.ledger._keys import almaty_day
from node.ledger._persons import get_person, get_person_outflow
from node.store import Store


def parse_person_ref(text: str) -> bytes:
    """The 32 bytes of a person reference from its 64 hex characters."""
    return parse_hex32(text, "a person reference")


def person_doc(store: Store, ref: bytes) -> dict[str, Any]:
    """The person's record with today's outflow, or NOT_FOUND."""
    record = get_person(store, ref)
    if record is None:
        raise e.not_found(f"no account carries person reference {ref.hex()}")
    day = None
    raw = store.get_block(store.height) if store.height else None
    block = None if raw is None else decode_block(raw)
    if block is not None:
        day = almaty_day(block.header.time_ms)
    return {
        "person_ref": ref.hex(),
        "accounts": list(record.accounts),
        "frozen": record.frozen,
        "frozen_legal_ref": record.frozen_legal_ref,
        "day": day,
        "outflow_today": str(0 if day is None else get_person_outflow(store, ref, day)),
    }
