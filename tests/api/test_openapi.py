"""/openapi.json describes exactly the app's routes, parameters and error codes."""

from __future__ import annotations

import json
import re

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import Route

from node.api import HTTP_CODES, error_codes
from node.api._errors import ApiProblem
from node.api._requests import (
    ACCOUNT_ID_PATTERN,
    ASSET_CODE_PATTERN,
    BASE64_PATTERN,
    CURSOR_PATTERN,
    END_TO_END_ID_PATTERN,
    HEX32_PATTERN,
    UETR_PATTERN,
    check_account_id,
    check_asset_code,
    check_cursor,
    decode_submission,
    parse_hex32,
)
from node.ledger import MAX_ID_CHARS, identifier_error, parse_uetr
from proto import ledger_pb2


def app_routes(app: Starlette) -> set[tuple[str, str]]:
    out = set()
    for route in app.routes:
        assert isinstance(route, Route)
        for method in route.methods or ():
            if method != "HEAD":
                out.add((route.path, method.lower()))
    return out


async def test_every_route_is_documented_and_nothing_else(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    doc = (await http.get("/openapi.json")).json()
    assert doc["openapi"] == "3.1.0"
    documented = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert documented == app_routes(app)


async def test_path_parameters_and_refs_are_declared(http: httpx.AsyncClient) -> None:
    doc = (await http.get("/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    text = str(doc)
    for ref in re.findall(r"#/components/schemas/(\w+)", text):
        assert ref in schemas, ref
    for path, item in doc["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for op in item.values():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == names, path
            assert "500" in op["responses"] or path == "/v1/health"
            assert "405" in op["responses"]


async def test_error_codes_are_listed(http: httpx.AsyncClient) -> None:
    doc = (await http.get("/openapi.json")).json()
    listed = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]
    assert set(listed["enum"]) == set(error_codes())
    assert set(HTTP_CODES) <= set(listed["enum"])
    ledger = {v.name for v in ledger_pb2.ResultCode.DESCRIPTOR.values} - {"OK"}
    assert ledger <= set(listed["enum"])


async def test_every_path_parameter_and_request_body_is_exact(http: httpx.AsyncClient) -> None:
    """No bare string in a path, no open request body: the document says what passes."""
    doc = (await http.get("/openapi.json")).json()
    for path, item in doc["paths"].items():
        for op in item.values():
            for param in op.get("parameters", []):
                schema = param["schema"]
                assert "pattern" in schema or "enum" in schema or schema["type"] != "string", (
                    path,
                    param["name"],
                )
    schemas = doc["components"]["schemas"]
    for name in ("Submission", "BatchSubmission"):
        assert schemas[name]["additionalProperties"] is False, name
        assert schemas[name]["required"], name


async def test_a_literal_route_answers_405_for_its_other_methods(http: httpx.AsyncClient) -> None:
    """GET /v1/txs/batch is not a lookup of the tx id "batch"."""
    response = await http.get("/v1/txs/batch")
    assert response.status_code == 405, response.text
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert response.headers["allow"] == "POST"
    assert (await http.post("/v1/blocks/latest")).status_code == 405
    tx_id = "AB" * 32  # either case, as the pattern says
    assert (await http.get(f"/v1/txs/{tx_id}")).status_code == 404


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=80),
        st.from_regex(CURSOR_PATTERN, fullmatch=True),
        # near misses: leading zeros, too many digits, other scripts' digits
        st.from_regex(r"[0-9\u0660-\u0669]{1,22}-[0-9]{1,12}", fullmatch=True),
    )
)
def test_the_published_cursor_pattern_is_the_one_checked(text: str) -> None:
    try:
        check_cursor(text)
        accepted = True
    except ApiProblem:
        accepted = False
    assert accepted == (re.fullmatch(CURSOR_PATTERN, text) is not None)


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=80),
        st.from_regex(HEX32_PATTERN, fullmatch=True),
        st.from_regex(ACCOUNT_ID_PATTERN, fullmatch=True),
        st.from_regex(ASSET_CODE_PATTERN, fullmatch=True),
        st.from_regex(BASE64_PATTERN, fullmatch=True),
        # near misses: wrong lengths, cases, separators and padding
        st.from_regex(r"(?:[0-9a-fA-F]{2} ?){31,33}|[0-9a-fA-Fg]{62,66}", fullmatch=True),
        st.from_regex(r"[a-zA-Z0-9._-]{1,66}", fullmatch=True),
        st.from_regex(r"[A-Za-z0-9]{0,14}", fullmatch=True),
        st.from_regex(r"[A-Za-z0-9+/=]{0,13}", fullmatch=True),
    )
)
def test_the_published_id_patterns_are_the_ones_checked(text: str) -> None:
    """Each id check accepts exactly what its pattern in /openapi.json matches."""
    checks = [
        (HEX32_PATTERN, lambda t: parse_hex32(t, "an id")),
        (ACCOUNT_ID_PATTERN, check_account_id),
        (ASSET_CODE_PATTERN, check_asset_code),
        (BASE64_PATTERN, lambda t: decode_submission(json.dumps({"tx": t}).encode())),
    ]
    for pattern, check in checks:
        try:
            check(text)
            accepted = True
        except ApiProblem:
            accepted = False
        assert accepted == (re.fullmatch(pattern, text) is not None), (pattern, text)


@settings(max_examples=400, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=40),
        st.from_regex(UETR_PATTERN, fullmatch=True),
        st.from_regex(END_TO_END_ID_PATTERN, fullmatch=True).filter(lambda t: len(t) <= 40),
        # near misses: other versions and variants, slashes and spaces at the ends
        st.from_regex(
            r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", fullmatch=True
        ),
        st.from_regex(r"[A-Za-z0-9/ ?:().,'+-]{1,37}", fullmatch=True),
    )
)
def test_the_published_payment_id_patterns_are_the_ones_checked(text: str) -> None:
    """The UETR and end-to-end id of the payment lookups: the ledger's checks accept
    exactly what /openapi.json's patterns (with the end-to-end id's maxLength) match."""
    try:
        parse_uetr(text)
        uetr_ok = True
    except ValueError:
        uetr_ok = False
    assert uetr_ok == (re.fullmatch(UETR_PATTERN, text) is not None), text
    e2e_ok = identifier_error(text) is None
    published = re.fullmatch(END_TO_END_ID_PATTERN, text) is not None and len(text) <= MAX_ID_CHARS
    assert e2e_ok == published, text
