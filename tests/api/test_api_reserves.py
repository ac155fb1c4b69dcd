"""GET /v1/reserves/{account_id}/inflows: a state reserve's inflows, newest first."""

from __future__ import annotations

import httpx
from api_support import LocalNode

from node.ledger.txbuild import transfer
from proto import ledger_pb2 as pb


async def test_inflows_page_newest_first_with_kind_and_source(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    for amount in (100, 200, 300):
        r = local_node.run(
            "halyk", transfer(("halyk", "reserve", "KZT", amount), purpose=pb.RESERVE_PURCHASE)
        )
        assert r.code == pb.OK, r.message
    r = local_node.run("halyk", transfer(("halyk", "reserve", "KZT", 5)))
    assert r.code == pb.INFLOW_KIND_REQUIRED, r.message
    page = (await http.get("/v1/reserves/reserve/inflows?limit=2")).json()
    assert page["account_id"] == "reserve"
    assert [(i["seq"], i["kind"], i["source"], i["amount"]) for i in page["inflows"]] == [
        (2, "PURCHASED", "halyk", "300"),
        (1, "PURCHASED", "halyk", "200"),
    ]
    assert page["next"] == "1"
    rest = (await http.get("/v1/reserves/reserve/inflows", params={"after": "1"})).json()
    assert [i["amount"] for i in rest["inflows"]] == ["100"]
    assert rest["next"] is None
    for bad in ("/v1/reserves/halyk/inflows", "/v1/reserves/nobody/inflows"):
        assert (await http.get(bad)).status_code == 404
    for query in ("limit=0", "limit=101", "after=x", "page=1"):
        assert (await http.get(f"/v1/reserves/reserve/inflows?{query}")).status_code == 400
