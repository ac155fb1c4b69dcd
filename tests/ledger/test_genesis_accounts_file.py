"""The genesis accounts file: millions of accounts streamed into the store at first start.

The same accounts give the same state and app hash whether genesis.json lists them or its
accounts file does; a bad file is refused with its line and leaves the store uninitialised.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ledger_world import account_doc, genesis_doc

from node import store as store_module
from node.errors import ConfigError
from node.genesis import genesis_to_json, load_genesis, parse_genesis, read_accounts_file
from node.ledger import genesis_app_hash, genesis_app_hash_of, genesis_state, genesis_writes
from node.store import STATE, Store
from proto import genesis_pb2

FILE = "accounts.jsonl"


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Write batches of 7 entries, so that a failure comes after some were written."""
    monkeypatch.setattr(store_module, "GENESIS_BATCH_WRITES", 7)


def customers(count: int) -> list[dict[str, Any]]:
    """Tier-1 customers and merchants (sorted by id), some funded, some with two keys."""
    out = []
    for i in range(count):
        role = "MERCHANT" if i % 3 == 2 else "CUSTOMER"
        entry = {**account_doc(f"cust-{i:05d}", role), "kyc_tier": 1}
        if i % 4 == 0:
            entry["balances"] = {"KZT": str(1000 + i)}
        if i % 5 == 1:
            entry["public_keys"] = [
                *entry["public_keys"],
                account_doc(f"k2-{i}", role)["public_keys"][0],
            ]
            entry["threshold"] = 2
        out.append(entry)
    return out


def lines_of(entries: list[Any]) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in entries)


