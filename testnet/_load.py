"""`tenge-testnet load`: onboard accounts, pre-sign payments, offer them open-loop at a
fixed rate, and measure what the network commits and how fast it becomes final.

Open loop: payment n is due at t0 + n / rate, whatever happened to the payments before
it. Batches of about TICK_S worth go out when their last payment is due, each to the next
node in turn. Finality latency of a payment = the moment its block arrives on node 0's
event stream (`/v1/events`) minus its due time, so a sender that falls behind shows in
the latency (no coordinated omission); how late the requests started is `send_lag_ms`.
Committed tx/s counts payments committed with code OK between t0 and the last such
commit. Refusals (429 / 503, or a refused result in a batch) are counted per code and
never retried.
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
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import trio

from node.keys import KeyPair, read_key_file
from node.ledger.txbuild import build_tx, sign_envelope, transfer
from proto import ledger_pb2
from testnet._init import api_headers

DRAIN_TIMEOUT_S: Final = 30.0
TICK_S: Final = 0.02
RETRY_S: Final = 0.2  # setup's wait before resubmitting a transaction the node had no room for
SETUP_TIMEOUT_S: Final = 60.0
PAYMENT_TTL_BLOCKS: Final = 500
FUNDING_PER_CUSTOMER: Final = 10**12  # tiyn
MAX_CONNECTIONS_PER_NODE: Final = 48  # below the default [api] max_connections_per_client (64)


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
    latency_ms: dict[str, float] = field(default_factory=dict)  # from each due time
    send_lag_ms: dict[str, float] = field(default_factory=dict)  # request start - due time
    tool_cpu_s: dict[str, float] = field(default_factory=dict)  # this process's CPU seconds

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Schedule:
    """The open-loop schedule: payment n is due n / rate seconds after the start; the
    payments go out in batches of about TICK_S worth (at most max_batch), each batch
    sent when its last payment is due."""

    rate: float
    count: int
    max_batch: int = 100

    @property
    def batch_size(self) -> int:
        return max(1, min(self.max_batch, round(self.rate * TICK_S)))

    def due(self, n: int) -> float:
        """Seconds after the start at which payment n is due."""
        return n / self.rate

    def batches(self) -> list[tuple[int, int]]:
        """[first, end) payment ranges, in order."""
        size = self.batch_size
        return [(first, min(self.count, first + size)) for first in range(0, self.count, size)]

    def send_at(self, k: int) -> float:
        """Seconds after the start at which batch k is sent (its last payment's due time)."""
        return self.due(min(self.count, (k + 1) * self.batch_size) - 1)


@dataclass(frozen=True, slots=True)
class Batch:
    """One pre-encoded POST /v1/txs/batch: its first payment's index, the payments' ids,
    the node it goes to, and the request body."""

    first: int
    ids: list[str]
    api: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    """A batch's answer: per-payment results, a whole-request refusal, or a failure."""

    results: list[dict[str, Any]] | None = None
    refused_code: str | None = None
    failed: bool = False


def tally(
    report: LoadReport,
    refusals: Counter[str],
    admitted: set[str],
    batch: Batch,
    outcome: Outcome,
) -> None:
    """Count one batch's outcome: admissions, refusals per code, failures."""
    if outcome.results is None:
        if outcome.refused_code is not None:
            report.refused += len(batch.ids)
            refusals[outcome.refused_code] += len(batch.ids)
        else:
            report.failed += len(batch.ids)
        return
    for result in outcome.results:
        if result.get("status") == "pending":
            admitted.add(str(result.get("tx_id")))
        else:
            report.refused += 1
            refusals[str(result.get("code", "UNKNOWN"))] += 1


def finality_s(
    schedule: Schedule, batches: list[Batch], t0: float, committed_at: dict[str, float]
) -> list[float]:
    """Seconds from each committed payment's due time (t0 + schedule.due(n)) to its
    commit: the time it waited to be sent counts, as a user's would."""
    return [
        committed_at[tx] - (t0 + schedule.due(batch.first + i))
        for batch in batches
        for i, tx in enumerate(batch.ids)
        if tx in committed_at
    ]


def commit_rate(times: list[float], t0: float) -> float:
    """Committed tx/s from the commit times of the payments: those after the first
    block, over the span from the first block to the last. This neither counts the
    first payments' finality latency as idle time nor the drain after offering as
    offering time; with a single block, the count over the time since t0."""
    if not times:
        return 0.0
    first, last = min(times), max(times)
    if last <= first:
        return round(len(times) / max(1e-9, last - t0), 1)
    later = sum(1 for t in times if t > first)
    return round(later / (last - first), 1)


def summary_ms(seconds: list[float], keys: tuple[str, ...]) -> dict[str, float]:
    """Percentiles ("p50", "p99" ...), "max" and "mean" of durations in seconds, in ms."""
    if not seconds:
        return {}
    out = {}
    for key in keys:
        if key == "max":
            value = max(seconds)
        elif key == "mean":
            value = statistics.fmean(seconds)
        else:
            value = percentile(seconds, float(key[1:]))
        out[key] = round(value * 1000, 1)
    return out


def load_account_names(accounts: int) -> tuple[list[str], list[str]]:
    """The load's customers and merchants for `accounts` accounts in all."""
    customers = [f"load-c{i:04d}" for i in range(max(1, accounts // 2))]
    merchants = [f"load-m{i:04d}" for i in range(max(1, accounts - accounts // 2))]
    return customers, merchants


def load_key(chain_id: str, account: str) -> KeyPair:
    """The deterministic key of a load account (not in the manifest)."""
    return KeyPair.from_seed(hashlib.sha256(f"{chain_id}/{account}".encode()).digest())


def genesis_load_accounts(chain_id: str, accounts: int) -> Iterator[dict[str, Any]]:
    """Genesis entries for the load's accounts, sorted by account id (as an accounts file
    wants them): tier-3 customers funded with FUNDING_PER_CUSTOMER KZT and merchants, each
    with its deterministic key, so a network of a million accounts needs no onboarding
    transactions. A stream: the keys are derived as the entries are taken."""
    customers, merchants = load_account_names(accounts)
    funded = set(customers)
    for name in sorted(customers + merchants):
        entry: dict[str, Any] = {
            "account_id": name,
            "role": "CUSTOMER" if name in funded else "MERCHANT",
            "zone": "NATIONAL",
            "kyc_tier": 3,
            "public_keys": [load_key(chain_id, name).public_key.hex()],
        }
        if name in funded:
            entry["balances"] = {"KZT": str(FUNDING_PER_CUSTOMER)}
        yield entry


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
        self,
        manifest: dict[str, Any],
        *,
        accounts: int = 100,
        workers: int = 128,
        batch: int = 100,
        in_genesis: bool = False,
        drain_timeout_s: float = DRAIN_TIMEOUT_S,
    ):
        """Args:
        manifest: the testnet's manifest.
        accounts: customers + merchants the payments go between.
        workers: requests in flight at most (across all nodes, an equal share each, and
            at most `MAX_CONNECTIONS_PER_NODE` to one node).
        batch: payments per request, at most.
        in_genesis: the accounts are funded in genesis (`genesis_load_accounts`):
            no onboarding.
        drain_timeout_s: how long to wait for the admitted payments to commit.
        """
        self.manifest = manifest
        self.chain_id: str = manifest["chain_id"]
        self.apis: list[str] = [n["api"] for n in manifest["nodes"]]
        self.customers, self.merchants = load_account_names(accounts)
        self.in_genesis = in_genesis
        self.drain_timeout_s = drain_timeout_s
        self.workers = workers
        self.batch = batch  # envelopes per POST /v1/txs/batch, at most
        self._nonce = itertools.count(int(time.time() * 1000) * 1000)
        self._keys: dict[str, KeyPair] = {}
        self._bank = "bank-a"

    def key(self, account: str) -> KeyPair:
        if account not in self._keys:
            if account in self.manifest["accounts"]:
                path = Path(self.manifest["accounts"][account]["key_files"][0])
                self._keys[account] = read_key_file(path)
            else:
                self._keys[account] = load_key(self.chain_id, account)
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
        if self.in_genesis:
            return
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

    def prepare(self, schedule: Schedule, expires: int) -> list[Batch]:
        """Sign every payment of schedule and encode each batch's request body, so that
        offering costs the tool nothing but the HTTP round trip. Batch k goes to node
        k mod nodes: each node's API admits an equal share."""
        txs = self.presign(schedule.count, expires)
        out = []
        for k, (first, end) in enumerate(schedule.batches()):
            envelopes = txs[first:end]
            body = json.dumps({"txs": [base64.b64encode(e).decode() for e in envelopes]})
            ids = [
                hashlib.sha256(ledger_pb2.TxEnvelope.FromString(e).body).digest().hex()
                for e in envelopes
            ]
            out.append(Batch(first, ids, self.apis[k % len(self.apis)], body.encode()))
        return out

    async def run(
        self, rate: float, duration: float, progress: Callable[[str], None] | None = None
    ) -> LoadReport:
        """Set up, then offer rate payments/s for duration seconds (open loop), then drain.

        Payment n is due at t0 + n / rate whatever happened to the payments before it;
        its latency runs from that due time to its block on node 0's event stream, so a
        tool or a node that falls behind shows in the latency. A refusal (429/503, or a
        refused result in a batch) is counted by code and not retried.
        """
        cpu0 = time.process_time()
        limits = httpx.Limits(max_connections=self.workers, max_keepalive_connections=self.workers)
        headers = api_headers(self.manifest)
        async with httpx.AsyncClient(timeout=30, limits=limits, headers=headers) as client:
            await self.setup(client)
            schedule = Schedule(rate, max(1, int(rate * duration)), self.batch)
            expires = await self.height(client) + PAYMENT_TTL_BLOCKS
            batches = self.prepare(schedule, expires)
            report = LoadReport(offered=schedule.count, offered_rate=rate)
            admitted: set[str] = set()
            commits: dict[str, tuple[float, str]] = {}
            refusals: Counter[str] = Counter()
            lags: list[float] = []
            all_done = trio.Event()
            draining = trio.Event()  # sending is over: all_done once every admitted commits
            # Requests in flight per node, so that one slow node never holds more
            # connections than a client may (its [api] max_connections_per_client).
            per_node = max(1, min(MAX_CONNECTIONS_PER_NODE, self.workers // len(self.apis)))
            slots = {api: trio.Semaphore(per_node) for api in self.apis}
            cpu_offer0 = time.process_time()

            async with trio.open_nursery() as nursery:
                stream_ready = trio.Event()
                from_height = await self.height(client)
                nursery.start_soon(
                    self._follow,
                    client,
                    from_height,
                    commits,
                    admitted,
                    (draining, all_done),
                    stream_ready,
                )
                await stream_ready.wait()
                t0 = trio.current_time()

                async def send(batch: Batch, due: float) -> None:
                    async with slots[batch.api]:
                        lags.append(trio.current_time() - due)
                        outcome = await self._post_batch(client, batch)
                    tally(report, refusals, admitted, batch, outcome)

                async with trio.open_nursery() as senders:
                    last_progress = t0
                    for k, batch in enumerate(batches):
                        due = t0 + schedule.send_at(k)
                        await trio.sleep_until(due)
                        senders.start_soon(send, batch, due)
                        now = trio.current_time()
                        if progress and now - last_progress >= 1.0:
                            last_progress = now
                            progress(
                                f"offered {batch.first}/{schedule.count}, admitted "
                                f"{len(admitted)}, committed {len(commits)}"
                            )
                submit_end = trio.current_time()
                cpu_offer = time.process_time() - cpu_offer0
                draining.set()
                if admitted.issubset(commits):
                    all_done.set()
                with trio.move_on_after(self.drain_timeout_s):
                    await all_done.wait()
                nursery.cancel_scope.cancel()

        report.admitted = len(admitted)
        ok = [tx for tx in admitted if tx in commits and commits[tx][1] == "OK"]
        report.committed = len(ok)
        report.committed_failed = sum(1 for tx in admitted if tx in commits) - len(ok)
        report.refusals = dict(sorted(refusals.items()))
        report.duration_s = round(submit_end - t0, 3)
        report.admitted_per_s = round(report.admitted / max(1e-9, submit_end - t0), 1)
        report.send_lag_ms = summary_ms(lags, ("p50", "p99", "max"))
        report.tool_cpu_s = {
            "offering": round(cpu_offer, 2),
            "total": round(time.process_time() - cpu0, 2),
        }
        if ok:
            report.committed_tps = commit_rate([commits[tx][0] for tx in ok], t0)
            latencies = finality_s(schedule, batches, t0, {tx: commits[tx][0] for tx in ok})
            report.latency_ms = summary_ms(latencies, ("p50", "p95", "p99", "max", "mean"))
        return report

    async def _post_batch(self, client: httpx.AsyncClient, batch: Batch) -> Outcome:
        """POST one pre-encoded batch; a transport error or 5xx other than 503 is a
        failure, a whole-request 429/503 a refusal of every payment in it."""
        try:
            response = await client.post(
                f"{batch.api}/v1/txs/batch",
                content=batch.body,
                headers={"content-type": "application/json"},
            )
        except httpx.HTTPError:
            return Outcome(failed=True)
        if response.status_code in (429, 503):
            return Outcome(refused_code=_error_code(response))
        if response.status_code != 200:
            return Outcome(failed=True)
        try:
            results: list[dict[str, Any]] = response.json()["results"]
        except (ValueError, KeyError, TypeError):
            return Outcome(failed=True)
        return Outcome(results=results)

    async def _follow(
        self,
        client: httpx.AsyncClient,
        after: int,
        commits: dict[str, tuple[float, str]],
        admitted: set[str],
        done: tuple[trio.Event, trio.Event],
        ready: trio.Event,
    ) -> None:
        """Record when each transaction's block arrives on node 0's event stream; once
        ``done[0]`` (sending is over) is set, set ``done[1]`` when every admitted
        transaction has committed. Both events belong to one run: a flag kept across
        runs would end the next run's drain before it began."""
        draining, all_done = done
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
                    if draining.is_set() and admitted.issubset(commits):
                        all_done.set()


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP_{response.status_code}"


def _expect_ok(response: httpx.Response, what: str) -> None:
    if response.status_code != 200 or response.json().get("code") != "OK":
        raise RuntimeError(f"{what}: {response.status_code} {response.text[:300]}")
