"""Transfers: one or more legs that settle atomically, all or nothing.

Balances are checked on each account's net position over all legs (so payment versus
payment works whichever leg comes first). The rulebook (node/ledger/_rulebook.py) decides
who may hold each asset, the two-tier rule and the purpose rules of holders outside an
asset's payment zones; a licensed role that its role and zone do not admit holds and pays
an asset only under a licence of the regulator (node/ledger/_licences.py). KYC-tier
limits apply to CUSTOMER and MERCHANT accounts, in KZT-equivalent tiyn over every asset
at the rulebook's reference rates: per payment (what a payer sends in one transaction,
gross), daily outflow (sent on one Asia/Almaty calendar day of block time) and holding
cap (everything held, whenever a balance grows). An asset without a reference rate is
refused wherever a limit of the account's tier must value it, and a tier with payment
limits does not take it at all (it could not pay it).
An account with a person reference is judged with every account of its person
(node/ledger/_persons.py): what all of them send in the transaction against the payer's
per-payment limit, what all of them sent that day against its daily limit, and what all
of them hold against the cap of the account that grows.
Amounts are 128-bit (`amount_of`); limits are u64 and compared with the full amounts, so a
payment above 2^64 is judged at its size, never wrapped.

Travel-rule data (node/ledger/_travel.py): a leg that needs it (any non-KZT leg, a KZT
leg from the rulebook's threshold, when the rulebook enforces the rule) carries sealed
copies for its payer's and payee's banks and the regulators; each leg is judged after its
holding rules.

Most payments are plain: one KZT leg between two accounts that no special rule concerns.
`plain_transfer` settles those without the general path's bookkeeping over legs, assets
and persons; it is also what mempool admission runs for them (`Ledger.check_tx`), so
admission and execution share one definition of "plain". It reads what the general path
reads (the keys check_tx reports as its `reads`) and writes what it writes; whenever a
payment is not plain, or would be refused, it writes nothing and leaves the payment to the
general path, so every refusal and its message come from one place.
"""

from __future__ import annotations

from typing import Final

from node.ledger import _keys as k
from node.ledger import _persons as persons
from node.ledger import _rulebook as rb
from node.ledger import _travel as travel
from node.ledger._amounts import AMOUNT_MAX, amount_of
from node.ledger._backing import segregated_payee
from node.ledger._licences import holding_under_licence, licence_hold_refusal, purpose_refusal
from node.ledger._lifecycle import closed_refusal
from node.ledger._reserves import record_transfer_inflows, reserve_leg_refusal
from node.ledger._rules import (
    LIMITED_ROLES,
    Context,
    Outcome,
    Refusal,
    holding_cap_refusal,
    role_name,
)
from proto import ledger_pb2 as pb

#: Roles with rules of their own on a leg: the two-tier rule (the central bank pays only
#: some roles), reserve outflow and inflow rules, the segregated reserve (paid by no one).
_SPECIAL_ROLES: Final = frozenset({pb.CENTRAL_BANK, pb.STATE_RESERVE, pb.ISSUANCE_RESERVE})
#: Holdings (`Rules.holding`) with no purpose or licence rule to apply.
_PLAIN_HOLDINGS: Final = frozenset({"institution", "zone"})


