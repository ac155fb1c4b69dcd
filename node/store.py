"""The node's LevelDB store (plyvel).

One database per node, key prefixes per kind of record:

==============  ==========================================  ===========================
prefix          key                                         value
==============  ==========================================  ===========================
``s/``          ledger state key (the ledger's key space)   ledger state value
``b/``          height (u64 BE)                             serialized Block
``h/``          block hash                                  height (u64 BE)
``c/``          height (u64 BE)                             CommitCertificate for it
``r/``          height (u64 BE) + index (u32 BE)            serialized Receipt
``t/``          tx id                                       height (u64) + index (u32) + code (u32)
                                                            + settled (u8)
``a/``          account id + NUL + height + index           tx id (account statement)
``v/``          height (u64 BE)                             ValidatorSet of that height
``u/``          UETR (16 bytes) + height + index            tx id (payment by UETR)
``e/``          payer + NUL + end-to-end id + NUL           tx id (payment by end-to-end
                + height + index                            id, per paying account)
``ab/``         account id + NUL + asset + NUL + height     balance before and after the
                                                            block (u128 BE each)
``m/``          ``height``, ``app_hash``, ``block_hash``,    metadata
                ``genesis``, ``balances_from``
==============  ==========================================  ===========================

Everything a committed block changes goes into ONE write batch written with
``sync=True``: the block, its certificate, receipts, state writes, indexes and the new
height. LevelDB applies a batch atomically, so after a kill at any instant a reopen finds
either the whole block or none of it.

Rules of the tx index (``t/``) and the account statements (``a/``), so that nobody can
squat a tx id (node/ledger/_ledger.py rule 6):

1. Only a receipt that speaks for its tx id (``Receipt.speaks_for_tx``) is indexed. A
   copy refused for its envelope (junk signatures, too large, undecodable) stays in its
   block's receipts (``r/``) and nowhere else.
2. A settled entry (``Receipt.authorised``: its signatures were accepted) is final: no
   later receipt with that id moves it (DUPLICATE, EXPIRED after the seen record was
   pruned, or any other refusal).
3. A body-only refusal entry is replaced by the next receipt of that id that speaks: a
   later settled one (for example UNKNOWN_ACCOUNT before the account existed, then OK)
   or a later refusal (TTL_TOO_LONG, then EXPIRED): the entry is the latest verdict
   until one settles the id.
4. An account statement lists settled receipts only (they alone name accounts).
   So do the payment indexes (``u/``, ``e/``): a settled transfer whose receipt says it
   carries payment ids (``Receipt.carries_payment_ids``) is indexed by each leg's UETR,
   and by each leg's (payer, end-to-end id), read from its body in the block. Neither id
   is unique on the chain (the ledger does not refuse a repeat), so each maps to a list
   of tx ids in chain order. Like the other indexes they are derived data, outside the
   ledger state and so outside the app hash.
5. An entry written before the settled flag existed (16 bytes) counts as settled if its
   code is OK (only an authorised transaction gets OK), else as a body-only refusal.

The balance index (``ab/``) is what statements (camt.053) read their opening and closing
balances from, in one seek however old the range:

9. Every balance a block changes gets one entry at that height: the balance before the
   block and after it. So the balance at the end of height H is the ``after`` of the last
   entry at or below H, else the ``before`` of the first entry above H, else the balance
   now (it never changed since genesis).
10. ``m/balances_from`` is the first height whose changes are indexed: 1 for a database
   initialised with the index, else the first block this code committed. A balance at
   the end of a height below ``balances_from - 1`` is unknown (`balance_at` says None).

The state cache (`StateCache`) keeps committed ``s/`` values in memory, absent keys
included, so that a ledger read does not go to LevelDB each time. Rules it keeps:

6. It never holds a value that LevelDB does not: before a block's batch is written, the
   keys it writes are dropped from the cache; once the batch is written they are put
   back with their new values (write-through), before `commit_block` returns, except
   the seen marks of committed transactions (``seen/``): one is read again only for a
   duplicate, and holding every one would fill the cache with keys nobody reads,
   pushing out the accounts and balances the next payments read. A reader
   during the commit sees, for each key, what LevelDB alone would show it: a key the
   block does not write is the same before and after, and a key it writes is read from
   LevelDB.
7. A value read from LevelDB is remembered only if no commit began or ended while it
   was read (a generation count), so a read that raced a commit cannot put back a value
   the commit has just replaced.
8. It holds at most ``max_bytes`` (keys, values and a fixed estimate of each entry's
   overhead), dropping the least recently used entries first; 0 disables it.
"""

