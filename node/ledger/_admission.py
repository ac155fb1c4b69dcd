"""Mempool admission's answer (`CheckResult`) and what it is drawn from.

`Ledger.check_tx` (node/ledger/_ledger.py) judges a transaction against committed state
through a `ReadRecorder`, so that its answer names the state keys the verdict depends on
(`CheckResult.reads`): the mempool re-checks a pending transaction only when a block
writes one of them (docs/mempool.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from node.ledger import _keys as k
from node.ledger import _rulebook as rb
from node.ledger._rules import holding_capped
from node.ledger._state import Overlay, StateReader
from proto import ledger_pb2 as pb


class Debit(NamedTuple):
    """What an admitted transaction would take from one balance, and that balance.

    Attributes:
        account: the debited account.
        asset: the asset code.
        amount: the net amount it would take (> 0).
        balance: the account's committed balance of the asset when it was checked.
        key: the state key of that balance (a block that writes it changes the balance).
    """

    account: str
    asset: str
    amount: int
    balance: int
    key: bytes = b""


class CheckResult(NamedTuple):
    """The mempool's answer for one raw envelope.

    Like `Debit`, an immutable named tuple rather than a frozen dataclass: admission
    builds one per transaction, and a frozen dataclass's ``__init__`` (one
    ``object.__setattr__`` a field) cost a tenth of a plain payment's check.

    Attributes:
        code: a ResultCode value; OK = 0.
        message: a sentence naming the offending field or account ("" when OK).
        tx_id: SHA-256 of the body bytes (of the raw bytes if the envelope does not decode).
        size: length of the raw envelope in bytes.
        expires_at_height: last height at which the tx may be included (0 if undecoded).
        signer: the body's signer field ("" if undecoded or unset).
        accounts: the accounts that authorised it (payers of a transfer, else the signer).
        rule: the id of the rulebook rule that refused it ("" if none did).
        rulebook_version: the rulebook version it was judged under.
        debits: when OK, what it would take from balances (`debits_of`) with the
            committed balances it was judged against, sorted by (account, asset); the
            mempool adds them up over pending transactions (docs/mempool.md).
        reads: the committed state keys the verdict was drawn from, but for the balance
            keys of `debits` (the mempool's funds bookkeeping covers those). Until a block
            writes one of them, the same check at a later height gives the same verdict
            (but for expiry, the rulebook in force at that height, and licence expiry).
    """

    code: int
    message: str
    tx_id: bytes
    size: int
    expires_at_height: int = 0
    signer: str = ""
    accounts: tuple[str, ...] = ()
    debits: tuple[Debit, ...] = ()
    rule: str = ""
    rulebook_version: int = 0
    reads: frozenset[bytes] = frozenset()

    @property
    def ok(self) -> bool:
        return self.code == pb.OK

    @property
    def code_name(self) -> str:
        """The stable name of the code, as the API shows it (e.g. "INSUFFICIENT_FUNDS")."""
        return pb.ResultCode.Name(self.code)


class ReadRecorder:
    """Committed state that remembers which keys were read (check_tx's `reads`)."""

    __slots__ = ("_state", "keys")

    def __init__(self, state: StateReader, read: Iterable[bytes] = ()) -> None:
        """Record the reads of state, counting the keys of `read` as read already."""
        self._state = state
        self.keys: set[bytes] = set(read)

    def get(self, key: bytes) -> bytes | None:
        self.keys.add(key)
        return self._state.get(key)


def uncapped_credits(ov: Overlay, rules: rb.Rules, body: pb.TxBody | None) -> list[bytes]:
    """The balance keys a transfer credits that bound no verdict: no holding cap applies.

    Such a balance only grows by the payment (an overflow past 2^128 - 1 is left to
    execution), so a block that changes it changes nothing check_tx judged.
    """
    if body is None or body.WhichOneof("kind") != "transfer":
        return []
    keys = []
    for leg in body.transfer.legs:
        payee = ov.account(leg.payee)
        if payee is not None and not holding_capped(rules, payee):
            keys.append(k.balance_key(leg.payee, leg.asset))
    return keys
