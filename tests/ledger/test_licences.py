"""Licences (issue 12 item 4): granted and revoked by the regulator, with a scope (assets,
purposes) and an expiry; banks cannot set them; the VASP role acts only under one.

Each bypass an examiner found is shown refused with its precise code and rule id (the old
code let them through: see the note of the branch). The world: the genesis of
ledger_world with USDT and USDC (stablecoins of CRYPTOCITY, issued by kaspi) and BTC
(crypto of CRYPTOCITY, issued by kaspi), all with reference rates, and these accounts,
registered by their banks in block 1:

    firm.a, firm.b  MERCHANT  NATIONAL    tier 2
    erlan           CUSTOMER  NATIONAL    tier 1
    aidos           CUSTOMER  CRYPTOCITY  tier 1
    shop            MERCHANT  CRYPTOCITY  tier 2
    vasp.city       VASP      CRYPTOCITY
    vasp.nat        VASP      NATIONAL
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ledger_world import World, code_name, genesis_doc, key, make_genesis

from node.errors import ConfigError
from node.genesis import genesis_to_json, parse_genesis
from node.ledger import get_account, get_balance
from node.ledger._keys import account_key
from node.ledger._licences import get_licence, licence_in_force
from node.ledger.txbuild import transfer
from proto import ledger_pb2 as pb

M = 100  # tiyn per tenge
USDT = 1_000_000  # minor units per USDT (6 decimals)
BTC = 100_000_000

FEE = pb.GOVERNMENT_FEE


def _asset(code: str, kind: str, decimals: int) -> dict[str, Any]:
    return {
        "code": code,
        "decimals": decimals,
        "issuer": "kaspi",
        "kind": kind,
        "payment_zones": ["CRYPTOCITY"],
    }


def licences_doc() -> dict[str, Any]:
    doc = genesis_doc()
    doc["accounts"][1]["balances"] = {"KZT": str(10_000_000 * M)}  # halyk
    doc["accounts"][2]["balances"] = {
        "KZT": str(10_000_000 * M),
        "USDT": str(10**6 * USDT),
        "USDC": str(10**6 * USDT),
        "BTC": str(100 * BTC),
    }
    doc["assets"] += [
        _asset("USDT", "STABLECOIN", 6),
        _asset("USDC", "STABLECOIN", 6),
        _asset("BTC", "CRYPTO", 8),
    ]
    doc["rulebook"] = {"rates": {"USDT": "50000", "USDC": "50000", "BTC": "4000000000"}}
    return doc


ACCOUNTS = [
    ("halyk", "firm.a", pb.MERCHANT, pb.NATIONAL, 2),
    ("kaspi", "firm.b", pb.MERCHANT, pb.NATIONAL, 2),
    ("kaspi", "erlan", pb.CUSTOMER, pb.NATIONAL, 1),
    ("halyk", "aidos", pb.CUSTOMER, pb.CRYPTOCITY, 1),
    ("halyk", "shop", pb.MERCHANT, pb.CRYPTOCITY, 2),
    ("kaspi", "vasp.city", pb.VASP, pb.CRYPTOCITY, 0),
    ("halyk", "vasp.nat", pb.VASP, pb.NATIONAL, 0),
]


def world() -> World:
    w = World(make_genesis(licences_doc()))
    txs = [
        w.tx(
            bank,
            pb.RegisterAccount(
                account_id=account_id,
                role=role,  # type: ignore[arg-type]
                zone=zone,  # type: ignore[arg-type]
                kyc_tier=tier,
                public_keys=[key(account_id).public_key],
            ),
        )
        for bank, account_id, role, zone, tier in ACCOUNTS
    ]
    for receipt in w.block(*txs).receipts:
        expect(receipt, "OK")
    return w


def expect(receipt: pb.Receipt, code: str, rule: str = "") -> None:
    assert (code_name(receipt), receipt.rule) == (code, rule), receipt.message
    assert (receipt.message == "") == (code == "OK")


def grant(
    account_id: str,
    assets: tuple[str, ...] = ("USDT",),
    purposes: tuple[int, ...] = (FEE,),
    expires: int = 1_000,
    reference: str = "AFM-LIC-1",
) -> pb.GrantLicence:
    return pb.GrantLicence(
        account_id=account_id,
        assets=assets,
        purposes=purposes,  # type: ignore[arg-type]
        expires_at_height=expires,
        reference=reference,
    )


def revoke(account_id: str, reference: str = "AFM-DEC-7") -> pb.RevokeLicence:
    return pb.RevokeLicence(account_id=account_id, reference=reference)


def pay(w: World, payer: str, payee: str, asset: str, amount: int, purpose: int = 0) -> pb.Receipt:
    return w.run(payer, transfer((payer, payee, asset, amount), purpose=purpose))


def pay_tx(w: World, payer: str, payee: str, asset: str, amount: int, purpose: int = 0) -> bytes:
    return w.tx(payer, transfer((payer, payee, asset, amount), purpose=purpose))


NO_LICENCE = ("NO_LICENCE", "licence.required")
SCOPE = ("LICENCE_SCOPE", "licence.scope")
PURPOSE_SCOPE = ("LICENCE_SCOPE", "licence.purpose")
NOT_ALLOWED = ("ASSET_NOT_ALLOWED", "hold.zone")
OUTSIDE_RECEIVE = ("PURPOSE_NOT_ALLOWED", "hold.outside-zone-receive")
OUTSIDE_PAY = ("PURPOSE_NOT_ALLOWED", "hold.outside-zone-pay")


# ---------------------------------------------------------------- who licenses


def test_a_bank_cannot_license_its_customer_at_registration() -> None:
    """The examiner's finding: a bank set `licensed` on its own customer. Now refused."""
    w = world()
    for role in (pb.CUSTOMER, pb.MERCHANT, pb.VASP):
        r = w.run(
            "halyk",
            pb.RegisterAccount(
                account_id="lic.x",
                role=role,  # type: ignore[arg-type]
                zone=pb.NATIONAL,
                kyc_tier=2,
                licensed=True,
                public_keys=[key("lic.x").public_key],
            ),
        )
        expect(r, "UNAUTHORIZED")
        assert "granted by the regulator with tx grant-licence" in r.message
    assert get_account(w.state, "lic.x") is None