def execute_transfer(ctx: Context, body: pb.TxBody, payers: dict[str, pb.Account]) -> Outcome:
    """Settle a transfer whose payers are authorised and not frozen.

    Args:
        ctx: the overlay, the block and the rulebook in force.
        body: a body whose kind is ``transfer`` and which passed the static checks.
        payers: the account of every payer, already loaded.

    Returns:
        The accounts on the legs (payers first), or the refusal.
    """
    legs = body.transfer.legs
    if len(legs) == 1:
        settled = plain_transfer(ctx, legs[0], payers)
        if settled is not None:
            return settled
    ov = ctx.ov
    rules = ctx.rules
    accounts = dict(payers)
    assets: dict[str, pb.Asset] = {}
    # (account id, asset) -> [debit, credit]
    moves: dict[tuple[str, str], list[int]] = {}
    sent: dict[str, int] = {}  # KZT-equivalent a limited payer sends
    for i, leg in enumerate(legs):
        where = f"transfer.legs[{i}]"
        payee = accounts.get(leg.payee)
        if payee is None:
            payee = ov.account(leg.payee)
            if payee is None:
                return Refusal(pb.UNKNOWN_ACCOUNT, f"{where}.payee: no account {leg.payee!r}")
            bad = closed_refusal(f"{where}.payee", payee)
            if bad is not None:
                return bad
            accounts[leg.payee] = payee
        bad = segregated_payee(where, payee)
        if bad is not None:
            return bad
        asset = assets.get(leg.asset)
        if asset is None:
            asset = ov.asset(leg.asset)
            if asset is None:
                return Refusal(pb.UNKNOWN_ASSET, f"{where}.asset: no asset {leg.asset!r}")
            assets[leg.asset] = asset
        payer = accounts[leg.payer]
        pays_as, gets_as = rules.holding(payer, asset), rules.holding(payee, asset)
        licence = None  # the payer's, when it holds the asset only under one
        if pays_as is None:
            pays_as, licence = holding_under_licence(ctx, payer, asset)
        if gets_as is None:
            gets_as, _ = holding_under_licence(ctx, payee, asset)
        bad = None
        if pays_as is None:
            bad = licence_hold_refusal(ctx, f"{where}.payer", payer, asset)
        elif gets_as is None:
            bad = licence_hold_refusal(ctx, f"{where}.payee", payee, asset)
        else:
            bad = _leg_refusal(
                rules, where, body.transfer.purpose, payer, payee, asset, pays_as, gets_as
            )
            if bad is None and pays_as == "outside":
                bad = purpose_refusal(where, payer, licence, body.transfer.purpose)
        amount = amount_of(leg)
        if bad is None:
            bad = travel.leg_refusal(ctx, where, leg, payer, payee, rules.kzt_value(asset, amount))
        if bad is not None:
            return bad
        out = moves.setdefault((leg.payer, leg.asset), [0, 0])
        out[0] += amount
        into = moves.setdefault((leg.payee, leg.asset), [0, 0])
        into[1] += amount
        if out[0] > AMOUNT_MAX or into[1] > AMOUNT_MAX:
            return Refusal(pb.AMOUNT_OVERFLOW, f"{where}: the {leg.asset} legs sum past 2^128 - 1")
        if payer.role in LIMITED_ROLES:
            value = rules.kzt_value(asset, amount)
            if value is None:
                limits = rules.limits.get(payer.kyc_tier)
                if limits is None or limits.per_payment or limits.daily_outflow:
                    return _no_rate(f"{where}.payer", leg.payer, leg.asset)
                value = 0  # a tier without payment limits needs no value
            sent[leg.payer] = sent.get(leg.payer, 0) + value

    new_balances: dict[tuple[str, str], int] = {}
    after: dict[str, dict[str, int]] = {}  # account -> the balances it is left with
    grown: list[str] = []  # accounts that receive more than they pay of some asset
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
        after.setdefault(account_id, {})[code] = new
        if credit > debit and account_id not in grown:
            grown.append(account_id)
    for account_id in grown:
        acct = accounts[account_id]
        bad = holding_cap_refusal(ov, rules, acct, after[account_id], "transfer", after)
        if bad is not None:
            return bad

    day = k.almaty_day(ctx.time_ms)
    daily_totals: dict[str, int] = {}
    by_person: dict[bytes, int] = {}  # what each person's accounts send, over all legs
    for account_id, value in sent.items():
        ref = accounts[account_id].person_ref
        if ref:
            by_person[ref] = by_person.get(ref, 0) + value
    person_totals: dict[bytes, int] = {}
    for account_id, value in sent.items():
        acct = accounts[account_id]
        ref = acct.person_ref
        whose = repr(account_id)
        if ref and by_person[ref] != value:
            whose += f" with the other accounts of person {persons.short(ref)}"
        limits = rules.limits.get(acct.kyc_tier)
        if limits is None:
            return Refusal(
                pb.UNKNOWN_KYC_TIER,
                f"transfer: the rulebook sets no limits for {account_id!r}'s tier {acct.kyc_tier}",
                rb.RULE_TIER,
            )
        payment = by_person[ref] if ref else value
        if limits.per_payment and payment > limits.per_payment:
            return Refusal(
                pb.LIMIT_PER_PAYMENT,
                f"transfer: {whose} would send {payment} tiyn in KZT-equivalent, above "
                f"the tier {acct.kyc_tier} per-payment limit of {limits.per_payment}",
                rb.RULE_PER_PAYMENT,
            )
        if ctx.check_only:
            continue
        if ref:
            person_total = persons.outflow(ov, ref, day) + payment
            if limits.daily_outflow and person_total > limits.daily_outflow:
                return Refusal(
                    pb.LIMIT_DAILY,
                    f"transfer: {account_id!r}'s person {persons.short(ref)} would send "
                    f"{person_total} tiyn in KZT-equivalent today over all its accounts, above "
                    f"the tier {acct.kyc_tier} daily limit of {limits.daily_outflow}",
                    rb.RULE_DAILY,
                )
            person_totals[ref] = person_total
        total = ov.daily_outflow(account_id, day) + value
        if limits.daily_outflow and total > limits.daily_outflow:
            return Refusal(
                pb.LIMIT_DAILY,
                f"transfer: {account_id!r} would send {total} tiyn in KZT-equivalent today, "
                f"above the tier {acct.kyc_tier} daily limit of {limits.daily_outflow}",
                rb.RULE_DAILY,
            )
        daily_totals[account_id] = total

    # Every check passed: write.
    for (account_id, code), value in new_balances.items():
        ov.set_balance(accounts[account_id], code, value)
    for account_id, total in daily_totals.items():
        # The record is u64 and so is every limit: once the next payment is added, a total
        # held at 2^64 - 1 compares with any limit as the true total would.
        ov.set_daily_outflow(account_id, day, min(total, k.U64_MAX))
    for ref, total in person_totals.items():
        persons.set_outflow(ov, ref, day, total)
    record_transfer_inflows(ctx, body, accounts)
    return list(accounts)


