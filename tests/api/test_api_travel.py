"""The travel-rule routes in-process over a real store: GET /v1/travel/recipients names a
leg's recipients as the ledger judges them, GET /v1/txs/{id}/travel hands out the sealed
copies that only their recipients open, GET /v1/txs shows their sizes only, and malformed
or unknown ids get their stable error codes."""

from __future__ import annotations

import httpx
from api_support import LocalNode, key

from node.keys import TravelKey
from node.ledger.txbuild import (
    PaymentIds,
    open_travel_copy,
    seal_travel_data,
    transfer,
    tx_id_of,
)
from proto import ledger_pb2 as pb

DATA = pb.TravelRuleData(
    originator_name="Aigerim Seitkali",
    originator_account="halyk",
    originator_id="IIN 900101400123",
    beneficiary_name="Dana Bekova",
    beneficiary_account="dana.kaspi",
)


def _travel_key(name: str) -> TravelKey:
    return TravelKey.from_private(key(f"travel-{name}").seed)


def _setup(node: LocalNode) -> None:
    customer = pb.RegisterAccount(
        account_id="dana.kaspi",
        role=pb.CUSTOMER,
        zone=pb.NATIONAL,
        kyc_tier=1,
        public_keys=[key("dana.kaspi").public_key],
    )
    assert node.run("kaspi", customer).code == pb.OK
    for name in ("halyk", "afm"):
        published = pb.PublishTravelKey(public_key=_travel_key(name).public_key)
        assert node.run(name, published).code == pb.OK


async def test_recipients_name_both_banks_and_the_regulator_with_their_keys(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    _setup(local_node)
    r = await http.get("/v1/travel/recipients", params={"payer": "halyk", "payee": "dana.kaspi"})
    assert r.status_code == 200, r.text
    found = {d["account_id"]: (d["receives_for"], d["travel_key"]) for d in r.json()["recipients"]}
    assert found == {
        "halyk": ("the payer", _travel_key("halyk").public_key.hex()),
        "kaspi": ("the payee", None),  # no key yet: such a leg is refused NO_TRAVEL_KEY
        "afm": ("the regulator", _travel_key("afm").public_key.hex()),
    }
    shown = (await http.get("/v1/accounts/halyk")).json()
    assert shown["travel_key"] == _travel_key("halyk").public_key.hex()
    assert shown["travel_key_height"] >= 1
    assert (await http.get("/v1/accounts/kaspi")).json()["travel_key"] is None


async def test_copies_are_shown_by_size_and_handed_out_sealed(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    _setup(local_node)
    published = pb.PublishTravelKey(public_key=_travel_key("kaspi").public_key)
    assert local_node.run("kaspi", published).code == pb.OK
    keys = {name: _travel_key(name).public_key for name in ("halyk", "kaspi", "afm")}
    copies = seal_travel_data(DATA, keys)
    raw = local_node.tx(
        "halyk", transfer(("halyk", "dana.kaspi", "KZT", 500, PaymentIds(), copies))
    )
    local_node.commit_block([raw])
    tx_id = tx_id_of(raw).hex()
    shown = await http.get(f"/v1/txs/{tx_id}")
    assert shown.json()["code"] == "OK"
    (leg,) = shown.json()["tx"]["transfer"]["legs"]
    assert leg["travel_copies"] == [
        {"recipient": c.recipient, "size": len(c.sealed)} for c in copies
    ]
    assert copies[0].sealed.hex() not in shown.text
    r = await http.get(f"/v1/txs/{tx_id}/travel")
    assert r.status_code == 200, r.text
    (got,) = r.json()["legs"]
    assert got["index"] == 0
    for item in got["copies"]:
        copy = pb.TravelCopy(recipient=item["recipient"], sealed=bytes.fromhex(item["sealed"]))
        assert open_travel_copy(copy, _travel_key(item["recipient"]).private_key) == DATA
    plain = local_node.tx("halyk", pb.Redeem(asset="KZT", amount=1))
    local_node.commit_block([plain])
    other = await http.get(f"/v1/txs/{tx_id_of(plain).hex()}/travel")
    assert other.json()["legs"] == []


async def test_malformed_and_unknown_queries_get_their_codes(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    _setup(local_node)
    cases = [
        ("/v1/travel/recipients", {}, 400, "INVALID_ARGUMENT"),
        ("/v1/travel/recipients", {"payer": "halyk"}, 400, "INVALID_ARGUMENT"),
        ("/v1/travel/recipients", {"payer": "Bad Id", "payee": "kaspi"}, 400, "INVALID_ARGUMENT"),
        ("/v1/travel/recipients", {"payer": "halyk", "payee": "k" * 65}, 400, "INVALID_ARGUMENT"),
        ("/v1/travel/recipients", {"payer": "halyk", "payee": "nobody"}, 404, "NOT_FOUND"),
        (
            "/v1/travel/recipients",
            {"payer": "halyk", "payee": "kaspi", "extra": "1"},
            400,
            "INVALID_ARGUMENT",
        ),
        ("/v1/txs/zz/travel", {}, 400, "INVALID_ARGUMENT"),
        (f"/v1/txs/{'ab' * 32}/travel", {}, 404, "NOT_FOUND"),
    ]
    for path, params, status, code in cases:
        r = await http.get(path, params=params)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (path, params)