def test_only_the_regulator_grants_and_revokes() -> None:
    w = world()
    for signer in ("halyk", "kaspi", "nbk", "firm.a", "treasury"):
        r = w.run(signer, grant("firm.a"))
        expect(r, "UNAUTHORIZED")
        assert "only a REGULATOR" in r.message
    assert get_licence(w.state.get, "firm.a") is None
    expect(pay(w, "kaspi", "firm.a", "USDT", 10 * USDT), *NO_LICENCE)
    r = w.run("afm", grant("firm.a"))
    expect(r, "OK")
    assert list(r.accounts) == ["afm", "firm.a"]
    granted_at = w.height
    expect(pay(w, "kaspi", "firm.a", "USDT", 10 * USDT), "OK")
    for signer in ("halyk", "nbk", "firm.a"):
        expect(w.run(signer, revoke("firm.a")), "UNAUTHORIZED")
    licence = licence_in_force(w.state.get, "firm.a", w.height + 1)
    assert licence is not None
    assert (licence.granted_by, licence.granted_height, licence.reference) == (
        "afm",
        granted_at,
        "AFM-LIC-1",
    )


def test_grant_bad_input() -> None:
    w = world()
    cases: list[tuple[pb.GrantLicence, str, str]] = [
        (grant("nobody.x"), "UNKNOWN_ACCOUNT", ""),
        (grant("Bad Id"), "INVALID_ACCOUNT_ID", ""),
        (grant("erlan"), "INVALID_FIELD", "licence.role"),  # a person is never licensed
        (grant("aidos"), "INVALID_FIELD", "licence.role"),
        (grant("halyk"), "INVALID_FIELD", "licence.role"),  # banks hold by role already
        (grant("firm.a", ("BTC",)), "INVALID_FIELD", "licence.role"),  # CRYPTO: VASP only
        (grant("vasp.nat", ("KZT",)), "INVALID_FIELD", "licence.role"),  # KZT needs none
        (grant("firm.a", ("USDX",)), "UNKNOWN_ASSET", ""),
        (grant("firm.a", ()), "INVALID_FIELD", ""),
        (grant("firm.a", ("USDT", "USDT")), "INVALID_FIELD", ""),
        (grant("firm.a", ("usdt",)), "INVALID_FIELD", ""),
        (grant("firm.a", tuple(f"A{i:02}" for i in range(17))), "INVALID_FIELD", ""),
        (grant("firm.a", purposes=(pb.PURPOSE_UNSPECIFIED,)), "INVALID_FIELD", ""),
        (grant("firm.a", purposes=(99,)), "INVALID_FIELD", ""),
        (grant("firm.a", purposes=(FEE, FEE)), "INVALID_FIELD", ""),
        (grant("firm.a", reference=""), "INVALID_FIELD", ""),
        (grant("firm.a", reference="x" * 257), "INVALID_FIELD", ""),
        (grant("firm.a", expires=0), "INVALID_FIELD", ""),
    ]
    for message, code, rule in cases:
        r = w.run("afm", message)
        expect(r, code, rule)
    # Expiry: the run executes at w.height + 1; the licence must be in force past it.
    expect(w.run("afm", grant("firm.a", expires=w.height)), "INVALID_FIELD")
    expect(w.run("afm", grant("firm.a", expires=w.height + 1)), "INVALID_FIELD")
    assert get_licence(w.state.get, "firm.a") is None
    # The boundary: one block after the grant's own height is accepted.
    expect(w.run("afm", grant("firm.a", reference="x" * 256, expires=w.height + 2)), "OK")


