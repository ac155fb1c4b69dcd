"""Every endpoint of the HTTP API against the real server in a real node process."""

from __future__ import annotations

import base64
import itertools
from typing import Any

import httpx
import trio
from cli_support import LiveNet

from node.ledger.txbuild import build_tx, sign_envelope, transfer
from proto import ledger_pb2 as pb

TEST_TIMEOUT_S = 40
_NONCES = itertools.count(1_000_000)


async def envelope(net: LiveNet, signer: str, kind: Any, *, keys: Any = None) -> str:
    """A signed envelope as base64, expiring 100 blocks ahead."""
    body = build_tx(
        net.chain_id,
        signer,
        kind,
        nonce=next(_NONCES),
        expires_at_height=await net.height() + 100,
    )
    raw = sign_envelope(body, net.chain_id, net.keys(signer) if keys is None else keys)
    return base64.b64encode(raw).decode()


async def test_status_and_health(net: LiveNet) -> None:
    with trio.fail_after(TEST_TIMEOUT_S):
        async with httpx.AsyncClient(base_url=net.api(1), timeout=10) as http:
            while True:  # peers connect within a few rounds
                status = (await http.get("/v1/status")).json()
                if status["peers"] == 3:
                    break
                await trio.sleep(0.1)
            node = net.nodes[1]
            assert status["chain_id"] == net.chain_id
            assert (status["node_id"], status["moniker"]) == (node["node_id"], node["moniker"])
            assert status["height"] >= 1
            assert status["validator"] is True
            assert status["catching_up"] is False
            assert len(status["latest_block_hash"]) == 64
            assert len(status["latest_app_hash"]) == 64
            health = await http.get("/v1/health")
            assert health.status_code == 200, health.text
            assert health.json()["status"] == "ok"
            assert health.json()["last_commit_age_s"] < 30


async def test_submit_then_read_it_back(net: LiveNet) -> None:
    with trio.fail_after(TEST_TIMEOUT_S):
        async with httpx.AsyncClient(base_url=net.api(2), timeout=40) as http:
            tx = await envelope(net, "central-bank", pb.Issue(asset="KZT", to="bank-c", amount=500))
            first = await http.post("/v1/txs", json={"tx": tx})
            assert first.status_code == 202, first.text
            assert first.json()["status"] == "pending"
            again = await http.post("/v1/txs", json={"tx": tx})  # idempotent while pending
            assert (again.status_code, again.json()) == (202, first.json())
            tx_id = first.json()["tx_id"]

            while True:
                shown = (await http.get(f"/v1/txs/{tx_id}")).json()
                if shown["status"] == "committed":
                    break
                assert shown["status"] == "pending"
                assert shown["tx"]["kind"] == "issue"
                await trio.sleep(0.1)
            assert shown["code"] == "OK"
            assert shown["tx"]["issue"] == {"asset": "KZT", "to": "bank-c", "amount": "500"}
            assert shown["tx"]["signer"] == "central-bank"

            # Admission checks committed state, so the payment goes once the issue is final.
            payment = await envelope(net, "bank-c", transfer(("bank-c", "bank-a", "KZT", 200)))
            done = await http.post("/v1/txs?wait=commit&timeout=30", json={"tx": payment})
            assert done.status_code == 200, done.text
            result = done.json()
            assert (result["status"], result["code"]) == ("committed", "OK"), result
            assert result["height"] > shown["height"]

            replay = await http.post("/v1/txs", json={"tx": tx})
            assert replay.status_code == 400
            assert replay.json()["error"]["code"] == "DUPLICATE"
            assert replay.json()["error"]["tx_id"] == tx_id

            broke = await envelope(net, "bank-c", transfer(("bank-c", "bank-a", "KZT", 10**12)))
            refused = await http.post("/v1/txs", json={"tx": broke})
            assert refused.status_code == 400
            assert refused.json()["error"]["code"] == "INSUFFICIENT_FUNDS"

            account = (await http.get("/v1/accounts/bank-c")).json()
            assert account["role"] == "COMMERCIAL_BANK"
            assert account["zone"] == "NATIONAL"
            assert account["frozen"] is False
            assert account["threshold"] == 1
            assert account["keys"] == [k.public_key.hex() for k in net.keys("bank-c")]
            assert int(account["balances"]["KZT"]) >= 300


