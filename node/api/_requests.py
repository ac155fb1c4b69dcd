"""Request parsing for the operator HTTP API: bodies, submissions, queries and ids.

Rules this module keeps (the handlers in `node.api._app` rely on them):

1. A request body is read in chunks and refused with 413 as soon as it passes
   `MAX_BODY_BYTES` (or at once when Content-Length says so), and with 408 when it does
   not arrive whole within the body timeout: no unbounded read, no task held for ever.
2. Unknown query parameters are refused (a misspelt ``?wiat=commit`` must not silently
   skip the wait), and so are repeated ones.
3. Every id in a path is validated here before it touches the store.
4. Every failure is an `ApiProblem` with a stable code; nothing else escapes.
"""

from __future__ import annotations

import base64
import binascii
import json
from contextlib import aclosing
from typing import Final

import trio
from starlette.requests import ClientDisconnect, Request

from node.api import _errors as e
from node.ledger import valid_account_id

MAX_BODY_BYTES: Final = 1 << 20
BODY_READ_TIMEOUT_S: Final = 10.0  # a request body must arrive whole within this
MAX_BATCH: Final = 1000  # envelopes in one POST /v1/txs/batch
MAX_WAIT_TIMEOUT_S: Final = 300.0
MAX_HEIGHT: Final = 2**63 - 1
TX_ID_HEX_LEN: Final = 64


def query(request: Request, allowed: frozenset[str]) -> dict[str, str]:
    """The query parameters, refusing unknown and repeated ones."""
    out: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise e.bad_argument(f"unknown query parameter {key!r} (known: {known})")
        if key in out:
            raise e.bad_argument(f"query parameter {key!r} is given twice")
        out[key] = value
    return out


def parse_int(text: str, what: str, low: int, high: int) -> int:
    """A decimal integer from low to high; what names it in the error."""
    if not text.isascii() or not text.isdigit() or len(text) > 20:
        raise e.bad_argument(f"{what} must be an integer from {low} to {high}, not {text[:40]!r}")
    value = int(text)
    if not low <= value <= high:
        raise e.bad_argument(f"{what} must be from {low} to {high}, not {value}")
    return value


def parse_height(text: str, what: str = "height") -> int:
    """A block height, 1 or more."""
    return parse_int(text, what, 1, MAX_HEIGHT)


def parse_tx_id(text: str) -> bytes:
    """The 32 bytes of a tx id given as 64 hex characters."""
    if len(text) != TX_ID_HEX_LEN or not text.isascii():
        raise e.bad_argument("a tx id is 64 hex characters (SHA-256 of the body)")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise e.bad_argument("a tx id is 64 hex characters (SHA-256 of the body)") from None


def check_account_id(account_id: str) -> str:
    """The account id itself, once it has the shape of one."""
    if not valid_account_id(account_id):
        raise e.bad_argument(
            f"{account_id[:70]!r} is not an account id (3 to 64 of a-z, 0-9, '.', '-')"
        )
    return account_id


async def read_body(
    request: Request, limit: int = MAX_BODY_BYTES, timeout_s: float = BODY_READ_TIMEOUT_S
) -> bytes:
    """The request body, refused with 413 as soon as it passes limit bytes.

    Raises:
        ApiProblem: 413 BODY_TOO_LARGE, 400 INCOMPLETE_BODY when the client hangs up
            mid-body, or 408 BODY_TIMEOUT when the body takes longer than timeout_s.
    """
    too_large = e.ApiProblem(413, e.BODY_TOO_LARGE, f"the request body exceeds {limit} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    complete = False
    with trio.move_on_after(timeout_s):
        try:
            async with aclosing(request.stream()) as stream:
                async for chunk in stream:
                    size += len(chunk)
                    if size > limit:
                        raise too_large
                    chunks.append(chunk)
        except ClientDisconnect:
            raise e.ApiProblem(
                400, e.INCOMPLETE_BODY, "the connection closed before the body ended"
            ) from None
        complete = True
    if not complete:  # a client that stopped sending must not hold a task for ever
        raise e.ApiProblem(
            408,
            e.BODY_TIMEOUT,
            f"the request body did not arrive within {timeout_s:g} s",
        )
    return b"".join(chunks)


def decode_submission(body: bytes) -> bytes:
    """The envelope bytes of a ``{"tx": BASE64}`` request body."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise e.ApiProblem(
            400, e.INVALID_JSON, 'the body is not JSON; send {"tx": BASE64}'
        ) from None
    if not isinstance(doc, dict):
        raise e.bad_argument(f'the body must be a JSON object {{"tx": BASE64}}, not {_kind(doc)}')
    unknown = sorted(set(doc) - {"tx"})
    if unknown:
        raise e.bad_argument(f"unknown field {unknown[0][:40]!r}; the body is {{'tx': BASE64}}")
    tx = doc.get("tx")
    if tx is None:
        raise e.bad_argument('missing field "tx" (base64 of a serialized TxEnvelope)')
    if not isinstance(tx, str):
        raise e.bad_argument(f'"tx" must be a base64 string, not {_kind(tx)}')
    if not tx:
        raise e.bad_argument('"tx" is empty')
    try:
        return base64.b64decode(tx, validate=True)
    except (binascii.Error, ValueError):
        raise e.ApiProblem(
            400, e.INVALID_BASE64, '"tx" is not standard base64 (A-Z a-z 0-9 + / and = padding)'
        ) from None


def decode_batch(body: bytes) -> list[bytes]:
    """The envelopes of a ``{"txs": [BASE64, ...]}`` request body."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise e.ApiProblem(
            400, e.INVALID_JSON, 'the body is not JSON; send {"txs": [BASE64, ...]}'
        ) from None
    if not isinstance(doc, dict) or set(doc) != {"txs"}:
        raise e.bad_argument('the body must be the JSON object {"txs": [BASE64, ...]}')
    txs = doc["txs"]
    if not isinstance(txs, list) or not 1 <= len(txs) <= MAX_BATCH:
        raise e.bad_argument(f'"txs" must be an array of 1 to {MAX_BATCH} base64 strings')
    out = []
    for i, tx in enumerate(txs):
        if not isinstance(tx, str) or not tx:
            raise e.bad_argument(f'"txs"[{i}] must be a non-empty base64 string, not {_kind(tx)}')
        try:
            out.append(base64.b64decode(tx, validate=True))
        except (binascii.Error, ValueError):
            raise e.ApiProblem(
                400, e.INVALID_BASE64, f'"txs"[{i}] is not standard base64'
            ) from None
    return out


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else "null"
    )


def parse_timeout(text: str) -> float:
    """The ``timeout`` of ``wait=commit``: seconds in (0, MAX_WAIT_TIMEOUT_S]."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_WAIT_TIMEOUT_S:  # also refuses nan and inf
        raise e.bad_argument(
            f"timeout must be seconds in (0, {MAX_WAIT_TIMEOUT_S:g}], not {text[:40]!r}"
        )
    return value
