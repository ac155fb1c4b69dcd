"""camt.053 and camt.054 on a real validator process: payments with ids, the statement
fetched with `tenge-node iso statement` and read back with the independent parser
`bankstatementparser`, compared with /v1/accounts/{id}/transactions; a bank's read:own
token cannot read another bank's customer's statement or notifications."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import schemathesis
from bankstatementparser import CamtParser
from camt_support import signed_amounts
from live_node import LiveNode
from lxml import etree

from node.api._tokens import READ_OWN, load_tokens, new_token, save_tokens, token_file
from node.iso20022 import CAMT_053, CAMT_054, schema
from node.ledger.txbuild import PaymentIds, transfer
from proto import ledger_pb2 as pb

pytestmark = pytest.mark.integration

UETR: Final = uuid.UUID("7d0f7b3e-2c41-4a55-8e6f-0a1b2c3d4e5f")
RELOAD_S: Final = 10.0


def customer(account_id: str) -> pb.RegisterAccount:
    return pb.RegisterAccount(
        account_id=account_id,
        role=pb.CUSTOMER,
        zone=pb.NATIONAL,
        kyc_tier=1,
        public_keys=[bytes(32)],  # nobody holds the key: the customer only receives
    )


def populate(live: LiveNode) -> int:
    """An issue to bank-a, a customer of bank-a, three payments to it (ids, two legs,
    none); the height of the last one."""
    live.send("central-bank", pb.Issue(asset="KZT", to="bank-a", amount=10**6), nonce=1)
    live.send("bank-a", customer("bob.bank-a"), nonce=2)
    invoice = PaymentIds(
        end_to_end_id="INV-77",
        uetr=str(UETR),
        purpose_code="SALA",
        creditor_reference_type="SCOR",
        creditor_reference="RF712348231",
        unstructured="salary, november",
    )
    live.send("bank-a", transfer(("bank-a", "bob.bank-a", "KZT", 125_050, invoice)), nonce=3)
    two = transfer(
        ("bank-a", "bob.bank-a", "KZT", 10, PaymentIds(end_to_end_id="B-1")),
        ("bank-a", "bob.bank-a", "KZT", 20, PaymentIds(end_to_end_id="B-2")),
    )
    live.send("bank-a", two, nonce=4)
    last = live.send("bank-a", transfer(("bank-a", "bob.bank-a", "KZT", 3)), nonce=5)
    return int(last["height"])


def history(live: LiveNode, account: str) -> dict[str, Any]:
    """Every line of the account's /v1/accounts/{id}/transactions, all pages."""
    lines: list[dict[str, Any]] = []
    params: dict[str, str] = {"limit": "2"}
    for _ in range(100):
        page = httpx.get(
            f"{live.api}/v1/accounts/{account}/transactions",
            params=params,
            headers=live.headers,
            timeout=10,
        ).json()
        lines += page["transactions"]
        if page["next"] is None:
            return {"transactions": lines}
        params["after"] = page["next"]
    raise AssertionError("more than 100 pages")


def genesis_balance(live: LiveNode, account: str) -> int:
    genesis = json.loads((live.home / "genesis.json").read_text())
    for entry in genesis["accounts"]:
        if entry["account_id"] == account:
            return int(entry.get("balances", {}).get("KZT", 0))
    return 0


def iso_statement(live: LiveNode, *args: str) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-m", "node.cli", "iso", "statement", *args, "--api", live.api]
    return subprocess.run(command, capture_output=True, timeout=60, check=False)


@pytest.mark.parametrize("account", ["bank-a", "bob.bank-a"])
def test_the_cli_statement_reads_back_with_the_api_s_balances_and_entries(
    live: LiveNode, tmp_path: Path, account: str
) -> None:
    if live.height() < 5 or not history(live, "bob.bank-a")["transactions"]:
        populate(live)
    done = iso_statement(live, account, "--from", "1")
    assert done.returncode == 0, done.stderr.decode()
    path = tmp_path / "camt053.xml"
    path.write_bytes(done.stdout)
    assert schema(CAMT_053).is_valid(etree.fromstring(done.stdout))
    parser = CamtParser(str(path))

    lines = history(live, account)
    expected = signed_amounts(lines, account)
    assert expected, lines
    last = max(line["height"] for line in lines["transactions"])
    closing = int(
        httpx.get(f"{live.api}/v1/accounts/{account}", timeout=10).json()["balances"]["KZT"]
    )
    balances = parser.get_account_balances()
    assert list(balances["Code"]) == ["OPBD", "CLBD"]
    assert list(balances["AccountId"]) == [account, account]
    assert [Decimal(str(x)) * 100 for x in balances["Amount"]] == [
        genesis_balance(live, account),
        closing,
    ]
    entries = parser.parse()
    got = [
        (int(Decimal(str(amount)) * 100), str(e2e))
        for amount, e2e in zip(entries["Amount"], entries["EndToEndId"], strict=True)
    ]
    assert got == expected
    assert genesis_balance(live, account) + sum(a for a, _ in got) == closing

    by_date = time.strftime("%Y-%m-%d", time.gmtime())  # the node's blocks are from today
    same = iso_statement(live, account, "--from", "1", "--to", str(live.height()))
    assert same.returncode == 0, same.stderr.decode()
    assert last <= live.height()
    dated = iso_statement(live, account, "--from", "2000-01-01", "--to", by_date)
    assert dated.returncode == 0, dated.stderr.decode()
    assert schema(CAMT_053).is_valid(etree.fromstring(dated.stdout))