async def test_statement_pages(net: LiveNet) -> None:
    with trio.fail_after(TEST_TIMEOUT_S):
        async with httpx.AsyncClient(base_url=net.api(3), timeout=40) as http:
            for amount in (1, 2, 3):
                tx = await envelope(
                    net, "central-bank", pb.Issue(asset="KZT", to="bank-c", amount=amount)
                )
                r = await http.post("/v1/txs?wait=commit", json={"tx": tx})
                assert r.status_code == 200, r.text
            path = "/v1/accounts/bank-c/transactions"
            everything = (await http.get(path, params={"limit": 1000})).json()
            assert everything["account_id"] == "bank-c"
            lines = everything["transactions"]
            assert len(lines) >= 3
            assert everything["next"] is None
            heights = [(line["height"], line["index"]) for line in lines]
            assert heights == sorted(heights)
            paged: list[str] = []
            params: dict[str, Any] = {"limit": 2}
            while True:
                page = (await http.get(path, params=params)).json()
                assert len(page["transactions"]) <= 2
                paged += [line["tx_id"] for line in page["transactions"]]
                if page["next"] is None:
                    break
                params = {"limit": 2, "after": page["next"]}
            assert paged == [line["tx_id"] for line in lines]
            last = lines[-1]
            assert last["tx"]["issue"]["amount"] == "3"
            assert last["code"] == "OK"
            assert last["time_ms"] > 0


async def test_blocks_validators_assets_evidence_openapi(net: LiveNet) -> None:
    validator_keys = {n["validator_public_key"] for n in net.nodes}
    with trio.fail_after(TEST_TIMEOUT_S):
        async with httpx.AsyncClient(base_url=net.api(0), timeout=10) as http:
            latest = (await http.get("/v1/blocks/latest")).json()
            assert latest["height"] >= 1
            one = (await http.get("/v1/blocks/1")).json()
            assert one["height"] == 1
            assert one["header"]["chain_id"] == net.chain_id
            assert one["header"]["prev_block_hash"] == ""
            assert one["commit"]["block_hash"] == one["hash"]
            signers = set(one["commit"]["signers"])
            assert signers <= validator_keys
            assert len(signers) >= 3  # more than 2/3 of four equal powers
            if latest["height"] > 1:
                prev = (await http.get(f"/v1/blocks/{latest['height'] - 1}")).json()
                assert latest["header"]["prev_block_hash"] == prev["hash"]

            validators = (await http.get("/v1/validators")).json()
            listed = {v["public_key"]: v["power"] for v in validators["validators"]}
            assert {k: listed.get(k) for k in validator_keys} == dict.fromkeys(validator_keys, 10)
            assert validators["total_power"] == sum(listed.values())

            assets = (await http.get("/v1/assets")).json()["assets"]
            assert "KZT" in [a["code"] for a in assets]
            kzt = (await http.get("/v1/assets/KZT")).json()
            assert (kzt["decimals"], kzt["issuer"], kzt["kind"]) == (2, "central-bank", "CBDC")
            assert int(kzt["outstanding"]) == int(kzt["issued"]) - int(kzt["redeemed"])

            assert (await http.get("/v1/evidence")).json() == {"evidence": [], "next": None}

            doc = (await http.get("/openapi.json")).json()
            assert doc["openapi"].startswith("3.")
            for path in (
                "/v1/status",
                "/v1/txs",
                "/v1/txs/{tx_id}",
                "/v1/events",
                "/v1/accounts/{account_id}/transactions",
                "/v1/blocks/{height}",
            ):
                assert path in doc["paths"], path

            missing = await http.get("/v1/nowhere")
            assert missing.status_code == 404
            assert missing.json()["error"]["code"] == "NOT_FOUND"


async def test_event_stream_replays_then_follows(net: LiveNet) -> None:
    with trio.fail_after(TEST_TIMEOUT_S):
        start = await net.height()
        async with net.client(1) as api, api.events(after=start - 1) as stream:
            seen = []
            async for block in stream:
                seen.append(block)
                if len(seen) == 3:
                    break
        assert [b["height"] for b in seen] == [start, start + 1, start + 2]
        stored = await net.cli("query", "block", str(start))
        assert seen[0]["hash"] == stored.doc["hash"]
        assert seen[0]["num_txs"] == len(seen[0]["txs"])
