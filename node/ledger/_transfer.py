"""Transfers: one or more legs that settle atomically, all or nothing.

Balances are checked on each account's net position over all legs (so payment versus
payment works whichever leg comes first); KYC-tier limits count the gross KZT a payer
sends. Limits are in KZT minor units and apply to CUSTOMER and MERCHANT accounts only:
per payment (the KZT a payer sends in one transaction), daily outflow (KZT sent on one
Asia/Almaty calendar day of block time) and holding cap (a KZT balance that grows).
Amounts are 128-bit (`amount_of`); limits are u64 and compared with the full amounts, so a
payment above 2^64 is judged at its size, never wrapped.
"""

from __future__ import annotations

from node.ledger import _keys as k
from node.ledger._amounts import AMOUNT_MAX, amount_of
from node.ledger._rules import LIMITED_ROLES, Context, Outcome, Refusal, may_hold
from proto import ledger_pb2 as pb


def execute_transfer(ctx: Context, body: pb.TxBody, payers: dict[str, pb.Account]) -> Outcome:
    """Settle a transfer whose payers are authorised and not frozen.

    Args:
        ctx: the overlay and the block.
        body: a body whose kind is ``transfer`` and which passed the static checks.
        payers: the account of every payer, already loaded.

    Returns:
        The accounts on the legs (payers first), or the refusal.
    """
    ov = ctx.ov
    accounts = dict(payers)
    assets: dict[str, pb.Asset] = {}
    # (account id, asset) -> [debit, credit]
    moves: dict[tuple[str, str], list[int]] = {}
    kzt_sent: dict[str, int] = {}
    for i, leg in enumerate(body.transfer.legs):
        payee = accounts.get(leg.payee)
        if payee is None:
            payee = ov.account(leg.payee)
            if payee is None:
                return Refusal(
                    pb.UNKNOWN_ACCOUNT, f"transfer.legs[{i}].payee: no account {leg.payee!r}"
                )
            accounts[leg.payee] = payee
        asset = assets.get(leg.asset)
        if asset is None:
            asset = ov.asset(leg.asset)
            if asset is None:
                return Refusal(
                    pb.UNKNOWN_ASSET, f"transfer.legs[{i}].asset: no asset {leg.asset!r}"
                )
            assets[leg.asset] = asset
        payer = accounts[leg.payer]
        for side, acct in (("payer", payer), ("payee", payee)):
            if not may_hold(acct, asset):
                return Refusal(
                    pb.ASSET_NOT_ALLOWED,
                    f"transfer.legs[{i}].{side}: {acct.account_id!r} "
                    f"({pb.Zone.Name(acct.zone)}) may not hold {leg.asset}",
                )
        amount = amount_of(leg)
        out = moves.setdefault((leg.payer, leg.asset), [0, 0])
        out[0] += amount
        into = moves.setdefault((leg.payee, leg.asset), [0, 0])
        into[1] += amount
        if out[0] > AMOUNT_MAX or into[1] > AMOUNT_MAX:
            return Refusal(
                pb.AMOUNT_OVERFLOW, f"transfer.legs[{i}]: the {leg.asset} legs sum past 2^128 - 1"
            )
        if leg.asset == k.KZT and payer.role in LIMITED_ROLES:
            kzt_sent[leg.payer] = kzt_sent.get(leg.payer, 0) + amount

    new_balances: dict[tuple[str, str], int] = {}
    for (account_id, code), (debit, credit) in moves.items():
        old = ov.balance(account_id, code)
        new = old + credit - debit
        if new < 0:
            return Refusal(
                pb.INSUFFICIENT_FUNDS,
                f"transfer: {account_id!r} holds {old} {code} and would pay {debit - credit} net",
            )
        if new > AMOUNT_MAX:
            return Refusal(
                pb.AMOUNT_OVERFLOW,
                f"transfer: the {code} balance of {account_id!r} would pass 2^128 - 1",
            )
        new_balances[(account_id, code)] = new
        if code == k.KZT and credit > debit:
            acct = accounts[account_id]
            if acct.role in LIMITED_ROLES:
                limits = ov.limits(acct.kyc_tier)
                if limits is not None and limits.holding_cap and new > limits.holding_cap:
                    return Refusal(
                        pb.LIMIT_HOLDING_CAP,
                        f"transfer: {account_id!r} would hold {new} KZT, above the tier "
                        f"{acct.kyc_tier} cap of {limits.holding_cap}",
                    )

    day = k.almaty_day(ctx.time_ms)
    daily_totals: dict[str, int] = {}
    for account_id, sent in kzt_sent.items():
        acct = accounts[account_id]
        limits = ov.limits(acct.kyc_tier)
        if limits is None:
            continue
        if limits.per_payment and sent > limits.per_payment:
            return Refusal(
                pb.LIMIT_PER_PAYMENT,
                f"transfer: {account_id!r} would send {sent} KZT, above the tier "
                f"{acct.kyc_tier} per-payment limit of {limits.per_payment}",
            )
        if ctx.check_only:
            continue
        total = ov.daily_outflow(account_id, day) + sent
        if limits.daily_outflow and total > limits.daily_outflow:
            return Refusal(
                pb.LIMIT_DAILY,
                f"transfer: {account_id!r} would send {total} KZT today, above the tier "
                f"{acct.kyc_tier} daily limit of {limits.daily_outflow}",
            )
        daily_totals[account_id] = total

    # Every check passed: write.
    for (account_id, code), value in new_balances.items():
        ov.set_balance(accounts[account_id], code, value)
    for account_id, total in daily_totals.items():
        # The record is u64 and so is every limit: once the next payment is added, a total
        # held at 2^64 - 1 compares with any limit as the true total would.
        ov.set_daily_outflow(account_id, day, min(total, k.U64_MAX))
    return list(accounts)
