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

``--payers`` chooses who pays whom:
- ``banks`` (the default, the figures ``make bench`` has always printed): tier-2 CUSTOMER
  accounts in NATIONAL, whose tier has no limits, paying KZT to each other;
- ``customers-kzt``: tier-1 CUSTOMER accounts in CRYPTOCITY paying KZT to tier-1 MERCHANT
  accounts, with every tier limit set (per payment, daily outflow, holding cap) and high
  enough that nothing is refused, so each payment does the limit work;
- ``customers-usdt``: the same accounts paying USDT (a 6-decimal STABLECOIN of CRYPTOCITY
  with a reference rate in the genesis rulebook), with KZT held beside it, so each payment
  takes its KZT-equivalent and sums the holding cap over both assets.
The assets, limits and rates are in the genesis document (changing them later takes a
governance proposal).

``--accounts N`` writes N more funded accounts (``seed-NNNNNNN``: tier-2 NATIONAL
customers sharing one key) straight into the store before genesis, a shortcut for the
benchmark only, and the block's payers and payees are spread over them, so that state is
as large as a big network's and each payment reads accounts that nothing read before.
``--state-cache-mb`` sets the store's state cache (0: every read goes to LevelDB);
``--read-all`` reads every seeded account and balance once before the block, so that the
cache is full and evicting (its bound and the RSS it costs, as on a node that has served
every account).
``check_tx_warm_per_s`` is admission with the signatures already verified (as the node's
admission workers leave them), ``rss_mb`` the process's resident memory after the run.

A refused transaction is counted (``refused``: check_tx, execute and execute cold
together) and printed as a warning, never asserted, so a run always reports its figures.

Run: ``make bench`` or ``.venv/bin/python -m bench.ledger_bench [--payers MODE] [--txs N]
[--runs R] [--accounts N] [--state-cache-mb MB]``.
Figures are medians over the runs; nothing here fails on speed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Final

import nacl.bindings

from node.genesis import parse_genesis
from node.keys import KeyPair
from node.ledger import Ledger, genesis_app_hash, genesis_state
from node.ledger import _keys as k
from node.ledger._amounts import encode_amount
from node.ledger.txbuild import build_tx, sign_envelope, transfer
from node.store import DEFAULT_STATE_CACHE_MB, STATE, BlockCommit, Store
from proto import ledger_pb2

CHAIN = "tenge-bench"


def _key(name: str) -> KeyPair:
    return KeyPair.from_seed(hashlib.sha256(name.encode()).digest())


PAYERS: Final = ("banks", "customers-kzt", "customers-usdt")
USDT_DECIMALS: Final = 6
USDT_RATE: Final = 50_000  # tiyn per whole USDT: 500 KZT
# Tier-1 limits that are all set, and high enough that no payment here meets them.
HIGH_LIMIT: Final = str(10**17)


def _asset(code: str, decimals: int, issuer: str, kind: str, zones: list[str]) -> dict[str, object]:
    return {
        "code": code,
        "decimals": decimals,
        "issuer": issuer,
        "kind": kind,
        "payment_zones": zones,
    }


