"""GET /v1/iso20022/camt.053/{id} and the camt.054 notification stream on an in-process
node (real LevelDB, real ledger): payments with ids, a statement read back with the
independent parser `bankstatementparser` and compared with /v1/accounts/{id}/transactions,
bad ranges and assets without an ISO form refused with their codes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import trio
from api_support import LocalNode
from bankstatementparser import CamtParser
from camt_support import signed_amounts
from lxml import etree

from node.api import _statements, create_app, serve_api
from node.client import ApiError, TengeClient
from node.iso20022 import CAMT_053, CAMT_054, namespace, schema
from node.ledger.txbuild import PaymentIds, issue, redeem, transfer
from proto import ledger_pb2 as pb

UETR: Final = "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901"
INVOICE: Final = PaymentIds(
    end_to_end_id="INV-2026/1",
    uetr=UETR,
    purpose_code="GDDS",
    creditor_reference_type="SCOR",
    creditor_reference="RF18539007547034",
    unstructured="invoice 1 of 2026",
)
GENESIS_HALYK: Final = 1_000_000


def pay(node: LocalNode) -> None:
    """Heights 1 to 5: an issue to kaspi, halyk's payments with and without ids (one of
    two legs), kaspi paying back (and refused a payment), halyk redeeming."""
    ok = pb.OK
    assert node.run("nbk", issue("KZT", "kaspi", 500_000)).code == ok
    assert node.run("halyk", transfer(("halyk", "kaspi", "KZT", 12_550, INVOICE))).code == ok
    # Height 3: kaspi pays back, and a payment past its balance is refused (listed in both
    # accounts' histories, moving nothing).
    back = node.tx("kaspi", transfer(("kaspi", "halyk", "KZT", 1_000)))
    too_much = node.tx("kaspi", transfer(("kaspi", "halyk", "KZT", 10**12)))
    node.commit_block([back, too_much])
    codes = [r.code for r in node.store.get_receipts(3)]
    assert codes == [ok, pb.INSUFFICIENT_FUNDS]
    two = transfer(
        ("halyk", "kaspi", "KZT", 100, PaymentIds(end_to_end_id="B-1")),
        ("halyk", "kaspi", "KZT", 200, PaymentIds(end_to_end_id="B-2")),
        reference="batch",
    )
    assert node.run("halyk", two).code == ok
    assert node.run("halyk", redeem("KZT", 5_000)).code == ok


async def statement(http: httpx.AsyncClient, account: str, **params: Any) -> httpx.Response:
    return await http.get(f"/v1/iso20022/camt.053/{account}", params=params)


def valid(document: bytes, message: str = CAMT_053) -> etree._Element:
    root = etree.fromstring(document)
    errors = list(schema(message).iter_errors(root))
    assert not errors, errors[0]
    return root


async def test_the_statement_reads_back_with_the_api_s_balances_and_entries(
    local_node: LocalNode, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    pay(local_node)
    tip = local_node.store.height
    r = await statement(http, "halyk", from_height=2, to_height=tip)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/xml")
    valid(r.content)
    path = tmp_path / "camt053.xml"
    path.write_bytes(r.content)
    parser = CamtParser(str(path))

    account = (await http.get("/v1/accounts/halyk")).json()
    closing = int(account["balances"]["KZT"])
    balances = parser.get_account_balances()
    assert list(balances["Code"]) == ["OPBD", "CLBD"]
    assert list(balances["Currency"]) == ["KZT", "KZT"]
    assert list(balances["AccountId"]) == ["halyk", "halyk"]
    assert [Decimal(str(x)) for x in balances["Amount"]] == [
        Decimal(GENESIS_HALYK) / 100,
        Decimal(closing) / 100,
    ]

    history = (await http.get("/v1/accounts/halyk/transactions")).json()
    expected = signed_amounts(history, "halyk")
    assert len(expected) == 5  # -12550, +1000, -100, -200, -5000
    entries = parser.parse()
    got = [
        (int(Decimal(str(amount)) * 100), str(e2e))
        for amount, e2e in zip(entries["Amount"], entries["EndToEndId"], strict=True)
    ]
    assert got == expected
    assert GENESIS_HALYK + sum(amount for amount, _ in got) == closing
    assert list(entries["DrCr"]) == ["DBIT", "CRDT", "DBIT", "DBIT", "DBIT"]
    assert "invoice 1 of 2026" in str(entries["Reference"].iloc[0])


async def test_the_statement_carries_the_uetr_purpose_and_structured_remittance(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    pay(local_node)
    r = await statement(http, "kaspi", from_height=1)
    root = valid(r.content)
    ns = {"c": namespace(CAMT_053)}
    tx = "//c:Ntry/c:NtryDtls/c:TxDtls"
    assert root.xpath(f"{tx}/c:Refs/c:UETR/text()", namespaces=ns) == [UETR]
    assert root.xpath(f"{tx}/c:Purp/c:Cd/text()", namespaces=ns) == ["GDDS"]
    assert root.xpath(f"{tx}/c:RmtInf/c:Strd/c:CdtrRefInf/c:Ref/text()", namespaces=ns) == [
        "RF18539007547034"
    ]
    # kaspi: the issue (+500000), three payments in, one out; from genesis (0).
    amounts = root.xpath("//c:Ntry/c:Amt/text()", namespaces=ns)
    assert amounts == ["5000.00", "125.50", "10.00", "1.00", "2.00"]
    assert root.xpath("//c:Bal/c:Amt/text()", namespaces=ns) == ["0.00", "5118.50"]


async def test_the_opening_balance_is_the_one_before_the_first_height(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    pay(local_node)
    ns = {"c": namespace(CAMT_053)}
    for first, opening in [(1, "10000.00"), (3, "9874.50"), (4, "9884.50"), (5, "9881.50")]:
        root = valid((await statement(http, "halyk", from_height=first)).content)
        assert root.xpath("//c:Bal/c:Amt/text()", namespaces=ns) == [opening, "9831.50"], first


async def test_a_date_range_maps_to_heights_by_block_time(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    pay(local_node)  # every block on 2026-01-01 (UTC)
    by_date = await statement(http, "halyk", from_date="2026-01-01", to_date="2026-01-01")
    by_height = await statement(http, "halyk", from_height=1, to_height=local_node.store.height)
    assert by_date.status_code == 200, by_date.text
    assert by_date.content == by_height.content
    assert (await statement(http, "halyk", from_date="2025-12-31")).content == by_height.content
    late = await statement(http, "halyk", from_date="2026-01-02")
    assert (late.status_code, late.json()["error"]["code"]) == (400, "INVALID_RANGE")


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"from_height": "3", "to_height": "2"}, 400, "INVALID_RANGE"),
        ({"from_height": "1", "to_height": "99"}, 400, "INVALID_RANGE"),  # past the tip
        ({"from_height": "0"}, 400, "INVALID_RANGE"),
        ({"to_height": "2"}, 400, "INVALID_RANGE"),
        ({}, 400, "INVALID_RANGE"),
        ({"from_height": "1", "from_date": "2026-01-01"}, 400, "INVALID_RANGE"),
        ({"from_date": "2026-01-02", "to_date": "2026-01-01"}, 400, "INVALID_RANGE"),
        ({"from_date": "2026-02-30"}, 400, "INVALID_ARGUMENT"),
        ({"from_date": "01.01.2026"}, 400, "INVALID_ARGUMENT"),
        ({"from_height": "two"}, 400, "INVALID_ARGUMENT"),
        ({"from_height": "1", "asset": "kzt"}, 400, "INVALID_ARGUMENT"),
        ({"from_height": "1", "page": "2"}, 400, "INVALID_ARGUMENT"),
    ],
)
async def test_bad_ranges_are_refused_with_their_codes(
    local_node: LocalNode,
    http: httpx.AsyncClient,
    params: dict[str, str],
    status: int,
    code: str,
) -> None:
    pay(local_node)
    r = await statement(http, "halyk", **params)
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text


async def test_unknown_accounts_and_malformed_ids(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    r = await statement(http, "nobody", from_height=1)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "NOT_FOUND")
    r = await statement(http, "Bad_Id", from_height=1)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "INVALID_ARGUMENT")
    r = await statement(http, "halyk", from_height=1, asset="EUR")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "NOT_FOUND")


async def test_ranges_past_the_bounds_are_too_large(
    local_node: LocalNode, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    pay(local_node)
    monkeypatch.setattr(_statements, "MAX_STATEMENT_HEIGHTS", 3)
    r = await statement(http, "halyk", from_height=1, to_height=4)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "RANGE_TOO_LARGE")
    assert (await statement(http, "halyk", from_height=2, to_height=4)).status_code == 200
    monkeypatch.setattr(_statements, "MAX_STATEMENT_ENTRIES", 2)
    r = await statement(http, "halyk", from_height=2, to_height=4)  # three txs of halyk
    assert (r.status_code, r.json()["error"]["code"]) == (400, "RANGE_TOO_LARGE")


async def test_an_asset_without_an_iso_currency_is_refused_naming_it(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    register = pb.RegisterAsset(
        code="USDT", decimals=6, issuer="kaspi", kind=pb.STABLECOIN, payment_zones=[pb.CRYPTOCITY]
    )
    assert local_node.govern(register).code == pb.OK
    assert local_node.run("kaspi", issue("USDT", "kaspi", 7_000_000)).code == pb.OK
    assert local_node.run("nbk", issue("KZT", "kaspi", 500)).code == pb.OK
    r = await statement(http, "kaspi", from_height=1)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert (error["code"], error["asset"]) == ("NOT_REPRESENTABLE", "USDT")
    assert "USDT" in error["message"]
    only_kzt = await statement(http, "kaspi", from_height=1, asset="KZT")
    assert only_kzt.status_code == 200, only_kzt.text
    root = valid(only_kzt.content)
    ns = {"c": namespace(CAMT_053)}
    assert root.xpath("//c:Ntry/c:Amt/text()", namespaces=ns) == ["5.00"]
    usdt = await statement(http, "kaspi", from_height=1, asset="USDT")
    assert (usdt.status_code, usdt.json()["error"]["code"]) == (422, "NOT_REPRESENTABLE")


# ---- notifications ----


@pytest.fixture
async def base_url(local_node: LocalNode) -> AsyncIterator[str]:
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            app = create_app(local_node, keepalive_s=0.2)
            port = await nursery.start(serve_api, app, "127.0.0.1", 0)
            yield f"http://127.0.0.1:{port}"
            nursery.cancel_scope.cancel()


async def test_notifications_replay_then_follow_the_account_s_blocks(
    local_node: LocalNode, base_url: str
) -> None:
    pay(local_node)  # halyk moves at heights 2, 3, 4 and 5, not 1
    got: list[dict[str, Any]] = []
    async with TengeClient(base_url) as api, trio.open_nursery() as nursery:

        async def listen() -> None:
            async with api.iso_notifications("halyk", after=2) as stream:
                async for event in stream:
                    got.append(event)
                    if len(got) == 4:
                        break

        nursery.start_soon(listen)
        await local_node.subscribed.wait()
        local_node.commit_block([])  # nothing of halyk's: no event
        local_node.run("kaspi", transfer(("kaspi", "halyk", "KZT", 7, INVOICE)))
    assert [event["height"] for event in got] == [3, 4, 5, 7]
    ns = {"c": namespace(CAMT_054)}
    amounts = []
    for event in got:
        root = valid(event["document"], CAMT_054)
        amounts.append(root.xpath("//c:Ntry/c:Amt/text()", namespaces=ns))
    assert amounts == [["10.00"], ["1.00", "2.00"], ["50.00"], ["0.07"]]
    last = valid(got[-1]["document"], CAMT_054)
    assert last.xpath("//c:Refs/c:UETR/text()", namespaces=ns) == [UETR]
    assert last.xpath("//c:Ntry/c:CdtDbtInd/text()", namespaces=ns) == ["CRDT"]


async def test_notifications_of_an_unknown_account_are_refused(base_url: str) -> None:
    async with TengeClient(base_url) as api, api.iso_notifications("nobody") as stream:
        with pytest.raises(ApiError) as info:
            async for _ in stream:
                pass
    assert (info.value.status, info.value.code) == (404, "NOT_FOUND")


async def test_the_client_fetches_a_statement(local_node: LocalNode, base_url: str) -> None:
    pay(local_node)
    async with TengeClient(base_url) as api:
        document = await api.iso_statement("halyk", from_height=2, to_height=3)
        valid(document)
        with pytest.raises(ApiError) as info:
            await api.iso_statement("halyk", from_height=3, to_height=2)
    assert (info.value.status, info.value.code) == (400, "INVALID_RANGE")


# ---- what no body says: the rest of the block's balance change ----


def ntry(root: etree._Element) -> list[tuple[str, str, str]]:
    """(amount, CdtDbtInd, bank transaction code) of every entry."""
    ns = {"c": namespace(CAMT_053)}
    out = []
    for entry in root.xpath("//c:Ntry", namespaces=ns):
        code = entry.xpath("c:BkTxCd/c:Prtry/c:Cd/text() | c:BkTxCd/c:Domn/c:Fmly/c:Cd/text()",
                           namespaces=ns)  # fmt: skip
        amount = entry.xpath("c:Amt/text()", namespaces=ns)[0]
        out.append((amount, entry.xpath("c:CdtDbtInd/text()", namespaces=ns)[0], code[0]))
    return out


def balances(root: etree._Element) -> list[str]:
    return [
        str(x) for x in root.xpath("//c:Bal/c:Amt/text()", namespaces={"c": namespace(CAMT_053)})
    ]


async def test_a_closure_sweep_is_booked_on_both_accounts(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    for name in ("alice.halyk", "dana.halyk"):
        register = pb.RegisterAccount(
            account_id=name, role=pb.CUSTOMER, zone=pb.NATIONAL, kyc_tier=1,
            public_keys=[bytes(32)],
        )  # fmt: skip
        assert local_node.run("halyk", register).code == pb.OK
    assert local_node.run("halyk", transfer(("halyk", "alice.halyk", "KZT", 5_000))).code == pb.OK
    close = pb.CloseAccount(account_id="alice.halyk", sweep_to="dana.halyk", legal_ref="AFM 17")
    receipt = local_node.run("afm", close)
    assert receipt.code == pb.OK, receipt.message
    alice = valid((await statement(http, "alice.halyk", from_height=1)).content)
    assert ntry(alice) == [("50.00", "CRDT", "RCDT"), ("50.00", "DBIT", "CLOSE_ACCOUNT")]
    assert balances(alice) == ["0.00", "0.00"]
    dana = valid((await statement(http, "dana.halyk", from_height=1)).content)
    assert ntry(dana) == [("50.00", "CRDT", "CLOSE_ACCOUNT")]
    assert balances(dana) == ["0.00", "50.00"]


async def test_the_backing_of_a_stablecoin_issue_is_booked_in_kzt(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    kzte = pb.RegisterAsset(
        code="KZTE", decimals=6, issuer="halyk", kind=pb.STABLECOIN,
        payment_zones=[pb.CRYPTOCITY], backed_by="KZT", reserve_account="kzte.reserve",
    )  # fmt: skip
    assert local_node.govern(kzte).code == pb.OK
    register = pb.RegisterAccount(
        account_id="erlan.halyk", role=pb.CUSTOMER, zone=pb.NATIONAL, kyc_tier=1,
        public_keys=[bytes(32)],
    )  # fmt: skip
    # One block: a registration of halyk's first, then its issue of 1000 KZTE.
    local_node.commit_block(
        [local_node.tx("halyk", register), local_node.tx("halyk", issue("KZTE", "halyk", 10**9))]
    )
    assert [r.code for r in local_node.store.get_receipts(local_node.store.height)] == [pb.OK] * 2
    assert local_node.run("halyk", redeem("KZTE", 25 * 10**7)).code == pb.OK
    halyk = valid((await statement(http, "halyk", from_height=1, asset="KZT")).content)
    assert ntry(halyk) == [("1000.00", "DBIT", "ISSUE"), ("250.00", "CRDT", "REDEEM")]
    assert balances(halyk) == ["10000.00", "9250.00"]
    reserve = valid((await statement(http, "kzte.reserve", from_height=1)).content)
    assert ntry(reserve) == [("1000.00", "CRDT", "ISSUE"), ("250.00", "DBIT", "REDEEM")]
    refused = await statement(http, "halyk", from_height=1)  # KZTE has no ISO currency
    assert (refused.status_code, refused.json()["error"]["asset"]) == (422, "KZTE")


async def test_a_change_no_transaction_explains_is_a_logged_500(
    local_node: LocalNode, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    pay(local_node)
    local_node.commit_block([])  # height 6: nothing of halyk's
    key = b"ab/halyk\x00KZT\x00" + (6).to_bytes(8, "big")
    local_node.store._db.put(key, (0).to_bytes(16, "big") + (7).to_bytes(16, "big"))
    r = await statement(http, "halyk", from_height=1)
    assert (r.status_code, r.json()["error"]["code"]) == (500, "STATEMENT_INCONSISTENT")
    assert "changed by" in caplog.text


async def test_a_statement_before_the_balance_index_is_refused(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    pay(local_node)
    local_node.store.balances_from = 3  # as a store upgraded at height 3
    r = await statement(http, "halyk", from_height=2)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "INVALID_RANGE")
    assert "from height 3" in r.json()["error"]["message"]
    assert (await statement(http, "halyk", from_height=3)).status_code == 200


async def test_one_stmt_per_asset_each_read_back_with_its_balances(
    local_node: LocalNode, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    usd = pb.RegisterAsset(
        code="USD", decimals=2, issuer="kaspi", kind=pb.STABLECOIN, payment_zones=[pb.CRYPTOCITY]
    )
    assert local_node.govern(usd).code == pb.OK
    assert local_node.run("kaspi", issue("USD", "kaspi", 4_200)).code == pb.OK
    assert local_node.run("nbk", issue("KZT", "kaspi", 900)).code == pb.OK
    r = await statement(http, "kaspi", from_height=1)
    assert r.status_code == 200, r.text
    valid(r.content)
    path = tmp_path / "two.xml"
    path.write_bytes(r.content)
    parser = CamtParser(str(path))
    found = parser.get_account_balances()
    assert list(zip(found["StatementIndex"], found["Currency"], found["Code"], strict=True)) == [
        (0, "KZT", "OPBD"), (0, "KZT", "CLBD"), (1, "USD", "OPBD"), (1, "USD", "CLBD")
    ]  # fmt: skip
    assert [str(x) for x in found["Amount"]] == ["0.00", "9.00", "0.00", "42.00"]
    entries = parser.parse()
    assert list(zip(entries["Currency"], [str(x) for x in entries["Amount"]], strict=True)) == [
        ("KZT", "9.00"), ("USD", "42.00")
    ]  # fmt: skip


async def test_a_block_without_an_iso_form_is_announced_not_dropped(
    local_node: LocalNode, base_url: str
) -> None:
    register = pb.RegisterAsset(
        code="USDT", decimals=6, issuer="kaspi", kind=pb.STABLECOIN, payment_zones=[pb.CRYPTOCITY]
    )
    assert local_node.govern(register).code == pb.OK
    got: list[dict[str, Any]] = []
    async with TengeClient(base_url) as api, trio.open_nursery() as nursery:

        async def listen() -> None:
            async with api.iso_notifications("kaspi") as stream:
                async for event in stream:
                    got.append(event)
                    if len(got) == 2:
                        break

        nursery.start_soon(listen)
        await local_node.subscribed.wait()
        local_node.run("kaspi", issue("USDT", "kaspi", 10**6))
        local_node.run("nbk", issue("KZT", "kaspi", 100))
    usdt, kzt = got
    assert "USDT" in usdt["not_representable"]
    assert usdt["height"] == kzt["height"] - 1
    valid(kzt["document"], CAMT_054)
