"""Bearer tokens and scopes on the API (docs/api.md, "Access"), in-process on a real store.

Two banks of the test genesis, halyk and kaspi, each register a customer; tokens of each
scope then read and submit. The real-process counterpart is tests/node/test_api_tokens.py.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio
from api_support import LocalNode, key
from starlette.applications import Starlette
from starlette.routing import Route

from node.api import (
    FORBIDDEN,
    ROUTE_ACCESS,
    UNAUTHENTICATED,
    ApiGate,
    Need,
    TokenBook,
    TokenHolder,
    create_app,
    error_codes,
    is_loopback,
    load_tokens,
    new_token,
    reload_tokens,
    require_tokens_off_loopback,
    revoke,
    save_tokens,
    watch_token_file,
)
from node.errors import ConfigError
from node.ledger.txbuild import transfer, tx_id_of
from proto import ledger_pb2 as pb

T0_MS = 1_767_225_600_000


class Refusals:
    """An ApiObserver that keeps the auth refusals."""

    def __init__(self) -> None:
        self.auth: list[tuple[str, str]] = []

    def on_api_request(self, route: str, status: int, seconds: float) -> None:
        pass

    def on_api_refused(self, reason: str) -> None:
        pass

    def on_api_auth_refused(self, scope: str, reason: str) -> None:
        self.auth.append((scope, reason))


def register(node: LocalNode, bank: str, account_id: str) -> bytes:
    message = pb.RegisterAccount(
        account_id=account_id,
        role=pb.CUSTOMER,
        zone=pb.NATIONAL,
        kyc_tier=1,
        public_keys=[key(account_id).public_key],
    )
    receipt = node.run(bank, message)
    assert receipt.code == pb.OK, receipt.message
    return receipt.tx_id


class World:
    """The node, its app with tokens, and the token texts by name."""

    def __init__(self, node: LocalNode, tmp: Path) -> None:
        self.node = node
        self.path = tmp / "api_tokens.json"
        self.secrets: dict[str, str] = {}
        tokens = []
        for name, scopes, bank in [
            ("halyk-core", ["submit", "read:own"], "halyk"),
            ("halyk-read", ["read:own"], "halyk"),
            ("kaspi-read", ["read:own"], "kaspi"),
            ("afm", ["read:all"], ""),
            ("ops", ["admin"], ""),
        ]:
            token, secret = new_token(name, scopes, bank, T0_MS)
            tokens.append(token)
            self.secrets[name] = secret
        save_tokens(self.path, tokens)
        self.holder = TokenHolder(load_tokens(self.path))
        self.refusals = Refusals()
        self.app = create_app(node, gate=ApiGate(observer=self.refusals), tokens=self.holder)
        self.alice_tx = register(node, "halyk", "alice.halyk")
        self.bob_tx = register(node, "kaspi", "bob.kaspi")
        receipt = node.run("halyk", transfer(("halyk", "alice.halyk", "KZT", 500)))
        assert receipt.code == pb.OK, receipt.message
        self.pay_alice_tx = receipt.tx_id

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[name]}"}


@pytest.fixture
async def world(local_node: LocalNode, tmp_path: Path) -> World:
    return World(local_node, tmp_path)


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    with trio.fail_after(30):
        transport = httpx.ASGITransport(app=world.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as http:
            yield http


def _routes(app: Starlette) -> set[str]:
    return {r.path for r in app.routes if isinstance(r, Route)}


def test_every_route_has_exactly_one_access_rule(app: Starlette) -> None:
    assert set(ROUTE_ACCESS) == _routes(app)
    # One code per meaning: the API's 401 is not the ledger's UNAUTHORIZED.
    assert len(error_codes()) == len(set(error_codes()))


PUBLIC_GETS = [
    "/v1/status",
    "/v1/health",
    "/v1/assets",
    "/v1/assets/KZT",
    "/v1/blocks/latest",
    "/v1/blocks/1",
    "/v1/validators",
    "/v1/evidence",
    "/v1/rulebook",
    "/v1/governance",
    "/openapi.json",
]


async def test_public_routes_need_no_token(world: World, client: httpx.AsyncClient) -> None:
    for path in PUBLIC_GETS:
        r = await client.get(path)
        assert r.status_code in (200, 503), (path, r.text)  # health: 503 without a recent commit
        # A bad token on a public route is not looked at.
        r = await client.get(path, headers={"Authorization": "Bearer nonsense"})
        assert r.status_code in (200, 503), (path, r.text)
    assert world.refusals.auth == []


async def test_no_token_is_401_with_a_bearer_challenge(
    world: World, client: httpx.AsyncClient
) -> None:
    tx = world.pay_alice_tx.hex()
    for method, path in [
        ("GET", "/v1/accounts/alice.halyk"),
        ("GET", "/v1/accounts/alice.halyk/transactions"),
        ("GET", f"/v1/txs/{tx}"),
        ("GET", "/v1/licences/alice.halyk"),
        ("GET", "/v1/persons/" + "ab" * 32),
        ("GET", "/v1/reserves/reserve/inflows"),
        ("POST", "/v1/txs"),
        ("POST", "/v1/txs/batch"),
    ]:
        r = await client.request(method, path)
        assert r.status_code == 401, (path, r.text)
        assert r.json()["error"]["code"] == UNAUTHENTICATED
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="tenge-node"'
    assert {reason for _, reason in world.refusals.auth} == {"missing_token"}


async def test_no_route_is_still_404_or_405_and_a_route_missing_from_the_table_is_closed(
    world: World, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await client.get("/v1/txs")).status_code == 405  # POST only
    assert (await client.delete("/v1/accounts/alice.halyk")).status_code == 405
    assert (await client.get("/v1/nothing")).status_code == 404
    monkeypatch.delitem(ROUTE_ACCESS, "/v1/status")
    r = await client.get("/v1/status")
    assert r.status_code == 401
    r = await client.get("/v1/status", headers=world.auth("halyk-read"))
    assert r.status_code == 403
    assert (await client.get("/v1/status", headers=world.auth("afm"))).status_code == 200


async def test_a_wrong_or_malformed_token_is_401_invalid_token(
    world: World, client: httpx.AsyncClient
) -> None:
    good = world.secrets["afm"]
    token_id = good.split("_")[1]
    forged = f"tng_{token_id}_{base64.urlsafe_b64encode(bytes(32)).rstrip(b'=').decode()}"
    for header in [
        f"Bearer {forged}",  # a known id, the wrong secret
        f"Bearer {good[:-1]}",  # cut short
        f"Bearer {good}x",
        "Bearer ",
        f"Basic {good}",
        "Bearer " + "A" * 5000,
    ]:
        r = await client.get("/v1/accounts/alice.halyk", headers={"Authorization": header})
        assert r.status_code == 401, header[:40]
        assert r.json()["error"]["code"] == UNAUTHENTICATED
        assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    assert {reason for _, reason in world.refusals.auth} == {"invalid_token"}


async def test_read_own_reads_its_banks_accounts_and_not_another_banks(
    world: World, client: httpx.AsyncClient
) -> None:
    halyk = world.auth("halyk-read")
    for path in [
        "/v1/accounts/halyk",  # the bank itself
        "/v1/accounts/alice.halyk",  # registered by it
        "/v1/accounts/alice.halyk/transactions",
        f"/v1/txs/{world.alice_tx.hex()}",
        f"/v1/txs/{world.pay_alice_tx.hex()}",
    ]:
        r = await client.get(path, headers=halyk)
        assert r.status_code == 200, (path, r.text)
    assert (await client.get("/v1/accounts/alice.halyk", headers=halyk)).json()["balances"] == {
        "KZT": "500"
    }
    for path in [
        "/v1/accounts/bob.kaspi",  # kaspi's customer
        "/v1/accounts/bob.kaspi/transactions",
        "/v1/accounts/kaspi",
        "/v1/accounts/nobody.anywhere",  # absent: the same answer, nothing to probe
        f"/v1/txs/{world.bob_tx.hex()}",
        "/v1/licences/bob.kaspi",
        "/v1/persons/" + "ab" * 32,  # every bank's accounts of a person: read:all only
    ]:
        r = await client.get(path, headers=halyk)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["error"]["code"] == FORBIDDEN
    # The other bank's token sees the mirror image.
    kaspi = world.auth("kaspi-read")
    assert (await client.get("/v1/accounts/bob.kaspi", headers=kaspi)).status_code == 200
    assert (await client.get("/v1/accounts/alice.halyk", headers=kaspi)).status_code == 403
    r = await client.get(f"/v1/txs/{world.pay_alice_tx.hex()}", headers=kaspi)
    assert r.status_code == 403
    assert ("read:own", "other_bank") in world.refusals.auth
    assert ("read:all", "missing_scope") in world.refusals.auth


async def test_read_own_sees_a_pending_tx_that_names_its_customer(
    world: World, client: httpx.AsyncClient
) -> None:
    raw = world.node.tx("alice.halyk", transfer(("alice.halyk", "halyk", "KZT", 5)))
    admission = await world.node.submit(raw)
    assert admission.ok, admission.message
    path = f"/v1/txs/{tx_id_of(raw).hex()}"
    r = await client.get(path, headers=world.auth("halyk-read"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending"
    assert (await client.get(path, headers=world.auth("kaspi-read"))).status_code == 403


async def test_malformed_ids_and_unknown_txs_are_answered_by_the_route(
    world: World, client: httpx.AsyncClient
) -> None:
    halyk = world.auth("halyk-read")
    r = await client.get("/v1/accounts/NOT_AN_ID", headers=halyk)
    assert r.status_code == 400
    assert (await client.get("/v1/txs/zz", headers=halyk)).status_code == 400
    assert (await client.get("/v1/txs/" + "00" * 32, headers=halyk)).status_code == 404


async def test_read_all_and_admin_read_every_account(
    world: World, client: httpx.AsyncClient
) -> None:
    for name in ("afm", "ops"):
        for path in [
            "/v1/accounts/alice.halyk",
            "/v1/accounts/bob.kaspi/transactions",
            f"/v1/txs/{world.bob_tx.hex()}",
            "/v1/reserves/reserve/inflows",
        ]:
            r = await client.get(path, headers=world.auth(name))
            assert r.status_code == 200, (name, path, r.text)
        r = await client.get("/v1/persons/" + "ab" * 32, headers=world.auth(name))
        assert r.status_code == 404  # past the check: no such person


async def test_submit_needs_the_submit_scope(world: World, client: httpx.AsyncClient) -> None:
    def body() -> dict[str, str]:
        raw = world.node.tx("halyk", transfer(("halyk", "alice.halyk", "KZT", 1)))
        return {"tx": base64.b64encode(raw).decode()}

    for name in ("halyk-read", "afm"):
        r = await client.post("/v1/txs", json=body(), headers=world.auth(name))
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == FORBIDDEN
        assert "lacks scope submit" in r.json()["error"]["message"]
        r = await client.post("/v1/txs/batch", json={"txs": []}, headers=world.auth(name))
        assert r.status_code == 403
    assert len(world.node.mempool) == 0
    for name in ("halyk-core", "ops"):
        r = await client.post("/v1/txs", json=body(), headers=world.auth(name))
        assert r.status_code == 202, r.text
    assert ("submit", "missing_scope") in world.refusals.auth


async def test_a_revoked_token_is_refused_once_the_file_is_reloaded(
    world: World, client: httpx.AsyncClient
) -> None:
    headers = world.auth("halyk-read")
    assert (await client.get("/v1/accounts/alice.halyk", headers=headers)).status_code == 200
    book = load_tokens(world.path)
    assert book is not None
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: watch_token_file(world.holder, world.path, interval_s=0.05))
            await trio.sleep(0.1)  # let the watcher see the file as it was
            save_tokens(world.path, revoke(book.tokens, "halyk-read", T0_MS + 1))
            while True:
                r = await client.get("/v1/accounts/alice.halyk", headers=headers)
                if r.status_code != 200:
                    break
                await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
    assert r.status_code == 401
    assert "revoked" in r.json()["error"]["message"]
    assert ("read:own", "revoked_token") in world.refusals.auth
    other = world.auth("kaspi-read")
    assert (await client.get("/v1/accounts/bob.kaspi", headers=other)).status_code == 200


async def test_a_bad_file_at_reload_keeps_the_tokens_in_force(
    world: World, client: httpx.AsyncClient
) -> None:
    headers = world.auth("afm")
    before = world.holder.book
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: watch_token_file(world.holder, world.path, interval_s=0.05))
            await trio.sleep(0.1)
            world.path.write_text("{not json")
            await trio.sleep(0.3)
            nursery.cancel_scope.cancel()
    assert world.holder.book is before
    assert (await client.get("/v1/accounts/bob.kaspi", headers=headers)).status_code == 200


async def test_openapi_declares_the_bearer_scheme_and_each_routes_scopes(
    client: httpx.AsyncClient,
) -> None:
    doc = (await client.get("/openapi.json")).json()
    scheme = doc["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path, item in doc["paths"].items():
        need = ROUTE_ACCESS[path]
        for op in item.values():
            if need is Need.PUBLIC:
                assert op["security"] == [], path
                assert "401" not in op["responses"], path
                continue
            scopes = {s for req in op["security"] for s in req["bearer"]}
            assert need.scope in scopes, path
            assert {"401", "403"} <= set(op["responses"]), path
    assert doc["paths"]["/v1/txs"]["post"]["security"] == [{"bearer": ["submit"]}]


# ---- the token file ----


def test_the_file_holds_no_secret_and_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "api_tokens.json"
    token, secret = new_token("halyk-core", ["submit"], "halyk", T0_MS)
    save_tokens(path, [token])
    text = path.read_text()
    secret_part = secret.split("_", 2)[2]
    assert secret not in text
    assert secret_part not in text
    assert base64.urlsafe_b64decode(secret_part + "=").hex() not in text
    assert os.stat(path).st_mode & 0o777 == 0o600
    book = load_tokens(path)
    assert book is not None
    found, _ = book.authenticate(secret)
    assert found is not None
    assert found.name == "halyk-core"


_ENTRY_CHANGES: dict[str, tuple[str, object]] = {
    "scopes not a list": ("scopes", "read"),
    "unknown scope": ("scopes", ["write"]),
    "sha256 not hex": ("sha256", "secret"),
    "id not a string": ("id", 7),
    "created_ms not an integer": ("created_ms", "today"),
    "read:own without a bank": ("bank", ""),
    "a field of no token": ("secret", "x"),
}


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "expected an object"),
        ('{"version": 2, "tokens": []}', "version"),
        ('{"version": 1, "tokens": {}}', "tokens: expected a list"),
        ('{"version": 1, "tokens": [5]}', "tokens[0]: expected an object"),
        ("scopes not a list", "tokens[0].scopes: expected a list"),
        ("unknown scope", "tokens[0].scopes: unknown scope 'write'"),
        ("sha256 not hex", "tokens[0].sha256"),
        ("id not a string", "tokens[0].id: expected a string"),
        ("created_ms not an integer", "tokens[0].created_ms"),
        ("read:own without a bank", "tokens[0].bank: a read:own token needs the bank"),
        ("a field of no token", "tokens[0].secret: unknown field"),
        ("two tokens of one name", "tokens[1].name"),
        ("\xff", "not valid JSON"),
    ],
)
def test_a_bad_file_is_one_config_error_naming_the_field(
    tmp_path: Path, content: str, field: str
) -> None:
    path = tmp_path / "api_tokens.json"
    token, _ = new_token("halyk-read", ["read:own"], "halyk", T0_MS)
    entry = token.public_doc()
    if content in _ENTRY_CHANGES:
        name, value = _ENTRY_CHANGES[content]
        content = json.dumps({"version": 1, "tokens": [{**entry, name: value}]})
    elif content == "two tokens of one name":
        content = json.dumps({"version": 1, "tokens": [entry, entry]})
    path.write_bytes(content.encode("latin-1"))
    path.chmod(0o600)
    with pytest.raises(ConfigError) as caught:
        load_tokens(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert field in message, message
    assert "\n" not in message


def test_a_file_other_users_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "api_tokens.json"
    token, _ = new_token("ops", ["admin"], "", T0_MS)
    save_tokens(path, [token])
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="mode 644 lets other users read it; run chmod 600"):
        load_tokens(path)
    assert load_tokens(tmp_path / "absent.json") is None


def test_a_non_loopback_listen_needs_a_token_file() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "10.0.0.5", "node1.bank.kz"):
        assert not is_loopback(host), host
    require_tokens_off_loopback("127.0.0.1:26657", "127.0.0.1", None)
    require_tokens_off_loopback("0.0.0.0:26657", "0.0.0.0", TokenBook())
    with pytest.raises(ConfigError, match=r"^config.toml: api.listen: 0.0.0.0:26657 is not"):
        require_tokens_off_loopback("0.0.0.0:26657", "0.0.0.0", None)


def test_reload_keeps_an_open_node_open_and_a_closed_one_closed(tmp_path: Path) -> None:
    path = tmp_path / "api_tokens.json"
    holder = TokenHolder(None)
    assert reload_tokens(holder, path)  # still no file: still open
    assert holder.book is None
    token, secret = new_token("ops", ["admin"], "", T0_MS)
    save_tokens(path, [token])
    assert reload_tokens(holder, path)  # a file appears: closed, with its token
    assert holder.book is not None
    assert holder.book.authenticate(secret)[0] is not None
    before = holder.book
    path.write_text("[")
    assert not reload_tokens(holder, path)  # invalid: the tokens in force stay
    assert holder.book is before
    path.unlink()
    assert reload_tokens(holder, path)  # removed: closed, and no token is in force
    assert holder.book is not None
    assert holder.book.authenticate(secret) == (None, "invalid_token")


def test_revoking_twice_or_an_unknown_name_is_refused() -> None:
    token, _ = new_token("ops", ["admin"], "", T0_MS)
    revoked = revoke([token], "ops", T0_MS)
    with pytest.raises(ValueError, match="revoked already"):
        revoke(revoked, "ops", T0_MS)
    with pytest.raises(ValueError, match="no token named"):
        revoke(revoked, "other", T0_MS)
