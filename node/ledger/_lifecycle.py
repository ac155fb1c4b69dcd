"""The account life cycle (issue 12 item 5): key rotation, recovery, tier and zone changes,
and closure. docs/rulebook.md, "Account life cycle".

- ``rotate_keys``: an account replaces its own keys, signed by its current keys (the
  envelope's threshold check in node/ledger/_ledger.py is the authorisation).
- ``recover_account``: new keys for a CUSTOMER or MERCHANT who lost theirs, signed in one
  transaction by the bank that registered the account and by a REGULATOR
  (`_rules.required_accounts` asks for both).
- ``change_account``: the registering bank changes the KYC tier or the zone, never so that
  the account is left holding an asset it may no longer hold (or above its new cap).
- ``close_account``: the registering bank closes an account with zero balances; a
  REGULATOR closes one whatever it holds, moving every balance to ``sweep_to``.

A closed account stays in state (its id is never reused: registration says ACCOUNT_EXISTS)
and neither signs, pays nor receives: `closed_refusal` is the one check, used by the ledger
for signers and payers, by transfers for payees and by every handler that targets an
account.

Rules this module keeps (those of node/ledger/_rules.py): each handler checks everything,
then writes; refusals are values with a precise code; balances are read in the account's
recorded order (``Account.assets``), so every node moves them the same way.

This module and node/ledger/_rules.py import each other: _rules hooks the handlers in, and
this module reads `_rules` names only when a transaction runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from node.ledger import _rulebook as rb
from node.ledger import _rules as r
from node.ledger._amounts import AMOUNT_MAX
from proto import ledger_pb2 as pb

#: Accounts a bank closes (or the regulator with a sweep) and whose tier and zone change.
CLOSABLE_ROLES: Final = frozenset({pb.CUSTOMER, pb.MERCHANT, pb.VASP})
#: Accounts recovered by their bank and the regulator; every other account rotates its keys.
RECOVERABLE_ROLES: Final = frozenset({pb.CUSTOMER, pb.MERCHANT})
#: Accounts a regulator's sweep may not pay into: the state funds take money only as a
#: recorded inflow (a court-ordered seizure), an issuance reserve only as backing.
NO_SWEEP_ROLES: Final = frozenset({pb.STATE_RESERVE, pb.ISSUANCE_RESERVE})


def closed_refusal(where: str, account: pb.Account) -> r.Refusal | None:
    """ACCOUNT_CLOSED if the account is closed, else None."""
    if not account.closed:
        return None
    return r.Refusal(
        pb.ACCOUNT_CLOSED,
        f"{where}: {account.account_id!r} was closed at height {account.closed_height}; "
        "it neither signs, pays nor receives",
    )


# ---------------------------------------------------------------- stateless checks


def _static_rotate_keys(body: pb.TxBody) -> r.Refusal | None:
    m = body.rotate_keys
    return r.check_keys("rotate_keys", list(m.public_keys), m.threshold)


def _static_recover_account(body: pb.TxBody) -> r.Refusal | None:
    m = body.recover_account
    bad = (
        r._bad_id("recover_account.account_id", m.account_id)
        or r._bad_id("recover_account.regulator", m.regulator)
        or r.check_keys("recover_account", list(m.public_keys), m.threshold)
        or r._bad_text("recover_account.reason", m.reason, required=True)
    )
    if bad is not None:
        return bad
    if m.regulator == body.signer:
        return r.Refusal(
            pb.INVALID_FIELD,
            f"recover_account.regulator: {m.regulator!r} is the signer; the bank and a "
            "REGULATOR sign, two accounts",
        )
    return None


def _static_change_account(body: pb.TxBody) -> r.Refusal | None:
    m = body.change_account
    bad = r._bad_id("change_account.account_id", m.account_id)
    if bad is not None:
        return bad
    if m.zone != pb.ZONE_UNSPECIFIED and m.zone not in r.VALID_ZONES:
        return r.Refusal(pb.INVALID_FIELD, f"change_account.zone: {m.zone} is not a zone")
    if not m.HasField("kyc_tier") and m.zone == pb.ZONE_UNSPECIFIED:
        return r.Refusal(
            pb.INVALID_FIELD, "change_account: sets neither kyc_tier nor zone; nothing to change"
        )
    return None


def _static_close_account(body: pb.TxBody) -> r.Refusal | None:
    m = body.close_account
    bad = r._bad_id("close_account.account_id", m.account_id) or r._bad_text(
        "close_account.legal_ref", m.legal_ref, required=False
    )
    if bad is not None:
        return bad
    if m.sweep_to:
        bad = r._bad_id("close_account.sweep_to", m.sweep_to)
        if bad is not None:
            return bad
        if m.sweep_to == m.account_id:
            return r.Refusal(
                pb.INVALID_FIELD,
                f"close_account.sweep_to: {m.sweep_to!r} is the account being closed",
            )
        if not m.legal_ref.strip():
            return r.Refusal(pb.INVALID_FIELD, "close_account.legal_ref is required with sweep_to")
    return None


STATIC: Final[dict[str, Callable[[pb.TxBody], r.Refusal | None]]] = {
    "rotate_keys": _static_rotate_keys,
    "recover_account": _static_recover_account,
    "change_account": _static_change_account,
    "close_account": _static_close_account,
}


# ---------------------------------------------------------------- stateful handlers


def _target(ctx: r.Context, where: str, account_id: str) -> pb.Account | r.Refusal:
    """The open account a handler acts on, or UNKNOWN_ACCOUNT / ACCOUNT_CLOSED."""
    account = ctx.ov.account(account_id)
    if account is None:
        return r.Refusal(pb.UNKNOWN_ACCOUNT, f"{where}: no account {account_id!r}")
    return closed_refusal(where, account) or account


def _need_registrar(what: str, signer: pb.Account, target: pb.Account) -> r.Refusal | None:
    if target.registered_by and target.registered_by == signer.account_id:
        return None
    by = repr(target.registered_by) if target.registered_by else "genesis"
    return r.Refusal(
        pb.NOT_REGISTRAR,
        f"{what}: {target.account_id!r} was registered by {by}, not {signer.account_id!r}; "
        "only its registering bank may do this",
    )


def _role_refusal(what: str, target: pb.Account, roles: frozenset[int]) -> r.Refusal | None:
    if target.role in roles:
        return None
    allowed = ", ".join(r.role_name(x) for x in sorted(roles))
    return r.Refusal(
        pb.UNAUTHORIZED,
        f"{what}: {target.account_id!r} is {r.role_name(target.role)}; only {allowed} "
        "accounts are handled this way",
    )


def _new_keys(
    ctx: r.Context, what: str, account: pb.Account, keys: list[bytes], threshold: int
) -> r.Refusal | None:
    """Refuse keys that change nothing, and a state reserve's threshold below the rulebook's."""
    threshold = max(1, threshold)
    if set(keys) == set(account.public_keys) and threshold == max(1, account.threshold):
        return r.Refusal(
            pb.INVALID_FIELD,
            f"{what}: {account.account_id!r} already has these keys and threshold "
            f"{threshold}; nothing to change",
        )
    from node.ledger._reserves import key_set_refusal  # it imports _rules, as this does

    return key_set_refusal(ctx.rules, account.role, keys, threshold, where=what)


def _put_keys(ctx: r.Context, account: pb.Account, keys: list[bytes], threshold: int) -> None:
    del account.public_keys[:]
    account.public_keys.extend(keys)
    account.threshold = max(1, threshold)
    account.keys_changed_height = ctx.height
    ctx.ov.put_account(account)


def _rotate_keys(ctx: r.Context, body: pb.TxBody, signer: pb.Account) -> r.Outcome:
    m = body.rotate_keys
    keys = list(m.public_keys)
    bad = _new_keys(ctx, "rotate_keys", signer, keys, m.threshold)
    if bad is not None:
        return bad
    _put_keys(ctx, signer, keys, m.threshold)
    return [signer.account_id]


def _recover_account(ctx: r.Context, body: pb.TxBody, signer: pb.Account) -> r.Outcome:
    m = body.recover_account
    regulator = ctx.ov.account(m.regulator)  # loaded and authorised as a required account
    if regulator is None:
        return r.Refusal(
            pb.UNKNOWN_ACCOUNT, f"recover_account.regulator: no account {m.regulator!r}"
        )
    if regulator.role != pb.REGULATOR:
        return r.Refusal(
            pb.UNAUTHORIZED,
            f"recover_account.regulator: {m.regulator!r} is {r.role_name(regulator.role)}, "
            "not REGULATOR",
        )
    target = _target(ctx, "recover_account.account_id", m.account_id)
    if isinstance(target, r.Refusal):
        return target
    keys = list(m.public_keys)
    bad = (
        _role_refusal("recover_account", target, RECOVERABLE_ROLES)
        or _need_registrar("recover_account", signer, target)
        or _new_keys(ctx, "recover_account", target, keys, m.threshold)
    )
    if bad is not None:
        return bad
    _put_keys(ctx, target, keys, m.threshold)
    return [signer.account_id, target.account_id, regulator.account_id]


def _held(ctx: r.Context, account: pb.Account) -> dict[str, int]:
    """The account's non-zero balances, in its recorded order."""
    out: dict[str, int] = {}
    for code in account.assets:
        balance = ctx.ov.balance(account.account_id, code)
        if balance:
            out[code] = balance
    return out