def test_revoke_bad_input() -> None:
    w = world()
    expect(w.run("afm", revoke("firm.a")), "NO_LICENCE")  # none to revoke
    expect(w.run("afm", revoke("nobody.x")), "UNKNOWN_ACCOUNT")
    expect(w.run("afm", revoke("firm.a", reference="")), "INVALID_FIELD")
    expect(w.run("afm", revoke("Bad Id")), "INVALID_ACCOUNT_ID")
    expect(w.run("afm", grant("firm.a")), "OK")
    expect(w.run("afm", revoke("firm.a")), "OK")
    r = w.run("afm", revoke("firm.a"))
    expect(r, "NO_LICENCE")
    assert "revoked" in r.message
    expect(w.run("afm", grant("firm.b", expires=w.height + 2)), "OK")
    w.block()
    w.block()  # past its expiry
    r = w.run("afm", revoke("firm.b"))
    expect(r, "NO_LICENCE")
    assert "expired" in r.message


# ---------------------------------------------------------------- the examiner's bypasses


def test_a_national_customer_cannot_receive_cryptocity_usdt() -> None:
    """Finding 1: a bank licensed its NATIONAL customer, which then received USDT. The bank
    cannot license (above), the regulator cannot license a person, and so the customer is
    refused as any NATIONAL customer is."""
    w = world()
    expect(w.run("afm", grant("erlan")), "INVALID_FIELD", "licence.role")
    expect(w.run("kaspi", pb.Issue(asset="USDT", to="erlan", amount=USDT)), *NOT_ALLOWED)
    expect(pay(w, "kaspi", "erlan", "USDT", USDT), *NOT_ALLOWED)
    expect(pay(w, "kaspi", "aidos", "USDT", 10 * USDT), "OK")
    expect(pay(w, "aidos", "erlan", "USDT", USDT), *NOT_ALLOWED)
    assert get_balance(w.state, "erlan", "USDT") == 0


def test_the_licensed_flag_of_an_old_record_gives_nothing() -> None:
    """Holding never reads Account.licensed: a record that still carries it (written by
    the old code) is judged as an unlicensed account."""
    w = world()
    for account_id in ("firm.a", "erlan", "vasp.city"):
        account = get_account(w.state, account_id)
        assert account is not None
        account.licensed = True
        w.state[account_key(account_id)] = account.SerializeToString()
    w.ledger = type(w.ledger)(w.genesis, w.state)  # no cached records
    expect(pay(w, "kaspi", "firm.a", "USDT", USDT), *NO_LICENCE)
    expect(pay(w, "kaspi", "erlan", "USDT", USDT), *NOT_ALLOWED)
    expect(pay(w, "kaspi", "vasp.city", "BTC", BTC), *NO_LICENCE)


