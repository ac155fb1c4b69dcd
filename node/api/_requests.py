"""Request parsing for the operator HTTP API: bodies, submissions, queries and ids.

Rules this module keeps (the handlers in `node.api._app` rely on them):

1. A request body is read in chunks and refused with 413 as soon as it passes
   `MAX_BODY_BYTES` (or at once when Content-Length says so), and with 408 when it does
   not arrive whole within the body timeout: no unbounded read, no task held for ever.
2. Unknown query parameters are refused (a misspelt ``?wiat=commit`` must not silently
   skip the wait), and so are repeated ones.
3. Every id in a path is validated here before it touches the store, against the same
   pattern that /openapi.json publishes for it (the `*_PATTERN` constants below): a value
   the document allows is never refused for its shape, and one it forbids never passes.
4. Every failure is an `ApiProblem` with a stable code; nothing else escapes.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from contextlib import aclosing
from typing import Final

import trio
from starlette.requests import ClientDisconnect, Request

from node.api import _errors as e
from node.ledger._keys import ACCOUNT_ID_RE, ASSET_CODE_RE

MAX_BODY_BYTES: Final = 1 << 20
BODY_READ_TIMEOUT_S: Final = 10.0  # a request body must arrive whole within this
MAX_BATCH: Final = 1000  # envelopes in one POST /v1/txs/batch
MAX_WAIT_TIMEOUT_S: Final = 300.0
MAX_HEIGHT: Final = 2**63 - 1
TX_ID_HEX_LEN: Final = 64

# The shapes of ids and cursors, as /openapi.json publishes them (ECMA-262 and Python `re`
# read them alike). Hex ids take either case; the API answers in lower case.
HEX32_PATTERN: Final = f"^[0-9a-fA-F]{{{TX_ID_HEX_LEN}}}$"
ACCOUNT_ID_PATTERN: Final = f"^{ACCOUNT_ID_RE.pattern}$"
ASSET_CODE_PATTERN: Final = f"^{ASSET_CODE_RE.pattern}$"
#: "HEIGHT-INDEX" of a statement or evidence page, canonical decimals: a height below
#: 10^19 and an index below 10^9 (so always within u64 and u32).
CURSOR_PATTERN: Final = "^(0|[1-9][0-9]{0,18})-(0|[1-9][0-9]{0,8})$"
#: Standard base64 with padding (what `base64.b64decode(validate=True)` takes), non-empty.
BASE64_PATTERN: Final = (
    "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$"
)
#: A UETR: a version-4 UUID of the RFC 4122 variant as 8-4-4-4-12 hex text, either case.
UETR_PATTERN: Final = (
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"
)
#: An end-to-end id (node.ledger.identifier_error): 1 to 35 of A-Z a-z 0-9 space and
#: / - ? : ( ) . , ' +, neither beginning nor ending with '/' or a space, no '//'.
_ID_CHAR: Final = "[A-Za-z0-9\\-?:().,'+]"
END_TO_END_ID_PATTERN: Final = (
    f"^{_ID_CHAR}(?:(?:{_ID_CHAR[:-1]} ]|/{_ID_CHAR[:-1]} ])*(?:{_ID_CHAR}|/{_ID_CHAR}))?$"
)
_HEX32_RE: Final = re.compile(HEX32_PATTERN)
_CURSOR_RE: Final = re.compile(CURSOR_PATTERN)
_BASE64_RE: Final = re.compile(BASE64_PATTERN)


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


def parse_hex32(text: str, what: str) -> bytes:
    """32 bytes given as 64 hex characters (HEX32_PATTERN); what names them in the error."""
    if _HEX32_RE.fullmatch(text) is None:
        raise e.bad_argument(f"{text[:70]!r} is not {what} (64 hex characters)")
    return bytes.fromhex(text)


def parse_tx_id(text: str) -> bytes:
    """The 32 bytes of a tx id given as 64 hex characters."""
    return parse_hex32(text, "a tx id (the SHA-256 of the body)")


def check_account_id(account_id: str) -> str:
    """The account id itself, once it has the shape of one (ACCOUNT_ID_PATTERN)."""
    if ACCOUNT_ID_RE.fullmatch(account_id) is None:
        raise e.bad_argument(
            f"{account_id[:70]!r} is not an account id (3 to 64 of a-z, 0-9, '.', '-')"
        )
    return account_id


def check_asset_code(code: str) -> str:
    """The asset code itself, once it has the shape of one (ASSET_CODE_PATTERN)."""
    if ASSET_CODE_RE.fullmatch(code) is None:
        raise e.bad_argument(
            f"{code[:40]!r} is not an asset code (an upper-case letter, then 1 to 11 "
            "upper-case letters or digits)"
        )
    return code


def check_cursor(text: str) -> str:
    """A page cursor "HEIGHT-INDEX" in its canonical form (CURSOR_PATTERN)."""
    if _CURSOR_RE.fullmatch(text) is None:
        raise e.bad_argument(f"after must be a cursor from a previous page, not {text[:40]!r}")
    return text


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
        raise e.bad_argument(
            f'the body must be a JSON object {{"tx": BASE64}}, not {json_kind(doc)}'
        )
    unknown = sorted(set(doc) - {"tx"})
    if unknown:
        raise e.bad_argument(f"unknown field {unknown[0][:40]!r}; the body is {{'tx': BASE64}}")
    tx = doc.get("tx")
    if tx is None:
        raise e.bad_argument('missing field "tx" (base64 of a serialized TxEnvelope)')
    if not isinstance(tx, str):
        raise e.bad_argument(f'"tx" must be a base64 string, not {json_kind(tx)}')
    if not tx:
        raise e.bad_argument('"tx" is empty')
    return decode_base64(tx, '"tx"')


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
        if not isinstance(tx, str):
            raise e.bad_argument(
                f'"txs"[{i}] must be a non-empty base64 string, not {json_kind(tx)}'
            )
        if not tx:
            raise e.bad_argument(f'"txs"[{i}] is empty')
        out.append(decode_base64(tx, f'"txs"[{i}]'))
    return out


def decode_base64(text: str, what: str) -> bytes:
    """The bytes of a non-empty standard base64 string (BASE64_PATTERN)."""
    if _BASE64_RE.fullmatch(text) is None:
        raise e.ApiProblem(
            400, e.INVALID_BASE64, f"{what} is not standard base64 (A-Z a-z 0-9 + / and = padding)"
        )
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):  # unreachable after the pattern; kept as a guard
        raise e.ApiProblem(400, e.INVALID_BASE64, f"{what} is not standard base64") from None


def json_kind(value: object) -> str:
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
