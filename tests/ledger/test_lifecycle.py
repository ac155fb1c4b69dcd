"""The account life cycle (issue 12 item 5): rotation, recovery, tier and zone changes, closure.

Every refusal is checked for its precise code (and rule id where a rulebook rule refuses).
The world: the genesis of ledger_world with USDT (CRYPTOCITY only, issued by kaspi, 500 KZT
per USDT), tier 1 limits of 50,000 KZT per payment, 100,000 a day and a 500,000 holding cap,
tier 2 unlimited, and these accounts registered in block 1:

    aidos   CUSTOMER  CRYPTOCITY  tier 1  by halyk   1,000 KZT and 10 USDT
    shop    MERCHANT  CRYPTOCITY  tier 2  by halyk   600,000 KZT
    erlan   CUSTOMER  NATIONAL    tier 1  by halyk
    dana    CUSTOMER  CRYPTOCITY  tier 2  by kaspi
"""

from __future__ import annotations

from typing import Any

from ledger_world import World, code_name, genesis_doc, key, make_genesis

from node.keys import KeyPair
from node.ledger import get_account, get_asset, get_balance
from node.ledger.txbuild import issue, seize, transfer
from proto import genesis_pb2
from proto import ledger_pb2 as pb

M = 100  # tiyn per tenge
USDT = 1_000_000  # minor units per USDT

ACCOUNTS = [
    ("halyk", "aidos", pb.CUSTOMER, pb.CRYPTOCITY, 1),
    ("halyk", "shop", pb.MERCHANT, pb.CRYPTOCITY, 2),
    ("halyk", "erlan", pb.CUSTOMER, pb.NATIONAL, 1),
    ("kaspi", "dana", pb.CUSTOMER, pb.CRYPTOCITY, 2),
]


COURT_ORDER = pb.CourtOrder(
    court="Specialized Inter-District Economic Court of Astana",
    case_number="7194-26-00-2/215",
    order_number="1",
    order_date="2026-01-15",
)


def genesis(min_reserve_threshold: int = 0) -> genesis_pb2.Genesis:
    doc: dict[str, Any] = genesis_doc()
    doc["accounts"][1]["balances"] = {"KZT": str(10_000_000 * M)}  # halyk
    doc["accounts"][2]["balances"] = {"KZT": str(10_000_000 * M), "USDT": str(10**6 * USDT)}
    doc["assets"].append(
        {
            "code": "USDT",
            "decimals": 6,
            "issuer": "kaspi",
            "kind": "STABLECOIN",
            "payment_zones": ["CRYPTOCITY"],
        }
    )
    doc["rulebook"] = {"rates": {"USDT": str(500 * M)}}
    g = make_genesis(doc)
    g.rulebook.min_reserve_threshold = min_reserve_threshold
    return g


def world(min_reserve_threshold: int = 0) -> World:
    w = World(genesis(min_reserve_threshold))
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
    txs += [
        w.tx("halyk", transfer(("halyk", "aidos", "KZT", 1_000 * M))),
        w.tx("kaspi", transfer(("kaspi", "aidos", "USDT", 10 * USDT))),
        w.tx("halyk", transfer(("halyk", "shop", "KZT", 600_000 * M))),
    ]
    for receipt in w.block(*txs).receipts:
        assert receipt.code == pb.OK, receipt.message
    return w


def ok(receipt: pb.Receipt) -> None:
    assert receipt.code == pb.OK, (code_name(receipt), receipt.message)


def refused(receipt: pb.Receipt, code: int, *words: str, rule: str = "") -> None:
    assert code_name(receipt) == pb.ResultCode.Name(code), receipt.message
    assert receipt.rule == rule, receipt.rule
    for word in words:
        assert word in receipt.message, receipt.message


def account(w: World, account_id: str) -> pb.Account:
    acct = get_account(w.state, account_id)
    assert acct is not None
    return acct


def pay(
    w: World, payer: str, payee: str, amount: int, *, keys: list[KeyPair] | None = None
) -> pb.Receipt:
    return w.run(payer, transfer((payer, payee, "KZT", amount)), keys=keys)


