"""/openapi.json describes exactly the app's routes, parameters and error codes."""

from __future__ import annotations

import re

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from node.api import HTTP_CODES, error_codes
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