def test_two_licensed_national_firms_cannot_pay_each_other_usdt() -> None:
    """Finding 2: two licensed national firms paid each other USDT. A licence held outside
    the zone receives only from an institution and pays only a government fee to TREASURY."""
    w = world()
    for firm in ("firm.a", "firm.b"):
        expect(w.run("afm", grant(firm, ("USDT", "USDC"), (FEE, pb.RESERVE_PURCHASE))), "OK")
        expect(pay(w, "kaspi", firm, "USDT", 100 * USDT), "OK")
    expect(pay(w, "firm.a", "firm.b", "USDT", USDT), *OUTSIDE_RECEIVE)
    expect(pay(w, "firm.a", "firm.b", "USDT", USDT, FEE), *OUTSIDE_RECEIVE)
    expect(pay(w, "firm.b", "firm.a", "USDT", USDT, pb.RESERVE_PURCHASE), *OUTSIDE_RECEIVE)
    # Nor to anyone else but TREASURY, nor to TREASURY but as a fee.
    for payee in ("shop", "aidos", "halyk", "reserve"):
        expect(pay(w, "firm.a", payee, "USDT", USDT, FEE), *OUTSIDE_PAY)
    expect(pay(w, "firm.a", "treasury", "USDT", USDT), *OUTSIDE_PAY)
    expect(pay(w, "firm.a", "treasury", "USDT", USDT, pb.RESERVE_PURCHASE), *OUTSIDE_PAY)
    expect(pay(w, "firm.a", "treasury", "USDT", USDT, FEE), "OK")
    assert get_balance(w.state, "firm.a", "USDT") == 99 * USDT
    assert get_balance(w.state, "firm.b", "USDT") == 100 * USDT


def test_an_unlicensed_national_firm_neither_receives_nor_pays() -> None:
    w = world()
    expect(w.run("kaspi", pb.Issue(asset="USDT", to="firm.a", amount=USDT)), *NO_LICENCE)
    expect(pay(w, "kaspi", "firm.a", "USDT", USDT), *NO_LICENCE)
    expect(w.run("afm", grant("firm.a")), "OK")
    expect(w.run("kaspi", pb.Issue(asset="USDT", to="firm.a", amount=5 * USDT)), "OK")
    expect(w.run("afm", revoke("firm.a")), "OK")
    r = pay(w, "firm.a", "treasury", "USDT", USDT, FEE)
    expect(r, *NO_LICENCE)
    assert "revoked at height" in r.message
    assert "AFM-DEC-7" in r.message


# ---------------------------------------------------------------- scope


def test_scope_by_asset() -> None:
    w = world()
    expect(w.run("afm", grant("firm.a", ("USDC",))), "OK")
    r = pay(w, "kaspi", "firm.a", "USDT", USDT)
    expect(r, *SCOPE)
    assert "does not cover USDT" in r.message
    expect(w.run("kaspi", pb.Issue(asset="USDT", to="firm.a", amount=USDT)), *SCOPE)
    expect(pay(w, "kaspi", "firm.a", "USDC", 10 * USDT), "OK")
    expect(pay(w, "firm.a", "treasury", "USDC", USDT, FEE), "OK")
    # A grant replaces the licence: USDT now, USDC no more (what it holds is stuck).
    expect(w.run("afm", grant("firm.a", ("USDT",), reference="AFM-LIC-2")), "OK")
    expect(pay(w, "firm.a", "treasury", "USDC", USDT, FEE), *SCOPE)
    expect(pay(w, "kaspi", "firm.a", "USDT", 10 * USDT), "OK")
    expect(pay(w, "firm.a", "treasury", "USDT", USDT, FEE), "OK")
    licence = get_licence(w.state.get, "firm.a")
    assert licence is not None
    assert (list(licence.assets), licence.reference) == (["USDT"], "AFM-LIC-2")


def test_scope_by_purpose() -> None:
    """The purpose rule must allow the payee and the licence must list the purpose."""
    w = world()
    expect(w.run("afm", grant("firm.a", purposes=())), "OK")  # may hold, may not pay
    expect(pay(w, "kaspi", "firm.a", "USDT", 10 * USDT), "OK")
    r = pay(w, "firm.a", "treasury", "USDT", USDT, FEE)
    expect(r, *PURPOSE_SCOPE)
    assert "GOVERNMENT_FEE" in r.message
    expect(w.run("afm", grant("firm.a", purposes=(pb.MINED_REMITTANCE,))), "OK")
    expect(pay(w, "firm.a", "treasury", "USDT", USDT, FEE), *PURPOSE_SCOPE)
    # The purpose rule is judged first: a purpose no rule opens is PURPOSE_NOT_ALLOWED.
    expect(pay(w, "firm.a", "reserve", "USDT", USDT, pb.MINED_REMITTANCE), *OUTSIDE_PAY)
    expect(w.run("afm", grant("firm.a", purposes=(FEE,))), "OK")
    expect(pay(w, "firm.a", "treasury", "USDT", USDT, FEE), "OK")


