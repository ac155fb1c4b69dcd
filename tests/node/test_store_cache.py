"""The store's state cache (node/store.py rules 6 to 8): same results as LevelDB alone,
bounded, written through on commit, and never stale after a commit or a racing read."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from node.ledger import Ledger, genesis_app_hash, genesis_state
from node.ledger.txbuild import issue, transfer
from node.store import CACHE_ENTRY_OVERHEAD, BlockCommit, StateCache, Store
from proto import ledger_pb2 as pb
from tests.ledger.ledger_world import T0, World, key, make_genesis

CUSTOMERS = [f"cust-{i}" for i in range(6)]


def _commit(height: int, writes: list[tuple[bytes, bytes | None]]) -> BlockCommit:
    return BlockCommit(
        height=height,
        block=b"block-%d" % height,
        block_hash=b"%032d" % height,
        commit=b"",
        receipts=[],
        writes=writes,
        app_hash=b"app-%d" % height,
    )


def _blocks(seed: int) -> list[list[bytes]]:
    """Blocks of issues, registrations and transfers, some refused (no funds, duplicate,
    frozen payer, unknown payee), from a seeded random walk."""
    rnd = random.Random(seed)
    world = World()  # a tx builder only: heights and nonces
    blocks = [
        [world.tx("nbk", issue("KZT", "halyk", 10**9))],
        [
            world.tx(
                "halyk",
                pb.RegisterAccount(
                    account_id=c,
                    role=pb.CUSTOMER,
                    zone=pb.NATIONAL,
                    kyc_tier=1,
                    public_keys=[key(c).public_key],
                ),
            )
            for c in CUSTOMERS
        ],
        [world.tx("halyk", transfer(("halyk", c, "KZT", 1_000_00))) for c in CUSTOMERS],
    ]
    for height in range(4, 12):
        world.height = height - 1
        txs = []
        for _ in range(rnd.randint(1, 8)):
            payer, payee = rnd.sample(CUSTOMERS, 2)
            amount = rnd.choice([1, 500_00, 2_000_00])  # the last is more than any holds
            txs.append(world.tx(payer, transfer((payer, payee, "KZT", amount))))
        if height == 5:
            txs.append(world.tx("cust-1", transfer(("cust-1", "nobody", "KZT", 1))))
        if height == 6:
            txs.append(world.tx("afm", pb.Freeze(account_id="cust-0", legal_ref="court 1")))
        if height == 9:
            txs.append(txs[0])  # a duplicate within the block
        blocks.append(txs)
    return blocks


def _run_chain(
    store: Store, blocks: list[list[bytes]]
) -> list[tuple[bytes, list[tuple[int, str]], list[tuple[bytes, bytes | None]]]]:
    genesis = make_genesis()
    store.init_genesis(b"g" * 32, genesis_state(genesis), genesis_app_hash(genesis))
    ledger = Ledger(genesis, store)
    out = []
    for height, txs in enumerate(blocks, start=1):
        for raw in txs:  # admission reads state through the cache too
            ledger.check_tx(raw, next_height=height)
        result = ledger.execute_block(
            height=height, time_ms=T0 + height * 1000, txs=txs, prev_app_hash=store.app_hash
        )
        store.commit_block(
            BlockCommit(
                height=height,
                block=b"".join(txs),
                block_hash=b"%032d" % height,
                commit=b"",
                receipts=result.receipts,
                writes=result.writes,
                app_hash=result.app_hash,
            )
        )
        receipts = [(r.code, r.message) for r in result.receipts]
        out.append((result.app_hash, receipts, result.writes))
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_cached_and_uncached_stores_reach_the_same_app_hash_and_state(
    tmp_path: Path, seed: int
) -> None:
    blocks = _blocks(seed)
    bounds = {"cached": 64 * 2**20, "tiny": 4 * CACHE_ENTRY_OVERHEAD, "uncached": 0}
    runs, states = {}, {}
    for name, bound in bounds.items():
        with Store(tmp_path / name, state_cache_bytes=bound) as store:
            runs[name] = _run_chain(store, blocks)
            states[name] = list(store.iter_state(b""))
            # every key read through the cache gives what LevelDB holds
            assert all(store.get(k_) == v_ for k_, v_ in states[name])
            stats = store.state_cache_stats()
            if bound:
                assert stats is not None
                assert stats.hits > 0
                assert stats.bytes <= bound
            else:
                assert stats is None
    codes = {code for _, receipts, _ in runs["uncached"] for code, _ in receipts}
    assert {pb.OK, pb.INSUFFICIENT_FUNDS, pb.DUPLICATE, pb.FROZEN, pb.UNKNOWN_ACCOUNT} <= codes
    assert runs["cached"] == runs["uncached"]
    assert runs["tiny"] == runs["uncached"]
    assert states["cached"] == states["uncached"] == states["tiny"]


def test_the_bound_holds_over_many_distinct_keys(tmp_path: Path) -> None:
    bound = 100 * (CACHE_ENTRY_OVERHEAD + 20)
    with Store(tmp_path / "db", state_cache_bytes=bound) as store:
        store.init_genesis(b"g" * 32, [(b"k%07d" % i, b"v" * 10) for i in range(5000)], b"app")
        for i in range(5000):
            assert store.get(b"k%07d" % i) == b"v" * 10
            assert store.get(b"absent-%07d" % i) is None
            stats = store.state_cache_stats()
            assert stats is not None
            assert stats.bytes <= bound
        assert stats.evictions > 9000
        assert 90 <= stats.entries <= 110  # absent keys cost less
        store.commit_block(_commit(1, [(b"w%07d" % i, b"x" * 10) for i in range(5000)]))
        stats = store.state_cache_stats()
        assert stats is not None
        assert stats.bytes <= bound
        assert store.get(b"w0004999") == b"x" * 10  # the newest writes stay
        after = store.state_cache_stats()
        assert after is not None
        assert (after.hits, after.misses) == (stats.hits + 1, stats.misses)  # from memory


def test_the_least_recently_used_entry_goes_first() -> None:
    cache = StateCache(3 * (CACHE_ENTRY_OVERHEAD + 2))
    for name in (b"a", b"b", b"c"):
        cache.put(name, b"v")
    assert cache.lookup(b"a") == b"v"  # a is now the most recent
    cache.put(b"d", b"v")
    assert b"b" not in cache
    assert all(name in cache for name in (b"a", b"c", b"d"))
    cache.put(b"huge", b"x" * cache.max_bytes)  # larger than the bound: not held
    assert b"huge" not in cache
    assert len(cache) == 3


def test_a_value_written_by_a_commit_is_what_the_next_get_returns(tmp_path: Path) -> None:
    with Store(tmp_path / "db") as store:
        store.init_genesis(b"g" * 32, [(b"k", b"old"), (b"gone", b"x")], b"app")
        assert store.get(b"k") == b"old"
        assert store.get(b"gone") == b"x"
        assert store.get(b"new") is None  # a negative entry
        store.commit_block(_commit(1, [(b"gone", None), (b"k", b"v1"), (b"new", b"n")]))
        assert (store.get(b"k"), store.get(b"gone"), store.get(b"new")) == (b"v1", None, b"n")
        store.commit_block(_commit(2, [(b"k", b"v2"), (b"new", None)]))
        assert store.get(b"k") == b"v2"
        assert store.get(b"new") is None
        stats = store.state_cache_stats()
        assert stats is not None
        assert stats.misses == 3  # only the first reads went to LevelDB
    with Store(tmp_path / "db") as store:
        assert (store.get(b"k"), store.get(b"gone"), store.get(b"new")) == (b"v2", None, None)


def test_a_commit_keeps_its_values_but_not_its_seen_marks_in_the_cache(tmp_path: Path) -> None:
    """Write-through puts back every value a block wrote but the seen marks of its
    transactions: those are read again only for a duplicate, from LevelDB."""
    seen = b"seen/" + b"\x01" * 32
    with Store(tmp_path / "db") as store:
        store.init_genesis(b"g" * 32, [(b"balance/a", b"1")], b"app")
        assert store.get(seen) is None  # admission's look: cached as absent
        store.commit_block(_commit(1, [(b"balance/a", b"2"), (seen, b"\x00" * 8)]))
        before = store.state_cache_stats()
        assert store.get(b"balance/a") == b"2"  # from the cache
        assert store.get(seen) == b"\x00" * 8  # from LevelDB, right after the commit
        after = store.state_cache_stats()
        assert before is not None
        assert after is not None
        assert (after.hits - before.hits, after.misses - before.misses) == (1, 1)


def test_init_genesis_clears_what_the_cache_held(tmp_path: Path) -> None:
    with Store(tmp_path / "db") as store:
        assert store.get(b"k") is None  # cached as absent
        store.init_genesis(b"g" * 32, [(b"k", b"v")], b"app")
        assert store.get(b"k") == b"v"


class _Db:
    """The store's plyvel database, with a hook that runs inside one chosen get."""

    def __init__(self, db: Any) -> None:
        self._db = db
        self.on_get: dict[bytes, Callable[[], None]] = {}

    def get(self, key: bytes, *args: Any) -> Any:
        value = self._db.get(key, *args)
        hook = self.on_get.pop(key, None)
        if hook is not None:
            hook()  # what another thread does after this read and before the caller's next step
        return value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def test_a_read_that_raced_a_commit_is_not_remembered(tmp_path: Path) -> None:
    with Store(tmp_path / "db") as store:
        store.init_genesis(b"g" * 32, [(b"k", b"old")], b"app")
        db = _Db(store._db)
        store._db = db
        # the reader misses and reads "old"; the whole commit lands before it remembers it
        db.on_get[b"s/k"] = lambda: store.commit_block(_commit(1, [(b"k", b"new")]))
        assert store.get(b"k") == b"old"  # what LevelDB held when it was read
        assert store.get(b"k") == b"new"  # not the stale read