def _change_account(ctx: r.Context, body: pb.TxBody, signer: pb.Account) -> r.Outcome:
    m = body.change_account
    target = _target(ctx, "change_account.account_id", m.account_id)
    if isinstance(target, r.Refusal):
        return target
    bad = _role_refusal("change_account", target, CLOSABLE_ROLES) or _need_registrar(
        "change_account", signer, target
    )
    if bad is not None:
        return bad
    changed = pb.Account()
    changed.CopyFrom(target)
    if m.HasField("kyc_tier"):
        changed.kyc_tier = m.kyc_tier
    if m.zone != pb.ZONE_UNSPECIFIED:
        changed.zone = m.zone
    if changed.kyc_tier == target.kyc_tier and changed.zone == target.zone:
        return r.Refusal(
            pb.INVALID_FIELD,
            f"change_account: {m.account_id!r} is already tier {target.kyc_tier} in "
            f"{pb.Zone.Name(target.zone)}; nothing to change",
        )
    if changed.role in r.LIMITED_ROLES and changed.kyc_tier not in ctx.rules.limits:
        return r.Refusal(
            pb.UNKNOWN_KYC_TIER,
            f"change_account.kyc_tier: the rulebook sets no limits for tier {changed.kyc_tier}",
            rb.RULE_TIER,
        )
    # Nothing may be stranded: every asset it holds stays one it may hold, within its cap.
    from node.ledger._licences import licence_hold_refusal  # it imports _rules, as this does

    held = _held(ctx, target)
    for code in held:
        asset = ctx.ov.asset(code)
        bad = None if asset is None else licence_hold_refusal(ctx, "change_account", changed, asset)
        if bad is not None:
            return bad
    bad = r.holding_cap_refusal(ctx.ov, ctx.rules, changed, held, "change_account")
    if bad is not None:
        return bad
    target.kyc_tier = changed.kyc_tier
    target.zone = changed.zone
    ctx.ov.put_account(target)
    return [signer.account_id, target.account_id]


