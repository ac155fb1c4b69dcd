"""Whose receipt is it? (node/ledger/_ledger.py rule 6, issue 11 item 5)

A receipt speaks for its tx id only when the signatures were accepted or the refusal
depends on the body alone. A victim's pending body wrapped in junk signatures gets a
receipt that speaks for nothing: the real transaction still settles later, and the tx
index (a real LevelDB store here) names the real one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from ledger_world import CHAIN, World, code_name, key

from node.ledger import BlockResult
from node.ledger.txbuild import build_tx, sign_envelope, transfer, tx_id_of
from node.store import BlockCommit, Store
from proto import block_pb2
from proto import ledger_pb2 as pb


def _commit(store: Store, world: World, txs: list[bytes], result: BlockResult) -> None:
    """Write the world's last block into store the way the node does."""
    block = block_pb2.Block()
    block.header.height = world.height
    block.txs.extend(txs)
    raw = block.SerializeToString()
    store.commit_block(
        BlockCommit(
            height=world.height,
            block=raw,
            block_hash=hashlib.sha256(raw).digest(),
            commit=b"cert",
            receipts=result.receipts,
            writes=result.writes,
            app_hash=result.app_hash,
        )
    )


def _junk_copy(raw: bytes) -> bytes:
    """raw's body under a signature of the right key that does not verify."""
    envelope = pb.TxEnvelope.FromString(raw)
    sig = bytearray(envelope.signatures[0].signature)
    sig[0] ^= 0xFF
    envelope.signatures[0].signature = bytes(sig)
    return envelope.SerializeToString()


def _funded() -> World:
    w = World()
    assert code_name(w.run("nbk", pb.Issue(asset="KZT", to="halyk", amount=1000))) == "OK"
    return w


def test_a_junk_copy_does_not_speak_and_the_real_transaction_settles_later(
    tmp_path: Path,
) -> None:
    w = _funded()
    real = w.tx("halyk", transfer(("halyk", "kaspi", "KZT", 100)))
    junk = _junk_copy(real)
    tx_id = tx_id_of(real)
    assert tx_id_of(junk) == tx_id
    with Store(tmp_path / "db") as store:
        store.init_genesis(b"g" * 32, [], b"app-0")
        for height in range(1, w.height + 1):
            empty = block_pb2.Block()
            store.commit_block(
                BlockCommit(height, empty.SerializeToString(), b"%d" % height, b"", [], [], b"")
            )
        first = w.block(junk)
        (receipt,) = first.receipts
        assert code_name(receipt) == "INVALID_SIGNATURE"
        assert (receipt.authorised, receipt.speaks_for_tx) == (False, False)
        assert list(receipt.accounts) == []
        _commit(store, w, [junk], first)
        assert store.find_tx(tx_id) is None, "the junk copy must not enter the tx index"
        assert store.account_history("halyk") == []
        assert [r.code for r in store.get_receipts(w.height)] == [pb.INVALID_SIGNATURE]

        second = w.block(real)
        (settled,) = second.receipts
        assert code_name(settled) == "OK"
        assert (settled.authorised, settled.speaks_for_tx) == (True, True)
        _commit(store, w, [real], second)
        location = store.find_tx(tx_id)
        assert location is not None
        assert (location.height, location.code, location.settled) == (w.height, pb.OK, True)
        assert store.get_tx(tx_id) == real
        assert [e.height for e in store.account_history("halyk")] == [w.height]


def _envelope(body: bytes, sigs: list[tuple[bytes, bytes]]) -> bytes:
    return pb.TxEnvelope(
        body=body, signatures=[pb.Signature(public_key=k, signature=s) for k, s in sigs]
    ).SerializeToString()


def _envelope_refusals(w: World) -> dict[str, bytes]:
    body = build_tx(
        CHAIN, "halyk", transfer(("halyk", "kaspi", "KZT", 5)), nonce=77, expires_at_height=9
    )
    real = sign_envelope(body, CHAIN, [key("halyk")])
    stray = sign_envelope(body, CHAIN, [key("halyk"), key("kaspi")])
    return {
        "INVALID_SIGNATURE": _junk_copy(real),
        "MISSING_SIGNATURE": _envelope(body, []),
        "EXTRA_SIGNATURE": stray,
        "EXTRA_SIGNATURE/too many": _envelope(
            body, [(key(f"k{i}").public_key, b"s") for i in range(65)]
        ),
        "MALFORMED/undecodable envelope": b"\xff\xff\xff",
        "TX_TOO_LARGE": real + b"\x22\x00" * 3000,  # empty memo-less padding fields
    }


