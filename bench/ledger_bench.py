"""Ledger benchmark: one block of 5,000 pre-signed transfers.

Measures, on one core, with real Ed25519 and a real LevelDB store:
- verification: Ledger.verify_signatures over the block with a cold cache (decode and
  Ed25519 verification of every signature), as signatures per second;
- admission: check_tx of every transaction with a cold cache (decode, stateless checks,
  signature verification, stateful pre-check), as transactions per second;
- execute + commit: execute_block with the cache warm (as on a node whose mempool admitted,
  or verify_signatures pre-verified, the transactions) plus the block's single synced
  write batch, as transfers per second;
- execute cold: execute_block with a cold cache (a node that never saw the transactions).

Run: ``make bench`` or ``.venv/bin/python -m bench.ledger_bench [--txs N] [--runs R]``.
Figures are medians over the runs; nothing here fails on speed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import tempfile
import time
from pathlib import Path

import nacl.bindings

from node.genesis import parse_genesis
from node.keys import KeyPair
from node.ledger import Ledger, genesis_app_hash, genesis_state
from node.ledger.txbuild import build_tx, sign_envelope, transfer
from node.store import BlockCommit, Store

CHAIN = "tenge-bench"


def _key(name: str) -> KeyPair:
    return KeyPair.from_seed(hashlib.sha256(name.encode()).digest())


def _genesis(customers: int) -> dict[str, object]:
    accounts: list[dict[str, object]] = [
        {"account_id": "nbk", "role": "CENTRAL_BANK", "zone": "NATIONAL"},
        {"account_id": "bank-a", "role": "COMMERCIAL_BANK", "zone": "NATIONAL"},
    ]
    accounts.extend(
        {
            "account_id": f"cust-{i:05d}",
            "role": "CUSTOMER",
            "zone": "NATIONAL",
            "kyc_tier": 2,
            "balances": {"KZT": str(10**12)},
        }
        for i in range(customers)
    )
    for account in accounts:
        account["public_keys"] = [_key(str(account["account_id"])).public_key.hex()]
    return {
        "chain_id": CHAIN,
        "genesis_time_ms": 1_767_225_600_000,
        "params": {"max_block_txs": 100_000},
        "validators": [{"public_key": _key("val").public_key.hex(), "power": 1}],
        "limits": [{"kyc_tier": 2, "per_payment": "0", "daily_outflow": "0", "holding_cap": "0"}],
        "accounts": accounts,
        "assets": [
            {
                "code": "KZT",
                "decimals": 2,
                "issuer": "nbk",
                "kind": "CBDC",
                "payment_zones": ["NATIONAL", "CRYPTOCITY"],
            }
        ],
    }


def _transfers(n: int, customers: int) -> list[bytes]:
    txs = []
    for i in range(n):
        payer = f"cust-{i % customers:05d}"
        payee = f"cust-{(i * 7 + 1) % customers:05d}"
        body = build_tx(
            CHAIN,
            payer,
            transfer((payer, payee, "KZT", 100 + i)),
            nonce=i,
            expires_at_height=100,
        )
        txs.append(sign_envelope(body, CHAIN, [_key(payer)]))
    return txs


def run_once(txs: list[bytes], genesis_doc: dict[str, object], workdir: Path) -> dict[str, float]:
    genesis = parse_genesis(genesis_doc)
    with Store(workdir / "db") as store:
        store.init_genesis(b"g" * 32, genesis_state(genesis), genesis_app_hash(genesis))
        cold = Ledger(genesis, store, verify_cache_entries=1)
        t0 = time.perf_counter()
        cold_result = cold.execute_block(
            height=1, time_ms=1_767_225_601_000, txs=txs, prev_app_hash=store.app_hash
        )
        t_cold = time.perf_counter() - t0
        assert all(r.code == 0 for r in cold_result.receipts)

        verifier = Ledger(genesis, store, verify_cache_entries=len(txs) * 2)
        t0 = time.perf_counter()
        assert verifier.verify_signatures(txs) == len(txs)
        t_verify = time.perf_counter() - t0

        ledger = Ledger(genesis, store, verify_cache_entries=len(txs) * 2)
        t0 = time.perf_counter()
        codes = [ledger.check_tx(raw, next_height=1).code for raw in txs]
        t_check = time.perf_counter() - t0
        assert not any(codes), f"check_tx refused: {set(codes)}"

        t0 = time.perf_counter()
        result = ledger.execute_block(
            height=1, time_ms=1_767_225_601_000, txs=txs, prev_app_hash=store.app_hash
        )
        t_exec = time.perf_counter() - t0
        assert result.app_hash == cold_result.app_hash
        t0 = time.perf_counter()
        store.commit_block(
            BlockCommit(
                height=1,
                block=b"".join(txs[:1]),
                block_hash=b"h" * 32,
                commit=b"",
                receipts=result.receipts,
                writes=result.writes,
                app_hash=result.app_hash,
            )
        )
        t_commit = time.perf_counter() - t0

    pk = _key("x")
    msg = b"m" * 200
    sig = pk.sign(msg)
    t0 = time.perf_counter()
    for _ in range(len(txs)):
        nacl.bindings.crypto_sign_open(sig + msg, pk.public_key)
    t_raw = time.perf_counter() - t0
    n = len(txs)
    return {
        "verify_signatures_per_s": n / t_verify,
        "check_tx_per_s": n / t_check,
        "raw_ed25519_verify_per_s": n / t_raw,
        "execute_per_s": n / t_exec,
        "commit_per_s": n / t_commit,
        "execute_plus_commit_per_s": n / (t_exec + t_commit),
        "execute_cold_cache_per_s": n / t_cold,
        "write_batch_ms": t_commit * 1000,
        "state_writes": float(len(result.writes)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=5000)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print only the JSON report")
    args = parser.parse_args()
    doc = _genesis(args.customers)
    txs = _transfers(args.txs, args.customers)
    runs = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(run_once(txs, doc, Path(tmp)))
        if not args.json:
            print(f"run {i + 1}: " + ", ".join(f"{k}={v:,.0f}" for k, v in runs[-1].items()))
    report = {
        "command": "python -m bench.ledger_bench "
        f"--txs {args.txs} --customers {args.customers} --runs {args.runs}",
        "txs_per_block": args.txs,
        "median": {k: round(statistics.median(r[k] for r in runs)) for k in runs[0]},
        "targets": {"verify_signatures_per_s": 15_000, "execute_plus_commit_per_s": 20_000},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
