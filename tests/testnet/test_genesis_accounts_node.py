"""A real node starts from a genesis whose accounts are in an accounts file: the accounts
exist and pay at block 1, and the file is read at the first start only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import trio

from node.ledger.txbuild import transfer
from testnet._init import ACCOUNTS_FILE, free_base_port, init_testnet
from testnet._load import FUNDING_PER_CUSTOMER, Load, genesis_load_accounts

DEADLINE_S = 90


def tenge_testnet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "testnet.cli", *args],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )


def balance(api: str, account: str) -> int:
    response = httpx.get(f"{api}/v1/accounts/{account}", timeout=10)
    assert response.status_code == 200, response.text
    return int(response.json()["balances"].get("KZT", "0"))


async def pay(load: Load, payer: str, payee: str, amount: int) -> dict[str, object]:
    async with httpx.AsyncClient(timeout=40) as client:
        height = await load.height(client)
        env = load.sign(payer, transfer((payer, payee, "KZT", amount)), height + 100)
        response = await load.submit(client, load.apis[0], env, wait=True)
        doc: dict[str, object] = response.json()
        return doc


def test_a_node_starts_from_an_accounts_file_and_its_accounts_pay(tmp_path: Path) -> None:
    directory = tmp_path / "net"
    chain_id = "tenge-accounts-file"
    manifest = init_testnet(
        directory,
        validators=1,
        base_port=free_base_port(1),
        chain_id=chain_id,
        file_accounts=genesis_load_accounts(chain_id, 40),
    )
    genesis = json.loads((directory / "genesis.json").read_text())
    assert genesis["accounts_file"]["accounts"] == 40
    assert all(
        a["account_id"].startswith(("central", "bank", "treas", "state", "alem", "regul"))
        for a in genesis["accounts"]
    ), "the load accounts are not in genesis.json"
    api = manifest["nodes"][0]["api"]
    load = Load(manifest, accounts=40, in_genesis=True)
    payer, payee = load.customers[7], load.merchants[3]
    try:
        result = tenge_testnet("up", "--dir", str(directory), "--detach", "--timeout", "60")
        assert result.returncode == 0, result.stderr
        assert balance(api, payer) == FUNDING_PER_CUSTOMER
        assert balance(api, payee) == 0
        doc = trio.run(pay, load, payer, payee, 12_345)
        assert doc.get("code") == "OK", doc
        assert balance(api, payer) == FUNDING_PER_CUSTOMER - 12_345
        assert balance(api, payee) == 12_345

        # The state is in the store now: a restart does not need the file.
        (Path(manifest["nodes"][0]["home"]) / ACCOUNTS_FILE).unlink()
        result = tenge_testnet("restart", "--dir", str(directory), "0")
        assert result.returncode == 0, result.stderr
        result = tenge_testnet("up", "--dir", str(directory), "--detach", "--timeout", "60")
        assert result.returncode == 0, result.stderr
        assert balance(api, payee) == 12_345
    finally:
        tenge_testnet("down", "--dir", str(directory))