from __future__ import annotations

import itertools
import os
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import plyvel

from node.errors import NodeError
from proto import block_pb2, ledger_pb2

STATE: Final = b"s/"
_UNCACHED: Final = b"seen/"  # ledger keys a commit does not put back in the cache (rule 6)
BLOCK: Final = b"b/"
HASH: Final = b"h/"
COMMIT: Final = b"c/"
RECEIPT: Final = b"r/"
TX: Final = b"t/"
ACCOUNT_TXS: Final = b"a/"
VALSET: Final = b"v/"
PAYMENT_UETR: Final = b"u/"
PAYMENT_E2E: Final = b"e/"
BALANCE_CHANGES: Final = b"ab/"
#: The ledger's balance keys (node/ledger/_keys.py): ``bal/`` + account id + ``/`` + asset.
_LEDGER_BALANCE: Final = b"bal/"
#: The most tx ids a payment lookup returns.
MAX_PAYMENT_MATCHES: Final = 100
META_HEIGHT: Final = b"m/height"
META_APP_HASH: Final = b"m/app_hash"
META_BLOCK_HASH: Final = b"m/block_hash"
META_GENESIS: Final = b"m/genesis"
META_BALANCES_FROM: Final = b"m/balances_from"

_U64 = struct.Struct(">Q")
_TX_LOC = struct.Struct(">QIIB")
_TX_LOC_V1 = struct.Struct(">QII")  # before the settled flag (rule 5)
_HI = struct.Struct(">QI")
_BEFORE_AFTER = struct.Struct(">16s16s")

#: Default bound of the state cache: ``[storage] state_cache_mb`` (docs/deployment.md).
DEFAULT_STATE_CACHE_MB: Final = 64
#: LevelDB options. A Bloom filter of 10 bits a key lets a read of an absent key (a new
#: tx id's seen key and index entry, an unfunded balance) skip the tables that cannot hold
#: it; a 16 MiB write buffer (LevelDB's default is 4 MiB) flushes a quarter as many level-0
#: tables under load, so background compaction rewrites less.
LEVELDB_BLOOM_BITS: Final = 10
LEVELDB_WRITE_BUFFER_BYTES: Final = 16 * 1024 * 1024
#: State entries per write batch while a genesis is written (bounds its memory).
GENESIS_BATCH_WRITES: Final = 50_000
#: What one cache entry costs besides its key and value bytes: two bytes objects' headers
#: and the ordered dict's slot and links (measured with tracemalloc on CPython 3.11).
CACHE_ENTRY_OVERHEAD: Final = 200


class StoreError(NodeError):
    """The database cannot be opened or is inconsistent."""


class StoreLockedError(StoreError):
    """Another process holds the database lock."""


