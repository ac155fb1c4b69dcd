"""The payment indexes (node/store.py ``u/`` and ``e/``, store rule 4) on a real LevelDB:
blocks the ledger executed, lookups by UETR and by (payer, end-to-end id) across blocks and
restarts, lists in chain order, and nothing indexed for a transaction that did not settle."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import crash_committer as committer

from node.genesis import parse_genesis
from node.ledger import Ledger, genesis_app_hash, genesis_state
from node.ledger.txbuild import PaymentIds, build_tx, sign_envelope, transfer
from node.store import MAX_PAYMENT_MATCHES, BlockCommit, Store
from proto import block_pb2, ledger_pb2

CHAIN = committer.CHAIN
A, B, C = committer.customers()[:3]
UETR_1 = uuid.UUID("6f1c8e2a-7b4d-4c6e-9a1f-0d2b3c4e5f61").bytes
UETR_2 = uuid.UUID("6f1c8e2a-7b4d-4c6e-9a1f-0d2b3c4e5f62").bytes


class Chain:
    """A ledger over a real Store, committing each block as the node does."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.genesis = parse_genesis(committer.genesis_doc())
        self.nonce = 0
        self.store = self._open()

    def _open(self) -> Store:
        store = Store(self.db)
        store.init_genesis(
            b"pay-genesis", genesis_state(self.genesis), genesis_app_hash(self.genesis)
        )
        self.ledger = Ledger(self.genesis, store)
        return store

    def restart(self) -> None:
        self.store.close()
        self.store = self._open()

    def pay(
        self, payer: str, payee: str, amount: int, ids: PaymentIds, *, signer: str = ""
    ) -> bytes:
        self.nonce += 1
        body = build_tx(
            CHAIN,
            payer,
            transfer((payer, payee, "KZT", amount, ids)),
            nonce=self.nonce,
            expires_at_height=self.store.height + 5,
        )
        return sign_envelope(body, CHAIN, [committer.key(signer or payer)])

    def block(self, *txs: bytes) -> list[ledger_pb2.Receipt]:
        store = self.store
        height = store.height + 1
        block = block_pb2.Block()
        block.header.height = height
        block.header.time_ms = committer.T0 + height * 1000
        block.txs.extend(txs)
        result = self.ledger.execute_block(
            height=height, time_ms=block.header.time_ms, txs=txs, prev_app_hash=store.app_hash
        )
        raw = block.SerializeToString()
        store.commit_block(
            BlockCommit(
                height=height,
                block=raw,
                block_hash=hashlib.sha256(raw).digest(),
                commit=b"cert",
                receipts=result.receipts,
                writes=result.writes,
                app_hash=result.app_hash,
            )
        )
        return result.receipts


def _tx_id(raw: bytes) -> bytes:
    return hashlib.sha256(ledger_pb2.TxEnvelope.FromString(raw).body).digest()


def test_lookups_by_uetr_and_end_to_end_id_across_blocks_and_restarts(tmp_path: Path) -> None:
    chain = Chain(tmp_path / "db")
    first = chain.pay(A, B, 100, PaymentIds(end_to_end_id="INV-1", uetr=UETR_1))
    other_payer = chain.pay(B, C, 100, PaymentIds(end_to_end_id="INV-1"))  # B's own INV-1
    no_ids = chain.pay(A, C, 100, PaymentIds(purpose_code="SALA"))
    receipts = chain.block(first, other_payer, no_ids)
    assert [r.code for r in receipts] == [ledger_pb2.OK] * 3
    assert [r.carries_payment_ids for r in receipts] == [True, True, False]

    chain.restart()
    # A repeat of the UETR and of A's end-to-end id in a later block: both are listed, in
    # chain order (the ledger does not refuse a repeat); an overdraft settles refused and
    # is listed too.
    again = chain.pay(A, C, 7, PaymentIds(end_to_end_id="INV-1", uetr=UETR_1))
    overdraft = chain.pay(C, A, 10**12, PaymentIds(uetr=UETR_2))
    receipts = chain.block(again, overdraft)
    assert [r.code for r in receipts] == [ledger_pb2.OK, ledger_pb2.INSUFFICIENT_FUNDS]
    chain.block()  # an empty block between
    chain.restart()

    store = chain.store
    assert store.payments_by_uetr(UETR_1) == [_tx_id(first), _tx_id(again)]
    assert store.payments_by_uetr(UETR_2) == [_tx_id(overdraft)]
    assert store.payments_by_end_to_end_id(A, "INV-1") == [_tx_id(first), _tx_id(again)]
    assert store.payments_by_end_to_end_id(B, "INV-1") == [_tx_id(other_payer)]
    assert store.payments_by_end_to_end_id(C, "INV-1") == []
    assert store.payments_by_end_to_end_id(A, "INV-") == []  # whole ids only, not prefixes
    assert store.payments_by_uetr(UETR_1, limit=1) == [_tx_id(first)]
    assert store.payments_by_uetr(uuid.uuid4().bytes) == []
    assert store.payments_by_uetr(UETR_1[:15]) == []
    assert store.payments_by_end_to_end_id(A + "\x00INV-1", "") == []
    chain.store.close()


def test_a_transaction_that_did_not_settle_is_not_indexed(tmp_path: Path) -> None:
    """Store rule 4: neither a copy refused for its envelope (a stranger's signature over
    someone's ids) nor a body refused before its signatures count enters the index."""
    chain = Chain(tmp_path / "db")
    ids = PaymentIds(end_to_end_id="INV-9", uetr=UETR_1)
    junk = chain.pay(A, B, 100, ids, signer=B)  # B signs A's payment: EXTRA_SIGNATURE
    unknown = chain.pay("nobody-here", B, 100, ids)  # no such payer: UNKNOWN_ACCOUNT
    receipts = chain.block(junk, unknown)
    assert [r.code for r in receipts] == [ledger_pb2.EXTRA_SIGNATURE, ledger_pb2.UNKNOWN_ACCOUNT]
    assert not any(r.carries_payment_ids for r in receipts)
    assert chain.store.payments_by_uetr(UETR_1) == []
    assert chain.store.payments_by_end_to_end_id(A, "INV-9") == []
    genuine = chain.pay(A, B, 100, ids)
    assert chain.block(genuine)[0].code == ledger_pb2.OK
    assert chain.store.payments_by_uetr(UETR_1) == [_tx_id(genuine)]
    chain.store.close()


def test_a_lookup_returns_at_most_its_bound(tmp_path: Path) -> None:
    chain = Chain(tmp_path / "db")
    ids = PaymentIds(uetr=UETR_2)
    txs = [chain.pay(A, B, 1, ids) for _ in range(MAX_PAYMENT_MATCHES + 5)]
    assert all(r.code == ledger_pb2.OK for r in chain.block(*txs))
    found = chain.store.payments_by_uetr(UETR_2)
    assert found == [_tx_id(raw) for raw in txs[:MAX_PAYMENT_MATCHES]]
    chain.store.close()
