"""Persons: the accounts of one person at every bank (issue 12 item 2, docs/rulebook.md).

A CUSTOMER or MERCHANT account may carry a person reference: 32 bytes, a keyed hash of the
holder's national ID number that every bank computes the same way (`person_ref`). The
national ID itself never reaches the ledger. Accounts with the same reference are one person:

* ``person/`` + ref holds the `Person` record: its accounts in registration order, and
  whether a court order froze it;
* ``pdaily/`` + ref holds what all its accounts paid out on one Asia/Almaty day, in
  KZT-equivalent tiyn (the ``daily/`` codec), which the daily limit is judged against;
* the holding cap is judged on the person's holdings over all its accounts.

Rules this module keeps:

1. Every read is bounded: a person has at most `MAX_PERSON_ACCOUNTS` accounts whatever the
   rulebook says (its ``max_accounts_per_person`` may only be lower), so a payment reads at
   most that many account records and their balances.
2. Accounts are listed in registration order; nothing iterates a set.
3. The functions here read and write the overlay only; the refusals are made by the
   handlers that call them (node/ledger/_rules.py, _transfer.py), after every check and
   before any write where a function here writes.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from node.ledger import _keys as k
from node.ledger import _rulebook as rb
from node.ledger._state import Overlay, StateReader
from proto import ledger_pb2 as pb

#: A person reference is an HMAC-SHA256 digest.
PERSON_REF_SIZE: Final = 32
#: The most accounts one person may have whatever the rulebook says: it bounds the reads of
#: every payment by a person's account (rulebook ``max_accounts_per_person`` 0 = this).
MAX_PERSON_ACCOUNTS: Final = rb.MAX_ACCOUNTS_PER_PERSON


def person_ref(national_id: str, key: bytes) -> bytes:
    """The person reference of a national ID number (IIN): HMAC-SHA256(key, IIN).

    Args:
        national_id: the IIN as written, surrounding spaces ignored.
        key: the secret the banks share for this purpose; without it the reference
            reveals nothing about the ID.
    """
    return hmac.new(key, national_id.strip().encode(), hashlib.sha256).digest()


def short(ref: bytes) -> str:
    """A person reference as messages show it (the first 8 bytes in hex)."""
    return ref[:8].hex()


def get_person(state: StateReader, ref: bytes) -> pb.Person | None:
    """The committed Person record of a reference, or None (for the API)."""
    raw = state.get(k.person_key(ref))
    return None if raw is None else pb.Person.FromString(raw)


def get_person_outflow(state: StateReader, ref: bytes, day: int) -> int:
    """KZT-equivalent tiyn the person's accounts paid on an Asia/Almaty day (committed)."""
    raw = state.get(k.person_daily_key(ref))
    if raw is None:
        return 0
    stored_day, outflow = k.decode_daily(raw)
    return outflow if stored_day == day else 0


def person(ov: Overlay, ref: bytes) -> pb.Person | None:
    raw = ov.get_raw(k.person_key(ref))
    return None if raw is None else pb.Person.FromString(raw)


def put_person(ov: Overlay, record: pb.Person) -> None:
    ov.put_raw(k.person_key(record.person_ref), record.SerializeToString())


def account_cap(max_accounts_per_person: int) -> int:
    """The most accounts a person may have under a rulebook's setting (0: the ceiling)."""
    if max_accounts_per_person == 0:
        return MAX_PERSON_ACCOUNTS
    return min(max_accounts_per_person, MAX_PERSON_ACCOUNTS)


def enrol(ov: Overlay, account: pb.Account, record: pb.Person | None) -> None:
    """Add a just-registered account to its person (the caller checked the cap).

    A frozen person's new account is born frozen under the person's court order.
    """
    if record is None:
        record = pb.Person(person_ref=account.person_ref)
    if record.frozen:
        account.frozen = True
        account.frozen_legal_ref = record.frozen_legal_ref
        ov.put_account(account)
    record.accounts.append(account.account_id)
    put_person(ov, record)


def set_frozen(ov: Overlay, target: pb.Account, legal_ref: str, *, frozen: bool) -> list[str]:
    """Freeze (or unfreeze) a person through one of its accounts: the Person and all its
    accounts; the caller has already frozen or unfrozen `target` itself.

    Returns:
        The person's other accounts, which the receipt lists.
    """
    record = person(ov, target.person_ref)
    if record is None:  # every account with a reference is enrolled; nothing else to do
        return []
    record.frozen = frozen
    record.frozen_legal_ref = legal_ref if frozen else ""
    put_person(ov, record)
    others = []
    for account_id in record.accounts:
        if account_id == target.account_id:
            continue
        acct = ov.account(account_id)
        if acct is None:
            continue
        acct.frozen = frozen
        acct.frozen_legal_ref = legal_ref if frozen else ""
        ov.put_account(acct)
        others.append(account_id)
    return others


def holders(
    ov: Overlay,
    account: pb.Account,
    new: dict[str, int],
    moved: dict[str, dict[str, int]] | None = None,
) -> list[tuple[pb.Account, dict[str, int]]]:
    """Whose holdings a holding cap judges when `account` grows: the account alone, or
    every account of its person (registration order), each with the balances a transaction
    would leave (`new` for account, `moved` for the others; the rest is read)."""
    if not account.person_ref:
        return [(account, new)]
    record = person(ov, account.person_ref)
    if record is None:
        return [(account, new)]
    out = []
    for account_id in record.accounts:
        if account_id == account.account_id:
            out.append((account, new))
            continue
        acct = ov.account(account_id)
        if acct is not None:
            out.append((acct, {} if moved is None else moved.get(account_id, {})))
    return out


def outflow(ov: Overlay, ref: bytes, day: int) -> int:
    """KZT-equivalent tiyn the person's accounts paid on the given Asia/Almaty day."""
    raw = ov.get_raw(k.person_daily_key(ref))
    if raw is None:
        return 0
    stored_day, value = k.decode_daily(raw)
    return value if stored_day == day else 0


def set_outflow(ov: Overlay, ref: bytes, day: int, value: int) -> None:
    ov.put_raw(k.person_daily_key(ref), k.encode_daily(day, min(value, k.U64_MAX)))
