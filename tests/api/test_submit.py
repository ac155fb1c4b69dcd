"""POST /v1/txs: admission, ?wait=commit, refusals with the ledger's codes."""

from __future__ import annotations

import base64

import httpx
import trio
from api_support import LocalNode, key

from node.ledger.txbuild import transfer, tx_id_of
from node.mempool import Mempool


def body(raw: bytes) -> dict[str, str]:
    return {"tx": base64.b64encode(raw).decode()}


def pay(node: LocalNode, payer: str, payee: str, amount: int) -> bytes:
    return node.tx(payer, transfer((payer, payee, "KZT", amount)))


async def test_admitted_transaction_is_pending_with_202(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    raw = pay(local_node, "halyk", "kaspi", 100)
    r = await http.post("/v1/txs", json=body(raw))
    assert r.status_code == 202, r.text
    assert r.json() == {"tx_id": tx_id_of(raw).hex(), "status": "pending"}
    assert tx_id_of(raw) in local_node.mempool
    again = await http.post("/v1/txs", json=body(raw))  # resubmission is idempotent
    assert again.status_code == 202
    assert len(local_node.mempool) == 1


async def test_wait_commit_answers_once_final(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    raw = pay(local_node, "halyk", "kaspi", 100)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(local_node.auto_commit)
            r = await http.post("/v1/txs", params={"wait": "commit"}, json=body(raw))
            nursery.cancel_scope.cancel()
    assert r.status_code == 200, r.text
    assert r.json() == {
        "tx_id": tx_id_of(raw).hex(),
        "status": "committed",
        "height": 1,
        "index": 0,
        "code": "OK",
        "message": "",
        "rulebook_version": 1,
        "rule": "",
    }
    assert local_node.store.find_tx(tx_id_of(raw)) is not None


async def test_wait_commit_reports_a_rule_failure_at_execution(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    """Both payments pass admission alone (the first at another node, so this node's
    pending outflows do not see it); in one block the second finds the funds spent."""
    first = local_node.tx("halyk", transfer(("halyk", "kaspi", "KZT", 600_000)))
    second = local_node.tx("halyk", transfer(("halyk", "treasury", "KZT", 600_000)))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:

            async def commit_when_both_pending() -> None:
                await local_node.admitted.receive()  # the second
                local_node.commit_block([first, second])

            nursery.start_soon(commit_when_both_pending)
            r = await http.post("/v1/txs", params={"wait": "commit"}, json=body(second))
    assert r.status_code == 200, r.text
    assert r.json()["code"] == "INSUFFICIENT_FUNDS"
    assert r.json()["index"] == 1
    assert "halyk" in r.json()["message"]


async def test_wait_commit_times_out_with_504_and_stays_pending(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    raw = pay(local_node, "halyk", "kaspi", 100)
    with trio.fail_after(10):
        r = await http.post("/v1/txs", params={"wait": "commit", "timeout": "0.2"}, json=body(raw))
    assert r.status_code == 504
    assert r.json()["error"]["code"] == "TIMEOUT"
    assert r.json()["error"]["tx_id"] == tx_id_of(raw).hex()
    assert (await http.get(f"/v1/txs/{tx_id_of(raw).hex()}")).json()["status"] == "pending"


async def test_wait_commit_of_an_already_committed_tx_is_refused_as_duplicate(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    raw = pay(local_node, "halyk", "kaspi", 100)
    local_node.commit_block([raw])
    r = await http.post("/v1/txs", params={"wait": "commit"}, json=body(raw))
    assert r.status_code == 400
    assert r.json()["error"] == {
        "code": "DUPLICATE",
        "message": "this transaction was already included",
        "tx_id": tx_id_of(raw).hex(),
    }


async def test_ledger_refusals_carry_the_ledger_code(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    cases = {
        "INSUFFICIENT_FUNDS": pay(local_node, "kaspi", "halyk", 1),
        "INVALID_AMOUNT": pay(local_node, "halyk", "kaspi", 0),
        "UNKNOWN_ACCOUNT": pay(local_node, "halyk", "nobody", 1),
        "WRONG_CHAIN_ID": local_node.tx(
            "halyk", transfer(("halyk", "kaspi", "KZT", 1)), chain_id="other-chain"
        ),
        "EXTRA_SIGNATURE": local_node.tx(
            "halyk", transfer(("halyk", "kaspi", "KZT", 1)), keys=[key("kaspi")]
        ),
        "EXPIRED": local_node.tx("halyk", transfer(("halyk", "kaspi", "KZT", 1)), expires=0),
        "TTL_TOO_LONG": local_node.tx("halyk", transfer(("halyk", "kaspi", "KZT", 1)), expires=999),
        "MALFORMED": b"\xff\xff\xff",
        "TX_TOO_LARGE": b"\x0a" * 5000,
    }
    for code, raw in cases.items():
        r = await http.post("/v1/txs", json=body(raw))
        assert r.status_code == 400, (code, r.text)
        error = r.json()["error"]
        assert error["code"] == code, (code, error)
        assert error["message"]
    assert len(local_node.mempool) == 0


async def test_a_full_mempool_answers_429_with_retry_after(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    local_node.mempool = Mempool(local_node.ledger, max_txs=1, max_bytes=1 << 20)
    assert (
        await http.post("/v1/txs", json=body(pay(local_node, "halyk", "kaspi", 1)))
    ).status_code == 202
    r = await http.post("/v1/txs", json=body(pay(local_node, "halyk", "kaspi", 2)))
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "MEMPOOL_FULL"
    assert r.headers["retry-after"] == "1"


async def test_pending_outflows_and_the_account_cap_have_their_own_status(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    local_node.mempool = Mempool(
        local_node.ledger, max_txs=100, max_bytes=1 << 20, max_pending_per_account=2
    )
    first = pay(local_node, "halyk", "kaspi", 600_000)
    assert (await http.post("/v1/txs", json=body(first))).status_code == 202
    over = pay(local_node, "halyk", "treasury", 600_000)  # halyk holds 1,000,000
    r = await http.post("/v1/txs", json=body(over))
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "PENDING_FUNDS_EXCEEDED"
    assert error["tx_id"] == tx_id_of(over).hex()
    assert "600000 is already claimed" in error["message"]
    assert (
        await http.post("/v1/txs", json=body(pay(local_node, "halyk", "kaspi", 1)))
    ).status_code == 202
    r = await http.post("/v1/txs", json=body(pay(local_node, "halyk", "kaspi", 2)))
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "PENDING_TXS_EXCEEDED"
    assert r.headers["retry-after"] == "1"
    assert len(local_node.mempool) == 2


async def test_batch_admits_each_envelope_on_its_own(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    good = [pay(local_node, "halyk", "kaspi", 100 + n) for n in range(3)]
    unknown_payer = pay(local_node, "nobody", "kaspi", 5)
    r = await http.post(
        "/v1/txs/batch",
        json={"txs": [base64.b64encode(t).decode() for t in [*good, unknown_payer]]},
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["admitted"], doc["refused"]) == (3, 1)
    assert [x["tx_id"] for x in doc["results"][:3]] == [tx_id_of(t).hex() for t in good]
    assert all(x["status"] == "pending" for x in doc["results"][:3])
    refused = doc["results"][3]
    assert refused["status"] == "refused"
    assert refused["code"] == "UNKNOWN_ACCOUNT"
    assert all(tx_id_of(t) in local_node.mempool for t in good)
    assert len(local_node.mempool) == 3


async def test_batch_bad_input_gets_stable_codes(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    cases = [
        (b"not json", "INVALID_JSON"),
        (b'{"tx": "AAAA"}', "INVALID_ARGUMENT"),
        (b'{"txs": []}', "INVALID_ARGUMENT"),
        (b'{"txs": "AAAA"}', "INVALID_ARGUMENT"),
        (b'{"txs": [1]}', "INVALID_ARGUMENT"),
        (b'{"txs": ["***"]}', "INVALID_BASE64"),
        (b'{"txs": [' + b",".join([b'"AAAA"'] * 1001) + b"]}", "INVALID_ARGUMENT"),
    ]
    for content, code in cases:
        r = await http.post(
            "/v1/txs/batch", content=content, headers={"content-type": "application/json"}
        )
        assert r.status_code == 400, (content[:40], r.text)
        assert r.json()["error"]["code"] == code, (content[:40], r.text)
    assert len(local_node.mempool) == 0
