"""A junk-signature copy of a pending payment answers nobody (issue 11 item 5).

``?wait=commit`` keeps waiting through the block that holds the copy and answers with the
real transaction's receipt; ``GET /v1/txs/{id}`` shows it pending, then settled; the
event stream marks the copy as speaking for nothing.
"""

from __future__ import annotations

import base64

import httpx
import trio
from api_support import LocalNode

from node.ledger.txbuild import transfer, tx_id_of
from proto import ledger_pb2


def _junk_copy(raw: bytes) -> bytes:
    envelope = ledger_pb2.TxEnvelope.FromString(raw)
    sig = bytearray(envelope.signatures[0].signature)
    sig[-1] ^= 0x01
    envelope.signatures[0].signature = bytes(sig)
    return envelope.SerializeToString()


async def test_wait_commit_and_get_tx_answer_with_the_real_receipt(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    real = local_node.tx("halyk", transfer(("halyk", "kaspi", "KZT", 100)))
    tx_id = tx_id_of(real).hex()
    answer: list[httpx.Response] = []
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:

            async def wait_for_commit() -> None:
                r = await http.post(
                    "/v1/txs",
                    params={"wait": "commit", "timeout": "8"},
                    json={"tx": base64.b64encode(real).decode()},
                )
                answer.append(r)

            nursery.start_soon(wait_for_commit)
            await local_node.waiting.wait()
            junk_block = local_node.commit_block([_junk_copy(real)])  # a Byzantine proposer's
            assert [(c, s) for _, c, s in junk_block.txs] == [(ledger_pb2.INVALID_SIGNATURE, False)]
            await trio.sleep(0.05)  # a waiter woken by the copy would answer now
            assert not answer, f"wait=commit answered for the junk copy: {answer[0].text}"
            shown = await http.get(f"/v1/txs/{tx_id}")
            assert shown.status_code == 200
            assert shown.json()["status"] == "pending", shown.text
            block = (await http.get(f"/v1/blocks/{junk_block.height}")).json()
            assert block["txs"] == [
                {"index": 0, "tx_id": tx_id, "code": "INVALID_SIGNATURE", "speaks_for_tx": False}
            ]
            assert tx_id_of(real) in local_node.mempool, "the real payment must stay pending"
            settled = local_node.commit_block()  # an honest proposer reaps the real one
    assert settled.height == junk_block.height + 1
    (r,) = answer
    assert r.status_code == 200, r.text
    expected = {"status": "committed", "height": settled.height, "index": 0, "code": "OK"}
    assert {k: r.json()[k] for k in expected} == expected
    shown = (await http.get(f"/v1/txs/{tx_id}")).json()
    assert {k: shown[k] for k in expected} == expected
    statement = (await http.get("/v1/accounts/halyk/transactions")).json()
    assert [e["height"] for e in statement["transactions"]] == [settled.height]


async def test_an_earlier_body_refusal_does_not_answer_the_resubmission(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    """TTL_TOO_LONG in a faulty proposer's block, then the same body admitted in time."""
    early = local_node.tx("halyk", transfer(("halyk", "kaspi", "KZT", 100)), expires=55)
    tx_id = tx_id_of(early).hex()
    refused = local_node.commit_block([early])  # height 1: 55 - 1 > max_tx_ttl 50
    assert [(c, s) for _, c, s in refused.txs] == [(ledger_pb2.TTL_TOO_LONG, True)]
    assert (await http.get(f"/v1/txs/{tx_id}")).json()["code"] == "TTL_TOO_LONG"
    for _ in range(4):
        local_node.commit_block([])  # height 5: now within the TTL
    answer: list[httpx.Response] = []
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:

            async def wait_for_commit() -> None:
                r = await http.post(
                    "/v1/txs",
                    params={"wait": "commit", "timeout": "8"},
                    json={"tx": base64.b64encode(early).decode()},
                )
                answer.append(r)

            nursery.start_soon(wait_for_commit)
            await local_node.waiting.wait()
            await trio.sleep(0.05)
            assert not answer, f"answered with the earlier verdict: {answer[0].text}"
            assert (await http.get(f"/v1/txs/{tx_id}")).json()["status"] == "pending"
            settled = local_node.commit_block()
    (r,) = answer
    expected = {"status": "committed", "height": settled.height, "code": "OK"}
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in expected} == expected
    shown = (await http.get(f"/v1/txs/{tx_id}")).json()
    assert {k: shown[k] for k in expected} == expected
