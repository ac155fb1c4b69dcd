"""Reading committed state, and the per-block overlay that collects a block's writes.

The overlay caches decoded records (accounts, balances, assets, daily outflow) for
the whole block and encodes only the records that changed, once, when the block ends.

Across overlays, committed state is cached as bytes by the store (node/store.py, the
state cache), not as decoded records: handlers change the records they get in place, so
a shared decoded record would have to be copied for each overlay, and copying an Account
costs as much as decoding it (about 0.8 us each). Decoding is under 4% of a payment's
check and execution (bench/ledger_bench.py, measured for issue 13).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from node.ledger import _keys as k
from node.ledger._amounts import decode_amount, encode_amount
from proto import ledger_pb2


class StateReader(Protocol):
    """Committed ledger state: raw values by key, None when absent."""

    def get(self, key: bytes) -> bytes | None: ...


@runtime_checkable
class VersionedState(StateReader, Protocol):
    """Committed state that tells when it changed (`node.store.Store`).

    ``state_version`` is a number that changes whenever committed state changes, and None
    while a write is under way; equal versions mean equal state. The ledger remembers
    what it derived from state (the rulebook in force) for one version.
    """

    @property
    def state_version(self) -> int | None: ...


class StateScanner(Protocol):
    """Committed ledger state that can also be walked by key prefix (`node.store.Store`).

    ``iter_state(prefix, start)`` yields the entries under prefix in key order, from the
    first key >= start when start is given.
    """

    def iter_state(
        self, prefix: bytes, start: bytes | None = None
    ) -> Iterable[tuple[bytes, bytes]]: ...


def get_account(state: StateReader, account_id: str) -> ledger_pb2.Account | None:
    """The committed account record, or None when no such account exists."""
    raw = state.get(k.account_key(account_id))
    if raw is None:
        return None
    return ledger_pb2.Account.FromString(raw)


def get_balance(state: StateReader, account_id: str, asset: str) -> int:
    """The committed balance of one account in one asset (0 when it holds none)."""
    raw = state.get(k.balance_key(account_id, asset))
    return 0 if raw is None else decode_amount(raw)


def get_balances(state: StateReader, account_id: str) -> dict[str, int]:
    """Balances by asset code of every asset the account has held (zeros included).

    The account record lists the assets it has ever held, so no prefix scan is needed.
    Returns an empty dict for an unknown account.
    """
    account = get_account(state, account_id)
    if account is None:
        return {}
    return {code: get_balance(state, account_id, code) for code in account.assets}


def get_asset(state: StateReader, code: str) -> ledger_pb2.Asset | None:
    """The committed asset record (with issued, redeemed and seized totals), or None."""
    raw = state.get(k.asset_key(code))
    if raw is None:
        return None
    return ledger_pb2.Asset.FromString(raw)


def list_assets(state: StateScanner) -> list[ledger_pb2.Asset]:
    """Every committed asset record, in asset code order (byte order of the codes).

    Args:
        state: committed state with a prefix scan; keys are the ledger's, without any
            prefix the store adds.
    """
    return [ledger_pb2.Asset.FromString(value) for _, value in state.iter_state(k.ASSET)]


def get_validators(state: StateReader) -> list[ledger_pb2.Validator]:
    """The validator set as left by the last executed block, sorted by public key.

    Updates made in block H take effect in consensus at H + 2; this is the ledger's view
    after the latest block, not necessarily the set signing the current height.
    """
    raw = state.get(k.VALIDATORS)
    if raw is None:
        return []
    return list(ledger_pb2.ValidatorSet.FromString(raw).validators)


def get_role_account(state: StateReader, role: int) -> str | None:
    """The id of the account holding a one-of-a-kind role (CENTRAL_BANK, TREASURY), or None.

    STATE_RESERVE is not one: there may be several (node/ledger/_reserves.py).
    """
    raw = state.get(k.role_key(ledger_pb2.Role.Name(role)))
    return None if raw is None else raw.decode()


class Overlay:
    """Uncommitted state of one block (or one mempool check) on top of committed state.

    Setters are called only after a transaction has passed every check, so a refused
    transaction leaves no trace.
    """

    __slots__ = (
        "_accounts",
        "_assets",
        "_balances",
        "_daily",
        "_dirty_accounts",
        "_dirty_assets",
        "_dirty_balances",
        "_dirty_daily",
        "_listed",
        "_raw",
        "_state",
    )

    def __init__(self, state: StateReader) -> None:
        self._state = state
        self._accounts: dict[str, ledger_pb2.Account | None] = {}
        self._assets: dict[str, ledger_pb2.Asset | None] = {}
        self._balances: dict[tuple[str, str], int] = {}
        self._daily: dict[str, tuple[int, int]] = {}
        self._raw: dict[bytes, bytes | None] = {}
        self._dirty_accounts: set[str] = set()
        self._dirty_assets: set[str] = set()
        self._dirty_balances: set[tuple[str, str]] = set()
        self._dirty_daily: set[str] = set()
        # (account id, asset) whose asset the overlay's account record lists: a repeated
        # field's `in` costs more than the rest of `set_balance`.
        self._listed: set[tuple[str, str]] = set()

    # ---- raw keys ----

    def get_raw(self, key: bytes) -> bytes | None:
        if key in self._raw:
            return self._raw[key]
        return self._state.get(key)

    def put_raw(self, key: bytes, value: bytes | None) -> None:
        self._raw[key] = value

    # ---- decoded records ----

    def account(self, account_id: str) -> ledger_pb2.Account | None:
        # `in`, not try/except KeyError: most reads of a check are first reads, and
        # raising costs more than the read itself.
        if account_id in self._accounts:
            return self._accounts[account_id]
        raw = self._state.get(k.account_key(account_id))
        acct = None if raw is None else ledger_pb2.Account.FromString(raw)
        self._accounts[account_id] = acct
        return acct

    def put_account(self, account: ledger_pb2.Account) -> None:
        account_id = account.account_id
        self._accounts[account_id] = account
        self._dirty_accounts.add(account_id)
        if self._listed:  # the record may be another object: look at its list again
            self._listed = {key for key in self._listed if key[0] != account_id}

    def balance(self, account_id: str, asset: str) -> int:
        key = (account_id, asset)
        value = self._balances.get(key, -1)  # -1: not read yet (balances are never negative)
        if value < 0:
            raw = self._state.get(k.balance_key(account_id, asset))
            value = 0 if raw is None else decode_amount(raw)
            self._balances[key] = value
        return value

    def set_balance(self, account: ledger_pb2.Account, asset: str, value: int) -> None:
        """Set a balance; the first non-zero balance of an asset lists it on the account."""
        key = (account.account_id, asset)
        self._balances[key] = value
        self._dirty_balances.add(key)
        if value and key not in self._listed:
            if asset not in account.assets:
                account.assets.append(asset)
                self._dirty_accounts.add(account.account_id)
            self._listed.add(key)

    def asset(self, code: str) -> ledger_pb2.Asset | None:
        if code in self._assets:
            return self._assets[code]
        raw = self._state.get(k.asset_key(code))
        asset = None if raw is None else ledger_pb2.Asset.FromString(raw)
        self._assets[code] = asset
        return asset

    def put_asset(self, asset: ledger_pb2.Asset) -> None:
        self._assets[asset.code] = asset
        self._dirty_assets.add(asset.code)

    def daily_outflow(self, account_id: str, day: int) -> int:
        """KZT-equivalent (tiyn) paid out by the account on the given Asia/Almaty day."""
        record = self._daily.get(account_id)
        if record is None:
            raw = self._state.get(k.daily_key(account_id))
            record = self._daily[account_id] = (0, 0) if raw is None else k.decode_daily(raw)
        stored_day, outflow = record
        return outflow if stored_day == day else 0

    def set_daily_outflow(self, account_id: str, day: int, outflow: int) -> None:
        self._daily[account_id] = (day, outflow)
        self._dirty_daily.add(account_id)

    # ---- the block's writes ----

    def writes(self) -> list[tuple[bytes, bytes | None]]:
        """Every changed key with its new value (None = delete), sorted by key."""
        out = dict(self._raw)
        for account_id in self._dirty_accounts:
            acct = self._accounts[account_id]
            assert acct is not None
            out[k.account_key(account_id)] = acct.SerializeToString()
        for code in self._dirty_assets:
            asset = self._assets[code]
            assert asset is not None
            out[k.asset_key(code)] = asset.SerializeToString()
        for account_id, asset_code in self._dirty_balances:
            value = self._balances[(account_id, asset_code)]
            key = k.balance_key(account_id, asset_code)
            out[key] = encode_amount(value) if value else None
        for account_id in self._dirty_daily:
            day, outflow = self._daily[account_id]
            out[k.daily_key(account_id)] = k.encode_daily(day, outflow)
        return sorted(out.items())
