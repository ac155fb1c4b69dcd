"""Bad input on every endpoint: a 4xx with a stable code, never a traceback, node unharmed."""

from __future__ import annotations

import base64
import json
import logging

import httpx
import pytest
from api_support import LocalNode
from starlette.applications import Starlette

from node.api import MAX_BODY_BYTES, create_app
from node.ledger import AMOUNT_MAX, U64_MAX
from node.ledger.txbuild import issue, transfer


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def error_of(r: httpx.Response) -> str:
    doc = r.json()
    assert set(doc) == {"error"}, doc
    assert doc["error"]["message"], doc
    assert "Traceback" not in r.text
    code: str = doc["error"]["code"]
    return code


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "INVALID_JSON"),
        (b"{", "INVALID_JSON"),
        (b"not json", "INVALID_JSON"),
        (b"\xff\xfe\x00garbage", "INVALID_JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "INVALID_JSON"),  # nesting too deep for the parser
        (b'{"tx": 1' + b"0" * 5000 + b"}", "INVALID_JSON"),  # an integer too long to convert
        (b"[]", "INVALID_ARGUMENT"),
        (b'"AAAA"', "INVALID_ARGUMENT"),
        (b"null", "INVALID_ARGUMENT"),
        (b"{}", "INVALID_ARGUMENT"),
        (b'{"tx": null}', "INVALID_ARGUMENT"),
        (b'{"tx": 12}', "INVALID_ARGUMENT"),
        (b'{"tx": true}', "INVALID_ARGUMENT"),
        (b'{"tx": ["AAAA"]}', "INVALID_ARGUMENT"),
        (b'{"tx": {"body": "x"}}', "INVALID_ARGUMENT"),
        (b'{"tx": ""}', "INVALID_ARGUMENT"),
        (b'{"tx": "AAAA", "amount": "-5"}', "INVALID_ARGUMENT"),
        (b'{"tx": "not base64!"}', "INVALID_BASE64"),
        (b'{"tx": "AAA"}', "INVALID_BASE64"),
        (b'{"tx": "AA\\nAA"}', "INVALID_BASE64"),
        ('{"tx": "ÄÖÜ="}'.encode(), "INVALID_BASE64"),
        (b'{"tx": "AAAA"}', "MALFORMED"),
        (b'{"tx": "////"}', "MALFORMED"),
    ],
)
async def test_submission_body_errors(
    http: httpx.AsyncClient, local_node: LocalNode, content: bytes, code: str
) -> None:
    r = await http.post("/v1/txs", content=content, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert error_of(r) == code
    assert len(local_node.mempool) == 0


@pytest.mark.parametrize(
    "params",
    [
        {"wait": "yes"},
        {"wait": ""},
        {"wiat": "commit"},
        {"timeout": "5"},
        {"wait": "commit", "timeout": "0"},
        {"wait": "commit", "timeout": "-1"},
        {"wait": "commit", "timeout": "nan"},
        {"wait": "commit", "timeout": "inf"},
        {"wait": "commit", "timeout": "1e9"},
        {"wait": "commit", "timeout": "soon"},
        [("wait", "commit"), ("wait", "commit")],
    ],
)
async def test_submission_query_errors(
    http: httpx.AsyncClient, local_node: LocalNode, params: object
) -> None:
    raw = local_node.tx("halyk", transfer(("halyk", "kaspi", "KZT", 1)))
    r = await http.post("/v1/txs", params=params, json={"tx": b64(raw)})  # type: ignore[arg-type]
    assert r.status_code == 400, r.text
    assert error_of(r) == "INVALID_ARGUMENT"
    assert len(local_node.mempool) == 0  # refused before admission


async def test_amounts_zero_huge_and_negative_on_the_wire(
    http: httpx.AsyncClient, local_node: LocalNode
) -> None:
    zero = local_node.tx("halyk", transfer(("halyk", "kaspi", "KZT", 0)))
    huge = local_node.tx("halyk", transfer(("halyk", "kaspi", "KZT", U64_MAX)))
    # A negative int64 and 2^64-1 are the same ten-byte varint: protobuf has no negative u64.
    # Amounts are 128-bit: the supply (10^6 tiyn at genesis) overflows only past 2^128 - 1.
    overflow = local_node.tx("nbk", issue("KZT", "halyk", AMOUNT_MAX))
    two_legs = local_node.tx(
        "halyk",
        transfer(("halyk", "kaspi", "KZT", AMOUNT_MAX), ("halyk", "kaspi", "KZT", AMOUNT_MAX)),
    )
    expected = {
        "INVALID_AMOUNT": zero,
        "INSUFFICIENT_FUNDS": huge,
        "AMOUNT_OVERFLOW": overflow,
    }
    for code, raw in expected.items():
        r = await http.post("/v1/txs", json={"tx": b64(raw)})
        assert r.status_code == 400
        assert error_of(r) == code
    r = await http.post("/v1/txs", json={"tx": b64(two_legs)})
    assert r.status_code == 400
    assert error_of(r) in {"AMOUNT_OVERFLOW", "INSUFFICIENT_FUNDS"}


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v1/nothing", 404, "NOT_FOUND"),
        ("/", 404, "NOT_FOUND"),
        ("/v1/txs/" + "ab" * 32, 404, "NOT_FOUND"),
        ("/v1/txs/xyz", 400, "INVALID_ARGUMENT"),
        ("/v1/txs/" + "zz" * 32, 400, "INVALID_ARGUMENT"),
        ("/v1/txs/" + "ab" * 33, 400, "INVALID_ARGUMENT"),
        ("/v1/txs/" + "é" * 64, 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/nobody", 404, "NOT_FOUND"),
        ("/v1/accounts/AB", 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/" + "a" * 65, 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/%F0%9F%92%A9", 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/halyk%00", 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/nobody/transactions", 404, "NOT_FOUND"),
        ("/v1/accounts/halyk/transactions?limit=0", 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/halyk/transactions?limit=-1", 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/halyk/transactions?limit=1001", 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/halyk/transactions?limit=" + "9" * 40, 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/halyk/transactions?limit=ten", 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/halyk/transactions?after=7", 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/halyk/transactions?after=-1-0", 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/halyk/transactions?after=1-99999999999", 400, "INVALID_ARGUMENT"),
        ("/v1/accounts/halyk/transactions?page=2", 400, "INVALID_ARGUMENT"),
        ("/v1/blocks/0", 400, "INVALID_ARGUMENT"),
        ("/v1/blocks/-5", 400, "INVALID_ARGUMENT"),
        ("/v1/blocks/1.5", 400, "INVALID_ARGUMENT"),
        ("/v1/blocks/" + "9" * 30, 400, "INVALID_ARGUMENT"),
        ("/v1/blocks/99", 404, "NOT_FOUND"),
        ("/v1/blocks/latest", 404, "NOT_FOUND"),
        ("/v1/blocks/1?verbose=1", 400, "INVALID_ARGUMENT"),
        ("/v1/assets/usdt", 400, "INVALID_ARGUMENT"),
        ("/v1/assets/USDT", 404, "NOT_FOUND"),
        ("/v1/assets/" + "A" * 20, 400, "INVALID_ARGUMENT"),
        ("/v1/status?x=1", 400, "INVALID_ARGUMENT"),
        ("/v1/events?after=-1", 400, "INVALID_ARGUMENT"),
        ("/v1/events?after=abc", 400, "INVALID_ARGUMENT"),
        ("/v1/events?from=3", 400, "INVALID_ARGUMENT"),
    ],
)
async def test_bad_paths_and_ids(
    http: httpx.AsyncClient, path: str, status: int, code: str
) -> None:
    r = await http.get(path)
    assert r.status_code == status, r.text
    assert error_of(r) == code


async def test_bad_last_event_id_header(http: httpx.AsyncClient) -> None:
    r = await http.get("/v1/events", headers={"last-event-id": "ten"})
    assert r.status_code == 400
    assert error_of(r) == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/status"),
        ("DELETE", "/v1/accounts/halyk"),
        ("GET", "/v1/txs"),
        ("PUT", "/v1/txs"),
    ],
)
async def test_wrong_method(http: httpx.AsyncClient, method: str, path: str) -> None:
    r = await http.request(method, path)
    assert r.status_code == 405
    assert error_of(r) == "METHOD_NOT_ALLOWED"
    assert r.headers["allow"]