def _genesis(customers: int, payers: str = "banks") -> dict[str, object]:
    accounts: list[dict[str, object]] = [
        {"account_id": "nbk", "role": "CENTRAL_BANK", "zone": "NATIONAL"},
        {"account_id": "bank-a", "role": "COMMERCIAL_BANK", "zone": "NATIONAL"},
    ]
    assets = [_asset("KZT", 2, "nbk", "CBDC", ["NATIONAL", "CRYPTOCITY"])]
    doc: dict[str, object] = {
        "chain_id": CHAIN,
        "genesis_time_ms": 1_767_225_600_000,
        "params": {"max_block_txs": 100_000},
        "validators": [{"public_key": _key("val").public_key.hex(), "power": 1}],
        "accounts": accounts,
        "assets": assets,
    }
    if payers == "banks":
        doc["limits"] = [
            {"kyc_tier": 2, "per_payment": "0", "daily_outflow": "0", "holding_cap": "0"}
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
    else:
        doc["limits"] = [
            {
                "kyc_tier": 1,
                "per_payment": HIGH_LIMIT,
                "daily_outflow": HIGH_LIMIT,
                "holding_cap": HIGH_LIMIT,
            }
        ]
        balances = {"KZT": str(10**12)}
        if payers == "customers-usdt":
            assets.append(_asset("USDT", USDT_DECIMALS, "bank-a", "STABLECOIN", ["CRYPTOCITY"]))
            doc["rulebook"] = {"rates": {"USDT": USDT_RATE}}
            balances["USDT"] = str(10**6 * 10**USDT_DECIMALS)
        for role, prefix, count in (
            ("CUSTOMER", "cust", customers),
            ("MERCHANT", "shop", _merchants(customers)),
        ):
            accounts.extend(
                {
                    "account_id": f"{prefix}-{i:05d}",
                    "role": role,
                    "zone": "CRYPTOCITY",
                    "kyc_tier": 1,
                    "balances": balances if role == "CUSTOMER" else {"KZT": str(10**8)},
                }
                for i in range(count)
            )
    for account in accounts:
        account["public_keys"] = [_key(str(account["account_id"])).public_key.hex()]
    return doc


def _merchants(customers: int) -> int:
    return max(1, customers // 10)


SEED_KEY: Final = "seed"
SEED_BATCH: Final = 50_000


def _seed_id(i: int) -> str:
    return f"seed-{i:07d}"


def seed_accounts(store: Store, count: int) -> None:
    """Write count funded tier-2 NATIONAL customers straight into the store's state.

    A benchmark shortcut (no genesis document, no app hash): every account shares the key
    of ``SEED_KEY`` and holds 10^12 tiyn of KZT.
    """
    template = ledger_pb2.Account(
        role=ledger_pb2.CUSTOMER,
        zone=ledger_pb2.NATIONAL,
        kyc_tier=2,
        public_keys=[_key(SEED_KEY).public_key],
        threshold=1,
        assets=[k.KZT],
    )
    balance = encode_amount(10**12)
    db = store._db  # the shortcut: state keys written below the Store's API
    for start in range(0, count, SEED_BATCH):
        with db.write_batch() as batch:
            for i in range(start, min(count, start + SEED_BATCH)):
                account_id = _seed_id(i)
                template.account_id = account_id
                batch.put(STATE + k.account_key(account_id), template.SerializeToString())
                batch.put(STATE + k.balance_key(account_id, k.KZT), balance)
    db.compact_range()  # as a long-running node's state would be: in table files


def _seeded_transfers(n: int, accounts: int) -> list[bytes]:
    """n KZT payments between seeded accounts, payers and payees spread over all of them."""
    txs = []
    signer = _key(SEED_KEY)
    stride = max(1, accounts // n)
    for i in range(n):
        payer = _seed_id((i * stride) % accounts)
        payee = _seed_id((i * stride + accounts // 2 + 1) % accounts)
        body = build_tx(
            CHAIN, payer, transfer((payer, payee, "KZT", 100 + i)), nonce=i, expires_at_height=100
        )
        txs.append(sign_envelope(body, CHAIN, [signer]))
    return txs


def _transfers(n: int, customers: int, payers: str = "banks") -> list[bytes]:
    txs = []
    for i in range(n):
        payer = f"cust-{i % customers:05d}"
        if payers == "banks":
            leg = (payer, f"cust-{(i * 7 + 1) % customers:05d}", "KZT", 100 + i)
        elif payers == "customers-kzt":
            leg = (payer, f"shop-{(i * 7 + 1) % _merchants(customers):05d}", "KZT", 100 + i)
        else:  # 1.00 to about 51 USDT, far below the travel-rule threshold
            shop = f"shop-{(i * 7 + 1) % _merchants(customers):05d}"
            leg = (payer, shop, "USDT", (100 + i) * 10**4)
        body = build_tx(CHAIN, payer, transfer(leg), nonce=i, expires_at_height=100)
        txs.append(sign_envelope(body, CHAIN, [_key(payer)]))
    return txs


def _refused(stage: str, codes: list[int]) -> int:
    """Count the refused transactions of a stage, with a warning line when there are any."""
    bad = [c for c in codes if c != 0]
    if bad:
        print(f"WARNING: {stage}: {len(bad)} of {len(codes)} refused, codes {sorted(set(bad))}")
    return len(bad)


def _rss_mb() -> float:
    """Resident memory of this process now, in MiB (Linux /proc), else its peak."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_once(
    txs: list[bytes],
    genesis_doc: dict[str, object],
    workdir: Path,
    *,
    accounts: int = 0,
    state_cache_mb: int = DEFAULT_STATE_CACHE_MB,
    read_all: bool = False,
) -> dict[str, float]:
    genesis = parse_genesis(genesis_doc)
    with Store(workdir / "db", state_cache_bytes=state_cache_mb * 2**20) as store:
        if accounts:
            seed_accounts(store, accounts)
        store.init_genesis(b"g" * 32, genesis_state(genesis), genesis_app_hash(genesis))
        for i in range(accounts if read_all else 0):  # after genesis: it clears the cache
            store.get(k.account_key(_seed_id(i)))
            store.get(k.balance_key(_seed_id(i), k.KZT))
        cold = Ledger(genesis, store, verify_cache_entries=1)
        t0 = time.perf_counter()
        cold_result = cold.execute_block(
            height=1, time_ms=1_767_225_601_000, txs=txs, prev_app_hash=store.app_hash
        )
        t_cold = time.perf_counter() - t0
        refused = _refused("execute cold", [r.code for r in cold_result.receipts])

        verifier = Ledger(genesis, store, verify_cache_entries=len(txs) * 2)
        t0 = time.perf_counter()
        verified = verifier.verify_signatures(txs)
        t_verify = time.perf_counter() - t0
        if verified != len(txs):
            print(f"WARNING: verify_signatures: {verified} of {len(txs)} verified")

        ledger = Ledger(genesis, store, verify_cache_entries=len(txs) * 2)
        t0 = time.perf_counter()
        codes = [ledger.check_tx(raw, next_height=1).code for raw in txs]
        t_check = time.perf_counter() - t0
        refused += _refused("check_tx", codes)
        t0 = time.perf_counter()
        for raw in txs:
            ledger.check_tx(raw, next_height=1)
        t_check_warm = time.perf_counter() - t0

        t0 = time.perf_counter()
        result = ledger.execute_block(
            height=1, time_ms=1_767_225_601_000, txs=txs, prev_app_hash=store.app_hash
        )
        t_exec = time.perf_counter() - t0
        refused += _refused("execute", [r.code for r in result.receipts])
        if result.app_hash != cold_result.app_hash:
            print("WARNING: execute warm and cold reached different app hashes")
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
        stats = store.state_cache_stats()
        rss = _rss_mb()

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
        "check_tx_warm_per_s": n / t_check_warm,
        "raw_ed25519_verify_per_s": n / t_raw,
        "execute_per_s": n / t_exec,
        "commit_per_s": n / t_commit,
        "execute_plus_commit_per_s": n / (t_exec + t_commit),
        "execute_cold_cache_per_s": n / t_cold,
        "write_batch_ms": t_commit * 1000,
        "state_writes": float(len(result.writes)),
        "refused": float(refused),
        "state_cache_hit_pct": 0.0
        if not stats
        else 100 * stats.hits / max(1, stats.hits + stats.misses),
        "state_cache_mb": 0.0 if not stats else stats.bytes / 2**20,
        "rss_mb": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payers", choices=PAYERS, default="banks")
    parser.add_argument("--txs", type=int, default=5000)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--accounts",
        type=int,
        default=0,
        help="seed this many more funded accounts and pay between them",
    )
    parser.add_argument("--state-cache-mb", type=int, default=DEFAULT_STATE_CACHE_MB)
    parser.add_argument(
        "--read-all", action="store_true", help="read every seeded account once first"
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON report")
    args = parser.parse_args()
    doc = _genesis(args.customers, args.payers)
    if args.accounts:
        txs = _seeded_transfers(args.txs, args.accounts)
    else:
        txs = _transfers(args.txs, args.customers, args.payers)
    runs = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(
                run_once(
                    txs,
                    doc,
                    Path(tmp),
                    accounts=args.accounts,
                    state_cache_mb=args.state_cache_mb,
                    read_all=args.read_all,
                )
            )
        if not args.json:
            print(f"run {i + 1}: " + ", ".join(f"{k}={v:,.0f}" for k, v in runs[-1].items()))
    report = {
        "command": f"python -m bench.ledger_bench --payers {args.payers} "
        f"--txs {args.txs} --customers {args.customers} --runs {args.runs} "
        f"--accounts {args.accounts} --state-cache-mb {args.state_cache_mb}"
        + (" --read-all" if args.read_all else ""),
        "payers": args.payers,
        "txs_per_block": args.txs,
        "median": {k: round(statistics.median(r[k] for r in runs)) for k in runs[0]},
        "refused_total": round(sum(r["refused"] for r in runs)),
        "targets": {"verify_signatures_per_s": 15_000, "execute_plus_commit_per_s": 20_000},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
