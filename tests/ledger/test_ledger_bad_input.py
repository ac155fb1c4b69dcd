"""Bad input gets a stable reason code; nothing raises."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_world import CHAIN, World, code_name, key

from node.keys import TX_DOMAIN, sign_bytes
from node.ledger import AMOUNT_MAX, U64_MAX, get_asset, get_balance
from node.ledger import _verify as verify_module
from node.ledger._keys import seen_key
from node.ledger.txbuild import build_tx, issue, sign_envelope, transfer
from proto import ledger_pb2 as pb

CODES = set(pb.ResultCode.values())


@pytest.fixture(scope="module")
def funded() -> World:
    w = World()
    assert code_name(w.run("nbk", pb.Issue(asset="KZT", to="halyk", amount=1_000_000))) == "OK"
    return w


def check(w: World, raw: bytes) -> str:
    """The code check_tx gives, which execute_block must agree with."""
    checked = w.ledger.check_tx(raw, next_height=w.height + 1)
    executed = w.ledger.execute_block(
        height=w.height + 1, time_ms=w.time_ms, txs=[raw], prev_app_hash=w.app_hash
    )
    assert executed.receipts[0].code == checked.code
    assert executed.receipts[0].tx_id == checked.tx_id
    assert checked.message or checked.ok
    return checked.code_name


def pay_body(w: World, amount: int = 10, **kw: object) -> bytes:
    return build_tx(
        CHAIN,
        "halyk",
        transfer(("halyk", "kaspi", "KZT", amount)),
        nonce=1,
        expires_at_height=w.height + 5,
        **kw,  # type: ignore[arg-type]
    )


def envelope(body: bytes, *sigs: tuple[bytes, bytes]) -> bytes:
    return pb.TxEnvelope(
        body=body, signatures=[pb.Signature(public_key=k, signature=s) for k, s in sigs]
    ).SerializeToString()


def test_a_valid_payment_passes(funded: World) -> None:
    assert check(funded, sign_envelope(pay_body(funded), CHAIN, [key("halyk")])) == "OK"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"\xff\xff\xff", "MALFORMED"),
        (b"", "WRONG_CHAIN_ID"),  # an empty envelope decodes to an empty body
        (pb.TxEnvelope(body=b"\x0a\x05ab").SerializeToString(), "MALFORMED"),
        (b"\x00" * 5000, "TX_TOO_LARGE"),
    ],
)
def test_undecodable_and_oversized(funded: World, raw: bytes, code: str) -> None:
    assert check(funded, raw) == code


def test_too_large_names_the_limit(funded: World) -> None:
    big = sign_envelope(pay_body(funded, memo="m" * 200), CHAIN, [key("halyk")])
    result = funded.ledger.check_tx(big + b"\x2a\x00" * 2000, next_height=2)
    assert result.code_name == "TX_TOO_LARGE"
    assert "4096" in result.message


def test_every_truncation_of_a_valid_envelope(funded: World) -> None:
    raw = sign_envelope(pay_body(funded), CHAIN, [key("halyk")])
    for cut in range(len(raw)):
        result = funded.ledger.check_tx(raw[:cut], next_height=funded.height + 1)
        assert result.code in CODES
        assert not result.ok


def test_wrong_chain_id(funded: World) -> None:
    body = build_tx(
        "other-chain", "halyk", transfer(("halyk", "kaspi", "KZT", 1)), nonce=1, expires_at_height=5
    )
    assert check(funded, sign_envelope(body, "other-chain", [key("halyk")])) == "WRONG_CHAIN_ID"


def test_signature_faults(funded: World) -> None:
    body = pay_body(funded)
    msg = sign_bytes(TX_DOMAIN, CHAIN, body)
    halyk, stranger = key("halyk"), key("stranger")
    good = (halyk.public_key, halyk.sign(msg))
    assert check(funded, envelope(body)) == "MISSING_SIGNATURE"
    assert check(funded, envelope(body, good, good)) == "EXTRA_SIGNATURE"
    assert check(funded, envelope(body, good, (stranger.public_key, stranger.sign(msg)))) == (
        "EXTRA_SIGNATURE"
    )
    flipped = bytes([good[1][0] ^ 1]) + good[1][1:]
    assert check(funded, envelope(body, (halyk.public_key, flipped))) == "INVALID_SIGNATURE"
    assert check(funded, envelope(body, (halyk.public_key, b"short"))) == "INVALID_SIGNATURE"
    other_chain = halyk.sign(sign_bytes(TX_DOMAIN, "other-chain", body))
    assert check(funded, envelope(body, (halyk.public_key, other_chain))) == "INVALID_SIGNATURE"
    # A payee's signature alone does not authorise the payer.
    assert check(funded, sign_envelope(body, CHAIN, [key("kaspi")])) == "EXTRA_SIGNATURE"


def test_a_bad_signature_cannot_burn_the_tx_id() -> None:
    w = World()
    w.run("nbk", pb.Issue(asset="KZT", to="halyk", amount=100))
    body = pay_body(w)
    forged = envelope(body, (key("halyk").public_key, bytes(64)))
    r = w.block(forged).receipts[0]
    assert code_name(r) == "INVALID_SIGNATURE"
    assert seen_key(r.tx_id) not in w.state
    assert code_name(w.block(sign_envelope(body, CHAIN, [key("halyk")])).receipts[0]) == "OK"


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (transfer(("halyk", "kaspi", "KZT", 0)), "INVALID_AMOUNT"),
        (transfer(("halyk", "kaspi", "KZT", U64_MAX)), "INSUFFICIENT_FUNDS"),
        (transfer(("halyk", "kaspi", "KZT", AMOUNT_MAX)), "INSUFFICIENT_FUNDS"),
        (
            transfer(("halyk", "kaspi", "KZT", U64_MAX), ("halyk", "kaspi", "KZT", 1)),
            "INSUFFICIENT_FUNDS",
        ),
        (
            transfer(("halyk", "kaspi", "KZT", AMOUNT_MAX), ("halyk", "kaspi", "KZT", 1)),
            "AMOUNT_OVERFLOW",
        ),
        (transfer(("halyk", "nobody", "KZT", 1)), "UNKNOWN_ACCOUNT"),
        (transfer(("halyk", "kaspi", "GOLD", 1)), "UNKNOWN_ASSET"),
        (transfer(("halyk", "kaspi", "kzt", 1)), "INVALID_FIELD"),
        (transfer(("halyk", "Kaspi!", "KZT", 1)), "INVALID_ACCOUNT_ID"),
        (transfer(("halyk", "ab", "KZT", 1)), "INVALID_ACCOUNT_ID"),
        (transfer(("halyk", "halyk", "KZT", 1)), "INVALID_FIELD"),
        (transfer(), "INVALID_FIELD"),
        (pb.Issue(asset="KZT", to="halyk", amount=0), "INVALID_AMOUNT"),
        (pb.Issue(asset="KZT", to="halyk", amount=1), "UNAUTHORIZED"),
        (pb.Redeem(asset="KZT", amount=2_000_000), "INSUFFICIENT_FUNDS"),
        (pb.Redeem(asset="KZT", amount=0), "INVALID_AMOUNT"),
        (pb.SetLimits(kyc_tier=1), "GOVERNANCE_REQUIRED"),
        (pb.UpdateValidator(public_key=bytes(32), power=1), "GOVERNANCE_REQUIRED"),
        (
            pb.RegisterAccount(
                account_id="c.halyk", role=99, zone=pb.NATIONAL, public_keys=[bytes(32)]
            ),  # type: ignore[arg-type]
            "INVALID_FIELD",
        ),
        (
            pb.RegisterAccount(
                account_id="c.halyk", role=pb.CUSTOMER, zone=pb.NATIONAL, public_keys=[b"k"]
            ),
            "INVALID_FIELD",
        ),
        (
            pb.RegisterAccount(
                account_id="c.halyk",
                role=pb.CUSTOMER,
                zone=pb.NATIONAL,
                kyc_tier=9,
                public_keys=[bytes(32)],
            ),
            "UNKNOWN_KYC_TIER",
        ),
        (
            pb.RegisterAccount(
                account_id="kaspi",
                role=pb.CUSTOMER,
                zone=pb.NATIONAL,
                kyc_tier=1,
                public_keys=[bytes(32)],
            ),
            "ACCOUNT_EXISTS",
        ),
        (
            pb.RegisterAccount(
                account_id="c.halyk",
                role=pb.CUSTOMER,
                zone=pb.NATIONAL,
                kyc_tier=1,
                public_keys=[bytes(32)],
                threshold=2,
            ),
            "INVALID_FIELD",
        ),
    ],
)
def test_rule_refusals(funded: World, kind: pb.Transfer, code: str) -> None:
    assert check(funded, funded.tx("halyk", kind, expires=funded.height + 3)) == code


def test_unknown_signer_and_payer(funded: World) -> None:
    raw = funded.tx("ghost", pb.Redeem(asset="KZT", amount=1), keys=[key("ghost")])
    assert check(funded, raw) == "UNKNOWN_ACCOUNT"
    raw = funded.tx("ghost", transfer(("ghost", "kaspi", "KZT", 1)), keys=[key("ghost")])
    assert check(funded, raw) == "UNKNOWN_ACCOUNT"
    raw = funded.tx("bad id", pb.Redeem(asset="KZT", amount=1))
    assert check(funded, raw) == "INVALID_ACCOUNT_ID"


def test_expiry_window(funded: World) -> None:
    h = funded.height + 1
    assert (
        check(funded, funded.tx("halyk", transfer(("halyk", "kaspi", "KZT", 1)), expires=h - 1))
        == "EXPIRED"
    )
    assert (
        check(funded, funded.tx("halyk", transfer(("halyk", "kaspi", "KZT", 1)), expires=h)) == "OK"
    )
    assert (
        check(funded, funded.tx("halyk", transfer(("halyk", "kaspi", "KZT", 1)), expires=h + 20))
        == "OK"
    )
    assert (
        check(funded, funded.tx("halyk", transfer(("halyk", "kaspi", "KZT", 1)), expires=h + 21))
        == "TTL_TOO_LONG"
    )


def test_no_kind_is_malformed(funded: World) -> None:
    body = pb.TxBody(chain_id=CHAIN, signer="halyk", expires_at_height=funded.height + 2)
    raw = sign_envelope(body.SerializeToString(), CHAIN, [key("halyk")])
    assert check(funded, raw) == "MALFORMED"


def test_issue_overflow() -> None:
    w = World()
    assert code_name(w.run("nbk", issue("KZT", "halyk", U64_MAX))) == "OK"
    assert code_name(w.run("nbk", issue("KZT", "kaspi", 1))) == "OK"  # 2^64 in all: no wrap
    assert code_name(w.run("nbk", issue("KZT", "halyk", AMOUNT_MAX - U64_MAX - 1))) == "OK"
    assert get_asset(w.state, "KZT").issued_high == U64_MAX  # type: ignore[union-attr]
    assert code_name(w.run("nbk", issue("KZT", "kaspi", 1))) == "AMOUNT_OVERFLOW"
    assert code_name(w.run("nbk", issue("KZT", "halyk", 1))) == "AMOUNT_OVERFLOW"
    assert get_balance(w.state, "halyk", "KZT") == AMOUNT_MAX - 1
    assert get_balance(w.state, "kaspi", "KZT") == 1


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=600))
def test_garbage_never_raises(funded: World, raw: bytes) -> None:
    result = funded.ledger.check_tx(raw, next_height=funded.height + 1)
    assert result.code in CODES
    assert result.tx_id in (hashlib.sha256(raw).digest(), result.tx_id)
    block = funded.ledger.execute_block(
        height=funded.height + 1, time_ms=funded.time_ms, txs=[raw, raw], prev_app_hash=b""
    )
    assert block.receipts[0].code == result.code


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_envelopes_never_raise(funded: World, data: st.DataObject) -> None:
    raw = bytearray(sign_envelope(pay_body(funded), CHAIN, [key("halyk")]))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    result = funded.ledger.check_tx(bytes(raw), next_height=funded.height + 1)
    assert result.code in CODES


def test_check_then_execute_verifies_once(monkeypatch: pytest.MonkeyPatch) -> None:
    w = World()
    calls: list[bytes] = []
    real = verify_module.verify

    def counting(public_key: bytes, message: bytes, signature: bytes) -> bool:
        calls.append(public_key)
        return real(public_key, message, signature)

    monkeypatch.setattr(verify_module, "verify", counting)
    raw = w.tx("nbk", pb.Issue(asset="KZT", to="halyk", amount=5))
    # The same body with another (bad) signature is an envelope of its own.
    body = pb.TxEnvelope.FromString(raw).body
    forged = envelope(body, (key("nbk").public_key, bytes(64)))
    assert w.ledger.check_tx(forged, next_height=1).code_name == "INVALID_SIGNATURE"
    assert w.ledger.check_tx(forged, next_height=1).code_name == "INVALID_SIGNATURE"
    assert len(calls) == 1
    assert w.ledger.check_tx(raw, next_height=1).ok
    assert len(calls) == 2
    assert code_name(w.block(raw).receipts[0]) == "OK"
    assert len(calls) == 2


def test_verify_cache_is_bounded() -> None:
    cache = verify_module.SignatureCache(CHAIN, max_entries=3)
    for i in range(10):
        cache.first_invalid(
            bytes([i]) * 32, b"body", [pb.Signature(public_key=bytes(32), signature=bytes(64))]
        )
    assert len(cache) == 3
