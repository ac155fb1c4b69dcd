"""The mempool: transactions admitted by the ledger's check_tx and waiting for a block.

Rules this module keeps (the operator's view is docs/mempool.md):

1. Admission order is kept (FIFO), so the proposer reaps the oldest transactions first.
2. Pending outflows: for every (account, asset) the pool keeps the sum of what its pending
   transactions would debit (`CheckOutcome.debits`), and that sum never exceeds the
   committed balance they were judged against. A transaction that would pass it is
   refused with PENDING_FUNDS_EXCEEDED, so an account cannot queue payments it cannot pay.
   Debits and balances are the ledger's 128-bit amounts as Python ints: no sum is cut.
3. No account authorises more than `max_pending_per_account` pending transactions
   (PENDING_TXS_EXCEEDED).
4. Every transaction has one source: this node's API ("api", or "api:<client address>"
   for a client the API tells apart, see `api_source`) or the peer that gossiped it.
   One peer holds at most `max_peer_share` of the room (rule 5) and of the bytes
   (PEER_SHARE_EXCEEDED); one API client at most `max_client_share` of the room
   (MEMPOOL_FULL). The plain "api" source (clients exempt from the API's per-client
   limits) has no share.
5. Room in time: the pool holds at most `max_pending_s` seconds of the network's commit
   capacity (node.capacity.CommitCapacity, fed by `committed`), never fewer transactions
   than `min_pending_txs` and never more than `max_txs`; and at most `max_bytes`. So an
   admitted transaction waits about `max_pending_s` at most, and what cannot be committed
   soon is refused now rather than queued for minutes. `refusals_ahead` refuses, without
   any signature check, the newcomers of a source with no room left, so such a refusal
   costs a few microseconds.
6. When full, a newcomer may evict the newest gossiped transactions of the peer holding
   the most, if that leaves the newcomer's source no larger than the victim's (an API
   newcomer always may). A transaction this node's API acknowledged is never evicted:
   evicting a gossiped copy loses nothing, its origin node still holds it. Otherwise the
   newcomer gets MEMPOOL_FULL, with the seconds the pool needs to drain at the measured
   capacity (`Admission.retry_after_s`).
7. The bookkeeping is incremental: add, evict and drop adjust the sums of the entries they
   touch. Each entry keeps the state keys its verdict was drawn from (`CheckOutcome.reads`).
   After a commit, a pending transaction is checked again only when the block may have
   changed its verdict: it wrote one of those keys, or it wrote a balance the transaction
   would debit and that balance no longer covers the pending outflows on it, or the
   transaction expires, or the rulebook in force changed. Those are checked again oldest
   first and re-booked against the new state; those that no longer pass are dropped. A
   block that wrote a balance that still covers its pending outflows re-checks nothing.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Final, Protocol, TypeVar

from google.protobuf.message import DecodeError

from node.capacity import CommitCapacity
from proto import ledger_pb2

log = logging.getLogger(__name__)
_K = TypeVar("_K")

#: The source of transactions submitted to this node's API (never evicted, no share).
API_SOURCE: Final = "api"
#: At most this many transactions make room for one newcomer (a 16 KiB one among small).
MAX_EVICTIONS: Final = 128
DEFAULT_MAX_PENDING_PER_ACCOUNT: Final = 1000
DEFAULT_MAX_PEER_SHARE: Final = 0.5
DEFAULT_MAX_CLIENT_SHARE: Final = 0.5
DEFAULT_MAX_PENDING_S: Final = 4.0
DEFAULT_MIN_PENDING_TXS: Final = 2000


def api_source(client: str | None) -> str:
    """The source of a transaction from this node's API client (its address), or of every
    client the API does not tell apart (None: the plain API_SOURCE, without a share)."""
    return API_SOURCE if not client else f"{API_SOURCE}:{client}"


def is_api_source(source: str) -> bool:
    """Whether source is this node's API (any client), not a peer (peer ids are hex)."""
    return source == API_SOURCE or source.startswith(API_SOURCE + ":")


class DebitOutcome(Protocol):
    """One debit a checked transaction would make (node.ledger.Debit)."""

    @property
    def account(self) -> str: ...
    @property
    def asset(self) -> str: ...
    @property
    def amount(self) -> int: ...
    @property
    def balance(self) -> int: ...
    @property
    def key(self) -> bytes: ...


