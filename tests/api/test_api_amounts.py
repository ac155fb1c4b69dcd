"""128-bit amounts through the API: an 18-decimal asset above 2^64, in and out as strings."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest
import trio
from api_support import LocalNode, key

from node.client import ApiError, TengeClient, parse_amount
from node.ledger import AMOUNT_MAX
from node.ledger.txbuild import issue, transfer, tx_id_of
from proto import ledger_pb2 as pb

THOUSAND = 10**21  # 1,000 USDT of 18 decimals: above 2^64


@pytest.fixture
async def committing(local_node: LocalNode) -> AsyncIterator[LocalNode]:
    """The node, committing a block whenever a transaction is admitted."""
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(local_node.auto_commit)
            yield local_node
            nursery.cancel_scope.cancel()


def usdt18(node: LocalNode) -> None:
    register = pb.RegisterAsset(
        code="USDT", decimals=18, issuer="kaspi", kind=pb.STABLECOIN, payment_zones=[pb.CRYPTOCITY]
    )
    assert node.govern(register).code == pb.OK


async def test_an_18_decimal_asset_above_2_64_reads_as_decimal_strings(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    usdt18(local_node)
    assert local_node.run("kaspi", issue("USDT", "kaspi", 5 * THOUSAND)).code == pb.OK
    raw = local_node.tx("kaspi", transfer(("kaspi", "halyk", "USDT", THOUSAND + 1)))
    r = await http.post("/v1/txs", json={"tx": base64.b64encode(raw).decode()})
    assert r.status_code == 202, r.text
    local_node.commit_block()
    assert (await http.get(f"/v1/txs/{tx_id_of(raw).hex()}")).json()["code"] == "OK"

    usdt = (await http.get("/v1/assets/USDT")).json()
    assert usdt["decimals"] == 18
    assert (usdt["issued"], usdt["redeemed"], usdt["seized"], usdt["outstanding"]) == (
        "5000000000000000000000",
        "0",
        "0",
        "5000000000000000000000",
    )
    assert not any(name.endswith("_high") for name in usdt)
    halyk = (await http.get("/v1/accounts/halyk")).json()
    assert halyk["balances"]["USDT"] == "1000000000000000000001"
    shown = (await http.get(f"/v1/txs/{tx_id_of(raw).hex()}")).json()["tx"]["transfer"]
    no_ids = {
        "end_to_end_id": "",
        "uetr": "",
        "purpose_code": "",
        "remittance": {"creditor_reference_type": "", "creditor_reference": "", "unstructured": ""},
        "travel_copies": [],
    }
    assert shown["legs"] == [
        {
            "payer": "kaspi",
            "payee": "halyk",
            "asset": "USDT",
            "amount": "1000000000000000000001",
            **no_ids,
        }
    ]


async def test_the_client_sends_2_128_minus_1_and_one_more_overflows(
    committing: LocalNode, api: TengeClient
) -> None:
    usdt18(committing)
    most = parse_amount("340282366920938463463.374607431768211455", 18)
    assert most == AMOUNT_MAX
    kaspi = [key("kaspi")]
    result = await api.issue(
        signer="kaspi", keys=kaspi, asset="USDT", to="kaspi", amount=most, wait=True
    )
    assert result.ok, result
    with pytest.raises(ApiError) as refused:
        await api.issue(signer="kaspi", keys=kaspi, asset="USDT", to="halyk", amount=1, wait=True)
    assert refused.value.code == "AMOUNT_OVERFLOW"
    assert (await api.asset("USDT"))["outstanding"] == str(AMOUNT_MAX)
    assert (await api.account("kaspi"))["balances"] == {"USDT": str(AMOUNT_MAX)}


async def test_openapi_says_amounts_are_128_bit(api: TengeClient) -> None:
    doc = await api.openapi()
    amount = doc["components"]["schemas"]["Asset"]["properties"]["issued"]
    assert amount["pattern"] == "^(0|[1-9][0-9]*)$"
    assert amount["maxLength"] == len(str(AMOUNT_MAX))
    assert "2^128 - 1" in amount["description"]
