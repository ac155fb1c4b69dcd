"""Kill a process that commits blocks with SIGKILL at random moments; the store must
reopen with the last block whole (its payment index entries too, and none of a block that
did not land) and the supply invariant intact (DESIGN.md §7)."""

from __future__ import annotations

import random
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import crash_committer as committer

from node.ledger import get_asset, get_balances
from node.store import PAYMENT_E2E, PAYMENT_UETR, Store
from proto import block_pb2, ledger_pb2

KILLS = 24
SCRIPT = Path(committer.__file__)


def _check_store(db: Path) -> int:
    with Store(db) as store:
        height = store.height
        assert height >= 1
        raw = store.get_block(height)
        assert raw is not None, f"block {height} missing after a kill"
        assert store.get_block(height + 1) is None
        assert store.get_commit(height) == b"cert"
        block = block_pb2.Block.FromString(raw)
        receipts = store.get_receipts(height)
        assert len(receipts) == len(block.txs), "receipts of the last block are partial"
        for receipt, raw_tx in zip(receipts, block.txs, strict=True):
            loc = store.find_tx(receipt.tx_id)
            assert loc is not None
            assert loc.height == height or loc.height < height  # an older duplicate keeps its place
            if receipt.carries_payment_ids:  # its payment index entries landed with the block
                body = ledger_pb2.TxBody.FromString(ledger_pb2.TxEnvelope.FromString(raw_tx).body)
                (leg,) = body.transfer.legs
                assert receipt.tx_id in store.payments_by_uetr(leg.uetr)
                by_e2e = store.payments_by_end_to_end_id(leg.payer, leg.end_to_end_id)
                assert receipt.tx_id in by_e2e
        assert any(r.carries_payment_ids for r in receipts)
        # ... and no entry of a block that did not land.
        for prefix in (PAYMENT_UETR, PAYMENT_E2E):
            for key in store._db.iterator(prefix=prefix, include_value=False):
                entry_height, _ = struct.unpack(">QI", key[-12:])
                assert entry_height <= height, f"a payment index entry of block {entry_height}"
        kzt = get_asset(store, "KZT")
        assert kzt is not None
        total = 0
        for account in ["nbk", "bank-a", *committer.customers()]:
            balances = get_balances(store, account)
            assert all(v >= 0 for v in balances.values())
            total += balances.get("KZT", 0)
        assert total == kzt.issued - kzt.redeemed, f"supply broken at height {height}"
        return height


def test_sigkill_at_random_moments_keeps_blocks_whole(tmp_path: Path) -> None:
    db = tmp_path / "db"
    rng = random.Random(20261123)
    heights = []
    for kill in range(KILLS):
        with subprocess.Popen(
            [sys.executable, str(SCRIPT), str(db), str(kill)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc:
            try:
                assert proc.stdout is not None
                line = proc.stdout.readline()  # at least one commit in this life
                assert line.startswith("height "), proc.stderr.read() if proc.stderr else line
                time.sleep(rng.uniform(0.0, 0.15))
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        assert proc.returncode == -signal.SIGKILL
        heights.append(_check_store(db))
    assert heights == sorted(heights), "a reopened store went backwards"
    assert heights[-1] > KILLS, "too few blocks committed to mean anything"