def test_every_refusal_of_the_envelope_speaks_for_nothing() -> None:
    w = _funded()
    cases = _envelope_refusals(w)
    result = w.block(*cases.values())
    for (name, _), receipt in zip(cases.items(), result.receipts, strict=True):
        assert code_name(receipt) == name.split("/")[0], name
        assert (receipt.authorised, receipt.speaks_for_tx) == (False, False), name
        assert list(receipt.accounts) == [], name
    assert result.receipts[4].tx_id == hashlib.sha256(b"\xff\xff\xff").digest()


def test_refusals_of_the_body_speak_and_rule_refusals_are_authorised() -> None:
    w = _funded()
    settled = w.tx("halyk", transfer(("halyk", "kaspi", "KZT", 1)))
    assert code_name(w.block(settled).receipts[0]) == "OK"
    cases = {
        "DUPLICATE": _junk_copy(settled),  # already seen: any copy is a duplicate
        "EXPIRED": w.tx("halyk", transfer(("halyk", "kaspi", "KZT", 1)), expires=w.height),
        "WRONG_CHAIN_ID": w.tx("halyk", transfer(("halyk", "kaspi", "KZT", 1)), chain_id="x"),
        "UNKNOWN_ACCOUNT": w.tx("nobody", transfer(("nobody", "kaspi", "KZT", 1))),
        "INVALID_AMOUNT": w.tx("halyk", transfer(("halyk", "kaspi", "KZT", 0))),
        "MALFORMED": _envelope(b"\xff\xff", [(key("halyk").public_key, b"s")]),
    }
    result = w.block(*cases.values())
    for (name, _), receipt in zip(cases.items(), result.receipts, strict=True):
        assert code_name(receipt) == name
        assert (receipt.authorised, receipt.speaks_for_tx) == (False, True), name
    broke = w.tx("kaspi", transfer(("kaspi", "halyk", "KZT", 2)))
    (receipt,) = w.block(broke).receipts
    assert code_name(receipt) == "INSUFFICIENT_FUNDS"
    assert (receipt.authorised, receipt.speaks_for_tx) == (True, True)
    assert list(receipt.accounts) == ["kaspi"]


@pytest.mark.parametrize("order", ["junk_first", "real_first"])
def test_junk_and_real_copies_in_one_block(order: str) -> None:
    w = _funded()
    real = w.tx("halyk", transfer(("halyk", "kaspi", "KZT", 100)))
    txs = [_junk_copy(real), real] if order == "junk_first" else [real, _junk_copy(real)]
    codes = [(code_name(r), r.speaks_for_tx) for r in w.block(*txs).receipts]
    if order == "junk_first":
        assert codes == [("INVALID_SIGNATURE", False), ("OK", True)]
    else:
        assert codes == [("OK", True), ("DUPLICATE", True)]


def test_an_expired_replay_after_the_seen_record_is_pruned_leaves_the_entry(
    tmp_path: Path,
) -> None:
    w = _funded()  # max_tx_ttl = 20
    with Store(tmp_path / "db") as store:
        store.init_genesis(b"g" * 32, [], b"app-0")
        store.commit_block(BlockCommit(1, b"", b"1", b"", [], [], b""))
        real = w.tx("halyk", transfer(("halyk", "kaspi", "KZT", 100)), expires=w.height + 20)
        _commit(store, w, [real], w.block(real))
        settled_at = w.height
        for _ in range(21):
            _commit(store, w, [], w.block())
        result = w.block(real)  # the seen record is pruned in this very block
        assert code_name(result.receipts[0]) == "EXPIRED"
        assert result.receipts[0].speaks_for_tx
        _commit(store, w, [real], result)
        location = store.find_tx(tx_id_of(real))
        assert location is not None
        assert (location.height, location.code, location.settled) == (settled_at, pb.OK, True)
        assert [e.height for e in store.account_history("halyk")] == [settled_at]