class CheckOutcome(Protocol):
    """What the ledger's check_tx returns, as far as the mempool cares."""

    @property
    def code(self) -> int: ...
    @property
    def message(self) -> str: ...
    @property
    def tx_id(self) -> bytes: ...
    @property
    def expires_at_height(self) -> int: ...
    @property
    def accounts(self) -> tuple[str, ...]: ...
    @property
    def debits(self) -> tuple[DebitOutcome, ...]: ...
    @property
    def rule(self) -> str: ...
    @property
    def rulebook_version(self) -> int: ...
    @property
    def reads(self) -> frozenset[bytes]: ...


@dataclass(frozen=True, slots=True)
class _Entry:
    raw: bytes
    accounts: tuple[str, ...]  # the accounts that authorised it (payers, or the signer)
    expires_at_height: int
    debits: tuple[tuple[str, str, int, bytes], ...]  # (account, asset, amount, balance key)
    source: str  # api_source(client) or the gossiping peer's id
    seq: int  # admission order
    reads: frozenset[bytes]  # state keys its verdict depends on (but for debited balances)
    rulebook_version: int  # the rulebook it was judged under


def _entry_of(raw: bytes, outcome: CheckOutcome, source: str, seq: int) -> _Entry:
    return _Entry(
        raw,
        tuple(outcome.accounts),
        outcome.expires_at_height,
        tuple((d.account, d.asset, d.amount, d.key) for d in outcome.debits),
        source,
        seq,
        outcome.reads,
        outcome.rulebook_version,
    )


class TxChecker(Protocol):
    """The ledger's admission check, and the committed state it judges against."""

    def check_tx(self, raw: bytes, *, next_height: int) -> CheckOutcome: ...

    def balance(self, account: str, asset: str) -> int: ...

    def rulebook_version_at(self, height: int) -> int: ...


@dataclass(frozen=True, slots=True)
class Admission:
    """The mempool's answer to one submitted transaction."""

    code: int
    message: str
    tx_id: bytes
    added: bool = False  # newly added: the caller gossips it
    evicted: int = 0  # gossiped transactions it displaced (rule 6), for metrics
    rule: str = ""  # the rulebook rule that refused it (docs/rulebook.md)
    retry_after_s: float = 0.0  # MEMPOOL_FULL: seconds the pool needs to make room

    @property
    def ok(self) -> bool:
        return self.code == ledger_pb2.OK


