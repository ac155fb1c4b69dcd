"""`tenge-testnet load`: onboard accounts, pre-sign payments, offer them at a fixed rate,
and measure what the network commits and how fast it becomes final.

Finality latency of a payment = the moment its block arrives on node 0's event stream
(`/v1/events`) minus the moment its submission started. Committed tx/s counts payments
committed with code OK between the first submission and the last such commit.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import trio

from node.keys import KeyPair, read_key_file
from node.ledger.txbuild import build_tx, sign_envelope, transfer
from proto import ledger_pb2

DRAIN_TIMEOUT_S: Final = 30.0
TICK_S: Final = 0.02
RETRY_S: Final = 0.2  # setup's wait before resubmitting a transaction the node had no room for
SETUP_TIMEOUT_S: Final = 60.0
PAYMENT_TTL_BLOCKS: Final = 500
FUNDING_PER_CUSTOMER: Final = 10**12  # tiyn


@dataclass(slots=True)
class LoadReport:
    """What one load run offered and what the network did with it."""

    offered: int = 0
    admitted: int = 0
    refused: int = 0
    failed: int = 0  # transport errors and 5xx
    committed: int = 0
    committed_failed: int = 0  # committed with a non-OK code
    refusals: dict[str, int] = field(default_factory=dict)
    offered_rate: float = 0.0
    duration_s: float = 0.0
    committed_tps: float = 0.0
    admitted_per_s: float = 0.0  # admissions per second while submitting
    latency_ms: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0 < q <= 100) by nearest rank."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


class Load:
    """One load run against a testnet manifest."""

    def __init__(
        self, manifest: dict[str, Any], *, accounts: int = 100, workers: int = 16, batch: int = 100
    ):
        self.manifest = manifest
        self.chain_id: str = manifest["chain_id"]
        self.apis: list[str] = [n["api"] for n in manifest["nodes"]]
        self.customers = [f"load-c{i:04d}" for i in range(max(1, accounts // 2))]
        self.merchants = [f"load-m{i:04d}" for i in range(max(1, accounts - accounts // 2))]
        self.workers = workers
        self.batch = batch  # envelopes per POST /v1/txs/batch, at most
        self._nonce = itertools.count(int(time.time() * 1000) * 1000)
        self._keys: dict[str, KeyPair] = {}
        self._bank = "bank-a"
        self._draining = False

    def key(self, account: str) -> KeyPair:
        if account not in self._keys:
            if account in self.manifest["accounts"]:
                path = Path(self.manifest["accounts"][account]["key_files"][0])
                self._keys[account] = read_key_file(path)
            else:
                seed = hashlib.sha256(f"{self.chain_id}/{account}".encode()).digest()
                self._keys[account] = KeyPair.from_seed(seed)
        return self._keys[account]

    def sign(self, signer: str, kind: Any, expires: int) -> bytes:
        body = build_tx(
            self.chain_id, signer, kind, nonce=next(self._nonce), expires_at_height=expires
        )
        return sign_envelope(body, self.chain_id, [self.key(signer)])

    async def height(self, client: httpx.AsyncClient) -> int:
        response = await client.get(f"{self.apis[0]}/v1/status")
        response.raise_for_status()
        return int(response.json()["height"])

    async def submit(
        self, client: httpx.AsyncClient, api: str, env: bytes, *, wait: bool = False
    ) -> httpx.Response:
        return await client.post(
            f"{api}/v1/txs" + ("?wait=commit&timeout=30" if wait else ""),
            json={"tx": base64.b64encode(env).decode()},
        )

    async def submit_batch(
        self, client: httpx.AsyncClient, api: str, envelopes: list[bytes]
    ) -> list[dict[str, Any]]:
        """POST /v1/txs/batch; the per-envelope results.

        Raises:
            RuntimeError: the node refused the request as a whole.
        """
        response = await client.post(
            f"{api}/v1/txs/batch",
            json={"txs": [base64.b64encode(env).decode() for env in envelopes]},
        )
        if response.status_code != 200:
            raise RuntimeError(f"batch refused: {response.status_code} {response.text[:200]}")
        results: list[dict[str, Any]] = response.json()["results"]
        return results

    async def setup(self, client: httpx.AsyncClient) -> None:
        """Register and fund the load's customers and merchants (skips what exists)."""
        with trio.fail_after(SETUP_TIMEOUT_S):
            top = await self.height(client) + 200
            need = len(self.customers) * FUNDING_PER_CUSTOMER
            issue = ledger_pb2.Issue(asset="KZT", to=self._bank, amount=need)
            response = await self.submit(
                client, self.apis[0], self.sign("central-bank", issue, top), wait=True
            )
            _expect_ok(response, "issue KZT to bank-a")
            txs = []
            for name in self.customers + self.merchants:
                exists = await client.get(f"{self.apis[0]}/v1/accounts/{name}")
                if exists.status_code == 200:
                    continue
                register = ledger_pb2.RegisterAccount(
                    account_id=name,
                    role=ledger_pb2.CUSTOMER if name in self.customers else ledger_pb2.MERCHANT,
                    zone=ledger_pb2.NATIONAL,
                    kyc_tier=3,
                    public_keys=[self.key(name).public_key],
                    threshold=1,
                )
                txs.append(self.sign(self._bank, register, top))
            await self._submit_all_and_wait(client, txs, "register load accounts")
            funding = [
                self.sign(self._bank, transfer((self._bank, c, "KZT", FUNDING_PER_CUSTOMER)), top)
                for c in self.customers
            ]
            await self._submit_all_and_wait(client, funding, "fund load customers")

    async def _submit_all_and_wait(
        self, client: httpx.AsyncClient, txs: list[bytes], what: str
    ) -> None:
        if not txs:
            return
        for env in txs[:-1]:
            response = await self._submit_when_room(client, env)
            if response.status_code not in (200, 202):
                raise RuntimeError(f"{what}: {response.status_code} {response.text}")
        _expect_ok(await self._submit_when_room(client, txs[-1], wait=True), what)

    async def _submit_when_room(
        self, client: httpx.AsyncClient, env: bytes, *, wait: bool = False
    ) -> httpx.Response:
        """Submit to node 0; while it answers "not now" (429: the signing account has its
        cap of pending transactions; 503: the pool is full), wait and retry. The caller's
        deadline bounds the retries."""
        while True:
            response = await self.submit(client, self.apis[0], env, wait=wait)
            if response.status_code not in (429, 503):
                return response
            await trio.sleep(RETRY_S)

    def presign(self, count: int, expires: int) -> list[bytes]:
        """count payments customer -> merchant, spread over the load's accounts."""
        out = []
        for n in range(count):
            payer = self.customers[n % len(self.customers)]
            payee = self.merchants[(n * 7 + 3) % len(self.merchants)]
            out.append(self.sign(payer, transfer((payer, payee, "KZT", 100 + n % 900)), expires))
        return out

    async def run(
        self, rate: float, duration: float, progress: Callable[[str], None] | None = None
    ) -> LoadReport:
        """Set up, then offer rate payments/s for duration seconds, then drain."""
        limits = httpx.Limits(
            max_connections=self.workers * 2, max_keepalive_connections=self.workers * 2
        )
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            await self.setup(client)
            count = max(1, int(rate * duration))
            expires = await self.height(client) + PAYMENT_TTL_BLOCKS
            txs = self.presign(count, expires)
            ids = [
                hashlib.sha256(ledger_pb2.TxEnvelope.FromString(t).body).digest().hex() for t in txs
            ]
            report = LoadReport(offered=count, offered_rate=rate)
            started: dict[str, float] = {}
            admitted: set[str] = set()
            commits: dict[str, tuple[float, str]] = {}
            refusals: Counter[str] = Counter()
            all_done = trio.Event()

            async with trio.open_nursery() as nursery:
                stream_ready = trio.Event()
                from_height = await self.height(client)
                nursery.start_soon(
                    self._follow, client, from_height, commits, admitted, all_done, stream_ready
                )
                await stream_ready.wait()
                send, receive = trio.open_memory_channel[list[int]](self.workers * 4)
                t0 = trio.current_time()

                async def worker(worker_id: int) -> None:
                    async for batch in receive:
                        api = self.apis[batch[0] % len(self.apis)]
                        now = trio.current_time()
                        for n in batch:
                            started[ids[n]] = now
                        try:
                            results = await self.submit_batch(client, api, [txs[n] for n in batch])
                        except (httpx.HTTPError, RuntimeError):
                            report.failed += len(batch)
                            continue
                        for result in results:
                            if result["status"] == "pending":
                                admitted.add(result["tx_id"])
                            else:
                                report.refused += 1
                                refusals[result.get("code", "UNKNOWN")] += 1

                async with trio.open_nursery() as workers:
                    for w in range(self.workers):
                        workers.start_soon(worker, w)
                    async with send:
                        # Every TICK_S, release the payments that are due, in batches.
                        released = 0
                        last_progress = t0
                        while released < count:
                            await trio.sleep(TICK_S)
                            now = trio.current_time()
                            due = min(count, int((now - t0) * rate) + 1)
                            while released < due:
                                size = min(self.batch, due - released)
                                await send.send(list(range(released, released + size)))
                                released += size
                            if progress and now - last_progress >= 1.0:
                                last_progress = now
                                progress(
                                    f"offered {released}/{count}, admitted {len(admitted)}, "
                                    f"committed {len(commits)}"
                                )
                submit_end = trio.current_time()
                self._draining = True
                if admitted.issubset(commits):
                    all_done.set()
                with trio.move_on_after(DRAIN_TIMEOUT_S):
                    await all_done.wait()
                nursery.cancel_scope.cancel()

            report.admitted = len(admitted)
            ok = [tx for tx in admitted if tx in commits and commits[tx][1] == "OK"]
            report.committed = len(ok)
            report.committed_failed = sum(1 for tx in admitted if tx in commits) - len(ok)
            report.refusals = dict(refusals)
            report.duration_s = round(submit_end - t0, 3)
            report.admitted_per_s = round(report.admitted / max(1e-9, submit_end - t0), 1)
            if ok:
                last_commit = max(commits[tx][0] for tx in ok)
                report.committed_tps = round(len(ok) / max(1e-9, last_commit - t0), 1)
                latencies = [(commits[tx][0] - started[tx]) * 1000 for tx in ok]
                report.latency_ms = {
                    "p50": round(percentile(latencies, 50), 1),
                    "p95": round(percentile(latencies, 95), 1),
                    "p99": round(percentile(latencies, 99), 1),
                    "mean": round(statistics.fmean(latencies), 1),
                }
            return report

    async def _follow(
        self,
        client: httpx.AsyncClient,
        after: int,
        commits: dict[str, tuple[float, str]],
        admitted: set[str],
        all_done: trio.Event,
        ready: trio.Event,
    ) -> None:
        """Record when each transaction's block arrives on node 0's event stream."""
        async with client.stream(
            "GET", f"{self.apis[0]}/v1/events?after={after}", timeout=httpx.Timeout(30, read=None)
        ) as response:
            ready.set()
            event = ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "block":
                    now = trio.current_time()
                    block = json.loads(line[5:])
                    for tx in block["txs"]:
                        if tx.get("speaks_for_tx", True):  # not a junk-signature copy
                            commits.setdefault(tx["tx_id"], (now, tx["code"]))
                    if self._draining and admitted.issubset(commits):
                        all_done.set()


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP_{response.status_code}"


def _expect_ok(response: httpx.Response, what: str) -> None:
    if response.status_code != 200 or response.json().get("code") != "OK":
        raise RuntimeError(f"{what}: {response.status_code} {response.text[:300]}")
