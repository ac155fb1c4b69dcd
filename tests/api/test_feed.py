"""CommitFeed: waiters and subscribers hear of blocks only after the store has them."""

from __future__ import annotations

import trio
import trio.testing
from api_support import LocalNode

from node.api import BlockSummary
from node.ledger.txbuild import transfer, tx_id_of


async def test_wait_committed_returns_the_location(local_node: LocalNode) -> None:
    raw = local_node.tx("halyk", transfer(("halyk", "kaspi", "KZT", 1)))
    tx_id = tx_id_of(raw)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            results: list[object] = []

            async def waiter() -> None:
                results.append(await local_node.feed.wait_committed(tx_id, 30))

            nursery.start_soon(waiter)
            await trio.testing.wait_all_tasks_blocked()
            local_node.commit_block([raw])
    [location] = results
    assert location == local_node.store.find_tx(tx_id)
    assert local_node.feed._waiters == {}


async def test_wait_committed_for_a_committed_tx_returns_at_once(local_node: LocalNode) -> None:
    raw = local_node.tx("halyk", transfer(("halyk", "kaspi", "KZT", 1)))
    local_node.commit_block([raw])
    with trio.fail_after(5):
        location = await local_node.feed.wait_committed(tx_id_of(raw), 30)
    assert location is not None
    assert location.height == 1


async def test_wait_committed_times_out_with_none(local_node: LocalNode) -> None:
    with trio.fail_after(5):
        assert await local_node.feed.wait_committed(b"\x01" * 32, 0.05) is None
    assert local_node.feed._waiters == {}


async def test_subscriber_sees_blocks_in_order_and_unsubscribes(local_node: LocalNode) -> None:
    with trio.fail_after(5):
        async with local_node.feed.subscribe() as channel:
            assert local_node.feed.subscriber_count == 1
            first = local_node.commit_block([])
            second = local_node.commit_block([])
            got = [await channel.receive(), await channel.receive()]
        assert got == [first, second]
        assert local_node.feed.subscriber_count == 0
        local_node.commit_block([])  # publishing with no subscriber is fine


async def test_a_full_subscriber_is_dropped(local_node: LocalNode) -> None:
    local_node.feed._buffer = 1
    with trio.fail_after(5):
        async with local_node.feed.subscribe() as channel:
            local_node.commit_block([])
            local_node.commit_block([])  # no room: dropped
            summary = await channel.receive()
            assert isinstance(summary, BlockSummary)
            assert summary.height == 1
            try:
                await channel.receive()
            except trio.EndOfChannel:
                ended = True
            else:
                ended = False
    assert ended
    assert local_node.feed.dropped_subscribers == 1
