"""Genesis state and the app hash chain.

app_hash(H) = SHA-256(tag, app_hash(H-1), H, each write of block H in key order), where a
write is the key with its length and either a deletion mark or the value with its length.
Block 0 is genesis: its writes are the initial state and its predecessor is a hash of the
chain id, so two chains never share an app hash.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator
from typing import Final

from node.ledger import _keys as k
from node.ledger._amounts import amount_of, decode_amount, encode_amount, set_amount
from node.ledger._backing import genesis_writes as backing_genesis_writes
from node.ledger._licences import licence_key
from node.ledger._rulebook import genesis_writes as rulebook_genesis_writes
from proto import genesis_pb2, ledger_pb2

APP_HASH_TAG: Final = b"tenge/app-hash/v1\x00"
GENESIS_TAG: Final = b"tenge/genesis/v1\x00"

_HEAD = struct.Struct(">Q")
_PUT = struct.Struct(">IBI")
_DEL = struct.Struct(">IB")


#: Writes hashed per update of the digest: bounds the memory of a big genesis's hash.
_HASH_CHUNK: Final = 4096


def app_hash_step(prev: bytes, height: int, writes: Iterable[tuple[bytes, bytes | None]]) -> bytes:
    """The app hash after a block, from the previous one and the block's sorted writes.

    writes may be a stream (genesis's state read back from the store in key order).
    """
    digest = hashlib.sha256(APP_HASH_TAG + prev + _HEAD.pack(height))
    parts: list[bytes] = []
    append = parts.append
    for key, value in writes:
        if value is None:
            append(_DEL.pack(len(key), 0))
            append(key)
        else:
            append(_PUT.pack(len(key), 1, len(value)))
            append(key)
            append(value)
        if len(parts) >= _HASH_CHUNK:
            digest.update(b"".join(parts))
            parts.clear()
    digest.update(b"".join(parts))
    return digest.digest()


def genesis_state(
    genesis: genesis_pb2.Genesis, file_accounts: Iterable[genesis_pb2.GenesisAccount] = ()
) -> list[tuple[bytes, bytes]]:
    """The initial state writes of a validated genesis, sorted by key (in memory).

    file_accounts: the entries of its accounts file (`node.genesis.read_accounts_file`).
    """
    return sorted(genesis_writes(genesis, file_accounts))


def genesis_writes(
    genesis: genesis_pb2.Genesis, file_accounts: Iterable[genesis_pb2.GenesisAccount] = ()
) -> Iterator[tuple[bytes, bytes]]:
    """The initial state writes of a validated genesis, each key once, in no order.

    The accounts of the accounts file come first, one by one, so that a million of them
    stream into the store without being held (they are CUSTOMER or MERCHANT accounts with
    neither a person reference nor a licence: nothing to merge with another entry).
    Asset records get ``issued`` = the sum of their genesis balances; accounts list the
    assets they start with; a backed asset's reserve account is created (empty).
    """
    issued: dict[str, int] = {}
    for entry in file_accounts:
        account = _initial_account(entry)
        for bal in entry.balances:
            amount = amount_of(bal)
            if amount:
                issued[bal.asset] = issued.get(bal.asset, 0) + amount
                yield k.balance_key(account.account_id, bal.asset), encode_amount(amount)
        yield k.account_key(account.account_id), account.SerializeToString()
    out: dict[bytes, bytes] = {}
    for entry in genesis.accounts:
        account = _initial_account(entry)
        for bal in entry.balances:
            amount = amount_of(bal)
            if amount == 0:
                continue
            issued[bal.asset] = issued.get(bal.asset, 0) + amount
            key = k.balance_key(account.account_id, bal.asset)
            prior = decode_amount(out[key]) if key in out else 0
            out[key] = encode_amount(prior + amount)
        out[k.account_key(account.account_id)] = account.SerializeToString()
        if account.person_ref:  # the person's accounts, in genesis order
            person_key = k.person_key(account.person_ref)
            person = ledger_pb2.Person(person_ref=account.person_ref)
            if person_key in out:
                person.ParseFromString(out[person_key])
            person.accounts.append(account.account_id)
            out[person_key] = person.SerializeToString()
        if entry.HasField("licence"):  # granted at height 0 by the genesis REGULATOR
            out[licence_key(account.account_id)] = entry.licence.SerializeToString()
        if account.role in (ledger_pb2.CENTRAL_BANK, ledger_pb2.TREASURY):
            role = ledger_pb2.Role.Name(account.role)
            out[k.role_key(role)] = account.account_id.encode()
    for asset in genesis.assets:
        record = ledger_pb2.Asset()
        record.CopyFrom(asset)
        set_amount(record, "issued", issued.get(asset.code, 0))
        set_amount(record, "redeemed", 0)
        set_amount(record, "seized", 0)
        out[k.asset_key(asset.code)] = record.SerializeToString()
    out.update(backing_genesis_writes(genesis.assets))
    out.update(rulebook_genesis_writes(genesis.rulebook))
    validators = sorted(genesis.validators, key=lambda v: v.public_key)
    out[k.VALIDATORS] = ledger_pb2.ValidatorSet(validators=validators).SerializeToString()
    yield from out.items()


def _initial_account(entry: genesis_pb2.GenesisAccount) -> ledger_pb2.Account:
    """The account record of a genesis entry: threshold at least 1, its funded assets."""
    account = ledger_pb2.Account()
    account.CopyFrom(entry.account)
    account.threshold = max(1, account.threshold)
    del account.assets[:]
    for bal in entry.balances:
        if amount_of(bal) and bal.asset not in account.assets:
            account.assets.append(bal.asset)
    return account


def genesis_prev_hash(chain_id: str) -> bytes:
    """The predecessor of the genesis app hash: a hash of the chain id."""
    return hashlib.sha256(GENESIS_TAG + chain_id.encode()).digest()


def genesis_app_hash(
    genesis: genesis_pb2.Genesis, file_accounts: Iterable[genesis_pb2.GenesisAccount] = ()
) -> bytes:
    """The app hash "after block 0": the chain step over the genesis state."""
    return genesis_app_hash_of(genesis.chain_id, genesis_state(genesis, file_accounts))


def genesis_app_hash_of(chain_id: str, state: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The genesis app hash of chain_id from its state in key order (a stream will do:
    the store's state read back after `Store.init_genesis` wrote it)."""
    return app_hash_step(genesis_prev_hash(chain_id), 0, state)
