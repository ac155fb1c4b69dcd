"""Bad input on every endpoint of a real node process: a 4xx with a stable code, never a
traceback, and the network keeps committing throughout."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import trio
from cli_support import LiveNet

from node.ledger import AMOUNT_MAX, U64_MAX
from node.ledger.txbuild import build_tx, issue, sign_envelope, transfer
from proto import ledger_pb2 as pb

TEST_TIMEOUT_S = 30
MIB = 1 << 20
_NONCES = itertools.count(2_000_000)
_TX_ID = "ab" * 32


def error_code(r: httpx.Response) -> str:
    """The stable code of an error answer, checking its shape."""
    assert "Traceback" not in r.text
    doc = r.json()
    assert set(doc) == {"error"}, doc
    assert doc["error"]["message"], doc
    code: str = doc["error"]["code"]
    return code


async def signed(net: LiveNet, signer: str, kind: Any) -> bytes:
    body = build_tx(
        net.chain_id, signer, kind, nonce=next(_NONCES), expires_at_height=await net.height() + 50
    )
    return sign_envelope(body, net.chain_id, net.keys(signer))


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.fixture
async def http(net: LiveNet) -> AsyncIterator[httpx.AsyncClient]:
    with trio.fail_after(TEST_TIMEOUT_S):
        async with httpx.AsyncClient(base_url=net.api(2), timeout=10) as client:
            yield client


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "INVALID_JSON"),
        (b"{", "INVALID_JSON"),
        (b"\xff\xfe garbage", "INVALID_JSON"),
        (b"[" * 50_000 + b"]" * 50_000, "INVALID_JSON"),
        (b"[]", "INVALID_ARGUMENT"),
        (b"null", "INVALID_ARGUMENT"),
        (b"{}", "INVALID_ARGUMENT"),
        (b'{"tx": 12}', "INVALID_ARGUMENT"),
        (b'{"tx": -5}', "INVALID_ARGUMENT"),
        (b'{"tx": true}', "INVALID_ARGUMENT"),
        (b'{"tx": ["AAAA"]}', "INVALID_ARGUMENT"),
        (b'{"tx": ""}', "INVALID_ARGUMENT"),
        (b'{"tx": "AAAA", "amount": "-5"}', "INVALID_ARGUMENT"),
        (b'{"tx": "not base64!"}', "INVALID_BASE64"),
        (b'{"tx": "AAA"}', "INVALID_BASE64"),
        (b'{"tx": "AAAA"}', "MALFORMED"),
        (b'{"tx": "' + base64.b64encode(b"\x0a\xff\xff\xff") + b'"}', "MALFORMED"),
    ],
)
async def test_submission_bodies(http: httpx.AsyncClient, content: bytes, code: str) -> None:
    r = await http.post("/v1/txs", content=content, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert error_code(r) == code


@pytest.mark.parametrize(
    "query",
    [
        "wait=yes",
        "wiat=commit",
        "timeout=5",
        "wait=commit&timeout=0",
        "wait=commit&timeout=-1",
        "wait=commit&timeout=nan",
        "wait=commit&timeout=1e9",
        "wait=commit&wait=commit",
    ],
)
async def test_submission_query_parameters(
    net: LiveNet, http: httpx.AsyncClient, query: str
) -> None:
    raw = await signed(net, "bank-a", transfer(("bank-a", "bank-b", "KZT", 1)))
    r = await http.post(f"/v1/txs?{query}", json={"tx": b64(raw)})
    assert r.status_code == 400, r.text
    assert error_code(r) == "INVALID_ARGUMENT"


async def test_zero_negative_and_huge_amounts(net: LiveNet, http: httpx.AsyncClient) -> None:
    # Protobuf has no negative u64: -5 as an int64 is the varint of 2^64 - 5.
    cases = {
        "zero": (transfer(("bank-a", "bank-b", "KZT", 0)), {"INVALID_AMOUNT"}),
        "negative": (transfer(("bank-a", "bank-b", "KZT", U64_MAX - 4)), {"INSUFFICIENT_FUNDS"}),
        "huge": (transfer(("bank-a", "bank-b", "KZT", U64_MAX)), {"INSUFFICIENT_FUNDS"}),
        "two huge legs": (
            transfer(("bank-a", "bank-b", "KZT", U64_MAX), ("bank-a", "bank-c", "KZT", U64_MAX)),
            {"INSUFFICIENT_FUNDS"},
        ),
        "two legs past 2^128 - 1": (
            transfer(
                ("bank-a", "bank-b", "KZT", AMOUNT_MAX), ("bank-a", "bank-b", "KZT", AMOUNT_MAX)
            ),
            {"AMOUNT_OVERFLOW"},
        ),
    }
    for name, (kind, codes) in cases.items():
        r = await http.post("/v1/txs", json={"tx": b64(await signed(net, "bank-a", kind))})
        assert r.status_code == 400, (name, r.text)
        assert error_code(r) in codes, name
    # Once some KZT exists, AMOUNT_MAX more would overflow the supply.
    some = pb.Issue(asset="KZT", to="bank-a", amount=1)
    r = await http.post(
        "/v1/txs?wait=commit", json={"tx": b64(await signed(net, "central-bank", some))}
    )
    assert (r.status_code, r.json()["code"]) == (200, "OK"), r.text
    overflow = issue("KZT", "bank-a", AMOUNT_MAX)
    r = await http.post("/v1/txs", json={"tx": b64(await signed(net, "central-bank", overflow))})
    assert r.status_code == 400
    assert error_code(r) == "AMOUNT_OVERFLOW"
    for field, value in (("per_payment", U64_MAX), ("kyc_tier", 2**32 - 1)):
        limits = pb.SetLimits(kyc_tier=1, per_payment=1, daily_outflow=1, holding_cap=1)
        setattr(limits, field, value)
        raw = await signed(net, "bank-a", limits)  # a governed change, sent on its own
        r = await http.post("/v1/txs", json={"tx": b64(raw)})
        assert r.status_code == 400
        assert error_code(r) == "GOVERNANCE_REQUIRED"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v1/nothing", 404, "NOT_FOUND"),
        ("/v1/txs/" + _TX_ID, 404, "NOT_FOUND"),
        ("/v1/txs/xyz", 400, "INVALID_ARGUMENT"),
        ("/v1/txs/" + "zz" * 32, 400, "INVALID_ARGUMENT"),
        ("/v1/txs/" + "ab" * 33, 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/nobody.here", 404, "NOT_FOUND"),
        ("/v1/accounts/AB", 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/" + "a" * 65, 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/%F0%9F%92%A9", 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/bank-a%00", 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/nobody.here/transactions", 404, "NOT_FOUND"),
        ("/v1/accounts/bank-a/transactions?limit=0", 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/bank-a/transactions?limit=-1", 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/bank-a/transactions?limit=" + "9" * 40, 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/bank-a/transactions?limit=ten", 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/bank-a/transactions?after=7", 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/bank-a/transactions?page=2", 400, "INVALID_ARGUMENT"),
        ("/v1/blocks/0", 400, "INVALID_ARGUMENT"),
        ("/v1/blocks/-5", 400, "INVALID_ARGUMENT"),
        ("/v1/blocks/1.5", 400, "INVALID_ARGUMENT"),
        ("/v1/blocks/" + "9" * 30, 400, "INVALID_ARGUMENT"),
        ("/v1/blocks/999999999", 404, "NOT_FOUND"),
        ("/v1/blocks/latest?full=1", 400, "INVALID_ARGUMENT"),
        ("/v1/validators?height=1", 400, "INVALID_ARGUMENT"),
        ("/v1/assets?kind=CBDC", 400, "INVALID_ARGUMENT"),
        ("/v1/assets/usdt", 400, "INVALID_ARGUMENT"),
        ("/v1/assets/NOPE", 404, "NOT_FOUND"),
        ("/v1/assets/" + "A" * 20, 400, "INVALID_ARGUMENT"),
        ("/v1/evidence?since=1", 400, "INVALID_ARGUMENT"),
        ("/v1/status?x=1", 400, "INVALID_ARGUMENT"),
        ("/v1/health?x=1", 400, "INVALID_ARGUMENT"),
        ("/v1/events?after=-1", 400, "INVALID_ARGUMENT"),
        ("/v1/events?after=abc", 400, "INVALID_ARGUMENT"),
        ("/openapi.json?v=2", 400, "INVALID_ARGUMENT"),
    ],
)
async def test_bad_paths_ids_and_parameters(
    http: httpx.AsyncClient, path: str, status: int, code: str
) -> None:
    r = await http.get(path)
    assert r.status_code == status, r.text
    assert error_code(r) == code


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/status"),
        ("DELETE", "/v1/accounts/bank-a"),
        ("GET", "/v1/txs"),
        ("PUT", "/v1/txs"),
        ("POST", "/v1/events"),
    ],
)
async def test_wrong_methods(http: httpx.AsyncClient, method: str, path: str) -> None:
    r = await http.request(method, path)
    assert r.status_code == 405
    assert error_code(r) == "METHOD_NOT_ALLOWED"


async def test_bad_last_event_id(http: httpx.AsyncClient) -> None:
    r = await http.get("/v1/events", headers={"last-event-id": "ten"})
    assert r.status_code == 400
    assert error_code(r) == "INVALID_ARGUMENT"


async def send_oversized(port: int, *, chunked: bool) -> tuple[int, str]:
    """Offer 2 MiB on a raw socket (declared or chunked); the status and error code."""
    if chunked:
        head = b"POST /v1/txs HTTP/1.1\r\nHost: node\r\nTransfer-Encoding: chunked\r\n\r\n"
        piece = b"10000\r\n" + b"y" * 0x10000 + b"\r\n"
    else:
        head = f"POST /v1/txs HTTP/1.1\r\nHost: node\r\nContent-Length: {2 * MIB}\r\n\r\n"
        head, piece = head.encode(), b"y" * 0x10000
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(head)
        with trio.move_on_after(10):
            for _ in range(32):
                try:
                    await stream.send_all(piece)
                except trio.BrokenResourceError:
                    break
        answer = b""
        while b"}}" not in answer:
            try:
                more = await stream.receive_some(65536)
            except trio.BrokenResourceError:
                break
            if not more:
                break
            answer += more
    status_line, _, rest = answer.partition(b"\r\n")
    assert b"Traceback" not in answer
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    return int(status_line.split()[1]), str(body["error"]["code"])


async def test_oversized_bodies(net: LiveNet) -> None:
    port = int(net.api(2).rsplit(":", 1)[1])
    with trio.fail_after(TEST_TIMEOUT_S):
        assert await send_oversized(port, chunked=False) == (413, "BODY_TOO_LARGE")
        assert await send_oversized(port, chunked=True) == (413, "BODY_TOO_LARGE")


async def raw_exchange(port: int, data: bytes) -> bytes:
    """Send data, close our side for writing, and read the answer to the end."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(data)
        await stream.send_eof()
        answer = b""
        while chunk := await stream.receive_some(65536):
            answer += chunk
    return answer