class Mempool:
    """Pending transactions, bounded in time, count and bytes, per account and per source."""

    def __init__(
        self,
        checker: TxChecker,
        *,
        max_txs: int,
        max_bytes: int,
        max_pending_per_account: int = DEFAULT_MAX_PENDING_PER_ACCOUNT,
        max_peer_share: float = DEFAULT_MAX_PEER_SHARE,
        max_pending_s: float | None = None,
        min_pending_txs: int = DEFAULT_MIN_PENDING_TXS,
        max_client_share: float = DEFAULT_MAX_CLIENT_SHARE,
        capacity: CommitCapacity | None = None,
    ) -> None:
        """A pool over checker's committed state.

        Args:
            checker: the ledger (its check_tx).
            max_txs: bound on pending transactions.
            max_bytes: bound on their total size.
            max_pending_per_account: bound on the pending transactions one account
                authorised (payer or signer).
            max_peer_share: the fraction (0 to 1] of the room (`room_txs`) and of
                max_bytes that the transactions gossiped by one peer may take.
            max_pending_s: seconds of measured commit capacity the pool holds at most
                (rule 5); None: no bound in time, the room is max_txs.
            min_pending_txs: the room never falls below this (nor above max_txs).
            max_client_share: the fraction (0 to 1] of the room that one API client
                (a source made by `api_source`) may take.
            capacity: the commit capacity estimate `committed` feeds (a new one if None).
        """
        self._checker = checker
        self.max_txs = max_txs
        self.max_bytes = max_bytes
        self.max_pending_per_account = max_pending_per_account
        self.max_peer_share = max_peer_share
        self.max_peer_bytes = max(1, int(max_bytes * max_peer_share))
        self.max_pending_s = max_pending_s
        self.min_pending_txs = min_pending_txs
        self.max_client_share = max_client_share
        self.capacity = capacity if capacity is not None else CommitCapacity()
        self._txs: dict[bytes, _Entry] = {}  # by tx_id, in admission order
        self.size_bytes = 0
        self._outflow: dict[tuple[str, str], int] = {}  # (account, asset) -> pending debits
        self._per_account: dict[str, int] = {}  # account -> pending txs it authorised
        self._by_source: dict[str, dict[bytes, None]] = {}  # source -> tx ids, oldest first
        self._source_bytes: dict[str, int] = {}
        # Indexes so a commit visits only what it may affect (rule 7).
        self._readers: dict[bytes, dict[bytes, None]] = {}  # state key -> tx ids reading it
        self._debiting: dict[bytes, dict[bytes, None]] = {}  # balance key -> tx ids debiting
        self._versions: dict[int, int] = {}  # rulebook version -> entries judged under it
        self._expiring: dict[int, dict[bytes, None]] = {}  # expires_at_height -> tx ids
        self._seq = 0
        self.results: dict[int, int] = {}  # admissions by result code, for metrics
        self.evicted = 0  # gossiped transactions evicted to make room

    def __len__(self) -> int:
        return len(self._txs)

    def __contains__(self, tx_id: bytes) -> bool:
        return tx_id in self._txs

    def get(self, tx_id: bytes) -> bytes | None:
        """The pending envelope with this id, or None."""
        entry = self._txs.get(tx_id)
        return None if entry is None else entry.raw

    def pending_outflow(self, account: str, asset: str) -> int:
        """What the pending transactions would take from account's balance of asset."""
        return self._outflow.get((account, asset), 0)

    def pending_count(self, account: str) -> int:
        """How many pending transactions account authorised."""
        return self._per_account.get(account, 0)

    def source_count(self, source: str) -> int:
        """How many pending transactions came from source (an API source or a peer id)."""
        return len(self._by_source.get(source, ()))

    @property
    def room_txs(self) -> int:
        """The pool's bound on transactions now: `max_pending_s` seconds of the measured
        commit capacity, at least `min_pending_txs` (while unknown too), at most max_txs."""
        if self.max_pending_s is None:
            return self.max_txs
        floor = min(self.min_pending_txs, self.max_txs)
        tps = self.capacity.tps
        if tps is None:
            return floor
        return max(floor, min(self.max_txs, math.ceil(self.max_pending_s * tps)))

    @property
    def max_peer_txs(self) -> int:
        """The transactions one peer's gossip may hold now (its share of the room)."""
        return max(1, int(self.room_txs * self.max_peer_share))

    @property
    def max_client_txs(self) -> int:
        """The transactions one API client may hold now (its share of the room)."""
        return max(1, int(self.room_txs * self.max_client_share))

    def committed(self, txs: int, *, now_s: float, synced: bool = False) -> None:
        """A block of txs transactions committed at now_s (monotonic seconds), after
        `update`: feeds the capacity estimate (node.capacity) with the pool's size then.

        Args:
            txs: transactions in the block.
            now_s: when this node committed it.
            synced: decided through block sync (does not measure the network's pace).
        """
        self.capacity.observe(txs, now_s=now_s, pending=len(self._txs), synced=synced)

    def room_for(self, source: str) -> int:
        """How many new transactions from source could be admitted now at most (room and
        share; an API source may also evict gossiped copies, rule 6)."""
        free = self.room_txs - len(self._txs)
        if is_api_source(source):
            free += sum(len(ids) for s, ids in self._by_source.items() if not is_api_source(s))
            if source == API_SOURCE:
                return max(0, free)
            share = self.max_client_txs
        else:
            share = self.max_peer_txs
        return max(0, min(free, share - self.source_count(source)))

    def refusals_ahead(self, raws: Sequence[bytes], *, source: str) -> list[Admission | None]:
        """What surely cannot fit now, answered without checking signatures or state.

        The cheap first step of admission (rule 5): once the pool or source's share is
        full, a newcomer costs a protobuf decode and a SHA-256, not a signature check and
        a ledger check. While there is any room, `add` decides for all (None here): most
        of them may be refused for other reasons and take no room, and their answer
        (PENDING_FUNDS_EXCEEDED, ...) says more than MEMPOOL_FULL.

        Args:
            raws: serialized TxEnvelopes, in order.
            source: where they come from, as for `add`.

        Returns:
            Per raw: the refusal (MEMPOOL_FULL, or PEER_SHARE_EXCEEDED for a peer over its
            share) or None when `add` must judge it (room left, already pending, or not
            an envelope at all).
        """
        out: list[Admission | None] = [None] * len(raws)
        if self.room_for(source) > 0:
            return out
        # The share binds, or the room does.
        code, message, retry = self._share_refusal(source, 0) or self._full_refusal(
            len(self._txs) + 1
        )
        for n, raw in enumerate(raws):
            try:
                tx_id = hashlib.sha256(ledger_pb2.TxEnvelope.FromString(raw).body).digest()
            except DecodeError:
                continue  # add answers MALFORMED, with no signature check either
            if tx_id in self._txs:
                continue  # add answers "already pending"
            out[n] = self._count(Admission(code, message, tx_id, retry_after_s=retry))
        return out

    def add(self, raw: bytes, *, next_height: int, source: str = API_SOURCE) -> Admission:
        """Admit one transaction: ledger check, de-duplication and the pool's bounds.

        Args:
            raw: a serialized TxEnvelope, as received.
            next_height: the height it would go into.
            source: `api_source` of this node's API client, else the gossiping peer's id.
        """
        outcome = self._checker.check_tx(raw, next_height=next_height)
        if outcome.code != ledger_pb2.OK:
            return self._count(
                Admission(outcome.code, outcome.message, outcome.tx_id, rule=outcome.rule)
            )
        tx_id = outcome.tx_id
        pending = self._txs.get(tx_id)
        if pending is not None:
            if is_api_source(source) and not is_api_source(pending.source):
                # Acknowledged by our API now: it is ours to keep, no longer evictable.
                self._unplace(tx_id, pending)
                pending = replace(pending, source=source)
                self._txs[tx_id] = pending
                self._place(tx_id, pending)
            # Already pending: resubmission is idempotent, so answer as the first time.
            return self._count(Admission(ledger_pb2.OK, "already pending", tx_id))
        refusal = self._account_refusal(outcome)
        if refusal is not None:
            code, message = refusal
            return self._count(Admission(code, message, tx_id))
        full = self._share_refusal(source, len(raw))
        victims = self._make_room(len(raw), source) if full is None else None
        if victims is None:
            code, message, retry = full or self._full_refusal(len(self._txs) + 1)
            return self._count(Admission(code, message, tx_id, retry_after_s=retry))
        for victim in victims:
            self._remove(victim)
            self.evicted += 1
            log.debug("mempool evicted %s for %s", victim.hex(), tx_id.hex())
        entry = _entry_of(raw, outcome, source, self._seq)
        self._seq += 1
        self._txs[tx_id] = entry
        self.size_bytes += len(raw)
        self._book(tx_id, entry)
        self._place(tx_id, entry)
        return self._count(
            Admission(ledger_pb2.OK, "pending", tx_id, added=True, evicted=len(victims))
        )

    def reap(self, *, max_txs: int, max_bytes: int) -> list[bytes]:
        """The oldest pending transactions that fit in a block; they stay in the pool."""
        out: list[bytes] = []
        total = 0
        for entry in self._txs.values():
            raw = entry.raw
            if len(out) >= max_txs or total + len(raw) > max_bytes:
                break
            out.append(raw)
            total += len(raw)
        return out

    def update(
        self,
        included: Iterable[bytes],
        *,
        next_height: int,
        written: Collection[bytes] | None = None,
    ) -> int:
        """After a commit: drop the included tx ids and re-check what the block may affect.

        Args:
            included: tx ids of the committed block.
            next_height: the height the remaining transactions would go into.
            written: the state keys the block wrote; the pending transactions whose
                verdict it may have changed are checked again (rule 7). None checks every
                pending transaction.

        Returns:
            How many remaining transactions were dropped by the re-check.
        """
        for tx_id in included:
            if tx_id in self._txs:
                self._remove(tx_id)
        again = self._affected(written, next_height)
        # Take them all out of the sums first, then book them again oldest first against
        # the new balances: the oldest keep their claim on the funds.
        for tx_id in again:
            self._unbook(tx_id, self._txs[tx_id])
        dropped = 0
        for tx_id in again:
            entry = self._txs[tx_id]
            outcome = self._checker.check_tx(entry.raw, next_height=next_height)
            refusal = (
                (outcome.code, outcome.message)
                if outcome.code != ledger_pb2.OK
                else self._account_refusal(outcome)
            )
            if refusal is not None:
                del self._txs[tx_id]
                self.size_bytes -= len(entry.raw)
                self._unplace(tx_id, entry)
                dropped += 1
                log.debug("mempool dropped %s on re-check: %s", tx_id.hex(), refusal[1])
                continue
            entry = _entry_of(entry.raw, outcome, entry.source, entry.seq)
            self._txs[tx_id] = entry  # same key: keeps its place in the order
            self._book(tx_id, entry)
        return dropped

    # ---- internals ----

    def _affected(self, written: Collection[bytes] | None, next_height: int) -> list[bytes]:
        """Pending tx ids whose verdict a commit may have changed (rule 7), oldest first."""
        if written is None or not self._txs:
            return list(self._txs)
        version = self._checker.rulebook_version_at(next_height)
        if len(self._versions) > 1 or version not in self._versions:
            return list(self._txs)  # another rulebook is in force: judge everything again
        ids: set[bytes] = set()
        for key in written:
            ids.update(self._readers.get(key, ()))
            debtors = self._debiting.get(key)
            if debtors:
                account, asset = self._debited_pair(next(iter(debtors)), key)
                if self._outflow.get((account, asset), 0) > self._checker.balance(account, asset):
                    ids.update(debtors)  # the balance no longer covers what is pending
        for height, expiring in self._expiring.items():  # at most max_tx_ttl heights
            if height < next_height:
                ids.update(expiring)
        return sorted(ids, key=lambda tx_id: self._txs[tx_id].seq)

    def _debited_pair(self, tx_id: bytes, key: bytes) -> tuple[str, str]:
        """The (account, asset) whose balance key is key, from a transaction debiting it."""
        for account, asset, _, debit_key in self._txs[tx_id].debits:
            if debit_key == key:
                return account, asset
        raise AssertionError("the debit index names a transaction that does not debit it")

    def _account_refusal(self, outcome: CheckOutcome) -> tuple[int, str] | None:
        """Refusal by the per-account cap or the pending outflows, given what is pending."""
        for account in outcome.accounts:
            count = self._per_account.get(account, 0)
            if count >= self.max_pending_per_account:
                return (
                    ledger_pb2.PENDING_TXS_EXCEEDED,
                    f"{account!r} already has {count} pending transactions, the limit per "
                    "account; retry once some are committed",
                )
        for debit in outcome.debits:
            pending = self._outflow.get((debit.account, debit.asset), 0)
            if pending + debit.amount > debit.balance:
                return (
                    ledger_pb2.PENDING_FUNDS_EXCEEDED,
                    f"{debit.account!r} holds {debit.balance} {debit.asset}, of which "
                    f"{pending} is already claimed by its pending transactions; this one "
                    f"would take {debit.amount} more",
                )
        return None

    def _share_refusal(self, source: str, size: int) -> tuple[int, str, float] | None:
        """Refusal of one more transaction of size bytes from source by its share (rule 4):
        (code, message, retry after seconds), or None."""
        if source == API_SOURCE:
            return None
        count = self.source_count(source)
        if is_api_source(source):
            limit = self.max_client_txs
            if count + 1 <= limit:
                return None
            return (
                ledger_pb2.MEMPOOL_FULL,
                f"mempool full for this client: it holds {count} pending transactions, "
                f"its share of the pool's room of {self._room_text()}; "
                "retry once some are committed",
                self._drain_s(count + 1 - limit),
            )
        held = self._source_bytes.get(source, 0)
        if count + 1 > self.max_peer_txs or held + size > self.max_peer_bytes:
            return (
                ledger_pb2.PEER_SHARE_EXCEEDED,
                f"peer {source[:16]} already holds {count} txs ({held} bytes), its share "
                f"of the mempool is {self.max_peer_txs} txs ({self.max_peer_bytes} bytes)",
                self._drain_s(count + 1 - self.max_peer_txs),
            )
        return None

    def _full_refusal(self, needed: int) -> tuple[int, str, float]:
        """MEMPOOL_FULL for a pool that would need to hold `needed` transactions."""
        held = len(self._txs)
        return (
            ledger_pb2.MEMPOOL_FULL,
            f"mempool full: it holds {held} transactions ({self.size_bytes} bytes), its room "
            f"is {self._room_text()}; retry later",
            self._drain_s(needed - self.room_txs),
        )

    def _room_text(self) -> str:
        """The room for messages, in time when it is measured: "3000 transactions (4 s of
        the network's measured commit capacity of 750 tx/s; the pool holds 4.0 s of it)"."""
        text = f"{self.room_txs} transactions"
        tps = self.capacity.tps
        if self.max_pending_s is None or not tps:
            return text
        seconds = len(self._txs) / tps
        return (
            f"{text} ({self.max_pending_s:g} s of the network's measured commit capacity "
            f"of {tps:.0f} tx/s; the pool holds {seconds:.1f} s of it)"
        )

    def _drain_s(self, excess: int) -> float:
        """Seconds the pool needs to commit excess transactions at the measured capacity
        (at least 1; 1 while the capacity is unknown)."""
        tps = self.capacity.tps
        if not tps:
            return 1.0
        return max(1.0, excess / tps)

    def _make_room(self, size: int, source: str) -> list[bytes] | None:
        """The gossiped tx ids to evict so that a newcomer fits (rule 6), or None."""
        count, total, room = len(self._txs), self.size_bytes, self.room_txs
        if count < room and total + size <= self.max_bytes:
            return []
        held = {s: len(ids) for s, ids in self._by_source.items() if not is_api_source(s) and ids}
        newest: dict[str, Iterator[bytes]] = {}
        mine = held.get(source, 0)
        victims: list[bytes] = []
        while count >= room or total + size > self.max_bytes:
            if not held or len(victims) >= MAX_EVICTIONS:
                return None
            victim_source = max(held, key=lambda s: held[s])
            if not is_api_source(source) and held[victim_source] <= mine + 1:
                return None  # evicting would leave the newcomer's peer the larger one
            ids = newest.setdefault(victim_source, reversed(self._by_source[victim_source]))
            tx_id = next(ids)
            victims.append(tx_id)
            held[victim_source] -= 1
            if held[victim_source] == 0:
                del held[victim_source]
            count -= 1
            total -= len(self._txs[tx_id].raw)
        return victims

    def _remove(self, tx_id: bytes) -> None:
        entry = self._txs.pop(tx_id)
        self.size_bytes -= len(entry.raw)
        self._unbook(tx_id, entry)
        self._unplace(tx_id, entry)

    def _book(self, tx_id: bytes, entry: _Entry) -> None:
        """Count entry in the per-account sums and the account index."""
        for account in entry.accounts:
            self._per_account[account] = self._per_account.get(account, 0) + 1
        for account, asset, amount, balance_key in entry.debits:
            pair = (account, asset)
            self._outflow[pair] = self._outflow.get(pair, 0) + amount
            self._debiting.setdefault(balance_key, {})[tx_id] = None
        for key in entry.reads:
            self._readers.setdefault(key, {})[tx_id] = None
        version = entry.rulebook_version
        self._versions[version] = self._versions.get(version, 0) + 1

    def _unbook(self, tx_id: bytes, entry: _Entry) -> None:
        """Undo _book."""
        for key in entry.reads:
            _discard(self._readers, key, tx_id)
        left = self._versions[entry.rulebook_version] - 1
        if left:
            self._versions[entry.rulebook_version] = left
        else:
            del self._versions[entry.rulebook_version]
        for account in entry.accounts:
            left = self._per_account[account] - 1
            if left:
                self._per_account[account] = left
            else:
                del self._per_account[account]
        for account, asset, amount, balance_key in entry.debits:
            _discard(self._debiting, balance_key, tx_id)
            pair = (account, asset)
            rest = self._outflow[pair] - amount
            if rest:
                self._outflow[pair] = rest
            else:
                del self._outflow[pair]

    def _place(self, tx_id: bytes, entry: _Entry) -> None:
        """Index entry by its source and its expiry."""
        self._by_source.setdefault(entry.source, {})[tx_id] = None
        self._source_bytes[entry.source] = self._source_bytes.get(entry.source, 0) + len(entry.raw)
        self._expiring.setdefault(entry.expires_at_height, {})[tx_id] = None

    def _unplace(self, tx_id: bytes, entry: _Entry) -> None:
        """Undo _place."""
        _discard(self._expiring, entry.expires_at_height, tx_id)
        rest = self._source_bytes[entry.source] - len(entry.raw)
        if _discard(self._by_source, entry.source, tx_id):
            self._source_bytes[entry.source] = rest
        else:
            del self._source_bytes[entry.source]

    def _count(self, admission: Admission) -> Admission:
        self.results[admission.code] = self.results.get(admission.code, 0) + 1
        return admission


def _discard(index: dict[_K, dict[bytes, None]], key: _K, tx_id: bytes) -> bool:
    """Remove tx_id from index[key], and the key once empty; whether any are left."""
    ids = index[key]
    del ids[tx_id]
    if ids:
        return True
    del index[key]
    return False
