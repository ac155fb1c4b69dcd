"""Genesis at scale: what it costs to start a network whose genesis funds N load accounts
(`testnet._load.genesis_load_accounts` in the genesis accounts file, as
`tenge-testnet bench --accounts N` writes it; docs/genesis.md "The accounts file").

For one N, seconds of:
- write: deriving the N deterministic Ed25519 keys and writing the accounts file and
  genesis.json (`init_testnet`, one validator), and the file's size;
- load: ``node.genesis.load_genesis``, what every node does at each start;
- first start: in a process of its own, what a node does once: stream the file (read,
  decode, validate each line), write the state into a fresh LevelDB in batches and hash
  it back (``Store.init_genesis``), with that process's peak RSS (``first_start_rss_mb``):
  the node's own cost, without the writer's.

Run: ``.venv/bin/python -m bench.genesis_bench --accounts 1000000``. Figures only.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from node.genesis import load_genesis, read_accounts_file
from node.ledger import genesis_app_hash_of, genesis_writes
from node.service import genesis_hash
from node.store import Store
from testnet._init import ACCOUNTS_FILE, init_testnet
from testnet._load import genesis_load_accounts


def first_start(directory: Path) -> dict[str, float]:
    """A node's first start from directory/genesis.json, into directory/db."""
    out: dict[str, float] = {}
    t = time.perf_counter()
    genesis = load_genesis(directory / "genesis.json")
    out["load_genesis_s"] = time.perf_counter() - t
    store = Store(directory / "db")
    t = time.perf_counter()
    store.init_genesis(
        genesis_hash(genesis),
        genesis_writes(genesis, read_accounts_file(genesis, directory)),
        lambda state: genesis_app_hash_of(genesis.chain_id, state),
    )
    out["first_start_s"] = time.perf_counter() - t
    store.close()
    out["first_start_rss_mb"] = _peak_rss_mb()
    return out


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: its own, unlike ru_maxrss, which a child started
    by fork and exec inherits from its parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--first-start", type=Path, help=argparse.SUPPRESS)  # the child
    args = parser.parse_args()
    if args.first_start is not None:
        print(json.dumps(first_start(args.first_start)))
        return
    out: dict[str, Any] = {"accounts": args.accounts}
    with tempfile.TemporaryDirectory(prefix="tenge-genesis-bench-") as tmp:
        net = Path(tmp) / "net"
        t = time.perf_counter()
        init_testnet(
            net,
            validators=1,
            chain_id="tenge-bench",
            file_accounts=genesis_load_accounts("tenge-bench", args.accounts),
        )
        out["write_s"] = time.perf_counter() - t
        out["accounts_file_mb"] = (net / ACCOUNTS_FILE).stat().st_size / 1e6
        out["writer_rss_mb"] = _peak_rss_mb()
        child = subprocess.run(
            [sys.executable, "-m", "bench.genesis_bench", "--first-start", str(net)],
            capture_output=True,
            text=True,
            check=True,
        )
        out.update(json.loads(child.stdout))
    print(json.dumps({k: round(v, 2) for k, v in out.items()}))


if __name__ == "__main__":
    main()