async def test_client_that_stops_mid_body(net: LiveNet) -> None:
    port = int(net.api(1).rsplit(":", 1)[1])
    head = (
        b"POST /v1/txs HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n"
    )
    with trio.fail_after(TEST_TIMEOUT_S):
        for _ in range(3):
            answer = await raw_exchange(port, head + b'{"tx": "AAAA')
            assert answer.startswith(b"HTTP/1.1 400 "), answer
            assert b"Traceback" not in answer
        for _ in range(3):  # gone without a word
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            await stream.send_all(head + b'{"tx": "AAAA')
            await stream.aclose()
        garbage = await raw_exchange(port, b"\x16\x03\x01 not http at all\r\n\r\n")
        assert not garbage.startswith(b"HTTP/1.1 2"), garbage
        async with httpx.AsyncClient(base_url=net.api(1), timeout=10) as http:
            assert (await http.get("/v1/status")).status_code == 200


@pytest.mark.xfail(
    strict=True,
    reason="Hypercorn answers a body cut short by the client's EOF with a bare 400 itself; "
    "the app never sees it, so the answer lacks the error shape and INCOMPLETE_BODY",
)
async def test_client_that_stops_mid_body_gets_the_error_shape(net: LiveNet) -> None:
    port = int(net.api(1).rsplit(":", 1)[1])
    head = b"POST /v1/txs HTTP/1.1\r\nHost: node\r\nContent-Length: 1000\r\n\r\n"
    with trio.fail_after(TEST_TIMEOUT_S):
        answer = await raw_exchange(port, head + b'{"tx": "AAAA')
    assert b'"INCOMPLETE_BODY"' in answer, answer


