"""Node's admission wiring: gossip and API batches through the Admitter, real store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from node import core
from node.admission import AdmissionBusy
from node.config import load_config
from node.keys import read_key_file
from node.ledger.txbuild import build_tx, sign_envelope
from node.service import Node
from proto import ledger_pb2
from testnet._init import init_testnet

PEER = "ab" * 32


@pytest.fixture
def node_and_manifest(tmp_path: Path) -> Iterator[tuple[Node, dict[str, Any]]]:
    manifest = init_testnet(tmp_path / "net", validators=1, base_port=21_000)
    node = Node.open(load_config(Path(manifest["nodes"][0]["home"])))
    try:
        yield node, manifest
    finally:
        node.wal.close()
        node.store.close()


def issues(manifest: dict[str, Any], count: int) -> list[bytes]:
    """Signed issues of KZT by the central bank to bank-a, each a distinct transaction."""
    keys = [read_key_file(Path(f)) for f in manifest["accounts"]["central-bank"]["key_files"]]
    chain = manifest["chain_id"]
    banks = [a for a, doc in manifest["accounts"].items() if doc["role"] == "COMMERCIAL_BANK"]
    return [
        sign_envelope(
            build_tx(
                chain,
                "central-bank",
                ledger_pb2.Issue(asset="KZT", to=banks[0], amount=1),
                nonce=n + 1,
                expires_at_height=50,
            ),
            chain,
            keys,
        )
        for n in range(count)
    ]


def overload(node: Node, path: str) -> float | None:
    return node.metrics.registry.get_sample_value("tenge_admission_overload_total", {"path": path})


async def test_gossip_is_admitted_and_not_gossiped_again(
    node_and_manifest: tuple[Node, dict[str, Any]],
) -> None:
    node, manifest = node_and_manifest
    txs = issues(manifest, 20)
    await node._admit_gossip(PEER, txs)
    assert len(node.mempool) == 20
    assert node._gossip_out == []
    # The same transactions from the API: idempotent, nothing new to gossip.
    admissions = await node.submit_batch(txs)
    assert {a.message for a in admissions} == {"already pending"}
    assert node._gossip_out == []
    fresh = issues(manifest, 21)[20:]
    assert (await node.submit(fresh[0])).added
    assert node._gossip_out == fresh


async def test_over_the_bound_gossip_is_dropped_and_the_api_refused_both_counted(
    node_and_manifest: tuple[Node, dict[str, Any]],
) -> None:
    node, manifest = node_and_manifest
    node.admitter.max_pending_txs = 5
    txs = issues(manifest, 6)
    await node._admit_gossip(PEER, txs)
    assert len(node.mempool) == 0
    assert overload(node, "gossip") == 6
    with pytest.raises(AdmissionBusy):
        await node.submit_batch(txs)
    assert overload(node, "api") == 6
    assert len(node.mempool) == 0
    await node._admit_gossip(PEER, txs[:5])
    assert len(node.mempool) == 5


def gauge(node: Node, name: str) -> float | None:
    return node.metrics.registry.get_sample_value(name)


async def test_commits_feed_the_capacity_and_the_room_follows_in_seconds(
    node_and_manifest: tuple[Node, dict[str, Any]], autojump_clock: trio.testing.MockClock
) -> None:
    node, manifest = node_and_manifest
    assert node.mempool.max_pending_s == 4.0
    assert gauge(node, "tenge_mempool_room_txs") == 2000  # unmeasured: min_pending_txs
    assert gauge(node, "tenge_mempool_commit_capacity_tps") == 0
    await node._admit_gossip(PEER, issues(manifest, 20))  # work left after every commit
    for height in range(1, 13):
        await trio.sleep(0.5)
        node.driver._committed(
            core.BlockCommitted(
                height=height,
                round=0,
                block_hash=bytes(32),
                app_hash=bytes(32),
                time_ms=0,
                receipts=(),
                kinds=("transfer",) * 1000,
                synced=False,
                latency_ms=1,
            )
        )
    assert node.mempool.capacity.tps == pytest.approx(2000)
    assert gauge(node, "tenge_mempool_commit_capacity_tps") == pytest.approx(2000)
    assert gauge(node, "tenge_mempool_room_txs") == 8000  # 4 s of 2000 tx/s


async def test_a_commit_holds_the_admission_checks_until_the_mempool_is_updated(
    node_and_manifest: tuple[Node, dict[str, Any]],
) -> None:
    """Between a block's write and the mempool's update, a check would see the new balances
    beside pending sums that still count the block's payments (node/admission.py rule 6)."""
    node, manifest = node_and_manifest
    held: dict[str, list[bool]] = {"write": [], "update": []}
    write, update = node.store.commit_block, node.mempool.update

    def commit_block(commit: Any) -> None:
        held["write"].append(node.admitter.checks.locked())
        write(commit)

    updated = trio.Event()

    def mempool_update(*args: Any, **kwargs: Any) -> int:
        held["update"].append(node.admitter.checks.locked())
        updated.set()
        return update(*args, **kwargs)

    node.store.commit_block = commit_block  # type: ignore[method-assign]
    node.mempool.update = mempool_update  # type: ignore[method-assign]
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(node.driver.run, node.wal.entries)
            admissions = await node.submit_batch(issues(manifest, 3))
            assert all(a.added for a in admissions), admissions
            await updated.wait()
            nursery.cancel_scope.cancel()
    assert node.store.height >= 1
    assert held["write"]
    assert all(held["write"])
    assert held["update"]
    assert all(held["update"])
    assert not node.admitter.checks.locked()