def recover(
    w: World,
    bank: str,
    target: str,
    new: KeyPair,
    *,
    regulator: str = "afm",
    signers: list[str] | None = None,
    reason: str = "lost phone, identity checked at branch 12",
) -> pb.Receipt:
    message = pb.RecoverAccount(
        account_id=target, public_keys=[new.public_key], regulator=regulator, reason=reason
    )
    names = [bank, regulator] if signers is None else signers
    return w.run(bank, message, keys=[key(n) for n in names])


def supply_holds(w: World) -> None:
    """Sum of balances per asset equals issued - redeemed (nothing created or lost)."""
    totals: dict[str, int] = {}
    for (_, code), amount in w.balances().items():
        totals[code] = totals.get(code, 0) + amount
    for code in ("KZT", "USDT"):
        asset = get_asset(w.state, code)
        assert asset is not None
        issued = asset.issued + (asset.issued_high << 64)
        redeemed = asset.redeemed + (asset.redeemed_high << 64)
        assert totals.get(code, 0) == issued - redeemed, code


# ---------------------------------------------------------------- rotate_keys


def test_rotation_replaces_keys_and_the_old_key_no_longer_signs() -> None:
    w = world()
    new = key("aidos-2")
    ok(w.run("aidos", pb.RotateKeys(public_keys=[new.public_key])))
    acct = account(w, "aidos")
    assert list(acct.public_keys) == [new.public_key]
    assert acct.threshold == 1
    assert acct.keys_changed_height == w.height
    refused(pay(w, "aidos", "shop", 10 * M), pb.EXTRA_SIGNATURE, "belongs to no required account")
    ok(pay(w, "aidos", "shop", 10 * M, keys=[new]))


def test_rotation_then_an_old_key_payment_in_the_same_block() -> None:
    w = world()
    new = key("aidos-2")
    result = w.block(
        w.tx("aidos", pb.RotateKeys(public_keys=[new.public_key])),
        w.tx("aidos", transfer(("aidos", "shop", "KZT", 10 * M))),  # signed by the old key
        w.tx("aidos", transfer(("aidos", "shop", "KZT", 20 * M)), keys=[new]),
    )
    assert [code_name(r) for r in result.receipts] == ["OK", "EXTRA_SIGNATURE", "OK"]
    assert get_balance(w.state, "shop", "KZT") == 600_000 * M + 20 * M


def test_rotation_to_two_of_three_needs_two_new_keys() -> None:
    w = world()
    ks = [key(f"aidos-k{i}") for i in range(3)]
    ok(w.run("aidos", pb.RotateKeys(public_keys=[k.public_key for k in ks], threshold=2)))
    refused(pay(w, "aidos", "shop", M, keys=[ks[0]]), pb.MISSING_SIGNATURE, "needs 2")
    ok(pay(w, "aidos", "shop", M, keys=[ks[0], ks[2]]))
    # the next rotation needs the current threshold too
    refused(
        w.run("aidos", pb.RotateKeys(public_keys=[ks[0].public_key]), keys=[ks[0]]),
        pb.MISSING_SIGNATURE,
    )
    ok(w.run("aidos", pb.RotateKeys(public_keys=[ks[0].public_key]), keys=[ks[0], ks[1]]))
    assert account(w, "aidos").threshold == 1


def test_rotation_refusals() -> None:
    w = world()
    k1 = key("n1").public_key
    bad_keys: list[tuple[list[bytes], int, str]] = [
        ([], 0, "1 to 16 keys"),
        ([k1[:31]], 0, "not 32 bytes"),
        ([k1, k1], 0, "listed twice"),
        ([k1], 2, "more than 1 keys"),
        ([key(f"n{i}").public_key for i in range(17)], 0, "1 to 16 keys"),
    ]
    for keys, threshold, words in bad_keys:
        receipt = w.run("aidos", pb.RotateKeys(public_keys=keys, threshold=threshold))
        refused(receipt, pb.INVALID_FIELD, "rotate_keys", words)
        assert not receipt.authorised  # the body alone is refused
    refused(
        w.run("aidos", pb.RotateKeys(public_keys=[key("aidos").public_key])),
        pb.INVALID_FIELD,
        "already has these keys",
    )
    # a frozen account does not rotate
    ok(w.run("afm", pb.Freeze(account_id="aidos", legal_ref="case 1/2026")))
    refused(w.run("aidos", pb.RotateKeys(public_keys=[k1])), pb.FROZEN)