async def test_declared_oversized_body_is_refused_before_reading(http: httpx.AsyncClient) -> None:
    r = await http.post("/v1/txs", content=b"x" * (MAX_BODY_BYTES + 1))
    assert r.status_code == 413
    assert error_of(r) == "BODY_TOO_LARGE"


class _Chunks(httpx.AsyncByteStream):
    """A chunked body of 64 KiB pieces (no Content-Length), counting what was pulled."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.pulled = 0

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        if not self.left:
            raise StopAsyncIteration
        self.left -= 1
        self.pulled += 1
        return b"{" * 65536


async def test_streamed_oversized_body_is_refused_while_streaming(http: httpx.AsyncClient) -> None:
    stream = _Chunks(64)  # 4 MiB if it were all read
    request = http.build_request("POST", "/v1/txs")
    request.stream = stream
    request.headers.pop("content-length", None)
    request.headers["transfer-encoding"] = "chunked"
    r = await http.send(request)
    assert r.status_code == 413
    assert error_of(r) == "BODY_TOO_LARGE"
    assert stream.pulled <= 18  # stopped reading right after passing 1 MiB


async def test_a_body_of_exactly_the_limit_is_read(http: httpx.AsyncClient) -> None:
    padded = json.dumps({"tx": "AAAA"}).encode().ljust(MAX_BODY_BYTES, b" ")
    r = await http.post("/v1/txs", content=padded)
    assert r.status_code == 400
    assert error_of(r) == "MALFORMED"  # parsed and judged by the ledger, not refused as large


async def test_unexpected_failure_is_500_internal_and_logged(
    local_node: LocalNode, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken_submit(raw: bytes, *, client: str | None = None) -> object:
        raise RuntimeError("disk on fire")

    local_node.submit = broken_submit  # type: ignore[method-assign,assignment]
    app: Starlette = create_app(local_node)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as http:
        with caplog.at_level(logging.ERROR, logger="tenge.api"):
            r = await http.post("/v1/txs", json={"tx": "AAAA"})
        assert r.status_code == 500
        assert error_of(r) == "INTERNAL"
        assert "disk on fire" not in r.text
        assert any("disk on fire" in (rec.exc_text or "") for rec in caplog.records)
        assert (await http.get("/v1/status")).status_code == 200


async def test_node_keeps_committing_after_bad_input(
    http: httpx.AsyncClient, local_node: LocalNode
) -> None:
    for content in (b"{", b'{"tx": "!!"}', b'{"tx": "AAAA"}', b"[]"):
        assert (await http.post("/v1/txs", content=content)).status_code == 400
    raw = local_node.tx("halyk", transfer(("halyk", "kaspi", "KZT", 5)))
    assert (await http.post("/v1/txs", json={"tx": b64(raw)})).status_code == 202
    local_node.commit_block()
    assert (await http.get("/v1/accounts/kaspi")).json()["balances"] == {"KZT": "5"}