def _close_account(ctx: r.Context, body: pb.TxBody, signer: pb.Account) -> r.Outcome:
    m = body.close_account
    target = _target(ctx, "close_account.account_id", m.account_id)
    if isinstance(target, r.Refusal):
        return target
    bad = _role_refusal("close_account", target, CLOSABLE_ROLES)
    if bad is not None:
        return bad
    if signer.role == pb.REGULATOR:
        return _regulator_close(ctx, m, signer, target)
    bad = _need_registrar("close_account", signer, target)
    if bad is not None:
        return bad
    if m.sweep_to or m.legal_ref:
        return r.Refusal(
            pb.INVALID_FIELD,
            "close_account: sweep_to and legal_ref are the regulator's; the registering bank "
            "closes an account whose balances are all zero",
        )
    if target.frozen:
        return r.Refusal(
            pb.FROZEN,
            f"close_account: {m.account_id!r} is frozen ({target.frozen_legal_ref}); only a "
            "REGULATOR closes it",
        )
    held = _held(ctx, target)
    if held:
        code, balance = next(iter(held.items()))
        return r.Refusal(
            pb.BALANCE_NOT_ZERO,
            f"close_account: {m.account_id!r} holds {balance} {code}; it closes only with "
            "every balance zero",
        )
    _mark_closed(ctx, target, "")
    return [signer.account_id, target.account_id]