def test_a_state_reserve_keeps_its_threshold_through_rotation() -> None:
    w = world(min_reserve_threshold=2)
    reserve_keys = [key(f"reserve-{i}") for i in range(3)]
    new = [key(f"reserve-new-{i}").public_key for i in range(3)]
    receipt = w.run("reserve", pb.RotateKeys(public_keys=new, threshold=1), keys=reserve_keys[:2])
    refused(receipt, pb.THRESHOLD_TOO_LOW, "at least 2", rule="reserve.keys")
    ok(w.run("reserve", pb.RotateKeys(public_keys=new, threshold=2), keys=reserve_keys[:2]))
    assert account(w, "reserve").threshold == 2


def test_a_bank_rotates_its_own_keys() -> None:
    w = world()
    new = key("halyk-2")
    ok(w.run("halyk", pb.RotateKeys(public_keys=[new.public_key])))
    refused(pay(w, "halyk", "kaspi", M), pb.EXTRA_SIGNATURE)
    ok(pay(w, "halyk", "kaspi", M, keys=[new]))


# ---------------------------------------------------------------- recover_account


def test_recovery_by_the_registering_bank_and_the_regulator() -> None:
    w = world()
    new = key("aidos-recovered")
    receipt = recover(w, "halyk", "aidos", new)
    ok(receipt)
    assert list(receipt.accounts) == ["halyk", "aidos", "afm"]
    acct = account(w, "aidos")
    assert list(acct.public_keys) == [new.public_key]
    assert acct.keys_changed_height == w.height
    refused(pay(w, "aidos", "shop", M), pb.EXTRA_SIGNATURE)
    ok(pay(w, "aidos", "shop", M, keys=[new]))


def test_recovery_without_the_regulators_signature_is_refused() -> None:
    w = world()
    receipt = recover(w, "halyk", "aidos", key("thief"), signers=["halyk"])
    refused(receipt, pb.MISSING_SIGNATURE, "'afm' needs 1")
    assert not receipt.authorised
    # nor with the regulator's alone
    receipt = recover(w, "halyk", "aidos", key("thief"), signers=["afm"])
    refused(receipt, pb.MISSING_SIGNATURE, "'halyk' needs 1")
    assert list(account(w, "aidos").public_keys) == [key("aidos").public_key]


def test_recovery_by_another_bank_is_refused() -> None:
    w = world()
    refused(recover(w, "kaspi", "aidos", key("x")), pb.NOT_REGISTRAR, "registered by 'halyk'")
    assert list(account(w, "aidos").public_keys) == [key("aidos").public_key]


def test_recovery_refusals() -> None:
    w = world()
    new = key("x")
    # the approver must be a REGULATOR
    refused(
        recover(w, "halyk", "aidos", new, regulator="kaspi"),
        pb.UNAUTHORIZED,
        "recover_account.regulator",
        "not REGULATOR",
    )
    refused(
        recover(w, "halyk", "aidos", new, regulator="nobody"),
        pb.UNKNOWN_ACCOUNT,
        "recover_account.regulator: no account 'nobody'",
    )
    refused(recover(w, "halyk", "ghost", new), pb.UNKNOWN_ACCOUNT, "recover_account.account_id")
    # a bank's keys are not recovered: it rotates them
    refused(recover(w, "nbk", "halyk", new), pb.UNAUTHORIZED, "COMMERCIAL_BANK")
    refused(recover(w, "halyk", "aidos", new, reason=""), pb.INVALID_FIELD, "reason is required")
    refused(
        recover(w, "afm", "aidos", new, regulator="afm", signers=["afm"]),
        pb.INVALID_FIELD,
        "is the signer",
    )
    refused(recover(w, "halyk", "aidos", key("aidos")), pb.INVALID_FIELD, "already has")
    bad = pb.RecoverAccount(
        account_id="aidos", public_keys=[b"\x01" * 31], regulator="afm", reason="r"
    )
    refused(
        w.run("halyk", bad, keys=[key("halyk"), key("afm")]),
        pb.INVALID_FIELD,
        "recover_account.public_keys[0]: not 32 bytes",
    )


