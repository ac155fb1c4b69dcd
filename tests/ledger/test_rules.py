"""Rules not covered by the scenario: validators, redemption, expiry pruning, app hash."""

from __future__ import annotations

from ledger_world import CHAIN, T0, World, code_name, key

from node.ledger import almaty_day, app_hash_step, get_asset, get_balances, get_validators
from node.ledger._keys import included_key, seen_key
from node.ledger.txbuild import build_tx, propose, sign_envelope, transfer, tx_id_of
from proto import ledger_pb2 as pb


def test_validator_updates_are_central_bank_only_and_reported() -> None:
    w = World()
    new = key("val-1").public_key
    assert code_name(w.run("nbk", pb.UpdateValidator(public_key=new, power=5))) == (
        "GOVERNANCE_REQUIRED"
    )
    assert code_name(w.govern(pb.UpdateValidator(public_key=new, power=5), proposer="halyk")) == (
        "UNAUTHORIZED"
    )
    change = pb.UpdateValidator(public_key=new, power=5, moniker="v1")
    proposal = w.run("nbk", propose(change, expires_at_height=w.height + 5, summary="add v1"))
    assert code_name(proposal) == "OK"
    assert get_validators(w.state) == [
        pb.Validator(public_key=key("val-0").public_key, power=10, moniker="v0")
    ]
    result = w.block(w.tx("afm", pb.Approve(proposal_id=proposal.tx_id)))
    assert code_name(result.receipts[0]) == "OK"
    assert [(v.public_key, v.power) for v in result.validator_updates] == [(new, 5)]
    assert {v.public_key: v.power for v in get_validators(w.state)} == {
        key("val-0").public_key: 10,
        new: 5,
    }
    old = key("val-0").public_key
    assert code_name(w.govern(pb.UpdateValidator(public_key=old, power=0))) == "OK"
    assert code_name(w.govern(pb.UpdateValidator(public_key=new, power=0))) == ("INVALID_VALIDATOR")
    assert code_name(w.govern(pb.UpdateValidator(public_key=old, power=0))) == ("INVALID_VALIDATOR")
    assert code_name(w.govern(pb.UpdateValidator(public_key=b"short", power=1))) == (
        "INVALID_VALIDATOR"
    )
    assert [v.public_key for v in get_validators(w.state)] == [new]


def test_redeem_is_two_tier() -> None:
    w = World()
    w.run("nbk", pb.Issue(asset="KZT", to="halyk", amount=1000))
    assert code_name(w.run("halyk", pb.Redeem(asset="KZT", amount=400))) == "OK"
    asset = get_asset(w.state, "KZT")
    assert asset is not None
    assert (asset.issued, asset.redeemed) == (1000, 400)
    assert code_name(w.run("treasury", pb.Redeem(asset="KZT", amount=1))) == "UNAUTHORIZED"
    assert code_name(w.run("halyk", pb.Redeem(asset="KZT", amount=601))) == "INSUFFICIENT_FUNDS"
    assert code_name(w.run("halyk", pb.Redeem(asset="KZT", amount=600))) == "OK"
    # A zero balance is deleted but the asset stays listed on the account.
    assert get_balances(w.state, "halyk") == {"KZT": 0}


def test_seen_tx_ids_are_pruned_after_the_ttl() -> None:
    w = World()  # max_tx_ttl = 20
    w.run("nbk", pb.Issue(asset="KZT", to="halyk", amount=1000))
    raw = w.tx("halyk", transfer(("halyk", "kaspi", "KZT", 1)), expires=w.height + 20)
    r = w.block(raw).receipts[0]
    included_at = w.height
    assert seen_key(r.tx_id) in w.state
    assert included_key(included_at) in w.state
    for _ in range(20):
        w.block()
    assert seen_key(r.tx_id) in w.state
    assert code_name(w.block(raw).receipts[0]) == "EXPIRED"  # height included_at + 21
    assert seen_key(r.tx_id) not in w.state
    assert included_key(included_at) not in w.state


def test_daily_limit_resets_at_almaty_midnight() -> None:
    w = World()
    w.run("nbk", pb.Issue(asset="KZT", to="halyk", amount=10**9))
    w.run(
        "halyk",
        pb.RegisterAccount(
            account_id="ali.halyk",
            role=pb.CUSTOMER,
            zone=pb.NATIONAL,
            kyc_tier=1,
            public_keys=[key("ali.halyk").public_key],
        ),
    )
    w.run("halyk", transfer(("halyk", "ali.halyk", "KZT", 300_000_00)))
    midnight = (almaty_day(T0) + 1) * 86_400_000 - 5 * 3_600_000  # 19:00 UTC
    pay = transfer(("ali.halyk", "halyk", "KZT", 50_000_00))
    assert code_name(w.block(w.tx("ali.halyk", pay), time_ms=midnight - 2000).receipts[0]) == "OK"
    assert code_name(w.block(w.tx("ali.halyk", pay), time_ms=midnight - 1000).receipts[0]) == "OK"
    r = w.block(w.tx("ali.halyk", pay), time_ms=midnight - 1).receipts[0]
    assert code_name(r) == "LIMIT_DAILY"
    assert code_name(w.block(w.tx("ali.halyk", pay), time_ms=midnight).receipts[0]) == "OK"


def test_check_tx_reports_what_the_mempool_needs() -> None:
    w = World()
    raw = w.tx("nbk", pb.Issue(asset="KZT", to="halyk", amount=5), expires=7)
    before = dict(w.state)
    result = w.ledger.check_tx(raw, next_height=1)
    assert result.ok
    assert result.code_name == "OK"
    assert (result.size, result.expires_at_height, result.signer) == (len(raw), 7, "nbk")
    assert result.accounts == ("nbk",)
    assert result.tx_id == tx_id_of(raw)
    assert w.state == before  # check_tx writes nothing
    assert w.ledger.verify_signatures([raw, b"\xff", raw[:-1]]) == 1


def test_same_body_twice_in_one_block_is_a_duplicate() -> None:
    w = World()
    body = build_tx(
        CHAIN, "nbk", pb.Issue(asset="KZT", to="halyk", amount=5), nonce=1, expires_at_height=3
    )
    a = sign_envelope(body, CHAIN, [key("nbk")])
    result = w.block(a, a)
    assert [code_name(r) for r in result.receipts] == ["OK", "DUPLICATE"]
    assert result.receipts[0].tx_id == result.receipts[1].tx_id


def test_app_hash_step_covers_order_values_and_deletes() -> None:
    base = app_hash_step(b"p", 1, [(b"a", b"1"), (b"b", b"2")])
    assert base == app_hash_step(b"p", 1, [(b"a", b"1"), (b"b", b"2")])
    assert base != app_hash_step(b"q", 1, [(b"a", b"1"), (b"b", b"2")])
    assert base != app_hash_step(b"p", 2, [(b"a", b"1"), (b"b", b"2")])
    assert base != app_hash_step(b"p", 1, [(b"a", b"1"), (b"b", b"3")])
    assert base != app_hash_step(b"p", 1, [(b"a", b"1"), (b"b", None)])
    assert base != app_hash_step(b"p", 1, [(b"a", b"12"), (b"b", b"")])
    assert app_hash_step(b"p", 1, [(b"b", None)]) != app_hash_step(b"p", 1, [(b"b", b"")])


def test_an_empty_block_still_moves_the_chain() -> None:
    w = World()
    before = w.app_hash
    result = w.block()
    assert result.receipts == []
    assert result.writes == []
    assert result.app_hash != before