def test_real_answers_match_the_openapi_document(live: LiveNode) -> None:
    """A statement and its refusals: each status and content type is the one /openapi.json
    declares, and each error body valid against its schema."""
    if live.height() < 5 or not history(live, "bob.bank-a")["transactions"]:
        populate(live)
    document = schemathesis.openapi.from_url(f"{live.api}/openapi.json")
    template = "/v1/iso20022/camt.053/{account_id}"
    declared = document.raw_schema["paths"][template]["get"]["responses"]
    for query, status in [
        ("from_height=1", 200),
        ("from_date=2000-01-01", 200),
        ("from_height=3&to_height=2", 400),
        ("from_height=1&asset=EUR", 404),
        ("from_height=1&asset=USDT", 404),
    ]:
        url = f"{live.api}/v1/iso20022/camt.053/bob.bank-a?{query}"
        response = httpx.get(url, timeout=10)
        assert response.status_code == status, (query, response.text)
        content_type = response.headers["content-type"].split(";")[0]
        assert content_type in declared[str(status)]["content"], (query, content_type)
        document[template]["GET"].validate_response(response)


def test_the_cli_refuses_bad_ranges_with_their_codes(live: LiveNode) -> None:
    done = iso_statement(live, "bank-a", "--from", "3", "--to", "2")
    assert done.returncode == 1
    assert b"INVALID_RANGE" in done.stderr
    done = iso_statement(live, "bank-a", "--from", "1", "--to", "2026-01-01")
    assert done.returncode == 2
    assert b"both be heights or both dates" in done.stderr
    done = iso_statement(live, "Bad_Id", "--from", "1")
    assert done.returncode == 2


def read_own(live: LiveNode, bank: str) -> dict[str, str]:
    """A read:own token of bank, added to the running node's token file."""
    book = load_tokens(token_file(live.home))
    assert book is not None
    token, secret = new_token(f"{bank}-read", [READ_OWN], bank, int(time.time() * 1000))
    save_tokens(token_file(live.home), [*book.tokens, token])
    return {"Authorization": f"Bearer {secret}"}


def test_a_bank_reads_only_its_own_customers_statements_and_notifications(
    guarded_live: LiveNode,
) -> None:
    live = guarded_live
    height = populate(live)
    bank_z = pb.RegisterAccount(
        account_id="bank-z", role=pb.COMMERCIAL_BANK, zone=pb.NATIONAL, public_keys=[bytes(32)]
    )
    live.send("central-bank", bank_z, nonce=6)
    own, other = read_own(live, "bank-a"), read_own(live, "bank-z")
    statement = f"{live.api}/v1/iso20022/camt.053/bob.bank-a?from_height=1"
    deadline = time.monotonic() + RELOAD_S
    while httpx.get(statement, headers=own, timeout=10).status_code == 401:  # reloading
        assert time.monotonic() < deadline, "the node did not load the new tokens"
        time.sleep(0.1)
    mine = httpx.get(statement, headers=own, timeout=10)
    assert mine.status_code == 200, mine.text
    assert schema(CAMT_053).is_valid(etree.fromstring(mine.content))

    theirs = httpx.get(statement, headers=other, timeout=10)
    assert (theirs.status_code, theirs.json()["error"]["code"]) == (403, "FORBIDDEN")
    notifications = f"{live.api}/v1/iso20022/notifications/bob.bank-a"
    theirs = httpx.get(notifications, headers=other, timeout=10)
    assert (theirs.status_code, theirs.json()["error"]["code"]) == (403, "FORBIDDEN")
    nobody = httpx.get(f"{live.api}/v1/iso20022/camt.053/nobody?from_height=1", headers=other)
    assert nobody.status_code == 403  # the same answer as another bank's customer
    assert httpx.get(statement, timeout=10).status_code == 401

    # bank-a's own stream replays bob's blocks: the first is the payment with ids.
    event: list[str] = []
    with httpx.stream(
        "GET", notifications, params={"after": "0"}, headers=own, timeout=10
    ) as stream:
        assert stream.status_code == 200
        for line in stream.iter_lines():
            if line.startswith("data: "):
                event.append(line[len("data: ") :])
            elif not line and event:
                break
    document = "\n".join(event).encode()
    root = etree.fromstring(document)
    assert schema(CAMT_054).is_valid(root)
    assert str(UETR).encode() in document
    assert height >= 1
