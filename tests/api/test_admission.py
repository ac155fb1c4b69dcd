"""The admission path (node.admission.Admitter) over the real ledger, mempool and LevelDB."""

from __future__ import annotations

import base64
import hashlib
import itertools
import threading
from pathlib import Path

import httpx
import pytest
import trio
from api_support import LocalNode

from node.admission import AdmissionBusy, Admitter
from node.ledger.txbuild import transfer
from node.mempool import Admission
from proto import ledger_pb2


def pay(node: LocalNode, amount: int, payer: str = "halyk") -> bytes:
    return node.tx(payer, transfer((payer, "kaspi", "KZT", amount)))


def junk(raw: bytes) -> bytes:
    """raw with its (only) signature's last byte flipped: well-formed, does not verify."""
    env = ledger_pb2.TxEnvelope.FromString(raw)
    sig = env.signatures[0]
    sig.signature = sig.signature[:-1] + bytes([sig.signature[-1] ^ 1])
    return env.SerializeToString()


def answers(admissions: list[Admission]) -> list[tuple[int, str, bytes, bool]]:
    return [(a.code, a.message, a.tx_id, a.added) for a in admissions]


async def test_answers_equal_mempool_add_one_by_one(local_node: LocalNode, tmp_path: Path) -> None:
    valid = [pay(local_node, 100 + n) for n in range(100)]
    mix = [
        *valid,
        *(junk(r) for r in valid[:50]),
        pay(local_node, 5, payer="nobody"),
        b"\xff\x01 not an envelope",
        b"x" * 20_000,  # over max_tx_bytes
        valid[0],  # a repeat within the batch
    ]
    got = await local_node.admitter.admit(mix, source="api")
    other = LocalNode(tmp_path / "reference")
    try:
        want = [other.mempool.add(raw, next_height=other.store.height + 1) for raw in mix]
    finally:
        other.close()
    assert answers(got) == answers(want)
    assert len(local_node.mempool) == len(valid)
    assert local_node.admitter.pending_txs == 0


async def test_junk_signatures_are_refused_after_verifying_in_a_thread(
    local_node: LocalNode,
) -> None:
    ledger = local_node.ledger
    threads: set[int] = set()
    detached = ledger.verify_detached

    def recording(txs: list[tuple[bytes, bytes]]) -> list[tuple[bytes, int]]:
        threads.add(threading.get_ident())
        return detached(txs)

    ledger.verify_detached = recording  # type: ignore[method-assign]
    raws = [junk(pay(local_node, 1 + n)) for n in range(300)]
    got = await local_node.admitter.admit(raws, source="api")
    assert {a.code for a in got} == {ledger_pb2.INVALID_SIGNATURE}
    assert {a.message for a in got} == {"signatures[0] does not verify"}
    assert len(local_node.mempool) == 0
    assert threads
    assert threading.get_ident() not in threads
    # The loop merged the thread's outcomes into the cache.
    assert all(ledger.signatures_known(hashlib.sha256(r).digest()) for r in raws)


@pytest.mark.parametrize("thread_min_txs", [1, 10_000], ids=["thread", "inline"])
async def test_another_task_runs_between_slices(local_node: LocalNode, thread_min_txs: int) -> None:
    admitter = Admitter(
        local_node.ledger,
        local_node.mempool,
        next_height=lambda: local_node.store.height + 1,
        slice_txs=32,
        check_txs=32,
        thread_min_txs=thread_min_txs,
    )
    ticks = 0
    seen: list[int] = []  # the ticker's count at each mempool.add
    add = local_node.mempool.add

    def recording_add(raw: bytes, *, next_height: int, source: str = "api") -> Admission:
        seen.append(ticks)
        return add(raw, next_height=next_height, source=source)

    local_node.mempool.add = recording_add  # type: ignore[method-assign]
    raws = [pay(local_node, 1 + n) for n in range(320)]
    async with trio.open_nursery() as nursery:

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await trio.lowlevel.checkpoint()

        nursery.start_soon(ticker)
        await trio.lowlevel.checkpoint()
        got = await admitter.admit(raws, source="api")
        nursery.cancel_scope.cancel()
    assert all(a.added for a in got)
    # Within a group of checks no other task runs; between two groups the ticker always does.
    slices = [seen[i : i + 32] for i in range(0, len(seen), 32)]
    assert len(slices) == 10
    assert all(len(set(s)) == 1 for s in slices)
    firsts = [s[0] for s in slices]
    assert all(b > a for a, b in itertools.pairwise(firsts)), firsts