# ---------------------------------------------------------------- expiry and revocation


def test_a_licence_is_in_force_through_its_expiry_height_and_not_one_block_more() -> None:
    w = world()
    expires = w.height + 4
    expect(w.run("afm", grant("firm.a", expires=expires)), "OK")
    expect(pay(w, "kaspi", "firm.a", "USDT", 10 * USDT), "OK")
    while w.height + 1 < expires:
        w.block()
    assert w.height + 1 == expires
    expect(pay(w, "firm.a", "treasury", "USDT", USDT, FEE), "OK")  # at expires_at_height
    assert w.height == expires
    r = pay(w, "firm.a", "treasury", "USDT", USDT, FEE)  # at expires_at_height + 1
    expect(r, *NO_LICENCE)
    assert f"expired after height {expires}" in r.message
    expect(pay(w, "kaspi", "firm.a", "USDT", USDT), *NO_LICENCE)
    assert licence_in_force(w.state.get, "firm.a", expires) is not None
    assert licence_in_force(w.state.get, "firm.a", expires + 1) is None
    # The mempool judges at the next height too.
    check = w.ledger.check_tx(
        pay_tx(w, "firm.a", "treasury", "USDT", USDT, FEE), next_height=w.height + 1
    )
    assert (pb.ResultCode.Name(check.code), check.rule) == NO_LICENCE


def test_revocation_stops_use_within_the_same_block() -> None:
    w = world()
    expect(w.run("afm", grant("firm.a")), "OK")
    expect(pay(w, "kaspi", "firm.a", "USDT", 10 * USDT), "OK")
    result = w.block(
        pay_tx(w, "firm.a", "treasury", "USDT", USDT, FEE),
        w.tx("afm", revoke("firm.a")),
        pay_tx(w, "firm.a", "treasury", "USDT", 2 * USDT, FEE),
        pay_tx(w, "kaspi", "firm.a", "USDT", USDT),
    )
    first, revoked, after, into = result.receipts
    expect(first, "OK")
    expect(revoked, "OK")
    expect(after, *NO_LICENCE)
    expect(into, *NO_LICENCE)
    assert get_balance(w.state, "firm.a", "USDT") == 9 * USDT
    licence = get_licence(w.state.get, "firm.a")
    assert licence is not None
    assert (licence.revoked, licence.revoked_height, licence.revoke_reference) == (
        True,
        w.height,
        "AFM-DEC-7",
    )
    # A new grant restores it.
    expect(w.run("afm", grant("firm.a", reference="AFM-LIC-3")), "OK")
    expect(pay(w, "firm.a", "treasury", "USDT", USDT, FEE), "OK")


def test_a_grant_in_a_block_applies_to_the_next_transaction() -> None:
    w = world()
    result = w.block(
        pay_tx(w, "kaspi", "firm.a", "USDT", USDT),
        w.tx("afm", grant("firm.a")),
        pay_tx(w, "kaspi", "firm.a", "USDT", USDT),
    )
    assert [code_name(r) for r in result.receipts] == ["NO_LICENCE", "OK", "OK"]


# ---------------------------------------------------------------- the VASP role


def test_banks_register_vasps_the_central_bank_does_not() -> None:
    w = world()
    account = get_account(w.state, "vasp.city")
    assert account is not None
    assert (account.role, account.registered_by) == (pb.VASP, "kaspi")
    r = w.run(
        "nbk",
        pb.RegisterAccount(
            account_id="vasp.x",
            role=pb.VASP,
            zone=pb.CRYPTOCITY,
            public_keys=[key("vasp.x").public_key],
        ),
    )
    expect(r, "UNAUTHORIZED")


