"""The room in time over the real ledger: early refusals, 429 with Retry-After, fairness.

At the mempool's room a newcomer is refused before its signatures are verified (counted by
the Admitter's slices and a counting `verify_detached`); the API answers 429 MEMPOOL_FULL
with the seconds the pool needs to drain; a flooding client leaves room for a light one.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import httpx
import pytest
import trio
from api_support import LocalNode

from node.admission import AdmissionBusy, Admitter
from node.api import create_app
from node.capacity import CommitCapacity
from node.ledger.txbuild import transfer
from node.mempool import Mempool, api_source
from proto import ledger_pb2

PEER = "ab" * 32


def pay(node: LocalNode, amount: int) -> bytes:
    return node.tx("halyk", transfer(("halyk", "kaspi", "KZT", amount)))


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def timed_pool(node: LocalNode, tps: float, **kwargs: object) -> Mempool:
    """A pool holding 4 s of a measured capacity of tps (blocks every half second)."""
    args: dict[str, object] = {"max_txs": 1000, "max_bytes": 1 << 20, "min_pending_txs": 10}
    args.update(kwargs)
    pool = Mempool(node.ledger, max_pending_s=4.0, **args)  # type: ignore[arg-type]
    for n in range(12):
        pool.capacity.observe(int(tps / 2), now_s=n * 0.5, pending=1)
    node.mempool = pool  # the node's admitter follows
    return pool


class Counting:
    """Counts the envelopes the ledger verifies (its thread-side verify_detached)."""

    def __init__(self, node: LocalNode) -> None:
        self.verified = 0
        detached = node.ledger.verify_detached

        def counting(txs: list[tuple[bytes, bytes]]) -> list[tuple[bytes, int]]:
            self.verified += len(txs)
            return detached(txs)

        node.ledger.verify_detached = counting  # type: ignore[method-assign]


async def test_at_the_room_api_and_gossip_are_refused_without_verification(
    local_node: LocalNode,
) -> None:
    pool = timed_pool(local_node, 10.0)  # room 40
    counting = Counting(local_node)
    admitter = local_node.admitter
    pending = [pay(local_node, 1 + n) for n in range(40)]
    assert all(a.added for a in await admitter.admit(pending, source="api"))
    assert counting.verified == 40
    slices = admitter.slices
    offered = [pay(local_node, 100 + n) for n in range(300)]
    refused = await admitter.admit(offered, source="api")
    gossip = await admitter.admit(offered[:100], source=PEER)
    assert {a.code for a in refused + gossip} == {ledger_pb2.MEMPOOL_FULL}
    assert all(a.retry_after_s >= 1 for a in refused)
    assert [a.tx_id for a in refused[:100]] == [a.tx_id for a in gossip]
    assert (counting.verified, admitter.slices) == (40, slices)  # nothing verified
    assert admitter.refused_early == 400
    assert len(pool) == 40
    # Resubmitting a pending one is still answered by the mempool, as before.
    (again,) = await admitter.admit([pending[0]], source="api")
    assert (again.code, again.message) == (ledger_pb2.OK, "already pending")


async def test_one_queue_for_every_api_client_in_the_admission_bound(
    local_node: LocalNode,
) -> None:
    admitter = Admitter(
        local_node.ledger,
        local_node.mempool,
        next_height=lambda: local_node.store.height + 1,
        max_pending_txs=10,
    )
    with pytest.raises(AdmissionBusy):
        await admitter.admit(
            [pay(local_node, 1 + n) for n in range(11)], source=api_source("10.0.0.1")
        )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            partial(admitter.admit, source=api_source("10.0.0.1")),
            [pay(local_node, 100 + n) for n in range(8)],
        )
        while admitter.pending_txs == 0:
            await trio.lowlevel.checkpoint()
        with pytest.raises(AdmissionBusy):
            await admitter.admit(
                [pay(local_node, 200 + n) for n in range(3)], source=api_source("10.0.0.2")
            )


@asynccontextmanager
async def client(local_node: LocalNode, host: str) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP on the node's app from the client address host."""
    transport = httpx.ASGITransport(app=create_app(local_node), client=(host, 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as http:
        yield http


async def test_mempool_full_is_429_with_the_seconds_to_drain(local_node: LocalNode) -> None:
    capacity = CommitCapacity(sample_s=1.0, samples=1)
    pool = timed_pool(local_node, 10.0, capacity=capacity, max_client_share=1.0)  # room 40
    async with client(local_node, "10.0.0.1") as http:
        r = await http.post(
            "/v1/txs/batch", json={"txs": [b64(pay(local_node, n + 1)) for n in range(40)]}
        )
        assert r.json()["admitted"] == 40, r.text
        capacity.observe(0, now_s=6.0, pending=40)  # closes the open sample
        capacity.observe(2, now_s=8.0, pending=40)  # the network slows to 1 tx/s: room 10
        assert pool.room_txs == 10
        r = await http.post("/v1/txs", json={"tx": b64(pay(local_node, 99))})
        assert r.status_code == 429, r.text
        assert r.headers["retry-after"] == "31"  # 31 transactions over, at 1 tx/s
        error = r.json()["error"]
        assert error["code"] == "MEMPOOL_FULL"
        assert "the pool holds 40.0 s" in error["message"]
        assert error["tx_id"]
        # A batch refused whole as full: the request itself is 429, with the error shape.
        r = await http.post(
            "/v1/txs/batch", json={"txs": [b64(pay(local_node, 200 + n)) for n in range(5)]}
        )
        assert r.status_code == 429, r.text
        assert r.headers["retry-after"] == "31"
        assert set(r.json()) == {"error"}
        assert r.json()["error"]["code"] == "MEMPOOL_FULL"
        assert "none of the 5 transactions was admitted" in r.json()["error"]["message"]


async def test_a_light_client_is_admitted_while_another_floods_at_three_times(
    local_node: LocalNode,
) -> None:
    timed_pool(local_node, 10.0)  # room 40; one client may hold 20
    async with client(local_node, "10.0.0.1") as flooder, client(local_node, "10.0.0.2") as light:
        results = []
        for _ in range(3):  # three rooms' worth, in batches
            txs = [b64(pay(local_node, 1000 + n)) for n in range(40)]
            results.append(await flooder.post("/v1/txs/batch", json={"txs": txs}))
        first = results[0].json()
        assert results[0].status_code == 200
        assert first["admitted"] == 20
        refused = [r for r in first["results"] if r["status"] == "refused"]
        assert {r["code"] for r in refused} == {"MEMPOOL_FULL"}
        assert "for this client" in refused[0]["message"]
        assert [r.status_code for r in results[1:]] == [429, 429]
        r = await light.post("/v1/txs", json={"tx": b64(pay(local_node, 7))})
        assert r.status_code == 202, r.text
