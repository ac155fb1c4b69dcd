"""Genesis at scale: what it costs to start a network whose genesis funds N load accounts
(`testnet._load.genesis_load_accounts`, as `tenge-testnet bench --accounts N` writes it).

For one N, in this process, seconds of:
- keys: deriving the N deterministic Ed25519 keys and building the entries;
- write: ``json.dumps`` of the whole genesis with the harness's indent (and its size);
- load: ``node.genesis.load_genesis`` (read, JSON decode, validate, build the message),
  what every node does at start;
- hash / state / app_hash: ``genesis_hash``, ``genesis_state``, ``genesis_app_hash``;
- store: ``Store.init_genesis`` into a fresh LevelDB (the node's first start);
and the peak RSS of the process (a node holds at least the parsed genesis).

Run: ``.venv/bin/python -m bench.genesis_bench --accounts 100000`` (one N per process, so
that the peak RSS is this N's). Figures only.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from node.genesis import load_genesis
from node.ledger._apphash import genesis_app_hash, genesis_state
from node.service import genesis_hash
from node.store import Store
from testnet._init import init_testnet
from testnet._load import genesis_load_accounts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    args = parser.parse_args()
    out: dict[str, float] = {"accounts": args.accounts}
    with tempfile.TemporaryDirectory(prefix="tenge-genesis-bench-") as tmp:
        t = time.perf_counter()
        entries = genesis_load_accounts("tenge-bench", args.accounts)
        out["keys_s"] = time.perf_counter() - t
        t = time.perf_counter()
        init_testnet(
            Path(tmp) / "net", validators=1, chain_id="tenge-bench", extra_accounts=entries
        )
        out["init_testnet_s"] = time.perf_counter() - t
        del entries
        path = Path(tmp) / "net" / "genesis.json"
        out["genesis_mb"] = path.stat().st_size / 1e6
        t = time.perf_counter()
        genesis = load_genesis(path)
        out["load_genesis_s"] = time.perf_counter() - t
        t = time.perf_counter()
        digest = genesis_hash(genesis)
        out["genesis_hash_s"] = time.perf_counter() - t
        t = time.perf_counter()
        writes = genesis_state(genesis)
        out["genesis_state_s"] = time.perf_counter() - t
        t = time.perf_counter()
        app_hash = genesis_app_hash(genesis)
        out["genesis_app_hash_s"] = time.perf_counter() - t
        store = Store(Path(tmp) / "db")
        t = time.perf_counter()
        store.init_genesis(digest, writes, app_hash)
        out["store_init_genesis_s"] = time.perf_counter() - t
        store.close()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({k: round(v, 2) for k, v in out.items()}))


if __name__ == "__main__":
    main()
