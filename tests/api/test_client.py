"""The Python client in-process: every transaction kind built, signed, submitted, committed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio
from api_support import LocalNode, key

from node.client import ApiError, TengeClient, format_amount, parse_amount


@pytest.fixture
async def committing(local_node: LocalNode) -> AsyncIterator[LocalNode]:
    """The node, committing a block whenever a transaction is admitted."""
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(local_node.auto_commit)
            yield local_node
            nursery.cancel_scope.cancel()


async def test_every_transaction_kind_round_trips(committing: LocalNode, api: TengeClient) -> None:
    nbk, halyk, afm = [key("nbk")], [key("halyk")], [key("afm")]
    alice = key("alice.halyk")
    results = {
        "propose": await api.set_limits(
            signer="nbk",
            keys=nbk,
            kyc_tier=2,
            per_payment=0,
            daily_outflow=0,
            holding_cap=0,
            summary="tier 2 without limits",
            wait=True,
        ),
        "register_account": await api.register_account(
            signer="halyk",
            keys=halyk,
            account_id="alice.halyk",
            role="CUSTOMER",
            zone="CRYPTOCITY",
            kyc_tier=1,  # tier 2's limits are only proposed here
            public_keys=[alice.public_key],
            wait=True,
        ),
        "approve": await api.approve(
            (
                await api.register_asset(
                    signer="nbk",
                    keys=nbk,
                    code="KZTE",
                    decimals=2,
                    issuer="halyk",
                    kind="STABLECOIN",
                    payment_zones=["CRYPTOCITY"],
                    backed_by="KZT",
                    reserve_account="kzte.reserve",
                    summary="a tenge stablecoin",
                    wait=True,
                )
            ).tx_id,
            signer="afm",
            keys=afm,
            wait=True,
        ),
        "issue": await api.issue(
            signer="halyk", keys=halyk, asset="KZTE", to="alice.halyk", amount=50_000, wait=True
        ),
        "transfer": await api.transfer(
            keys=halyk, legs=[("halyk", "alice.halyk", "KZT", 1_000)], reference="inv-1", wait=True
        ),
        "redeem": await api.redeem(signer="halyk", keys=halyk, asset="KZT", amount=500, wait=True),
        "freeze": await api.freeze(
            signer="afm", keys=afm, account_id="alice.halyk", legal_ref="case 1", wait=True
        ),
        "seize": await api.seize(
            signer="afm",
            keys=afm,
            account_id="alice.halyk",
            asset="KZT",
            amount=400,
            reserve="reserve",
            court="Astana city court",
            case_number="2-77/2026",
            order_number="1",
            order_date="2026-01-15",
            wait=True,
        ),
        "unfreeze": await api.unfreeze(
            signer="afm", keys=afm, account_id="alice.halyk", legal_ref="case 1 closed", wait=True
        ),
        "withdraw": await api.withdraw(
            (
                await api.update_validator(
                    signer="nbk",
                    keys=nbk,
                    public_key=key("validator-1").public_key,
                    power=5,
                    moniker="v1",
                    summary="a fifth validator",
                    wait=True,
                )
            ).tx_id,
            signer="nbk",
            keys=nbk,
            wait=True,
        ),
    }
    for kind, result in results.items():
        assert result.ok, (kind, result)
        doc = await api.tx(result.tx_id)
        assert doc["tx"]["kind"] == kind
    alice_doc = await api.account("alice.halyk")
    assert alice_doc["balances"] == {"KZTE": "50000", "KZT": "600"}
    assert alice_doc["frozen"] is False
    assert (await api.asset("KZTE"))["outstanding"] == "50000"
    assert (await api.asset("KZTE"))["reserve"] == "50000"  # backed 1:1 (2 decimals, as KZT)
    assert (await api.account("kzte.reserve"))["balances"] == {"KZT": "50000"}
    assert (await api.account("reserve"))["balances"] == {"KZT": "400"}
    lines = [line async for line in api.statement("alice.halyk", page_size=2)]
    assert [line["tx"]["kind"] for line in lines] == [
        "register_account",
        "issue",
        "transfer",
        "freeze",
        "seize",
        "unfreeze",
    ]


async def test_multi_leg_transfer_signed_by_every_payer(
    committing: LocalNode, api: TengeClient
) -> None:
    await api.transfer(keys=[key("halyk")], legs=[("halyk", "kaspi", "KZT", 10_000)], wait=True)
    result = await api.transfer(
        keys=[key("halyk"), key("kaspi")],
        legs=[("halyk", "treasury", "KZT", 300), ("kaspi", "treasury", "KZT", 200)],
        wait=True,
    )
    assert result.ok, result
    assert (await api.account("treasury"))["balances"] == {"KZT": "500"}


async def test_two_of_three_signatures(committing: LocalNode, api: TengeClient) -> None:
    into_reserve = [("halyk", "reserve", "KZT", 900)]
    await api.transfer(
        keys=[key("halyk")], legs=into_reserve, purpose="RESERVE_PURCHASE", wait=True
    )
    one = [key("reserve-0")]
    two = [key("reserve-0"), key("reserve-2")]
    leg = [("reserve", "treasury", "KZT", 100)]
    with pytest.raises(ApiError) as info:
        await api.transfer(keys=one, legs=leg)
    assert (info.value.status, info.value.code) == (400, "MISSING_SIGNATURE")
    assert info.value.tx_id
    assert (await api.transfer(keys=two, legs=leg, wait=True)).ok


async def test_refusals_are_typed(local_node: LocalNode, api: TengeClient) -> None:
    with pytest.raises(ApiError) as info:
        await api.issue(signer="halyk", keys=[key("halyk")], asset="KZT", to="kaspi", amount=5)
    assert info.value.code == "UNAUTHORIZED"
    assert info.value.status == 400
    with pytest.raises(ApiError) as info:
        await api.transfer(
            keys=[key("halyk")], legs=[("halyk", "kaspi", "KZT", 1)], wait=True, timeout_s=0.1
        )
    assert (info.value.status, info.value.code) == (504, "TIMEOUT")
    with pytest.raises(ApiError) as info:
        await api.tx("00" * 32)
    assert info.value.code == "NOT_FOUND"
    with pytest.raises(ApiError) as info:
        await api.block(5)
    assert info.value.code == "NOT_FOUND"


async def test_queries(local_node: LocalNode, api: TengeClient) -> None:
    local_node.commit_block([])
    assert (await api.status())["height"] == 1
    assert (await api.health())["status"] == "ok"
    assert (await api.block())["height"] == 1
    assert (await api.block(1))["num_txs"] == 0
    assert (await api.validators())["total_power"] == 10
    assert [a["code"] for a in await api.assets()] == ["KZT"]
    assert await api.evidence() == []
    assert (await api.openapi())["openapi"] == "3.1.0"
    page = await api.account_transactions("halyk", limit=5)
    assert page == {"account_id": "halyk", "transactions": [], "next": None}


async def test_client_refuses_bad_amounts_before_sending(api: TengeClient) -> None:
    for amount in (-1, 2**128, 1.5, True):
        with pytest.raises(ValueError, match="amount"):
            await api.issue(
                signer="nbk",
                keys=[key("nbk")],
                asset="KZT",
                to="halyk",
                amount=amount,  # type: ignore[arg-type]
            )
    with pytest.raises(ValueError, match="role"):
        await api.register_account(
            signer="halyk",
            keys=[key("halyk")],
            account_id="bob.halyk",
            role="KING",
            zone="NATIONAL",
            public_keys=[key("bob").public_key],
        )


def test_decimal_amounts() -> None:
    assert parse_amount("1250.50", 2) == 125050
    assert parse_amount("1250.5", 2) == 125050
    assert parse_amount("7", 2) == 700
    assert parse_amount("0.01", 2) == 1
    assert parse_amount("18446744073709551616", 0) == 2**64
    # 18 decimals: exact at any size (no decimal context rounds 39 digits to 28).
    assert parse_amount("1000", 18) == 10**21
    assert parse_amount("340282366920938463463.374607431768211455", 18) == 2**128 - 1
    assert parse_amount("0.000000000000000001", 18) == 1
    too_big = (str(2**128), "340282366920938463463.374607431768211456")
    for bad in ("1.005", "-1", "1e3", "", "1,5", " 1", "abc", "1..2", ".", "٣", *too_big):
        with pytest.raises(ValueError, match=r"decimal|minor units"):
            parse_amount(bad, 18 if bad in too_big else 2)
    with pytest.raises(ValueError, match=r"2\^128 - 1 minor units"):
        parse_amount("1" + "0" * 5000, 0)
    assert format_amount(125050, 2) == "1250.50"
    assert format_amount(5, 2) == "0.05"
    assert format_amount(7, 0) == "7"