async def test_the_network_keeps_committing_through_a_barrage(net: LiveNet) -> None:
    """Bad requests to every node at once while a payment is waited for."""
    bad = [
        ("POST", "/v1/txs", b"{"),
        ("POST", "/v1/txs", b'{"tx": "!!"}'),
        ("POST", "/v1/txs", b'{"tx": "AAAA"}'),
        ("GET", "/v1/accounts/%00", b""),
        ("GET", "/v1/blocks/0", b""),
        ("GET", f"/v1/txs/{_TX_ID}", b""),
        ("GET", "/v1/assets/lower", b""),
        ("DELETE", "/v1/status", b""),
    ]
    with trio.fail_after(60):
        start = min([await net.height(i) for i in range(4)])
        statuses: list[int] = []
        async with httpx.AsyncClient(timeout=20) as client:

            async def hammer(index: int) -> None:
                for _ in range(8):
                    for method, path, body in bad:
                        r = await client.request(method, net.api(index) + path, content=body)
                        statuses.append(r.status_code)

            async def too_large(index: int) -> None:
                port = int(net.api(index).rsplit(":", 1)[1])
                for chunked in (False, True):
                    status, code = await send_oversized(port, chunked=chunked)
                    assert (status, code) == (413, "BODY_TOO_LARGE")
                    statuses.append(status)

            async with trio.open_nursery() as nursery:
                for i in range(4):
                    nursery.start_soon(hammer, i)
                    nursery.start_soon(too_large, i)
                raw = await signed(
                    net, "central-bank", pb.Issue(asset="KZT", to="bank-b", amount=9)
                )
                r = await client.post(net.api(0) + "/v1/txs?wait=commit", json={"tx": b64(raw)})
                assert r.status_code == 200, r.text
                assert r.json()["code"] == "OK"
        assert len(statuses) == 4 * (8 * len(bad) + 2)
        assert all(400 <= s < 500 for s in statuses), sorted(set(statuses))
        for i in range(4):
            await net.wait_height(start + 3, i)  # every node still commits
    net.assert_no_traceback()
