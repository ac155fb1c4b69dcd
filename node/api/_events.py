"""GET /v1/events: committed blocks as server-sent events.

Rules this module keeps:

1. The stream subscribes before it replays from the store, and skips what it already
   sent, so a client resuming after height H sees every later block once, in order.
2. Nothing is yielded inside a cancel scope (trio's rule for async generators).
3. A subscriber the feed dropped for falling behind gets ``event: dropped`` and the
   stream ends; the client reconnects with ``Last-Event-ID``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import trio

from node.api._facade import BlockSummary, NodeFacade
from node.api._views import code_name
from node.blocks import block_id, decode_block


async def next_block(
    channel: trio.MemoryReceiveChannel[BlockSummary], keepalive_s: float
) -> tuple[BlockSummary | None, bool]:
    """The next committed block of a subscription, or None after keepalive_s of quiet;
    and whether the feed ended it (dropped for falling behind). A coroutine, not part of
    the generator, so that no cancel scope is open across a yield (rule 2)."""
    with trio.move_on_after(keepalive_s):
        try:
            return await channel.receive(), False
        except trio.EndOfChannel:
            return None, True
    return None, False


async def event_stream(facade: NodeFacade, after: int, keepalive_s: float) -> AsyncIterator[str]:
    """Blocks after height `after`: first from the store, then as they commit."""
    store = facade.store
    next_height = after + 1
    async with facade.subscribe() as channel:
        while next_height <= store.height:
            yield _sse_block(_stored_summary(facade, next_height))
            next_height += 1
        yield ": stream of committed blocks\n\n"
        while True:
            summary, ended = await next_block(channel, keepalive_s)
            if ended:
                yield _sse("dropped", {"reason": "too slow; reconnect with Last-Event-ID"})
                return
            if summary is None:
                yield ": keepalive\n\n"
                continue
            while next_height < summary.height:  # catch up on a gap from the store
                yield _sse_block(_stored_summary(facade, next_height))
                next_height += 1
            if summary.height == next_height:
                yield _sse_block(summary)
                next_height += 1


def _stored_summary(facade: NodeFacade, height: int) -> BlockSummary:
    store = facade.store
    raw = store.get_block(height) or b""
    block = decode_block(raw)
    if block is None:
        raise RuntimeError(f"committed block {height} is missing or does not decode")
    return BlockSummary.of(
        height=height,
        block_hash=block_id(raw),
        time_ms=block.header.time_ms,
        receipts=store.get_receipts(height),
    )


def _sse_block(summary: BlockSummary) -> str:
    return _sse(
        "block",
        {
            "height": summary.height,
            "hash": summary.block_hash.hex(),
            "time_ms": summary.time_ms,
            "num_txs": len(summary.txs),
            "txs": [
                {"tx_id": t.hex(), "code": code_name(c), "speaks_for_tx": speaks}
                for t, c, speaks in summary.txs
            ],
        },
        event_id=str(summary.height),
    )


def _sse(event: str, data: Mapping[str, Any], event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