@dataclass(frozen=True, slots=True)
class TxLocation:
    """Where a committed transaction sits, and its result code.

    settled: its signatures were accepted (the entry is final, store rule 2); False for a
    refusal of its body alone.
    """

    height: int
    index: int
    code: int
    settled: bool = False


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of an account statement."""

    height: int
    index: int
    tx_id: bytes

    @property
    def cursor(self) -> str:
        """Opaque pagination cursor: pass it as ``after`` to continue after this entry."""
        return f"{self.height}-{self.index}"


@dataclass(frozen=True, slots=True)
class BlockCommit:
    """Everything one committed block writes, applied in a single synced batch."""

    height: int
    block: bytes
    block_hash: bytes
    commit: bytes
    receipts: Sequence[ledger_pb2.Receipt]
    writes: Sequence[tuple[bytes, bytes | None]]
    app_hash: bytes
    validator_sets: Sequence[tuple[int, bytes]] = ()


@dataclass(frozen=True, slots=True)
class StateCacheStats:
    """What the state cache counted, and how full it is (``tenge_store_state_cache_*``).

    Attributes:
        hits: reads answered from memory.
        misses: reads that went to LevelDB.
        evictions: entries dropped to keep within the bound.
        entries: entries held now (absent keys included).
        bytes: their estimated size.
        max_bytes: the bound (``[storage] state_cache_mb``).
    """

    hits: int
    misses: int
    evictions: int
    entries: int
    bytes: int
    max_bytes: int


class _Missing:
    """The type of the marker for a key the cache does not hold."""


_MISSING: Final = _Missing()


def _cost(key: bytes, value: bytes | None) -> int:
    return CACHE_ENTRY_OVERHEAD + len(key) + (0 if value is None else len(value))


class StateCache:
    """A bounded map of committed ledger state, least recently used dropped first.

    A key maps to its value, or to None when the key is absent from state (a negative
    entry). Not thread-safe by itself: `Store` calls it under its lock (store rule 6).
    """

    __slots__ = ("_entries", "bytes", "evictions", "hits", "max_bytes", "misses")

    def __init__(self, max_bytes: int) -> None:
        self._entries: OrderedDict[bytes, bytes | None] = OrderedDict()
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: bytes) -> bool:
        return key in self._entries

    def lookup(self, key: bytes) -> bytes | _Missing | None:
        """The cached value of key (None: known absent), or ``_MISSING``; counts it.

        Safe without the lock while another thread changes the cache under it: each dict
        step is atomic, and an entry dropped between them was still the committed value
        when it was read (store rule 6). The counters may then miss a count.
        """
        entries = self._entries
        value = entries.get(key, _MISSING)
        if value is _MISSING:
            self.misses += 1
            return value
        self.hits += 1
        try:  # noqa: SIM105 (contextlib.suppress costs a context manager on every hit)
            entries.move_to_end(key)
        except KeyError:  # dropped by a commit meanwhile
            pass
        return value

    def put(self, key: bytes, value: bytes | None) -> None:
        """Hold key's committed value, dropping the oldest entries past the bound."""
        entries = self._entries
        old = entries.pop(key, _MISSING)
        if not isinstance(old, _Missing):
            self.bytes -= _cost(key, old)
        cost = _cost(key, value)
        if cost > self.max_bytes:
            return
        entries[key] = value
        self.bytes += cost
        while self.bytes > self.max_bytes:
            old_key, old_value = entries.popitem(last=False)
            self.bytes -= _cost(old_key, old_value)
            self.evictions += 1

    def put_all(self, items: Iterable[tuple[bytes, bytes | None]]) -> None:
        """`put` each (key, value), in order: a block's writes after its batch."""
        entries, limit = self._entries, self.max_bytes
        pop = entries.pop
        size = self.bytes
        for key, value in items:
            old = pop(key, _MISSING)
            if not isinstance(old, _Missing):
                size -= CACHE_ENTRY_OVERHEAD + len(key) + (0 if old is None else len(old))
            cost = CACHE_ENTRY_OVERHEAD + len(key) + (0 if value is None else len(value))
            if cost <= limit:
                entries[key] = value
                size += cost
        while size > limit:
            old_key, old_value = entries.popitem(last=False)
            size -= _cost(old_key, old_value)
            self.evictions += 1
        self.bytes = size

    def discard(self, key: bytes) -> None:
        """Forget key, if held."""
        value = self._entries.pop(key, _MISSING)
        if not isinstance(value, _Missing):
            self.bytes -= _cost(key, value)

    def discard_all(self, keys: Iterable[tuple[bytes, bytes | None]]) -> None:
        """`discard` the key of each (key, value): a block's writes before its batch."""
        pop = self._entries.pop
        size = self.bytes
        for key, _ in keys:
            old = pop(key, _MISSING)
            if not isinstance(old, _Missing):
                size -= CACHE_ENTRY_OVERHEAD + len(key) + (0 if old is None else len(old))
        self.bytes = size

    def clear(self) -> None:
        """Forget every entry (the counters stay)."""
        self._entries.clear()
        self.bytes = 0

    def stats(self) -> StateCacheStats:
        return StateCacheStats(
            self.hits, self.misses, self.evictions, len(self._entries), self.bytes, self.max_bytes
        )


