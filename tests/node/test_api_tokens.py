"""Bearer tokens on a real node process (docs/api.md, "Access").

One validator, tokens made with `tenge-node api-token create` before it starts, two banks
that each register a customer over HTTP: a bank's token reads its own customer and not the
other bank's, the regulator's reads both, revocation takes effect on the running node, and
the node refuses to start with a bad token file or a non-loopback API without tokens.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from network_support import FAST_PARAMS

from node.client import ApiError, TengeClient
from node.keys import KeyPair, read_key_file
from testnet._init import free_base_port, init_testnet
from testnet._procs import LOG_FILE, read_pid, start_node, stop_node

REPO = Path(__file__).resolve().parent.parent.parent
TEST_TIMEOUT_S = 120


def tenge_node(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `tenge-node ARGS` (with TENGE_API_TOKEN set to token, or unset)."""
    env = {k: v for k, v in os.environ.items() if k != "TENGE_API_TOKEN"}
    if token is not None:
        env["TENGE_API_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd=REPO,
    )


def create_token(home: Path, name: str, *flags: str) -> str:
    result = tenge_node("api-token", "create", "--home", str(home), "--name", name, *flags)
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["token"])


@pytest.fixture
def testnet(tmp_path: Path) -> dict[str, Any]:
    return init_testnet(
        tmp_path / "net", validators=1, base_port=free_base_port(1), params=FAST_PARAMS
    )