def test_a_reader_during_a_commit_sees_what_leveldb_shows(tmp_path: Path) -> None:
    with Store(tmp_path / "db") as store:
        store.init_genesis(b"g" * 32, [(b"k", b"old"), (b"other", b"o")], b"app")
        assert store.get(b"k") == b"old"
        assert store.get(b"other") == b"o"
        seen: list[bytes | None] = []
        write_block = store._write_block

        def write_with_readers(commit: BlockCommit) -> None:
            seen.extend([store.get(b"k"), store.get(b"other")])  # batch not written yet
            write_block(commit)
            seen.extend([store.get(b"k"), store.get(b"other")])  # written, cache not yet

        store._write_block = write_with_readers  # type: ignore[method-assign]
        store.commit_block(_commit(1, [(b"k", b"new")]))
        assert seen == [b"old", b"o", b"new", b"o"]
        assert store.get(b"k") == b"new"


def test_a_failed_batch_leaves_the_cache_with_what_leveldb_holds(tmp_path: Path) -> None:
    with Store(tmp_path / "db") as store:
        store.init_genesis(b"g" * 32, [(b"k", b"old")], b"app")
        assert store.get(b"k") == b"old"

        def fail(commit: BlockCommit) -> None:
            raise OSError("disk full")

        store._write_block = fail  # type: ignore[method-assign]
        with pytest.raises(OSError, match="disk full"):
            store.commit_block(_commit(1, [(b"k", b"new")]))
        assert store.get(b"k") == b"old"
        assert store.height == 0
