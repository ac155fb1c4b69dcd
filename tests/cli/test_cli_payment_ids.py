"""Payment ids on real node processes: `tenge-node tx transfer` and the Python client set
them, the API returns them on the transaction and the statement, and GET /v1/payments
finds the payment by UETR and by payer and end-to-end id; malformed ids and lookups are
refused with their codes."""

from __future__ import annotations

import httpx
import trio
from cli_support import LiveNet
from test_cli_tx import TEST_TIMEOUT_S, committed_ok, refused, tx, usage_error

from node.ledger.txbuild import PaymentIds

UETR = "9b2f6a0e-1c3d-4e5f-8a7b-6c5d4e3f2a1b"
E2E = "PAYID-CLI/0001"
IDS_FLAGS = (
    "--end-to-end-id",
    E2E,
    "--uetr",
    UETR.upper(),  # either case in, lower-case out
    "--purpose-code",
    "GDDS",
    "--creditor-reference-type",
    "SCOR",
    "--creditor-reference",
    "RF18539007547034",
    "--unstructured",
    "invoice 7, March",
)
LEG_IDS = {
    "end_to_end_id": E2E,
    "uetr": UETR,
    "purpose_code": "GDDS",
    "remittance": {
        "creditor_reference_type": "SCOR",
        "creditor_reference": "RF18539007547034",
        "unstructured": "invoice 7, March",
    },
}


async def test_payment_ids_from_the_cli_to_the_lookups(net: LiveNet) -> None:
    cb, bank_a = net.key_file("central-bank"), net.key_file("bank-a")
    pay = ("--from", "bank-a", "--to", "bank-b", "--asset", "KZT", "--amount", "1")
    with trio.fail_after(TEST_TIMEOUT_S):
        issue = ("--asset", "KZT", "--to", "bank-a", "--amount", "100")
        committed_ok(await tx(net, "issue", "central-bank", [cb], *issue))
        first = committed_ok(await tx(net, "transfer", None, [bank_a], *pay, *IDS_FLAGS))
        tx_id = str(first["tx_id"])

        shown = (await net.cli("query", "tx", tx_id)).doc
        (leg,) = shown["tx"]["transfer"]["legs"]
        assert {name: leg[name] for name in LEG_IDS} == LEG_IDS

        async with net.client() as client:
            statement = await client.account_transactions("bank-a")
            (line,) = [t for t in statement["transactions"] if t["tx_id"] == tx_id]
            assert line["tx"]["transfer"]["legs"][0]["uetr"] == UETR

            # The same end-to-end id again, from the Python client, under another UETR.
            second = await client.transfer(
                keys=net.keys("bank-a"),
                legs=[("bank-a", "bank-b", "KZT", 2, PaymentIds(end_to_end_id=E2E))],
                wait=True,
            )
            assert second.code == "OK", second
            found = await client.payments(uetr=UETR)
            assert [p["tx_id"] for p in found] == [tx_id]
            assert found[0]["code"] == "OK"
            assert found[0]["tx"]["transfer"]["legs"][0]["end_to_end_id"] == E2E
            assert [p["tx_id"] for p in await client.payments(uetr=UETR.upper())] == [tx_id]
            by_e2e = await client.payments(end_to_end_id=E2E, payer="bank-a")
            assert [p["tx_id"] for p in by_e2e] == [tx_id, second.tx_id]
            assert await client.payments(end_to_end_id=E2E, payer="bank-b") == []

        # The same lookups from the command line.
        shown = await net.cli("query", "payments", UETR)
        assert [p["tx_id"] for p in shown.doc["payments"]] == [tx_id], str(shown)
        shown = await net.cli("query", "payments", E2E, "--payer", "bank-a")
        assert [p["tx_id"] for p in shown.doc["payments"]] == [tx_id, second.tx_id], str(shown)
        usage_error(await net.cli("query", "payments", "zzz"), "INVALID_ARGUMENT", "uetr")
        usage_error(await net.cli("query", "status", "--payer", "bank-a"), "--payer")
        usage_error(await net.cli("query", "payments", E2E, "--payer", "Bad Id"), "--payer")

        # Malformed ids: the ledger's codes at admission; the CLI's own usage errors.
        refused(
            await tx(net, "transfer", None, [bank_a], *pay, "--purpose-code", "gdds"),
            "INVALID_PURPOSE_CODE",
        )
        refused(
            await tx(net, "transfer", None, [bank_a], *pay, "--end-to-end-id", "a//b"),
            "INVALID_END_TO_END_ID",
        )
        refused(
            await tx(net, "transfer", None, [bank_a], *pay, "--creditor-reference-type", "SCOR"),
            "INVALID_REMITTANCE",
        )
        usage_error(
            await tx(net, "transfer", None, [bank_a], *pay, "--uetr", "not-a-uuid"), "--uetr"
        )
        two_legs = ("--leg", "bank-a:bank-b:KZT:1", "--leg", "bank-a:bank-c:KZT:1")
        usage_error(
            await tx(net, "transfer", None, [bank_a], *two_legs, "--end-to-end-id", "X1"),
            "one-leg",
        )


async def test_payment_lookups_refuse_malformed_queries(net: LiveNet) -> None:
    by_uetr = "/v1/payments/"
    by_e2e = "/v1/accounts/bank-a/payments"
    bad_queries: list[tuple[str, dict[str, str]]] = [
        (by_uetr + "zzz", {}),
        (by_uetr + UETR.replace("-", ""), {}),
        (by_uetr + "6ba7b810-9dad-11d1-80b4-00c04fd430c8", {}),  # version 1
        (by_uetr + UETR, {"payer": "bank-a"}),
        (by_e2e, {}),
        (by_e2e, {"end_to_end_id": "a//b"}),
        (by_e2e, {"end_to_end_id": "x" * 36}),
        (by_e2e, {"end_to_end_id": ""}),
        (by_e2e, {"end_to_end_id": E2E, "limit": "5"}),
        ("/v1/accounts/Not An Id/payments", {"end_to_end_id": E2E}),
    ]
    with trio.fail_after(TEST_TIMEOUT_S):
        async with httpx.AsyncClient(base_url=net.api(), timeout=10) as http:
            for path, params in bad_queries:
                r = await http.get(path, params=params)
                assert r.status_code == 400, (path, params, r.text)
                assert r.json()["error"]["code"] == "INVALID_ARGUMENT", (path, params, r.text)
            r = await http.get(by_uetr + str(UETR)[:-1] + "c")
            assert (r.status_code, r.json()) == (200, {"payments": []})
            r = await http.get("/v1/accounts/nobody/payments", params={"end_to_end_id": E2E})
            assert r.status_code == 404, r.text
            assert r.json()["error"]["code"] == "NOT_FOUND", r.text