@pytest.fixture
def running(testnet: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The testnet with tokens: bank-a (submit, read:own), bank-z (read:own), regulator
    (read:all), ops (admin); its node running."""
    node = testnet["nodes"][0]
    home = Path(node["home"])
    testnet["tokens"] = {
        "bank-a": create_token(
            home, "bank-a", "--scope", "submit", "--scope", "read:own", "--bank", "bank-a"
        ),
        "bank-z": create_token(home, "bank-z", "--scope", "read:own", "--bank", "bank-z"),
        "regulator": create_token(home, "regulator", "--scope", "read:all"),
        "ops": create_token(home, "ops", "--scope", "admin"),
    }
    start_node(node, detach=False)
    try:
        yield testnet
    finally:
        stop_node(node, grace=10)
        log = (home / LOG_FILE).read_text()
        assert "Traceback" not in log, log[-3000:]


def keys(testnet: dict[str, Any], account: str) -> list[KeyPair]:
    return [read_key_file(Path(f)) for f in testnet["accounts"][account]["key_files"]]


async def wait_started(api: str) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            try:
                if (await http.get(api + "/v1/status")).json()["height"] >= 1:
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            await trio.sleep(0.1)


async def register(
    client: TengeClient, signer: list[KeyPair], by: str, account_id: str, role: str
) -> str:
    result = await client.register_account(
        signer=by,
        keys=signer,
        account_id=account_id,
        role=role,
        zone="NATIONAL",
        kyc_tier=3,
        public_keys=[KeyPair.generate().public_key],
        wait=True,
    )
    assert result.code == "OK", result
    return result.tx_id


async def test_tokens_and_scopes_on_a_real_node(running: dict[str, Any]) -> None:
    node, tokens = running["nodes"][0], running["tokens"]
    api = node["api"]
    chain = running["chain_id"]
    home = Path(node["home"])
    stored = (home / "api_tokens.json").read_text()
    for secret in tokens.values():
        assert secret not in stored
        assert secret.split("_", 2)[2] not in stored
    with trio.fail_after(TEST_TIMEOUT_S):
        await wait_started(api)  # /v1/status is public
        ops = TengeClient(api, chain_id=chain, token=tokens["ops"])
        bank_a = TengeClient(api, chain_id=chain, token=tokens["bank-a"])
        async with ops, bank_a:
            # The central bank registers a second bank; each bank registers a customer.
            bank_z_keys = [KeyPair.generate()]
            result = await ops.register_account(
                signer="central-bank",
                keys=keys(running, "central-bank"),
                account_id="bank-z",
                role="COMMERCIAL_BANK",
                zone="NATIONAL",
                kyc_tier=3,
                public_keys=[bank_z_keys[0].public_key],
                wait=True,
            )
            assert result.code == "OK", result
            bank_a_keys = keys(running, "bank-a")
            alice_tx = await register(bank_a, bank_a_keys, "bank-a", "alice.a", "CUSTOMER")
            zed_tx = await register(ops, bank_z_keys, "bank-z", "zed.z", "MERCHANT")

        async with httpx.AsyncClient(base_url=api, timeout=10) as http:

            async def get(path: str, who: str | None) -> httpx.Response:
                headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
                return await http.get(path, headers=headers)

            for path in [
                "/v1/health",
                "/v1/assets",
                "/v1/assets/KZT",
                "/v1/blocks/latest",
                "/v1/blocks/1",
                "/v1/validators",
                "/openapi.json",
            ]:
                r = await get(path, None)
                assert r.status_code in (200, 503), (path, r.text)  # health may be 503

            r = await get("/v1/accounts/alice.a", None)
            assert r.status_code == 401
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
            assert r.json()["error"]["code"] == "UNAUTHENTICATED"

            alice_paths = ["/v1/accounts/alice.a", "/v1/accounts/alice.a/transactions"]
            for path in [*alice_paths, f"/v1/txs/{alice_tx}"]:
                assert (await get(path, "bank-a")).status_code == 200, path
                assert (await get(path, "regulator")).status_code == 200, path
                r = await get(path, "bank-z")
                assert r.status_code == 403, path
                assert r.json()["error"]["code"] == "FORBIDDEN"
            for path in ["/v1/accounts/zed.z", f"/v1/txs/{zed_tx}"]:
                assert (await get(path, "bank-z")).status_code == 200, path
                assert (await get(path, "regulator")).status_code == 200, path
                assert (await get(path, "bank-a")).status_code == 403, path

            # bank-z's token may read but not submit.
            r = await http.post(
                "/v1/txs",
                json={"tx": "AA=="},
                headers={"Authorization": f"Bearer {tokens['bank-z']}"},
            )
            assert r.status_code == 403
            assert r.json()["error"]["code"] == "FORBIDDEN"

            # The CLI: no token is refused; TENGE_API_TOKEN or --api-token is sent.
            query = ("query", "account", "alice.a", "--api", api)
            refused = await trio.to_thread.run_sync(lambda: tenge_node(*query))
            assert refused.returncode == 1
            assert "UNAUTHENTICATED" in refused.stderr
            answered = await trio.to_thread.run_sync(
                lambda: tenge_node(*query, token=tokens["bank-a"])
            )
            assert answered.returncode == 0, answered.stderr
            assert json.loads(answered.stdout)["account_id"] == "alice.a"
            flagged = await trio.to_thread.run_sync(
                lambda: tenge_node(*query, "--api-token", tokens["bank-z"])
            )
            assert flagged.returncode == 1
            assert "FORBIDDEN" in flagged.stderr

            # Revoked on disk: the running node refuses it within its reload interval.
            revoked = await trio.to_thread.run_sync(
                lambda: tenge_node("api-token", "revoke", "--home", str(home), "bank-a")
            )
            assert revoked.returncode == 0, revoked.stderr
            for _ in range(300):  # bounded by the test's fail_after as well
                r = await get("/v1/accounts/alice.a", "bank-a")
                if r.status_code != 200:
                    break
                await trio.sleep(0.1)
            assert r.status_code == 401
            assert (await get("/v1/accounts/alice.a", "regulator")).status_code == 200
            listed = await trio.to_thread.run_sync(
                lambda: tenge_node("api-token", "list", "--home", str(home))
            )
            entries = {t["name"]: t for t in json.loads(listed.stdout)["tokens"]}
            assert entries["bank-a"]["revoked_ms"] > 0
            assert "sha256" not in listed.stdout

        async with httpx.AsyncClient(timeout=10) as http:
            metrics = (await http.get(node["metrics"])).text
        counts = refusal_counts(metrics)
        assert counts[("read:own", "other_bank")] >= 5
        assert counts[("read:own", "missing_token")] >= 2
        assert counts[("submit", "missing_scope")] == 1
        assert counts[("read:own", "revoked_token")] >= 1
        # SIGHUP reloads the tokens at once and the node keeps running.
        pid = read_pid(home)
        assert pid is not None
        os.kill(pid, signal.SIGHUP)
        log = home / LOG_FILE
        for _ in range(200):  # bounded by the test's fail_after as well
            if "reloading the API tokens" in log.read_text():
                break
            await trio.sleep(0.1)
        assert "API tokens reloaded" in log.read_text()
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(api + "/v1/status")).status_code == 200
        # The client raises ApiError with the code for a refused read.
        async with TengeClient(api, chain_id=chain, token=tokens["bank-z"]) as bank_z:
            with pytest.raises(ApiError) as caught:
                await bank_z.account("alice.a")
            assert caught.value.code == "FORBIDDEN"


def refusal_counts(metrics: str) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    pattern = r'tenge_api_auth_refused_total\{reason="([^"]+)",scope="([^"]+)"\} (\S+)'
    for reason, scope, value in re.findall(pattern, metrics):
        out[(scope, reason)] = float(value)
    return out


# ---- refusals to start ----


def start(home: Path) -> subprocess.CompletedProcess[str]:
    return tenge_node("start", "--home", str(home))


def assert_one_line_error(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("tenge-node: error:")]
    assert len(errors) == 1, result.stderr
    assert text in errors[0], errors[0]
    assert "Traceback" not in result.stderr


def test_a_bad_token_file_stops_the_start(testnet: dict[str, Any]) -> None:
    home = Path(testnet["nodes"][0]["home"])
    path = home / "api_tokens.json"
    create_token(home, "ops", "--scope", "admin")
    good = path.read_text()
    path.write_text("{not json")
    assert_one_line_error(start(home), "api_tokens.json: not valid JSON")
    path.write_text(good.replace('"admin"', "7"))
    assert_one_line_error(start(home), "api_tokens.json: tokens[0].scopes: expected a list")
    path.write_text(good)
    path.chmod(0o644)
    assert_one_line_error(start(home), "api_tokens.json: mode 644 lets other users read it")


def test_a_non_loopback_api_without_tokens_is_refused(testnet: dict[str, Any]) -> None:
    home = Path(testnet["nodes"][0]["home"])
    config = home / "config.toml"
    text = config.read_text()
    head, api = text.split("[api]", 1)
    assert 'listen = "127.0.0.1:' in api
    api = api.replace('listen = "127.0.0.1:', 'listen = "0.0.0.0:', 1)
    config.write_text(f"{head}[api]{api}")
    assert_one_line_error(start(home), "config.toml: api.listen: 0.0.0.0:")
    # The refusal comes before anything is opened: the store was never created.
    assert not (home / "data" / "store").exists()


def test_api_token_commands_exit_codes(testnet: dict[str, Any], tmp_path: Path) -> None:
    home = str(testnet["nodes"][0]["home"])

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return tenge_node("api-token", *args)

    assert run("create", "--home", home, "--scope", "write").returncode == 2  # no such scope
    bankless = run("create", "--home", home, "--scope", "read:own")
    assert bankless.returncode == 2
    assert "needs the bank" in bankless.stderr
    made = run("create", "--home", home, "--scope", "read:own", "--bank", "bank-a")
    assert made.returncode == 0, made.stderr
    name = json.loads(made.stdout)["name"]
    assert name.startswith("bank-a-")
    again = run("create", "--home", home, "--scope", "submit", "--name", name)
    assert again.returncode == 2
    assert "exists already" in again.stderr
    nowhere = run("create", "--home", str(tmp_path / "nowhere"), "--scope", "admin")
    assert nowhere.returncode == 2
    assert "not a node home" in nowhere.stderr
    assert run("revoke", "--home", home, "nobody").returncode == 1
    assert run("revoke", "--home", home, name).returncode == 0
    twice = run("revoke", "--home", home, name)
    assert twice.returncode == 1
    assert "revoked already" in twice.stderr
    for result in (bankless, again, nowhere, twice):
        assert "Traceback" not in result.stderr
