"""Signatures per second of the validator signers: the key file, a PKCS#11 token and a
remote signer.

Each run signs N precommit sign bytes (distinct heights) through the signer the node would
use, ``node.signer.FileSigner``, ``node.signer.Pkcs11Signer`` (SoftHSM2 with a token
this script initialises in a temporary directory) and ``node.remote_signer.RemoteSigner``
(a ``node.signer_server.SignerService`` with a key file, in a thread of this process, over
TCP on 127.0.0.1: the handshake's encryption, one round trip and the signer's fsynced
guard per signature), and every signature is checked with ``node.keys.verify`` after the
timed loop. Run::

    .venv/bin/python -m bench.signer_bench [--signatures N] [--runs R]

It prints the median of R runs for each signer. A node signs about three messages per
height (proposal, prevote, precommit), so even a slow HSM is far from the bottleneck; the
figure that matters more is the latency of one signature, printed beside it.
"""

from __future__ import annotations

import argparse
import queue
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import trio

from consensus import VoteType, vote_sign_bytes
from node.config import HostPort, SignerHomeConfig, SignerSettings
from node.keys import KeyPair, verify
from node.remote_signer import RemoteSigner
from node.signer import FileSigner, Pkcs11Signer, ValidatorSigner, hsm_generate
from node.signer_server import SignerService
from testnet._softhsm import softhsm_missing, softhsm_token

CHAIN_ID = "tenge-bench"


def signatures_per_s(signer: ValidatorSigner, count: int) -> float:
    """Sign count distinct messages; the rate. Every signature is verified afterwards."""
    messages = [
        vote_sign_bytes(CHAIN_ID, VoteType.PRECOMMIT, h, 0, b"\x5a" * 32)
        for h in range(1, count + 1)
    ]
    start = time.perf_counter()
    signatures = [signer.sign(m) for m in messages]
    elapsed = time.perf_counter() - start
    assert all(verify(signer.public_key, m, s) for m, s in zip(messages, signatures, strict=True))
    return count / elapsed


def remote_signatures_per_s(count: int) -> float:
    """signatures_per_s through a RemoteSigner and a fresh SignerService (its own guard)."""
    node_key, signer_key = KeyPair.generate(), KeyPair.generate()
    started: queue.Queue[tuple[int, Any, trio.CancelScope]] = queue.Queue()
    with tempfile.TemporaryDirectory() as tmp:
        config = SignerHomeConfig(
            Path(tmp),
            CHAIN_ID,
            HostPort("127.0.0.1", 0),
            frozenset({node_key.public_key.hex()}),
            SignerSettings(),
        )
        service = SignerService(config, signer_key, FileSigner(KeyPair.generate()))

        async def serve() -> None:
            async with trio.open_nursery() as nursery:
                port = await nursery.start(service.run)
                started.put((port, trio.lowlevel.current_trio_token(), nursery.cancel_scope))

        thread = threading.Thread(target=trio.run, args=(serve,), daemon=True)
        thread.start()
        port, token, scope = started.get(timeout=10)
        settings = SignerSettings(
            kind="remote",
            address=HostPort("127.0.0.1", port),
            signer_id=signer_key.public_key.hex(),
            timeout_ms=10_000,
        )
        signer = RemoteSigner.open(settings, CHAIN_ID, node_key)
        try:
            return signatures_per_s(signer, count)
        finally:
            signer.close()
            token.run_sync_soon(scope.cancel)
            thread.join(timeout=10)


def _report(kind: str, rates: list[float]) -> None:
    median = statistics.median(rates)
    runs = ", ".join(f"{r:,.0f}" for r in rates)
    print(f"{kind:7s} {median:10,.0f} signatures/s  {1e6 / median:8.1f} µs each  (runs: {runs})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    file_signer = FileSigner(KeyPair.generate())
    _report("file", [signatures_per_s(file_signer, args.signatures) for _ in range(args.runs)])
    _report("remote", [remote_signatures_per_s(args.signatures) for _ in range(args.runs)])
    missing = softhsm_missing()
    if missing is not None:
        print(f"pkcs11  skipped: {missing}")
        return 0
    with tempfile.TemporaryDirectory() as tmp, softhsm_token(Path(tmp)) as token:
        settings = token.settings("bench")
        hsm_generate(settings)
        signer = Pkcs11Signer.open(settings)
        try:
            rates = [signatures_per_s(signer, args.signatures) for _ in range(args.runs)]
        finally:
            signer.close()
    _report("pkcs11", rates)
    return 0


if __name__ == "__main__":
    sys.exit(main())