# ---------------------------------------------------------------- change_account


def change(w: World, bank: str, target: str, **fields: Any) -> pb.Receipt:
    return w.run(bank, pb.ChangeAccount(account_id=target, **fields))


def test_change_tier_and_zone() -> None:
    w = world()
    ok(change(w, "halyk", "aidos", kyc_tier=2))
    assert account(w, "aidos").kyc_tier == 2
    # now above tier 1's per-payment limit of 50,000 KZT: tier 2 has none
    ok(w.run("kaspi", transfer(("kaspi", "aidos", "KZT", 100_000 * M))))
    ok(pay(w, "aidos", "shop", 60_000 * M))
    # erlan (NATIONAL, no USDT) moves into CRYPTOCITY and may now receive USDT
    refused(
        w.run("kaspi", transfer(("kaspi", "erlan", "USDT", USDT))),
        pb.ASSET_NOT_ALLOWED,
        rule="hold.zone",
    )
    ok(change(w, "halyk", "erlan", zone=pb.CRYPTOCITY))
    assert account(w, "erlan").zone == pb.CRYPTOCITY
    ok(w.run("kaspi", transfer(("kaspi", "erlan", "USDT", USDT))))
    # both at once
    ok(change(w, "kaspi", "dana", kyc_tier=1, zone=pb.NATIONAL))
    acct = account(w, "dana")
    assert (acct.kyc_tier, acct.zone) == (1, pb.NATIONAL)


def test_a_zone_change_that_would_strand_usdt_is_refused() -> None:
    w = world()
    receipt = change(w, "halyk", "aidos", zone=pb.NATIONAL)
    refused(receipt, pb.ASSET_NOT_ALLOWED, "'aidos'", "may not hold USDT", rule="hold.zone")
    assert account(w, "aidos").zone == pb.CRYPTOCITY
    # once the USDT is paid out, the move is allowed
    ok(w.run("aidos", transfer(("aidos", "kaspi", "USDT", 10 * USDT))))
    ok(change(w, "halyk", "aidos", zone=pb.NATIONAL))


def test_a_tier_change_above_the_new_cap_is_refused() -> None:
    w = world()
    receipt = change(w, "halyk", "shop", kyc_tier=1)  # holds 600,000 KZT; tier 1 caps 500,000
    refused(receipt, pb.LIMIT_HOLDING_CAP, "'shop'", "500000", rule="limits.holding")
    assert account(w, "shop").kyc_tier == 2


def test_change_refusals() -> None:
    w = world()
    refused(change(w, "halyk", "aidos", kyc_tier=7), pb.UNKNOWN_KYC_TIER, rule="limits.tier")
    refused(change(w, "halyk", "aidos"), pb.INVALID_FIELD, "nothing to change")
    refused(
        change(w, "halyk", "aidos", kyc_tier=1, zone=pb.CRYPTOCITY),
        pb.INVALID_FIELD,
        "already tier 1 in CRYPTOCITY",
    )
    refused(change(w, "halyk", "aidos", zone=9), pb.INVALID_FIELD, "change_account.zone")
    refused(change(w, "kaspi", "aidos", kyc_tier=2), pb.NOT_REGISTRAR, "registered by 'halyk'")
    refused(change(w, "nbk", "halyk", zone=pb.CRYPTOCITY), pb.UNAUTHORIZED, "COMMERCIAL_BANK")
    refused(change(w, "halyk", "ghost", kyc_tier=2), pb.UNKNOWN_ACCOUNT)
    # the account itself cannot change its own tier
    refused(change(w, "aidos", "aidos", kyc_tier=2), pb.NOT_REGISTRAR)
    assert account(w, "aidos").kyc_tier == 1