class Store:
    """A LevelDB database holding the chain and the ledger state of one node.

    Args:
        path: the database directory (created if missing).
        state_cache_bytes: bound of the in-memory cache of committed state (`StateCache`,
            store rules 6 to 8); 0 reads every state key from LevelDB.

    Raises:
        StoreLockedError: another process already has the database open.
        StoreError: the database cannot be opened.
    """

    def __init__(
        self, path: Path | str, *, state_cache_bytes: int = DEFAULT_STATE_CACHE_MB * 1024 * 1024
    ) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            self._db = plyvel.DB(
                str(self.path),
                create_if_missing=True,
                bloom_filter_bits=LEVELDB_BLOOM_BITS,
                write_buffer_size=LEVELDB_WRITE_BUFFER_BYTES,
            )
        except plyvel.IOError as e:
            if "lock" in str(e).lower():
                raise StoreLockedError(
                    f"{self.path}: the database is locked by another process "
                    "(is another node running with this home?)"
                ) from e
            raise StoreError(f"{self.path}: cannot open the database: {e}") from e
        except plyvel.Error as e:
            raise StoreError(f"{self.path}: cannot open the database: {e}") from e
        self._closed = False
        self._cache = StateCache(state_cache_bytes) if state_cache_bytes > 0 else None
        self._lock = threading.Lock()  # guards changes to the cache and the two counts below
        self._generation = 0  # + 1 when a state write begins and when it ends (rule 7)
        self._writing = 0  # state writes under way
        raw = self._db.get(META_HEIGHT)
        self.height: int = _U64.unpack(raw)[0] if raw else 0
        self.app_hash: bytes = self._db.get(META_APP_HASH, b"")
        self.block_hash: bytes = self._db.get(META_BLOCK_HASH, b"")
        raw = self._db.get(META_BALANCES_FROM)
        #: The first height the balance index covers (rule 10); None until one is written.
        self.balances_from: int | None = _U64.unpack(raw)[0] if raw else None

    # ---- lifecycle ----

    def close(self) -> None:
        """Close the database; safe to call twice."""
        if not self._closed:
            self._closed = True
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def is_initialized(self) -> bool:
        """True once the genesis state has been written."""
        return self._db.get(META_GENESIS) is not None

    def genesis_hash(self) -> bytes | None:
        """The hash of the genesis this database was initialised from."""
        value: bytes | None = self._db.get(META_GENESIS)
        return value

    def init_genesis(
        self,
        genesis_hash: bytes,
        writes: Iterable[tuple[bytes, bytes]],
        app_hash: bytes | Callable[[Iterable[tuple[bytes, bytes]]], bytes],
        validator_sets: Sequence[tuple[int, bytes]] = (),
    ) -> None:
        """Write the genesis state at height 0, once.

        Args:
            genesis_hash: identifies the genesis (a database of another one is refused).
            writes: the state, each key once, in any order. It may be a stream (a genesis
                accounts file of millions of accounts): it is written in batches of
                `GENESIS_BATCH_WRITES` and never held.
            app_hash: the genesis app hash, or the function that computes it from the
                state in key order; it is then given the state read back from the
                database, a stream too.
            validator_sets: (height, serialized ValidatorSet) to record.

        The database counts as initialised only once the last batch, with the genesis
        hash, is written (synced). An exception from writes (an invalid accounts file)
        or a kill before that leaves no genesis hash: what was written is removed, here
        or by the next call, before it writes again.

        Raises:
            StoreError: the database already holds a different genesis.
        """
        existing = self.genesis_hash()
        if existing is not None:
            if existing != genesis_hash:
                raise StoreError(
                    f"{self.path}: the database was initialised from another genesis "
                    f"({existing.hex()[:16]}..., not {genesis_hash.hex()[:16]}...)"
                )
            return
        self._begin_state_write(None)
        try:
            self._delete_state()  # an earlier attempt's, if any
            try:
                self._write_state(writes)
            except BaseException:
                self._delete_state()
                raise
            if callable(app_hash):
                cut = len(STATE)
                app_hash = app_hash(
                    (key[cut:], value) for key, value in self._db.iterator(prefix=STATE)
                )
            with self._db.write_batch(sync=True) as batch:
                for height, valset in validator_sets:
                    batch.put(VALSET + _U64.pack(height), valset)
                batch.put(META_APP_HASH, app_hash)
                batch.put(META_HEIGHT, _U64.pack(0))
                batch.put(META_BALANCES_FROM, _U64.pack(1))
                batch.put(META_GENESIS, genesis_hash)
        finally:
            self._end_state_write(())
        self.app_hash = app_hash
        self.balances_from = 1

    def _write_state(self, writes: Iterable[tuple[bytes, bytes]]) -> None:
        """Write state entries in batches of GENESIS_BATCH_WRITES (the last one synced by
        init_genesis's final batch, which follows them in LevelDB's log)."""
        batch = self._db.write_batch()
        pending = 0
        for key, value in writes:
            batch.put(STATE + key, value)
            pending += 1
            if pending >= GENESIS_BATCH_WRITES:
                batch.write()
                batch = self._db.write_batch()
                pending = 0
        batch.write()

    def _delete_state(self) -> None:
        """Remove every state entry (an interrupted genesis's), in bounded batches."""
        while True:
            with self._db.iterator(prefix=STATE, include_value=False) as keys:
                chunk = list(itertools.islice(keys, GENESIS_BATCH_WRITES))
            if not chunk:
                return
            with self._db.write_batch() as batch:
                for key in chunk:
                    batch.delete(key)

    # ---- state (the ledger's StateReader) ----

    def get(self, key: bytes) -> bytes | None:
        """The committed value of a ledger state key, or None.

        Answered from the state cache when it holds the key; safe to call from another
        thread than the one running `commit_block` (store rules 6 and 7).
        """
        cache = self._cache
        if cache is None:
            found: bytes | None = self._db.get(STATE + key)
            return found
        generation = self._generation  # before the lookup and the read (rule 7)
        value = cache.lookup(key)
        if not isinstance(value, _Missing):
            return value
        read: bytes | None = self._db.get(STATE + key)
        with self._lock:
            if generation == self._generation and not self._writing:
                cache.put(key, read)
        return read

    @property
    def state_version(self) -> int | None:
        """A number that changes with every state write, None while one is under way.

        The ledger remembers what it derives from state for one version
        (node/ledger/_state.py `VersionedState`); equal versions read equal state.
        """
        if self._writing:
            return None
        return self._generation

    def state_cache_stats(self) -> StateCacheStats | None:
        """The state cache's counters and size, or None when it is disabled."""
        if self._cache is None:
            return None
        with self._lock:
            return self._cache.stats()

    def _begin_state_write(self, keys: Sequence[tuple[bytes, bytes | None]] | None) -> None:
        """Before a batch that writes state: drop the keys it writes (all when None)."""
        with self._lock:
            self._generation += 1
            self._writing += 1
            if self._cache is not None:
                if keys is None:
                    self._cache.clear()
                else:
                    self._cache.discard_all(keys)

    def _end_state_write(self, written: Sequence[tuple[bytes, bytes | None]]) -> None:
        """After the batch: hold what it wrote (``()`` when it failed or wrote nothing)."""
        with self._lock:
            self._generation += 1
            self._writing -= 1
            if self._cache is not None:
                self._cache.put_all(
                    (key, value) for key, value in written if not key.startswith(_UNCACHED)
                )

    def iter_state(
        self, prefix: bytes, start: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Committed state entries whose key starts with prefix, in key order.

        start: begin at the first key >= start (a ledger key, without the store's prefix).
        """
        cut = len(STATE)
        if start is None:
            entries = self._db.iterator(prefix=STATE + prefix)
        else:
            entries = self._db.iterator(
                start=STATE + max(prefix, start), stop=STATE + _after_prefix(prefix)
            )
        for key, value in entries:
            yield key[cut:], value

    # ---- commit ----

    def commit_block(self, commit: BlockCommit) -> None:
        """Apply one committed block in a single synced write batch.

        Raises:
            StoreError: the block does not follow the stored height.
        """
        if commit.height != self.height + 1:
            raise StoreError(
                f"block {commit.height} does not follow the stored height {self.height}"
            )
        self._begin_state_write(commit.writes)
        written: Sequence[tuple[bytes, bytes | None]] = ()
        try:
            self._write_block(commit)
            written = commit.writes
        finally:
            self._end_state_write(written)
        self.height = commit.height
        self.app_hash = commit.app_hash
        self.block_hash = commit.block_hash
        if self.balances_from is None:
            self.balances_from = commit.height

    def _write_block(self, commit: BlockCommit) -> None:
        height_key = _U64.pack(commit.height)
        before = {  # rule 9: read before the batch is written
            key: self._db.get(STATE + key)
            for key, _ in commit.writes
            if key.startswith(_LEDGER_BALANCE)
        }
        indexed: dict[bytes, bool] = {}  # tx id -> settled, for ids indexed by this block
        txs: Sequence[bytes] | None = None  # the block's envelopes, decoded when needed
        with self._db.write_batch(sync=True, transaction=True) as batch:
            batch.put(BLOCK + height_key, commit.block)
            batch.put(HASH + commit.block_hash, height_key)
            batch.put(COMMIT + height_key, commit.commit)
            for receipt in commit.receipts:
                index_key = _HI.pack(commit.height, receipt.index)
                batch.put(RECEIPT + index_key, receipt.SerializeToString())
                if not receipt.speaks_for_tx:  # rule 1
                    continue
                tx_id = receipt.tx_id
                settled = receipt.authorised
                final = indexed.get(tx_id)  # indexed by this block already
                if final is None:
                    found = _location(self._db.get(TX + tx_id))
                    final = found is not None and found.settled
                if not final:  # rules 2 and 3
                    location = _TX_LOC.pack(commit.height, receipt.index, receipt.code, settled)
                    batch.put(TX + tx_id, location)
                    indexed[tx_id] = settled
                if settled:  # rule 4
                    for account in receipt.accounts:
                        batch.put(ACCOUNT_TXS + account.encode() + b"\x00" + index_key, tx_id)
                    if receipt.carries_payment_ids:
                        if txs is None:
                            txs = _block_txs(commit.block)
                        for key in _payment_keys(txs[receipt.index]):
                            batch.put(key + index_key, tx_id)
            for key, value in commit.writes:
                if value is None:
                    batch.delete(STATE + key)
                else:
                    batch.put(STATE + key, value)
                if key in before:  # rule 9
                    batch.put(
                        _balance_prefix(key) + height_key,
                        _BEFORE_AFTER.pack(_u128(before[key]), _u128(value)),
                    )
            if self.balances_from is None:  # rule 10
                batch.put(META_BALANCES_FROM, height_key)
            for height, valset in commit.validator_sets:
                batch.put(VALSET + _U64.pack(height), valset)
            batch.put(META_HEIGHT, height_key)
            batch.put(META_APP_HASH, commit.app_hash)
            batch.put(META_BLOCK_HASH, commit.block_hash)

    def replace_commit(self, height: int, commit: bytes) -> None:
        """Store a (larger) certificate for an already committed block."""
        if not 1 <= height <= self.height:
            raise StoreError(f"no committed block at height {height}")
        self._db.put(COMMIT + _U64.pack(height), commit, sync=True)

    # ---- queries ----

    def get_block(self, height: int) -> bytes | None:
        """The serialized Block at height, or None."""
        value: bytes | None = self._db.get(BLOCK + _U64.pack(height))
        return value

    def get_commit(self, height: int) -> bytes | None:
        """The serialized CommitCertificate for the block at height, or None."""
        value: bytes | None = self._db.get(COMMIT + _U64.pack(height))
        return value

    def height_of(self, block_hash: bytes) -> int | None:
        """The height of the block with this hash, or None."""
        raw = self._db.get(HASH + block_hash)
        return None if raw is None else int(_U64.unpack(raw)[0])

    def get_receipts(self, height: int) -> list[ledger_pb2.Receipt]:
        """Receipts of the block at height, in block order."""
        out = []
        for _, value in self._db.iterator(prefix=RECEIPT + _U64.pack(height)):
            receipt = ledger_pb2.Receipt()
            receipt.ParseFromString(value)
            out.append(receipt)
        return out

    def get_receipt(self, height: int, index: int) -> ledger_pb2.Receipt | None:
        """One receipt, or None."""
        raw = self._db.get(RECEIPT + _HI.pack(height, index))
        if raw is None:
            return None
        receipt = ledger_pb2.Receipt()
        receipt.ParseFromString(raw)
        return receipt

    def find_tx(self, tx_id: bytes) -> TxLocation | None:
        """Where a committed transaction is, or None."""
        raw = self._db.get(TX + tx_id)
        location = _location(raw)
        if raw is not None and location is None:
            raise StoreError(f"tx index entry {tx_id.hex()} has {len(raw)} bytes")
        return location

    def get_tx(self, tx_id: bytes) -> bytes | None:
        """The envelope bytes of a committed transaction, as submitted."""
        loc = self.find_tx(tx_id)
        if loc is None:
            return None
        raw = self.get_block(loc.height)
        if raw is None:
            raise StoreError(f"tx index points at missing block {loc.height}")
        block = block_pb2.Block()
        block.ParseFromString(raw)
        return block.txs[loc.index]

    def account_history(
        self, account_id: str, *, after: str | None = None, limit: int = 100
    ) -> list[HistoryEntry]:
        """The account's committed transactions in chain order, paginated by cursor.

        Raises:
            ValueError: the cursor is malformed.
        """
        prefix = ACCOUNT_TXS + account_id.encode() + b"\x00"
        start = prefix
        if after is not None:
            height, index = parse_cursor(after)
            start = prefix + _HI.pack(height, index) + b"\x00"
        out: list[HistoryEntry] = []
        if limit <= 0:
            return out
        for key, tx_id in self._db.iterator(start=start, stop=prefix[:-1] + b"\x01"):
            height, index = _HI.unpack(key[len(prefix) :])
            out.append(HistoryEntry(height, index, tx_id))
            if len(out) >= limit:
                break
        return out

    def account_history_between(
        self, account_id: str, from_height: int, to_height: int, *, limit: int
    ) -> list[HistoryEntry]:
        """The account's committed transactions at heights from_height to to_height (both
        included), in chain order, at most limit."""
        prefix = ACCOUNT_TXS + account_id.encode() + b"\x00"
        start = prefix + _HI.pack(max(0, from_height), 0)
        stop = prefix + _HI.pack(min(to_height + 1, 2**64 - 1), 0)
        out: list[HistoryEntry] = []
        if limit <= 0 or from_height > to_height:
            return out
        for key, tx_id in self._db.iterator(start=start, stop=stop):
            height, index = _HI.unpack(key[len(prefix) :])
            out.append(HistoryEntry(height, index, tx_id))
            if len(out) >= limit:
                break
        return out

    def balance_at(self, account_id: str, asset: str, height: int) -> int | None:
        """The account's balance of asset at the end of height (rule 9); None when the
        balance index does not reach back that far (rule 10)."""
        if self.balances_from is None or height < self.balances_from - 1:
            return None
        ledger_key = _LEDGER_BALANCE + account_id.encode() + b"/" + asset.encode()
        prefix = _balance_prefix(ledger_key)
        cut = prefix + _U64.pack(min(height + 1, 2**64 - 1))
        for _, value in self._db.iterator(start=prefix, stop=cut, reverse=True):
            return int.from_bytes(_BEFORE_AFTER.unpack(value)[1], "big")
        for _, value in self._db.iterator(start=cut, stop=_after_prefix(prefix)):
            return int.from_bytes(_BEFORE_AFTER.unpack(value)[0], "big")
        return int.from_bytes(self.get(ledger_key) or b"", "big")

    def balance_changes(
        self, account_id: str, asset: str, from_height: int, to_height: int, *, limit: int
    ) -> dict[int, tuple[int, int]]:
        """height -> (balance before, after) of each block from_height to to_height that
        changed the account's balance of asset, at most limit of them (rule 9)."""
        ledger_key = _LEDGER_BALANCE + account_id.encode() + b"/" + asset.encode()
        prefix = _balance_prefix(ledger_key)
        start = prefix + _U64.pack(max(0, from_height))
        stop = prefix + _U64.pack(min(to_height + 1, 2**64 - 1))
        out: dict[int, tuple[int, int]] = {}
        if limit <= 0 or from_height > to_height:
            return out
        for key, value in self._db.iterator(start=start, stop=stop):
            before, after = _BEFORE_AFTER.unpack(value)
            out[_U64.unpack(key[len(prefix) :])[0]] = (
                int.from_bytes(before, "big"),
                int.from_bytes(after, "big"),
            )
            if len(out) >= limit:
                break
        return out

    def payments_by_uetr(self, uetr: bytes, *, limit: int = MAX_PAYMENT_MATCHES) -> list[bytes]:
        """Tx ids of the settled transfers with a leg of this UETR (16 bytes), in chain
        order, at most limit."""
        if len(uetr) != 16:
            return []
        return self._payment_matches(PAYMENT_UETR + uetr, limit)

    def payments_by_end_to_end_id(
        self, payer: str, end_to_end_id: str, *, limit: int = MAX_PAYMENT_MATCHES
    ) -> list[bytes]:
        """Tx ids of the settled transfers with a leg that payer pays under this end-to-end
        id, in chain order, at most limit."""
        if "\x00" in payer or "\x00" in end_to_end_id:  # no stored id holds one
            return []
        return self._payment_matches(_e2e_prefix(payer, end_to_end_id), limit)

    def _payment_matches(self, prefix: bytes, limit: int) -> list[bytes]:
        out: list[bytes] = []
        if limit <= 0:
            return out
        # Two legs of one tx under one id wrote one key (`_payment_keys`): listed once.
        for _, tx_id in self._db.iterator(prefix=prefix):
            out.append(tx_id)
            if len(out) >= limit:
                break
        return out

    def get_validator_set(self, height: int) -> bytes | None:
        """The serialized ValidatorSet in force at height, if recorded."""
        value: bytes | None = self._db.get(VALSET + _U64.pack(height))
        return value

    def iter_validator_sets(self, from_height: int) -> Iterator[tuple[int, bytes]]:
        """(height, serialized ValidatorSet) of every recorded height >= from_height, in
        height order: what ``node.evidence.ValidatorSetHistory`` is loaded from at start."""
        start = VALSET + _U64.pack(max(0, from_height))
        for key, value in self._db.iterator(start=start, stop=_after_prefix(VALSET)):
            yield int(_U64.unpack(key[len(VALSET) :])[0]), value

    def disk_usage_bytes(self) -> int:
        """Bytes the database files take on disk."""
        total = 0
        for entry in os.scandir(self.path):
            if entry.is_file(follow_symlinks=False):
                total += entry.stat().st_size
        return total


def _block_txs(raw: bytes) -> Sequence[bytes]:
    """The envelopes of a serialized Block."""
    block = block_pb2.Block()
    block.ParseFromString(raw)
    return block.txs


def _payment_keys(envelope: bytes) -> set[bytes]:
    """The payment index key prefixes (``u/``, ``e/``, without height and index) of a
    settled transfer's legs; the ledger checked the ids (node/ledger/_payment_ids.py)."""
    body = ledger_pb2.TxBody.FromString(ledger_pb2.TxEnvelope.FromString(envelope).body)
    keys = set()
    for leg in body.transfer.legs:
        if leg.uetr:
            keys.add(PAYMENT_UETR + leg.uetr)
        if leg.end_to_end_id:
            keys.add(_e2e_prefix(leg.payer, leg.end_to_end_id))
    return keys


def _balance_prefix(ledger_key: bytes) -> bytes:
    """The ``ab/`` prefix (account + NUL + asset + NUL) of a ledger ``bal/`` key."""
    account, _, asset = ledger_key[len(_LEDGER_BALANCE) :].partition(b"/")
    return BALANCE_CHANGES + account + b"\x00" + asset + b"\x00"


def _u128(raw: bytes | None) -> bytes:
    """A stored balance (16 or 8 bytes big-endian, None for 0) as 16 bytes."""
    return int.from_bytes(raw or b"", "big").to_bytes(16, "big")


def _e2e_prefix(payer: str, end_to_end_id: str) -> bytes:
    return PAYMENT_E2E + payer.encode() + b"\x00" + end_to_end_id.encode() + b"\x00"


def _location(raw: bytes | None) -> TxLocation | None:
    """Decode a ``t/`` value; None when absent or of no known size."""
    if raw is None:
        return None
    if len(raw) == _TX_LOC_V1.size:  # rule 5
        height, index, code = _TX_LOC_V1.unpack(raw)
        return TxLocation(height, index, code, code == ledger_pb2.OK)
    if len(raw) != _TX_LOC.size:
        return None
    height, index, code, settled = _TX_LOC.unpack(raw)
    return TxLocation(height, index, code, bool(settled))


def _after_prefix(prefix: bytes) -> bytes:
    """The least key greater than every key that starts with prefix."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return b"\xff" * (len(prefix) + 1)
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


def parse_cursor(cursor: str) -> tuple[int, int]:
    """Decode a history cursor "HEIGHT-INDEX".

    Raises:
        ValueError: the cursor is not of that form.
    """
    height_text, sep, index_text = cursor.partition("-")
    if not sep or not height_text.isdigit() or not index_text.isdigit():
        raise ValueError(f"malformed cursor {cursor!r}")
    height, index = int(height_text), int(index_text)
    if height >= 2**64 or index >= 2**32:
        raise ValueError(f"malformed cursor {cursor!r}")
    return height, index