async def test_slices_are_bounded_by_bytes(local_node: LocalNode) -> None:
    raws = [pay(local_node, 1 + n) for n in range(40)]
    size = max(len(r) for r in raws)
    admitter = Admitter(
        local_node.ledger,
        local_node.mempool,
        next_height=lambda: local_node.store.height + 1,
        slice_bytes=4 * size,
        thread_min_txs=1,
    )
    await admitter.admit(raws, source="api")
    assert admitter.slices == 10
    again = await admitter.admit(raws, source="api")  # all known: no verification at all
    assert admitter.slices == 10
    assert {a.message for a in again} == {"already pending"}


async def test_over_the_pending_bound_a_call_is_refused_whole(local_node: LocalNode) -> None:
    admitter = Admitter(
        local_node.ledger,
        local_node.mempool,
        next_height=lambda: local_node.store.height + 1,
        max_pending_txs=100,
        slice_txs=8,
    )
    with pytest.raises(AdmissionBusy, match=r"admission queue full \(0 transactions.*100,"):
        await admitter.admit([pay(local_node, n + 1) for n in range(101)], source="api")
    assert len(local_node.mempool) == 0
    first = [pay(local_node, 1000 + n) for n in range(80)]
    second = [pay(local_node, 2000 + n) for n in range(30)]
    from_peer = [pay(local_node, 3000 + n) for n in range(30)]
    results: list[list[Admission]] = []

    async def run_first() -> None:
        results.append(await admitter.admit(first, source="api"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_first)
        while admitter.pending_txs == 0:
            await trio.lowlevel.checkpoint()
        with pytest.raises(AdmissionBusy, match=r"\(80 transactions"):
            await admitter.admit(second, source="api")
        # The bound is per source: a peer's gossip still gets in meanwhile.
        assert all(a.added for a in await admitter.admit(from_peer, source="peer-1"))
    assert all(a.added for a in results[0])
    assert admitter.pending_txs == 0
    assert all(a.added for a in await admitter.admit(second, source="api"))
    assert len(local_node.mempool) == 140


async def test_the_pending_bound_counts_bytes_too(local_node: LocalNode) -> None:
    raws = [pay(local_node, n + 1) for n in range(10)]
    admitter = Admitter(
        local_node.ledger,
        local_node.mempool,
        next_height=lambda: local_node.store.height + 1,
        max_pending_bytes=sum(map(len, raws)) - 1,
    )
    with pytest.raises(AdmissionBusy, match="bytes waiting"):
        await admitter.admit(raws, source="api")
    assert len(local_node.mempool) == 0
    assert all(a.added for a in await admitter.admit(raws[:9], source="api"))


async def test_batch_over_the_bound_gets_429_mempool_full(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    local_node.admitter = Admitter(
        local_node.ledger,
        local_node.mempool,
        next_height=lambda: local_node.store.height + 1,
        max_pending_txs=10,
    )
    txs = [base64.b64encode(pay(local_node, n + 1)).decode() for n in range(11)]
    r = await http.post("/v1/txs/batch", json={"txs": txs})
    assert r.status_code == 429, r.text
    assert r.headers["retry-after"] == "1"
    error = r.json()["error"]
    assert error["code"] == "MEMPOOL_FULL"
    assert "admission queue full" in error["message"]
    assert len(local_node.mempool) == 0
    r = await http.post("/v1/txs/batch", json={"txs": txs[:10]})
    assert r.status_code == 200, r.text
    assert r.json()["admitted"] == 10
