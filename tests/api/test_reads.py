"""Read endpoints against a real store, ledger and mempool, in-process."""

from __future__ import annotations

import base64

import httpx
import trio
from api_support import VALIDATOR, LocalNode, key

from node.ledger.txbuild import propose, transfer, tx_id_of
from proto import ledger_pb2 as pb


def pay(node: LocalNode, payer: str, payee: str, amount: int, **kw: object) -> bytes:
    return node.tx(payer, transfer((payer, payee, "KZT", amount)), **kw)  # type: ignore[arg-type]


async def test_status_reports_tip_and_identity(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    r = await http.get("/v1/status")
    assert r.status_code == 200
    doc = r.json()
    assert doc["height"] == 0
    assert doc["chain_id"] == "tenge-api-test"
    assert doc["validator"] is True
    assert doc["peers"] == 0
    local_node.commit_block([pay(local_node, "halyk", "kaspi", 10)])
    doc = (await http.get("/v1/status")).json()
    assert doc["height"] == 1
    assert doc["latest_block_hash"] == local_node.store.block_hash.hex()
    assert doc["latest_app_hash"] == local_node.store.app_hash.hex()
    assert doc["max_tx_ttl"] == 50


async def test_health_ok_only_in_sync_with_a_recent_commit(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    r = await http.get("/v1/health")
    assert r.status_code == 503
    assert "since the node started" in r.json()["reason"]
    assert r.json()["error"]["code"] == "NOT_READY"
    local_node.commit_block([])
    r = await http.get("/v1/health")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ok"
    local_node.catching_up = True
    r = await http.get("/v1/health")
    assert r.status_code == 503
    assert r.json()["reason"] == "catching up with peers"
    local_node.catching_up = False
    local_node.last_commit_time = trio.current_time() - 31
    r = await http.get("/v1/health")
    assert r.status_code == 503
    assert "no block committed for 3" in r.json()["reason"]


async def test_account_shows_keys_threshold_and_balances(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    local_node.commit_block([pay(local_node, "halyk", "kaspi", 12_345)])
    doc = (await http.get("/v1/accounts/kaspi")).json()
    assert doc["role"] == "COMMERCIAL_BANK"
    assert doc["zone"] == "NATIONAL"
    assert doc["balances"] == {"KZT": "12345"}
    assert doc["frozen"] is False
    assert doc["keys"] == [key("kaspi").public_key.hex()]
    reserve = (await http.get("/v1/accounts/reserve")).json()
    assert reserve["threshold"] == 2
    assert len(reserve["keys"]) == 3
    assert (await http.get("/v1/accounts/halyk")).json()["balances"]["KZT"] == str(
        1_000_000 - 12_345
    )


async def test_frozen_account_shows_its_legal_reference(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    receipt = local_node.run("afm", pb.Freeze(account_id="kaspi", legal_ref="court 7/2026"))
    assert receipt.code == pb.OK, receipt.message
    doc = (await http.get("/v1/accounts/kaspi")).json()
    assert doc["frozen"] is True
    assert doc["frozen_legal_ref"] == "court 7/2026"


async def test_account_shows_its_life_cycle(local_node: LocalNode, http: httpx.AsyncClient) -> None:
    register = pb.RegisterAccount(
        account_id="alice.halyk",
        role=pb.CUSTOMER,
        zone=pb.NATIONAL,
        kyc_tier=1,
        public_keys=[key("alice.halyk").public_key],
    )
    assert local_node.run("halyk", register).code == pb.OK
    doc = (await http.get("/v1/accounts/alice.halyk")).json()
    assert doc["closed"] is False
    assert doc["keys_changed_height"] == 0
    rotate = pb.RotateKeys(public_keys=[key("alice-2").public_key])
    receipt = local_node.run("alice.halyk", rotate)
    assert receipt.code == pb.OK, receipt.message
    rotated_at = receipt.height
    receipt = local_node.run("afm", pb.CloseAccount(account_id="alice.halyk", legal_ref="AFM 3"))
    assert receipt.code == pb.OK, receipt.message
    doc = (await http.get("/v1/accounts/alice.halyk")).json()
    assert doc["keys"] == [key("alice-2").public_key.hex()]
    assert doc["keys_changed_height"] == rotated_at
    assert doc["closed"] is True
    assert doc["closed_height"] == receipt.height
    assert doc["closed_ref"] == "AFM 3"


async def test_statement_pages_through_every_transaction_once(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    sent = []
    for block in range(3):
        txs = [pay(local_node, "halyk", "kaspi", 100 + block * 10 + i) for i in range(3)]
        sent += [tx_id_of(t).hex() for t in txs]
        local_node.commit_block(txs)
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        params = {"limit": "4"} if after is None else {"limit": "4", "after": after}
        r = await http.get("/v1/accounts/kaspi/transactions", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        pages += 1
        seen += [line["tx_id"] for line in page["transactions"]]
        for line in page["transactions"]:
            assert line["code"] == "OK"
            assert line["tx"]["kind"] == "transfer"
            assert line["tx"]["transfer"]["legs"][0]["payee"] == "kaspi"
            assert isinstance(line["tx"]["transfer"]["legs"][0]["amount"], str)
            assert line["time_ms"] > 0
        after = page["next"]
        if after is None:
            break
    assert seen == sent
    assert pages == 3


async def test_statement_lists_refused_payments_with_their_code(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    receipt = local_node.run("kaspi", transfer(("kaspi", "halyk", "KZT", 5)))
    assert pb.ResultCode.Name(receipt.code) == "INSUFFICIENT_FUNDS"
    lines = (await http.get("/v1/accounts/kaspi/transactions")).json()["transactions"]
    assert [line["code"] for line in lines] == ["INSUFFICIENT_FUNDS"]
    assert "kaspi" in lines[0]["message"]


async def test_block_shows_header_codes_and_certificate_signers(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    assert (await http.get("/v1/blocks/latest")).status_code == 404
    good = pay(local_node, "halyk", "kaspi", 1)
    bad = pay(local_node, "kaspi", "halyk", 99_999_999)
    summary = local_node.commit_block([good, bad])
    local_node.commit_block([])
    doc = (await http.get("/v1/blocks/1")).json()
    assert doc["hash"] == summary.block_hash.hex()
    assert doc["header"]["height"] == 1
    assert doc["header"]["chain_id"] == "tenge-api-test"
    assert doc["header"]["proposer"] == VALIDATOR.public_key.hex()
    assert [(t["tx_id"], t["code"]) for t in doc["txs"]] == [
        (tx_id_of(good).hex(), "OK"),
        (tx_id_of(bad).hex(), "INSUFFICIENT_FUNDS"),
    ]
    assert doc["commit"]["signers"] == [VALIDATOR.public_key.hex()]
    assert doc["last_commit"] is None
    latest = (await http.get("/v1/blocks/latest")).json()
    assert latest["height"] == 2
    assert latest["last_commit"]["block_hash"] == summary.block_hash.hex()
    r = await http.get("/v1/blocks/3")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NOT_FOUND"


async def test_tx_pending_then_committed(local_node: LocalNode, http: httpx.AsyncClient) -> None:
    raw = pay(local_node, "halyk", "kaspi", 777)
    tx_id = tx_id_of(raw).hex()
    assert (await http.get(f"/v1/txs/{tx_id}")).status_code == 404
    admission = await local_node.submit(raw)
    assert admission.ok
    doc = (await http.get(f"/v1/txs/{tx_id}")).json()
    assert doc["status"] == "pending"
    assert doc["tx"]["transfer"]["legs"][0]["amount"] == "777"
    local_node.commit_block()
    doc = (await http.get(f"/v1/txs/{tx_id.upper()}")).json()
    assert doc["status"] == "committed"
    assert (doc["height"], doc["index"], doc["code"]) == (1, 0, "OK")
    assert doc["tx"]["signer"] == "halyk"
    assert doc["tx"]["signatures"][0]["public_key"] == key("halyk").public_key.hex()


async def test_validators_assets_and_supply(local_node: LocalNode, http: httpx.AsyncClient) -> None:
    vals = (await http.get("/v1/validators")).json()
    assert vals == {
        "height": 1,
        "validators": [{"public_key": VALIDATOR.public_key.hex(), "power": 10, "moniker": "v0"}],
        "total_power": 10,
    }
    assert local_node.run("halyk", pb.Redeem(asset="KZT", amount=250)).code == pb.OK
    kzt = (await http.get("/v1/assets/KZT")).json()
    assert (kzt["issued"], kzt["redeemed"], kzt["outstanding"]) == ("1000000", "250", "999750")
    assert kzt["payment_zones"] == ["NATIONAL", "CRYPTOCITY"]
    assets = (await http.get("/v1/assets")).json()["assets"]
    assert [a["code"] for a in assets] == ["KZT"]
    assert (await http.get("/v1/assets/USDT")).status_code == 404


async def test_rulebook_shows_active_pending_and_history(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    doc = (await http.get("/v1/rulebook")).json()
    assert doc["active"]["version"] == 1
    assert doc["pending"] is None
    assert doc["active"]["central_bank_payees"] == ["COMMERCIAL_BANK", "TREASURY", "STATE_RESERVE"]
    assert doc["active"]["tier_limits"][0]["kyc_tier"] == 1
    limits = pb.SetLimits(kyc_tier=1, per_payment=500, daily_outflow=900, holding_cap=0)
    receipt = local_node.govern(limits)
    assert receipt.code == pb.OK
    assert receipt.rulebook_version == 1
    doc = (await http.get("/v1/rulebook")).json()
    pending = doc["pending"]
    assert (pending["version"], pending["activation_height"]) == (2, doc["height"] + 2)
    assert pending["tier_limits"][0]["per_payment"] == "500"
    assert (await http.get("/v1/rulebook?version=2")).status_code == 404  # not active yet
    local_node.commit_block([])  # height H + 1: still version 1
    assert (await http.get("/v1/rulebook")).json()["active"]["version"] == 1
    local_node.commit_block([])  # H + 2: version 2 from this block on
    doc = (await http.get("/v1/rulebook")).json()
    assert doc["active"]["version"] == 2
    assert doc["pending"] is None
    old = (await http.get("/v1/rulebook?version=1")).json()["rulebook"]
    assert old["tier_limits"][0]["per_payment"] == "0"
    bad = await http.get("/v1/rulebook?version=x")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "INVALID_ARGUMENT"


async def test_a_refusal_by_the_rulebook_names_its_rule(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    raw = local_node.tx("nbk", transfer(("nbk", "afm", "KZT", 1)))
    r = await http.post("/v1/txs", json={"tx": base64.b64encode(raw).decode()})
    assert r.status_code == 400
    error = r.json()["error"]
    assert (error["code"], error["rule"]) == ("TWO_TIER_RULE", "two-tier.pay")
    local_node.commit_block([raw])
    doc = (await http.get(f"/v1/txs/{tx_id_of(raw).hex()}")).json()
    assert (doc["code"], doc["rule"], doc["rulebook_version"]) == (
        "TWO_TIER_RULE",
        "two-tier.pay",
        1,
    )


async def test_governance_lists_proposals_and_their_approvals(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    change = pb.UpdateValidator(public_key=key("val-2").public_key, power=3, moniker="v2")
    proposal = local_node.run(
        "nbk", propose(change, expires_at_height=local_node.store.height + 3, summary="add v2")
    )
    assert proposal.code == pb.OK
    doc = (await http.get("/v1/governance")).json()
    assert doc["quorum"] == ["CENTRAL_BANK", "REGULATOR"]
    (shown,) = doc["proposals"]
    assert shown["proposal_id"] == proposal.tx_id.hex()
    assert (shown["status"], shown["approvals"], shown["summary"]) == ("OPEN", ["nbk"], "add v2")
    assert shown["change"]["kind"] == "update_validator"
    assert shown["change"]["update_validator"]["power"] == 3
    assert local_node.run("afm", pb.Approve(proposal_id=proposal.tx_id)).code == pb.OK
    one = (await http.get(f"/v1/governance/{proposal.tx_id.hex()}")).json()
    assert (one["status"], one["approvals"]) == ("EXECUTED", ["nbk", "afm"])
    assert one["effective_height"] == local_node.store.height + 2
    missing = await http.get(f"/v1/governance/{'00' * 32}")
    assert missing.status_code == 404
    assert (await http.get("/v1/governance/xyz")).status_code == 400


async def test_persons_show_their_accounts_frozen_flag_and_todays_outflow(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    from node.client import person_ref

    ref = person_ref("880101300123", b"bank-shared key for the api test")
    for bank, account_id in (("halyk", "aidos.halyk"), ("kaspi", "aidos.kaspi")):
        register = pb.RegisterAccount(
            account_id=account_id,
            role=pb.CUSTOMER,
            zone=pb.NATIONAL,
            kyc_tier=1,
            public_keys=[key(account_id).public_key],
            person_ref=ref,
        )
        receipt = local_node.run(bank, register)
        assert receipt.code == pb.OK, receipt.message
    local_node.commit_block([pay(local_node, "halyk", "aidos.halyk", 500)])
    local_node.commit_block([pay(local_node, "aidos.halyk", "kaspi", 120)])
    local_node.commit_block([pay(local_node, "aidos.halyk", "aidos.kaspi", 80)])
    account = (await http.get("/v1/accounts/aidos.kaspi")).json()
    assert account["person_ref"] == ref.hex()
    assert (await http.get("/v1/accounts/halyk")).json()["person_ref"] == ""
    r = await http.get(f"/v1/persons/{ref.hex()}")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["accounts"] == ["aidos.halyk", "aidos.kaspi"]
    assert (doc["frozen"], doc["frozen_legal_ref"]) == (False, "")
    assert doc["outflow_today"] == "200"
    assert isinstance(doc["day"], int)
    receipt = local_node.run("afm", pb.Freeze(account_id="aidos.kaspi", legal_ref="court 9"))
    assert receipt.code == pb.OK, receipt.message
    doc = (await http.get(f"/v1/persons/{ref.hex().upper()}")).json()
    assert (doc["frozen"], doc["frozen_legal_ref"]) == (True, "court 9")
    assert (await http.get("/v1/accounts/aidos.halyk")).json()["frozen"] is True
    r = await http.get(f"/v1/persons/{'ab' * 32}")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "NOT_FOUND")
    for bad in ("abc", "zz" * 32, "ab" * 33):
        r = await http.get(f"/v1/persons/{bad}")
        assert (r.status_code, r.json()["error"]["code"]) == (400, "INVALID_ARGUMENT"), bad


async def test_a_backed_stablecoin_shows_its_supply_and_reserve(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    """GET /v1/assets/KZTE and /v1/assets show the backing next to the supply."""
    kzte = pb.RegisterAsset(
        code="KZTE",
        decimals=6,
        issuer="halyk",
        kind=pb.STABLECOIN,
        payment_zones=[pb.CRYPTOCITY],
        backed_by="KZT",
        reserve_account="kzte.reserve",
    )
    assert local_node.govern(kzte).code == pb.OK
    assert local_node.run("halyk", pb.Issue(asset="KZTE", to="halyk", amount=10**9)).code == pb.OK
    assert local_node.run("halyk", pb.Redeem(asset="KZTE", amount=25 * 10**7)).code == pb.OK
    shown = (await http.get("/v1/assets/KZTE")).json()
    picked = {k: shown[k] for k in ("backed_by", "reserve_account", "supply", "reserve")}
    assert picked == {
        "backed_by": "KZT",
        "reserve_account": "kzte.reserve",
        "supply": "750000000",
        "reserve": "75000",
    }
    listed = {a["code"]: a for a in (await http.get("/v1/assets")).json()["assets"]}
    assert listed["KZTE"] == shown
    assert "reserve" not in listed["KZT"]
    assert listed["KZT"]["backed_by"] == ""
    reserve = (await http.get("/v1/accounts/kzte.reserve")).json()
    assert (reserve["role"], reserve["keys"], reserve["balances"]) == (
        "ISSUANCE_RESERVE",
        [],
        {"KZT": "75000"},
    )