def _regulator_close(
    ctx: r.Context, m: pb.CloseAccount, signer: pb.Account, target: pb.Account
) -> r.Outcome:
    """A regulator closes any customer, merchant or VASP account, sweeping its balances."""
    if not m.legal_ref.strip():
        return r.Refusal(
            pb.INVALID_FIELD, "close_account.legal_ref is required when a REGULATOR closes"
        )
    held = _held(ctx, target)
    if held and not m.sweep_to:
        code, balance = next(iter(held.items()))
        return r.Refusal(
            pb.INVALID_FIELD,
            f"close_account.sweep_to: {m.account_id!r} holds {balance} {code}; name the "
            "account its balances go to",
        )
    accounts = [signer.account_id, target.account_id]
    if not m.sweep_to:
        _mark_closed(ctx, target, m.legal_ref)
        return accounts
    dest = _target(ctx, "close_account.sweep_to", m.sweep_to)
    if isinstance(dest, r.Refusal):
        return dest
    if dest.role in NO_SWEEP_ROLES:
        return r.Refusal(
            pb.UNAUTHORIZED,
            f"close_account.sweep_to: {m.sweep_to!r} is {r.role_name(dest.role)}; a state "
            "fund receives only by a court-ordered seizure, an issuance reserve only backing",
        )
    from node.ledger._licences import licence_hold_refusal  # it imports _rules, as this does

    after: dict[str, int] = {}
    for code, balance in held.items():
        asset = ctx.ov.asset(code)
        if asset is None:  # a balance always has its asset; kept for the type checker
            return r.Refusal(pb.UNKNOWN_ASSET, f"close_account: no asset {code!r}")
        bad = licence_hold_refusal(ctx, "close_account.sweep_to", dest, asset)
        if bad is not None:
            return bad
        new = ctx.ov.balance(dest.account_id, code) + balance
        if new > AMOUNT_MAX:
            return r.Refusal(
                pb.AMOUNT_OVERFLOW,
                f"close_account.sweep_to: the {code} balance of {m.sweep_to!r} would pass "
                "2^128 - 1",
            )
        after[code] = new
    bad = r.holding_cap_refusal(ctx.ov, ctx.rules, dest, after, "close_account.sweep_to")
    if bad is not None:
        return bad
    for code, new in after.items():
        ctx.ov.set_balance(target, code, 0)
        ctx.ov.set_balance(dest, code, new)
    _mark_closed(ctx, target, m.legal_ref)
    return [*accounts, dest.account_id]


def _mark_closed(ctx: r.Context, account: pb.Account, ref: str) -> None:
    account.closed = True
    account.closed_height = ctx.height
    account.closed_ref = ref
    ctx.ov.put_account(account)


HANDLERS: Final[dict[str, Callable[[r.Context, pb.TxBody, pb.Account], r.Outcome]]] = {
    "rotate_keys": _rotate_keys,
    "recover_account": _recover_account,
    "change_account": _change_account,
    "close_account": _close_account,
}
