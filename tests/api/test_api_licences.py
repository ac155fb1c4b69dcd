"""Licences on the API: GET /v1/accounts/{id} shows the licence or null, GET /v1/licences/{id}."""

from __future__ import annotations

import httpx
from api_support import LocalNode, key

from node.ledger.txbuild import transfer
from proto import ledger_pb2 as pb

USDT = pb.RegisterAsset(
    code="USDT", decimals=6, issuer="kaspi", kind=pb.STABLECOIN, payment_zones=[pb.CRYPTOCITY]
)


async def test_the_licence_is_shown_granted_then_revoked(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    assert local_node.govern(USDT).code == pb.OK
    register = pb.RegisterAccount(
        account_id="firm.api",
        role=pb.MERCHANT,
        zone=pb.NATIONAL,
        kyc_tier=1,
        public_keys=[key("firm.api").public_key],
    )
    assert local_node.run("halyk", register).code == pb.OK
    assert (await http.get("/v1/accounts/firm.api")).json()["licence"] is None
    missing = await http.get("/v1/licences/firm.api")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "NOT_FOUND")
    assert (await http.get("/v1/licences/AB")).status_code == 400

    grant = pb.GrantLicence(
        account_id="firm.api",
        assets=["USDT"],
        purposes=[pb.GOVERNMENT_FEE],
        expires_at_height=10_000,
        reference="AFM-LIC-API",
    )
    assert local_node.run("halyk", grant).code == pb.UNAUTHORIZED
    assert local_node.run("afm", grant).code == pb.OK
    shown = (await http.get("/v1/accounts/firm.api")).json()["licence"]
    assert shown["assets"] == ["USDT"]
    assert shown["purposes"] == ["GOVERNMENT_FEE"]
    assert (shown["granted_by"], shown["reference"], shown["in_force"]) == (
        "afm",
        "AFM-LIC-API",
        True,
    )
    assert (
        local_node.run("kaspi", transfer(("kaspi", "firm.api", "USDT", 1))).code
        == pb.INSUFFICIENT_FUNDS
    )
    revoke = pb.RevokeLicence(account_id="firm.api", reference="AFM-DEC-API")
    assert local_node.run("afm", revoke).code == pb.OK
    doc = (await http.get("/v1/licences/firm.api")).json()
    assert (doc["licence"]["revoked"], doc["licence"]["in_force"]) == (True, False)
    assert doc["licence"]["revoke_reference"] == "AFM-DEC-API"