def test_a_vasp_holds_kzt_and_nothing_else_without_a_licence() -> None:
    w = world()
    for vasp in ("vasp.city", "vasp.nat"):
        expect(pay(w, "halyk", vasp, "KZT", 1_000 * M), "OK")
        expect(pay(w, vasp, "kaspi", "KZT", 100 * M), "OK")
        for code, amount in (("USDT", USDT), ("BTC", BTC)):
            expect(pay(w, "kaspi", vasp, code, amount), *NO_LICENCE)
            expect(w.run("kaspi", pb.Issue(asset=code, to=vasp, amount=amount)), *NO_LICENCE)
    expect(pay(w, "kaspi", "aidos", "BTC", BTC // 1000), "OK")
    expect(pay(w, "aidos", "vasp.city", "BTC", BTC // 2000), *NO_LICENCE)


def test_a_licensed_vasp_in_cryptocity_trades_what_its_licence_covers() -> None:
    """In CRYPTOCITY a licence makes a VASP a holder in the zone: it pays and receives the
    covered assets with anyone there, whatever the purpose; nothing else."""
    w = world()
    expect(w.run("afm", grant("vasp.city", ("BTC", "USDT"), ())), "OK")
    expect(pay(w, "kaspi", "vasp.city", "BTC", 10 * BTC), "OK")
    expect(pay(w, "kaspi", "aidos", "USDT", 100 * USDT), "OK")
    expect(pay(w, "aidos", "vasp.city", "USDT", 50 * USDT), "OK")  # a customer buys BTC
    expect(pay(w, "vasp.city", "aidos", "BTC", BTC // 100), "OK")
    expect(pay(w, "vasp.city", "shop", "USDT", 10 * USDT), "OK")
    expect(pay(w, "kaspi", "vasp.city", "USDC", USDT), *SCOPE)
    # Still never to a NATIONAL account that may not hold it.
    expect(pay(w, "vasp.city", "erlan", "USDT", USDT), *NOT_ALLOWED)
    expect(pay(w, "vasp.city", "firm.a", "USDT", USDT), *NO_LICENCE)
    expect(w.run("afm", revoke("vasp.city")), "OK")
    expect(pay(w, "vasp.city", "aidos", "BTC", 1), *NO_LICENCE)
    expect(pay(w, "aidos", "vasp.city", "USDT", USDT), *NO_LICENCE)
    assert get_balance(w.state, "vasp.city", "USDT") == 40 * USDT


def test_a_licensed_vasp_outside_cryptocity_pays_only_a_licensed_purpose() -> None:
    w = world()
    expect(w.run("afm", grant("vasp.nat", ("USDT", "BTC"), (FEE,))), "OK")
    expect(pay(w, "kaspi", "vasp.nat", "USDT", 10 * USDT), "OK")
    expect(pay(w, "kaspi", "vasp.nat", "BTC", BTC), "OK")
    expect(pay(w, "kaspi", "aidos", "USDT", 10 * USDT), "OK")
    expect(pay(w, "aidos", "vasp.nat", "USDT", USDT), *OUTSIDE_RECEIVE)
    expect(pay(w, "vasp.nat", "aidos", "USDT", USDT, FEE), *OUTSIDE_PAY)
    expect(pay(w, "vasp.nat", "treasury", "USDT", USDT, FEE), "OK")
    # No purpose rule opens crypto to anyone for a holder outside CRYPTOCITY.
    expect(pay(w, "vasp.nat", "treasury", "BTC", 1, FEE), *OUTSIDE_PAY)


# ---------------------------------------------------------------- genesis


def genesis_with_licence(**licence: Any) -> dict[str, Any]:
    doc = licences_doc()
    firm = {
        "account_id": "firm.g",
        "role": "MERCHANT",
        "zone": "NATIONAL",
        "kyc_tier": 2,
        "public_keys": [key("firm.g").public_key.hex()],
        "balances": {"USDT": str(50 * USDT)},
        "licence": {
            "assets": ["USDT"],
            "purposes": ["GOVERNMENT_FEE"],
            "expires_at_height": 100,
            "reference": "AFM-LIC-G",
            **licence,
        },
    }
    doc["accounts"].append(firm)
    return doc


def test_a_genesis_licence_is_granted_at_height_0_by_the_genesis_regulator() -> None:
    genesis = make_genesis(genesis_with_licence())
    w = World(genesis)
    licence = get_licence(w.state.get, "firm.g")
    assert licence is not None
    assert (licence.granted_by, licence.granted_height, list(licence.assets)) == (
        "afm",
        0,
        ["USDT"],
    )
    assert list(licence.purposes) == [FEE]
    expect(pay(w, "firm.g", "treasury", "USDT", USDT, FEE), "OK")
    expect(w.run("afm", revoke("firm.g")), "OK")
    expect(pay(w, "firm.g", "treasury", "USDT", USDT, FEE), *NO_LICENCE)
    # genesis.json round trip keeps the licence.
    doc = genesis_to_json(genesis)
    assert doc["accounts"][-1]["licence"] == genesis_with_licence()["accounts"][-1]["licence"]
    assert parse_genesis(doc) == genesis


def _genesis_error(doc: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as e:
        parse_genesis(doc)
    return str(e.value)


def test_genesis_refuses_the_old_licensed_key() -> None:
    doc = licences_doc()
    doc["accounts"][1]["licensed"] = True
    message = _genesis_error(doc)
    assert "accounts[1].licensed: no longer accepted" in message
    assert '"licence"' in message
    doc["accounts"][1]["licensed"] = False  # even false: the key is gone
    assert "accounts[1].licensed: no longer accepted" in _genesis_error(doc)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"assets": ["USDX"]}, "accounts[6].licence.assets[0]: no asset 'USDX' in assets"),
        ({"assets": ["BTC"]}, "accounts[6].licence.assets[0]: the rulebook licenses no MERCHANT"),
        ({"assets": []}, "accounts[6].licence.assets: 1 to 16 distinct asset codes"),
        ({"assets": ["USDT", "USDT"]}, "accounts[6].licence.assets: 1 to 16 distinct"),
        ({"purposes": ["PURPOSE_UNSPECIFIED"]}, "accounts[6].licence.purposes[0]: "),
        ({"purposes": ["GOVERNMENT_FEE"] * 2}, "accounts[6].licence.purposes: a purpose is"),
        ({"expires_at_height": 0}, "accounts[6].licence.expires_at_height: 0 is outside"),
        ({"reference": ""}, "accounts[6].licence.reference: 1 to 256 characters"),
        ({"scope": "all"}, "accounts[6].licence.scope: unknown field"),
    ],
)
def test_genesis_refuses_a_bad_licence(change: dict[str, Any], error: str) -> None:
    assert error in _genesis_error(genesis_with_licence(**change))


def test_genesis_licences_need_a_regulator_and_a_licensed_role() -> None:
    doc = genesis_with_licence()
    doc["accounts"] = [a for a in doc["accounts"] if a["role"] != "REGULATOR"]
    assert "accounts[5].licence: a licence needs a REGULATOR account" in _genesis_error(doc)
    doc = genesis_with_licence()
    doc["accounts"][-1]["role"] = "CUSTOMER"
    doc["accounts"][-1]["kyc_tier"] = 2
    assert "the rulebook licenses no CUSTOMER" in _genesis_error(doc)
    # Without its licence the firm may not start with USDT.
    doc = genesis_with_licence()
    del doc["accounts"][-1]["licence"]
    assert "'firm.g' may not hold USDT by the rulebook" in _genesis_error(doc)
    doc = genesis_with_licence(assets=["USDC"])
    assert "'firm.g' may not hold USDT by the rulebook" in _genesis_error(copy.deepcopy(doc))


def test_life_cycle_changes_see_the_licence() -> None:
    """A firm holding USDT outside CRYPTOCITY under its licence keeps it through a tier
    change, and a regulator's sweep may pay a licensed firm what its licence covers."""
    w = world()
    expect(w.run("afm", grant("firm.a")), "OK")
    expect(w.run("afm", grant("firm.b")), "OK")
    expect(w.run("kaspi", transfer(("kaspi", "firm.a", "USDT", 10 * USDT))), "OK")
    expect(w.run("halyk", pb.ChangeAccount(account_id="firm.a", kyc_tier=1)), "OK")
    expect(w.run("afm", pb.Freeze(account_id="firm.a", legal_ref="court 5")), "OK")
    sweep = pb.CloseAccount(account_id="firm.a", sweep_to="firm.b", legal_ref="AFM 5/2026")
    expect(w.run("afm", sweep), "OK")
    assert get_balance(w.state, "firm.b", "USDT") == 10 * USDT