def write_network(
    directory: Path, content: bytes, *, count: int | None = None, digest: str | None = None
) -> genesis_pb2.Genesis:
    """genesis.json with an accounts file of content beside it; the parsed genesis."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / FILE).write_bytes(content)
    doc = genesis_doc()
    doc["accounts_file"] = {
        "path": FILE,
        "sha256": digest or hashlib.sha256(content).hexdigest(),
        "accounts": count if count is not None else content.count(b"\n"),
    }
    (directory / "genesis.json").write_text(json.dumps(doc))
    return load_genesis(directory / "genesis.json")


def init_store(path: Path, genesis: genesis_pb2.Genesis, directory: Path) -> Store:
    """What a node does at its first start: stream the state in, hash it back."""
    store = Store(path)
    store.init_genesis(
        b"g" * 32,
        genesis_writes(genesis, read_accounts_file(genesis, directory)),
        lambda state: genesis_app_hash_of(genesis.chain_id, state),
    )
    return store


def state_of(store: Store) -> list[tuple[bytes, bytes]]:
    return [(key[len(STATE) :], value) for key, value in store._db.iterator(prefix=STATE)]


def test_accounts_in_the_file_give_the_state_and_app_hash_of_the_same_accounts_in_json(
    tmp_path: Path,
) -> None:
    entries = customers(120)
    inline = genesis_doc()
    inline["accounts"] += copy.deepcopy(entries)
    in_json = parse_genesis(inline)
    streamed = write_network(tmp_path / "net", lines_of(entries))
    assert streamed.accounts_file.accounts == 120
    assert len(streamed.accounts) == 6

    store = init_store(tmp_path / "db", streamed, tmp_path / "net")
    assert state_of(store) == genesis_state(in_json)
    assert store.app_hash == genesis_app_hash(in_json)
    assert store.is_initialized
    file_accounts = read_accounts_file(streamed, tmp_path / "net")
    assert genesis_app_hash(streamed, file_accounts) == genesis_app_hash(in_json)
    store.close()


def test_a_genesis_without_a_file_streams_to_its_in_memory_app_hash(tmp_path: Path) -> None:
    genesis = parse_genesis(genesis_doc())
    store = Store(tmp_path / "db")
    store.init_genesis(
        b"g" * 32,
        genesis_writes(genesis),
        lambda state: genesis_app_hash_of(genesis.chain_id, state),
    )
    assert store.app_hash == genesis_app_hash(genesis)
    assert state_of(store) == genesis_state(genesis)
    store.close()


def test_the_accounts_file_is_part_of_the_genesis_and_round_trips(tmp_path: Path) -> None:
    genesis = write_network(tmp_path / "net", lines_of(customers(3)))
    doc = genesis_to_json(genesis)
    assert doc["accounts_file"]["accounts"] == 3
    assert parse_genesis(doc) == genesis
    other = copy.deepcopy(doc)
    other["accounts_file"]["sha256"] = "00" * 32
    assert parse_genesis(other).SerializeToString() != genesis.SerializeToString()


def test_streaming_is_lazy(tmp_path: Path) -> None:
    """The first entry comes before the file is read to its end (nothing is held)."""
    content = lines_of(customers(5)) + b"not json\n"
    genesis = write_network(tmp_path / "net", content)
    stream = read_accounts_file(genesis, tmp_path / "net")
    first = next(stream)
    assert first.account.account_id == "cust-00000"
    with pytest.raises(ConfigError, match="line 6: not a JSON account entry"):
        list(stream)


def good() -> list[dict[str, Any]]:
    return customers(4)


def edit(index: int, **changes: Any) -> list[Any]:
    entries: list[Any] = good()
    entries[index] = {**entries[index], **changes}
    return entries


# (what the file holds, the message expected); each is a real bad file on disk.
BAD_FILES: list[tuple[str, bytes, str]] = [
    (
        "unsorted",
        lines_of([good()[1], good()[0]]),
        r"line 2\.account_id: 'cust-00000' is not after",
    ),
    ("twice", lines_of([good()[0], good()[0]]), r"line 2\.account_id: .* each id once"),
    (
        "in genesis.json",
        lines_of(edit(3, account_id="nbk")),
        r"line 4\.account_id: 'nbk' is in genesis.json",
    ),
    (
        "a bank",
        lines_of(edit(0, role="COMMERCIAL_BANK")),
        r"line 1\.role: the accounts file holds CUSTOMER",
    ),
    ("a person", lines_of(edit(1, person_ref="ab" * 32)), r"line 2: an account with a person_ref"),
    (
        "unknown asset",
        lines_of(edit(0, balances={"USD": "5"})),
        r"line 1\.balances\.USD: no asset 'USD'",
    ),
    (
        "above the cap",
        lines_of(edit(0, balances={"KZT": str(10**15)})),
        r"line 1\.balances: above the tier 1",
    ),
    ("bad tier", lines_of(edit(2, kyc_tier=9)), r"line 3\.kyc_tier: no limits are set for tier 9"),
    ("bad key", lines_of(edit(0, public_keys=["zz"])), r"line 1\.public_keys\[0\]"),
    ("unknown field", lines_of(edit(0, colour="red")), r"line 1"),
    ("not an object", lines_of([*good()[:2], [1, 2]]), r"line 3"),
    ("not JSON", lines_of(good()[:1]) + b'{"account_id": \n', r"line 2: not a JSON account entry"),
    ("deep nesting", b"[" * 10000 + b"\n", r"line 1: not a JSON account entry"),
    ("bad UTF-8", b'{"account_id": "\xff\xfe"}\n', r"line 1: not a JSON account entry"),
    ("a blank line", lines_of(good()[:2]) + b"\n", r"line 3: not a JSON account entry"),
    ("a long line", b" " * 20000 + b"\n", r"line 1: longer than 16384 bytes"),
]


@pytest.mark.parametrize(
    ("content", "message"), [(c, m) for _, c, m in BAD_FILES], ids=[n for n, _, _ in BAD_FILES]
)
def test_a_bad_file_is_refused_with_its_line_and_leaves_the_store_empty(
    tmp_path: Path, content: bytes, message: str
) -> None:
    genesis = write_network(tmp_path / "net", content)
    store = Store(tmp_path / "db")
    with pytest.raises(ConfigError, match=f"^{FILE}: {message}"):
        store.init_genesis(
            b"g" * 32,
            genesis_writes(genesis, read_accounts_file(genesis, tmp_path / "net")),
            lambda state: genesis_app_hash_of(genesis.chain_id, state),
        )
    assert not store.is_initialized
    assert state_of(store) == []
    store.close()


def test_the_count_and_the_digest_are_checked_at_the_end(tmp_path: Path) -> None:
    content = lines_of(good())
    cases = [
        ({"count": 5}, "4 accounts, genesis.json's accounts_file.accounts says 5"),
        ({"count": 3}, "line 4: more lines than accounts_file.accounts says"),
        ({"digest": "ab" * 32}, "its sha256 is .*: not the file this genesis was made with"),
    ]
    for i, (change, message) in enumerate(cases):
        genesis = write_network(tmp_path / f"net{i}", content, **change)
        with pytest.raises(ConfigError, match=message):
            init_store(tmp_path / f"db{i}", genesis, tmp_path / f"net{i}")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    genesis = write_network(tmp_path / "net", lines_of(good()))
    (tmp_path / "net" / FILE).unlink()
    with pytest.raises(ConfigError, match=r"accounts\.jsonl: cannot read"):
        list(read_accounts_file(genesis, tmp_path / "net"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"path": "../x", "sha256": "00" * 32, "accounts": 1},
            "accounts_file.path: the name of a file",
        ),
        ({"path": ".hidden", "sha256": "00" * 32, "accounts": 1}, "accounts_file.path"),
        ({"path": "a", "sha256": "00", "accounts": 1}, "accounts_file.sha256"),
        ({"path": "a", "sha256": "00" * 32, "accounts": 0}, "accounts_file.accounts"),
        ({"path": "a", "sha256": "00" * 32}, "accounts_file"),
    ],
)
def test_the_accounts_file_field_is_checked(value: dict[str, Any], message: str) -> None:
    doc = genesis_doc()
    doc["accounts_file"] = value
    with pytest.raises(ConfigError, match=message):
        parse_genesis(doc)


def test_an_interrupted_first_start_is_undone_and_the_next_one_completes(tmp_path: Path) -> None:
    """A failure half-way (or a kill: no genesis hash is written) leaves nothing behind
    that the next start would take for state."""
    genesis = write_network(tmp_path / "net", lines_of(customers(50)))

    def broken() -> Iterator[tuple[bytes, bytes]]:
        for i, write in enumerate(
            genesis_writes(genesis, read_accounts_file(genesis, tmp_path / "net"))
        ):
            if i == 40:
                raise KeyboardInterrupt
            yield write

    store = Store(tmp_path / "db")
    with pytest.raises(KeyboardInterrupt):
        store.init_genesis(b"g" * 32, broken(), b"h" * 32)
    assert not store.is_initialized
    assert state_of(store) == []
    # A kill after some batches: state without the genesis hash, removed by the next start.
    with store._db.write_batch() as batch:
        batch.put(STATE + b"acct/left-over", b"x")
    store.close()
    store = init_store(tmp_path / "db", genesis, tmp_path / "net")
    assert store.is_initialized
    assert (b"acct/left-over", b"x") not in state_of(store)
    assert store.app_hash == genesis_app_hash(
        genesis, read_accounts_file(genesis, tmp_path / "net")
    )
    store.close()