# ---------------------------------------------------------------- close_account


def close(w: World, signer: str, target: str, **fields: Any) -> pb.Receipt:
    return w.run(signer, pb.CloseAccount(account_id=target, **fields))


def test_closure_with_a_balance_is_refused() -> None:
    w = world()
    refused(close(w, "halyk", "aidos"), pb.BALANCE_NOT_ZERO, "'aidos' holds 100000 KZT")
    ok(pay(w, "aidos", "halyk", 1_000 * M))
    refused(close(w, "halyk", "aidos"), pb.BALANCE_NOT_ZERO, "holds 10000000 USDT")
    assert not account(w, "aidos").closed


def test_the_bank_closes_an_empty_account_for_good() -> None:
    w = world()
    ok(
        w.run(
            "aidos",
            transfer(("aidos", "halyk", "KZT", 1_000 * M), ("aidos", "kaspi", "USDT", 10 * USDT)),
        )
    )
    receipt = close(w, "halyk", "aidos")
    ok(receipt)
    acct = account(w, "aidos")
    assert (acct.closed, acct.closed_height, acct.closed_ref) == (True, w.height, "")
    # it cannot pay, even with valid keys: a receipt that was authorised
    receipt = pay(w, "aidos", "shop", 1)
    refused(receipt, pb.ACCOUNT_CLOSED, "'aidos' was closed")
    assert receipt.authorised
    # nor receive, nor be issued to, nor be re-registered
    refused(pay(w, "halyk", "aidos", M), pb.ACCOUNT_CLOSED, "transfer.legs[0].payee")
    refused(w.run("kaspi", issue("USDT", "aidos", USDT)), pb.ACCOUNT_CLOSED, "issue.to")
    again = pb.RegisterAccount(
        account_id="aidos",
        role=pb.CUSTOMER,
        zone=pb.CRYPTOCITY,
        kyc_tier=1,
        public_keys=[key("aidos").public_key],
    )
    refused(w.run("halyk", again), pb.ACCOUNT_EXISTS)
    refused(w.run("kaspi", again), pb.ACCOUNT_EXISTS)
    # nor be the target of anything
    new = key("aidos-2")
    refused(w.run("aidos", pb.RotateKeys(public_keys=[new.public_key])), pb.ACCOUNT_CLOSED)
    refused(recover(w, "halyk", "aidos", new), pb.ACCOUNT_CLOSED, "recover_account.account_id")
    refused(change(w, "halyk", "aidos", kyc_tier=2), pb.ACCOUNT_CLOSED)
    refused(close(w, "halyk", "aidos"), pb.ACCOUNT_CLOSED)
    refused(w.run("afm", pb.Freeze(account_id="aidos", legal_ref="x")), pb.ACCOUNT_CLOSED)
    refused(
        w.run("afm", seize("aidos", "KZT", 1, reserve="reserve", court_order=COURT_ORDER)),
        pb.ACCOUNT_CLOSED,
        "seize.account_id",
    )
    # a multi-payer transfer with a closed payer is refused as a whole
    receipt = w.run(
        "halyk",
        transfer(("halyk", "shop", "KZT", M), ("aidos", "shop", "KZT", 1)),
        keys=[key("halyk"), key("aidos")],
    )
    refused(receipt, pb.ACCOUNT_CLOSED)
    # the mempool refuses the same
    check = w.ledger.check_tx(
        w.tx("aidos", transfer(("aidos", "shop", "KZT", 1))), next_height=w.height + 1
    )
    assert check.code_name == "ACCOUNT_CLOSED"


