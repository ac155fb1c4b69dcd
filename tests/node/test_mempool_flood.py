"""Real processes: a 1-tiyn account floods the mempool with payments (issue 11, item 4).

The attack as reported: an account holding 1 tiyn sent 2,000 payments to one node; each
passed admission against committed state alone, the pool filled, an honest payment got
MEMPOOL_FULL and the next block held hundreds of INSUFFICIENT_FUNDS receipts. With the
pending outflows counted, each node holds at most one payment of that account while it
holds 1 tiyn, so the pool stays open and a block carries at most one of them.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import trio
from network_support import Network, running_network

from node.ledger.txbuild import tx_id_of

SPAM = 2000
#: Small enough that 2,000 payments admitted on committed state alone would fill it.
POOL_TXS = 500
SPAMMER, HONEST, PAYEE = "bank-b", "bank-a", "bank-c"


def _small_pools(net: Network) -> None:
    for node in net.nodes:
        config = Path(node["home"]) / "config.toml"
        text, n = re.subn(r"(?m)^max_txs = \d+$", f"max_txs = {POOL_TXS}", config.read_text())
        assert n == 1, "config.toml has no [mempool] max_txs line"
        config.write_text(text)


async def _flood_batches(
    net: Network, spam: list[bytes], honest: bytes, codes: Counter[str]
) -> str:
    """Most of the spam to node 0 through the batch endpoint, the rest one by one.

    The honest payment rides at the end of the first batch: a batch is admitted in one go,
    so it meets the pool exactly as the spam left it, before any block could drain it.

    Returns:
        The honest payment's answer in its batch: "pending" or the refusal code.
    """
    honest_answer = ""
    batches = [[*spam[:999], honest], spam[999:1900]]
    for batch in batches:
        txs = [base64.b64encode(raw).decode() for raw in batch]
        r = await net.http.post(net.api(0) + "/v1/txs/batch", json={"txs": txs})
        assert r.status_code == 200, r.text
        for raw, result in zip(batch, r.json()["results"], strict=True):
            if raw is honest:
                honest_answer = result.get("code", result["status"])
            else:
                codes[result.get("code", "OK")] += 1
    for raw in spam[1900:]:
        r = await net.submit(0, raw)
        codes["OK" if r.status_code == 202 else r.json()["error"]["code"]] += 1
    return honest_answer


async def _flood_singles(net: Network, index: int, spam: list[bytes], codes: Counter[str]) -> None:
    for raw in spam:
        r = await net.submit(index, raw)
        codes["OK" if r.status_code == 202 else r.json()["error"]["code"]] += 1


async def _committed(net: Network, tx_id: str) -> dict[str, Any]:
    """Poll node 0 until tx_id is committed; its document."""
    while True:
        tx: dict[str, Any] = await net.get(0, f"/v1/txs/{tx_id}")
        if tx["status"] == "committed":
            return tx
        await trio.sleep(0.1)


@contextmanager
def _within(seconds: float, what: str) -> Iterator[None]:
    """Bound one phase of the test; say which one ran out of time."""
    with trio.move_on_after(seconds) as scope:
        yield
    assert not scope.cancelled_caught, f"{what}: not done within {seconds} s"


async def test_a_1_tiyn_account_cannot_fill_the_mempool_nor_blocks(tmp_path: Path) -> None:
    with trio.fail_after(300):
        async with running_network(tmp_path, prepare=_small_pools) as net:
            with _within(60, "funding the spammer and the honest payer"):
                await net.issue(SPAMMER, 1)
                await net.issue(HONEST, 1_000_000)
            first = await net.height(0) + 1
            expires = first + 300
            spam = [net.payment(SPAMMER, PAYEE, 1, expires_at_height=expires) for _ in range(SPAM)]
            # It reaches every node: the 2,000 at node 0, and 30 each at the other three.
            others = [
                [net.payment(SPAMMER, PAYEE, 1, expires_at_height=expires) for _ in range(30)]
                for _ in net.nodes[1:]
            ]
            spam_ids = {tx_id_of(raw).hex() for raw in [*spam, *(s for o in others for s in o)]}
            honest = net.payment(HONEST, PAYEE, 250_000, expires_at_height=expires)
            codes: Counter[str] = Counter()
            answers: list[str] = []

            async def flood_node_0() -> None:
                answers.append(await _flood_batches(net, spam, honest, codes))

            with _within(90, "the flood"):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(flood_node_0)
                    for index, batch in enumerate(others, start=1):
                        nursery.start_soon(_flood_singles, net, index, batch, codes)
            reached = len(net.nodes)
            assert codes["MEMPOOL_FULL"] == 0, codes
            # While it holds 1 tiyn a node admits one of its payments; once that one is
            # committed the ledger refuses the rest. Nothing else gets in.
            assert 1 <= codes["OK"] <= reached, codes
            assert set(codes) <= {"OK", "PENDING_FUNDS_EXCEEDED", "INSUFFICIENT_FUNDS"}, codes
            assert codes["PENDING_FUNDS_EXCEEDED"] >= 1, codes  # the new rule did the refusing
            assert sum(codes.values()) == SPAM + sum(len(o) for o in others), codes

            # The honest payment was admitted in the middle of the flood, and commits OK.
            assert answers == ["pending"], answers
            honest_id = tx_id_of(honest).hex()
            tx: dict[str, Any] = {}
            with _within(30, "the honest payment's commit"):
                tx = await _committed(net, honest_id)
            assert tx["code"] == "OK", tx

            # Two more blocks, so that whatever was still pending has had its chance.
            top = await net.height(0)
            with _within(30, "two more blocks"):
                await net.wait_height(top + 2, nodes=[0])
            top = await net.height(0)
            failed_total = 0
            for height in range(first, top + 1):
                block = await net.block(0, height)
                mine = [t for t in block["txs"] if t["tx_id"] in spam_ids]
                failed = [t for t in mine if t["code"] != "OK"]
                # A proposer's pool holds at most one payment of the 1-tiyn account.
                assert len(mine) <= 1, (height, mine)
                failed_total += len(failed)
            # At most one pending copy per node it reached; one of them pays.
            assert failed_total <= reached - 1, failed_total
            account = await net.get(0, f"/v1/accounts/{SPAMMER}")
            assert int(account["balances"].get("KZT", "0")) == 0
            payee = await net.get(0, f"/v1/accounts/{PAYEE}")
            assert int(payee["balances"]["KZT"]) == 250_001