def plain_transfer(
    ctx: Context, leg: pb.TransferLeg, payers: dict[str, pb.Account]
) -> list[str] | None:
    """Settle a plain payment as the general path would, or return None having written
    nothing: the payment is not plain, or the general path would refuse it.

    Plain: one KZT leg (leg, the transfer's only one) that neither carries nor needs
    travel-rule data (node/ledger/_travel.py); neither account closed or of a
    special role (`_SPECIAL_ROLES`), the payer without a person reference (a person's
    payments are summed over its accounts); both hold KZT as an institution or in their
    zone. What is left of the
    general path are the balances, the payee's holding cap (with its person's accounts,
    as there) and the payer's tier limits, judged here the same way. Admission runs it
    too (`Ledger.check_tx`, ``ctx.check_only``): then it judges and writes nothing.
    """
    amount = amount_of(leg)
    if leg.asset != k.KZT or travel.defers_plain(ctx.rules, leg, amount):
        return None
    payer_id, payee_id = leg.payer, leg.payee
    payer = payers.get(payer_id)
    if payer is None or payer.person_ref or payer.role in _SPECIAL_ROLES:
        return None
    ov, rules = ctx.ov, ctx.rules
    payee = ov.account(payee_id)
    if payee is None or payee.closed or payee.role in _SPECIAL_ROLES:
        return None
    asset = ov.asset(k.KZT)
    if (
        asset is None
        or rules.holding(payer, asset) not in _PLAIN_HOLDINGS
        or rules.holding(payee, asset) not in _PLAIN_HOLDINGS
    ):
        return None
    paid = ov.balance(payer_id, k.KZT) - amount
    if paid < 0:  # before the payee's balance is read, as there (check_tx's reads)
        return None
    got = ov.balance(payee_id, k.KZT) + amount
    if got > AMOUNT_MAX:
        return None
    after = {payer_id: {k.KZT: paid}, payee_id: {k.KZT: got}}
    if holding_cap_refusal(ov, rules, payee, after[payee_id], "transfer", after) is not None:
        return None
    daily = -1  # the payer's outflow today with this payment; -1: not recorded
    if payer.role in LIMITED_ROLES:
        limits = rules.limits.get(payer.kyc_tier)
        if limits is None or (limits.per_payment and amount > limits.per_payment):
            return None
        if not ctx.check_only:
            day = k.almaty_day(ctx.time_ms)
            daily = ov.daily_outflow(payer_id, day) + amount
            if limits.daily_outflow and daily > limits.daily_outflow:
                return None
    if ctx.check_only:  # admission: the verdict is all it needs
        return [payer_id, payee_id]
    # Every check passed: write, in the general path's order.
    ov.set_balance(payer, k.KZT, paid)
    ov.set_balance(payee, k.KZT, got)
    if daily >= 0:
        ov.set_daily_outflow(payer_id, day, min(daily, k.U64_MAX))
    return [payer_id, payee_id]


def _leg_refusal(
    rules: rb.Rules,
    where: str,
    purpose: int,
    payer: pb.Account,
    payee: pb.Account,
    asset: pb.Asset,
    pays_as: str,
    gets_as: str,
) -> Refusal | None:
    """The two-tier rule and the rules of holders outside an asset's payment zones.

    pays_as, gets_as: how payer and payee hold the asset (`Rules.holding`).
    """
    if payer.role == pb.CENTRAL_BANK and payee.role not in rules.central_bank_payees:
        return Refusal(
            pb.TWO_TIER_RULE,
            f"{where}.payee: the central bank pays only "
            f"{', '.join(role_name(r) for r in sorted(rules.central_bank_payees))}; "
            f"{payee.account_id!r} is {role_name(payee.role)}",
            rb.RULE_TWO_TIER_PAY,
        )
    if gets_as == "outside" and pays_as != "institution":
        return Refusal(
            pb.PURPOSE_NOT_ALLOWED,
            f"{where}.payee: {payee.account_id!r} holds {asset.code} outside its payment zones "
            "and receives it only from a bank or another institution",
            rb.RULE_OUTSIDE_RECEIVE,
        )
    if pays_as == "outside":
        rule = rules.purpose_rule(asset, payee, purpose)
        if rule is None:
            return Refusal(
                pb.PURPOSE_NOT_ALLOWED,
                f"{where}.payer: {payer.account_id!r} holds {asset.code} outside its payment "
                f"zones and pays it only as a purpose rule allows (not {pb.Purpose.Name(purpose)} "
                f"to {role_name(payee.role)})",
                rb.RULE_OUTSIDE_PAY,
            )
    return reserve_leg_refusal(rules, where, purpose, payer, payee)


def _no_rate(where: str, account_id: str, code: str) -> Refusal:
    return Refusal(
        pb.NO_REFERENCE_RATE,
        f"{where}: {code} has no reference rate in the rulebook, so {account_id!r}'s tier "
        "limits cannot be judged",
        rb.RULE_RATE,
    )