def test_bank_closure_refusals() -> None:
    w = world()
    refused(close(w, "kaspi", "shop"), pb.NOT_REGISTRAR, "registered by 'halyk'")
    refused(close(w, "nbk", "halyk"), pb.UNAUTHORIZED, "COMMERCIAL_BANK")
    refused(close(w, "nbk", "treasury"), pb.UNAUTHORIZED, "TREASURY")
    refused(close(w, "halyk", "ghost"), pb.UNKNOWN_ACCOUNT, "close_account.account_id")
    refused(
        close(w, "halyk", "erlan", sweep_to="halyk", legal_ref="x"),
        pb.INVALID_FIELD,
        "the regulator's",
    )
    refused(close(w, "halyk", "erlan", sweep_to="erlan", legal_ref="x"), pb.INVALID_FIELD)
    refused(close(w, "halyk", "erlan", sweep_to="halyk"), pb.INVALID_FIELD, "legal_ref")
    # a frozen account is closed only by the regulator
    ok(w.run("afm", pb.Freeze(account_id="erlan", legal_ref="case 2/2026")))
    refused(close(w, "halyk", "erlan"), pb.FROZEN, "only a REGULATOR")
    ok(close(w, "afm", "erlan", legal_ref="AFM decision 9"))
    assert account(w, "erlan").closed_ref == "AFM decision 9"


def test_regulator_closure_sweeps_every_balance() -> None:
    w = world()
    supply_holds(w)
    receipt = close(w, "afm", "aidos", sweep_to="dana", legal_ref="AFM decision 17/2026")
    ok(receipt)
    assert list(receipt.accounts) == ["afm", "aidos", "dana"]
    assert get_balance(w.state, "aidos", "KZT") == 0
    assert get_balance(w.state, "aidos", "USDT") == 0
    assert get_balance(w.state, "dana", "KZT") == 1_000 * M
    assert get_balance(w.state, "dana", "USDT") == 10 * USDT
    acct = account(w, "aidos")
    assert acct.closed
    assert acct.closed_ref == "AFM decision 17/2026"
    supply_holds(w)
    refused(pay(w, "aidos", "shop", 1), pb.ACCOUNT_CLOSED)


def test_regulator_closure_refusals() -> None:
    w = world()
    refused(close(w, "afm", "aidos"), pb.INVALID_FIELD, "legal_ref is required")
    refused(close(w, "afm", "aidos", legal_ref="d"), pb.INVALID_FIELD, "close_account.sweep_to")
    refused(close(w, "afm", "aidos", sweep_to="ghost", legal_ref="d"), pb.UNKNOWN_ACCOUNT)
    # USDT may not go to a NATIONAL customer: nothing is stranded
    refused(
        close(w, "afm", "aidos", sweep_to="erlan", legal_ref="d"),
        pb.ASSET_NOT_ALLOWED,
        "close_account.sweep_to",
        rule="hold.zone",
    )
    # nor above the tier cap of the receiving account
    ok(change(w, "kaspi", "dana", kyc_tier=1))
    ok(w.run("kaspi", transfer(("kaspi", "dana", "KZT", 499_900 * M))))
    refused(
        close(w, "afm", "aidos", sweep_to="dana", legal_ref="d"),
        pb.LIMIT_HOLDING_CAP,
        rule="limits.holding",
    )
    # the state funds take money only by seizure
    refused(close(w, "afm", "aidos", sweep_to="reserve", legal_ref="d"), pb.UNAUTHORIZED, "seizure")
    # banks, the central bank, TREASURY, reserves and regulators are not closed
    for target in ("halyk", "nbk", "treasury", "reserve", "afm"):
        refused(close(w, "afm", target, sweep_to="kaspi", legal_ref="d"), pb.UNAUTHORIZED)
    ok(close(w, "halyk", "erlan"))
    refused(close(w, "afm", "aidos", sweep_to="erlan", legal_ref="d"), pb.ACCOUNT_CLOSED)
    ok(close(w, "afm", "aidos", sweep_to="shop", legal_ref="d"))
    supply_holds(w)


def test_lifecycle_replays_to_the_same_app_hash() -> None:
    w = world()
    new = key("aidos-2")
    w.block(
        w.tx("aidos", pb.RotateKeys(public_keys=[new.public_key])),
        w.tx("halyk", pb.ChangeAccount(account_id="erlan", kyc_tier=2)),
    )
    w.block(w.tx("afm", pb.CloseAccount(account_id="aidos", sweep_to="shop", legal_ref="d")))
    replay = World(genesis())
    for txs in w.history:
        replay.block(*txs)
    assert replay.app_hash == w.app_hash
