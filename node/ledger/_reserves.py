"""State funds: several STATE_RESERVE accounts, their keys, inflows, outflows and seizures.

The State Fund of Digital Assets and the Alem Crypto Fund are both STATE_RESERVE accounts;
there may be any number of them (docs/rulebook.md, "State funds"). Rules this module keeps:

1. A STATE_RESERVE signs m-of-n with m at least the rulebook's ``min_reserve_threshold``
   (never below `MIN_RESERVE_THRESHOLD`): registration, genesis and key changes ask
   `key_set_refusal`.
2. A reserve pays only the roles of the rulebook's ``reserve_payees`` (never a MERCHANT or
   a CUSTOMER: `rulebook_reserve_error` refuses a rulebook that lists one).
3. A payment into a reserve states why: the transfer's purpose and the payer's role must
   match one of the rulebook's ``inflow_rules``, whose kind (MINED, PURCHASED, TRANSFERRED)
   the inflow record keeps. A seizure is the SEIZED inflow and names its court order.
4. Every inflow is recorded (``inflow/`` + reserve + ``/`` + inverted sequence number), so
   an examiner reads a reserve's inflows newest first without a scan of other state.

Like every handler, these check everything first and then write; refusals are values.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from typing import Final

from node.ledger import _keys as k
from node.ledger import _rulebook as rb
from node.ledger._amounts import AMOUNT_MAX, amount_of, set_amount
from node.ledger._backing import segregated_target
from node.ledger._lifecycle import closed_refusal
from node.ledger._rules import (
    MAX_TEXT,
    Context,
    Handler,
    Outcome,
    Refusal,
    _need_role,
    hold_refusal,
    role_name,
    show,
)
from node.ledger._state import StateReader, StateScanner
from proto import ledger_pb2 as pb

#: The least m of a STATE_RESERVE's m-of-n keys, whatever the rulebook says (issue 12).
MIN_RESERVE_THRESHOLD: Final = 2
#: Roles a reserve may never pay, whatever the rulebook says: private firms and people.
NEVER_RESERVE_PAYEES: Final = frozenset({pb.MERCHANT, pb.CUSTOMER})
#: Most inflow records one page of `list_inflows` returns.
MAX_INFLOW_PAGE: Final = 100

# Stable rule ids (docs/rulebook.md).
RULE_RESERVE_KEYS: Final = "reserve.keys"
RULE_RESERVE_OUTFLOW: Final = "reserve.outflow"
RULE_RESERVE_INFLOW: Final = "reserve.inflow"

INFLOW: Final = b"inflow/"
INFLOW_COUNT: Final = b"inflow-count/"

_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_COURT_ORDER_FIELDS: Final = ("court", "case_number", "order_number", "order_date")


# ---------------------------------------------------------------- the rulebook


def _bad_role(role: int) -> bool:
    return role not in pb.Role.values() or role == pb.ROLE_UNSPECIFIED


def rulebook_reserve_error(book: pb.Rulebook) -> str | None:
    """Why the state-fund fields of a rulebook cannot be used, or None."""
    if book.min_reserve_threshold == 1:
        return f"min_reserve_threshold: at least {MIN_RESERVE_THRESHOLD} (0 means that)"
    payees = list(book.reserve_payees)
    if any(_bad_role(r) for r in payees) or len(set(payees)) != len(payees):
        return "reserve_payees: distinct known roles"
    never = sorted(set(payees) & NEVER_RESERVE_PAYEES)
    if never:
        return f"reserve_payees: a state reserve never pays {role_name(never[0])} accounts"
    seen: set[tuple[int, int]] = set()
    for i, rule in enumerate(book.inflow_rules):
        where = f"inflow_rules[{i}]"
        if rule.purpose not in pb.Purpose.values():
            return f"{where}.purpose: {rule.purpose} is not a purpose"
        if rule.kind not in (pb.MINED, pb.PURCHASED, pb.TRANSFERRED):
            return f"{where}.kind: MINED, PURCHASED or TRANSFERRED (SEIZED is a seizure's)"
        if not rule.payer_roles or any(_bad_role(r) for r in rule.payer_roles):
            return f"{where}.payer_roles: one or more known roles"
        for role in rule.payer_roles:
            if (rule.purpose, role) in seen:
                return f"{where}: a second rule for {role_name(role)} paying this purpose"
            seen.add((rule.purpose, role))
    return None


# ---------------------------------------------------------------- keys


def min_reserve_threshold(rules: rb.Rules) -> int:
    return max(MIN_RESERVE_THRESHOLD, rules.book.min_reserve_threshold)


def key_set_refusal(
    rules: rb.Rules,
    role: int,
    keys: Iterable[bytes],
    threshold: int,
    *,
    where: str = "register_account",
) -> Refusal | None:
    """Why an account of this role may not have this key set, or None.

    A STATE_RESERVE needs m-of-n keys with m (threshold, 0 meaning 1) at least the
    rulebook's minimum; other roles take any key set `check_keys` accepts.
    """
    if role != pb.STATE_RESERVE:
        return None
    need = min_reserve_threshold(rules)
    count = len(list(keys))
    if max(1, threshold) < need or count < need:
        return Refusal(
            pb.THRESHOLD_TOO_LOW,
            f"{where}.threshold: a STATE_RESERVE signs with at least {need} of its keys; "
            f"this key set is {max(1, threshold)} of {count}",
            RULE_RESERVE_KEYS,
        )
    return None


# ---------------------------------------------------------------- transfers


def inflow_rule(rules: rb.Rules, purpose: int, payer: pb.Account) -> pb.InflowRule | None:
    """The inflow rule under which this payer pays a reserve for this purpose, or None."""
    for rule in rules.book.inflow_rules:
        if rule.purpose == purpose and payer.role in rule.payer_roles:
            return rule
    return None


def reserve_leg_refusal(
    rules: rb.Rules, where: str, purpose: int, payer: pb.Account, payee: pb.Account
) -> Refusal | None:
    """A reserve's outflow goes only to ``reserve_payees``; an inflow needs an inflow rule."""
    if payer.role == pb.STATE_RESERVE and payee.role not in rules.book.reserve_payees:
        return Refusal(
            pb.RESERVE_OUTFLOW,
            f"{where}.payee: the state reserve {payer.account_id!r} pays only "
            f"{', '.join(role_name(r) for r in sorted(rules.book.reserve_payees)) or 'no one'}; "
            f"{payee.account_id!r} is {role_name(payee.role)}",
            RULE_RESERVE_OUTFLOW,
        )
    if payee.role == pb.STATE_RESERVE and inflow_rule(rules, purpose, payer) is None:
        inflows = rules.book.inflow_rules
        allowed = [pb.Purpose.Name(r.purpose) for r in inflows if payer.role in r.payer_roles]
        return Refusal(
            pb.INFLOW_KIND_REQUIRED,
            f"{where}: a payment from {payer.account_id!r} ({role_name(payer.role)}) into the "
            f"state reserve {payee.account_id!r} states its inflow kind as the transfer's "
            f"purpose ({' or '.join(allowed) or 'none is open to this role'}), not "
            f"{pb.Purpose.Name(purpose)}",
            RULE_RESERVE_INFLOW,
        )
    return None


def issue_refusal(to: pb.Account) -> Refusal | None:
    """Nothing is issued into a reserve: it would be an inflow of no kind."""
    if to.role != pb.STATE_RESERVE:
        return None
    return Refusal(
        pb.INFLOW_KIND_REQUIRED,
        f"issue.to: {to.account_id!r} is a state reserve; an asset enters one only as a "
        "purchase, a mined remittance, a transfer from another reserve or a seizure (issue "
        "it to the seller)",
        RULE_RESERVE_INFLOW,
    )


def record_transfer_inflows(ctx: Context, body: pb.TxBody, accounts: dict[str, pb.Account]) -> None:
    """Record each leg of a settled transfer that pays a reserve (after every check)."""
    purpose = body.transfer.purpose
    for leg in body.transfer.legs:
        payee = accounts[leg.payee]
        if payee.role != pb.STATE_RESERVE:
            continue
        rule = inflow_rule(ctx.rules, purpose, accounts[leg.payer])
        assert rule is not None  # reserve_leg_refusal refused the transfer otherwise
        record = pb.ReserveInflow(
            reserve=leg.payee,
            kind=rule.kind,
            asset=leg.asset,
            source=leg.payer,
            tx_id=ctx.tx_id,
            height=ctx.height,
        )
        set_amount(record, "amount", amount_of(leg))
        _put_inflow(ctx, record)


def _put_inflow(ctx: Context, record: pb.ReserveInflow) -> None:
    count_key = INFLOW_COUNT + record.reserve.encode()
    raw = ctx.ov.get_raw(count_key)
    seq = 0 if raw is None else k.decode_u64(raw)
    ctx.ov.put_raw(inflow_key(record.reserve, seq), record.SerializeToString())
    ctx.ov.put_raw(count_key, k.encode_u64(seq + 1))


def inflow_key(reserve: str, seq: int) -> bytes:
    """The key of a reserve's inflow number seq (0 first); later inflows sort first."""
    return INFLOW + reserve.encode() + b"/" + k.encode_u64(k.U64_MAX - seq)


def inflow_count(state: StateReader, reserve: str) -> int:
    """How many inflows the reserve has had (the next one's sequence number)."""
    raw = state.get(INFLOW_COUNT + reserve.encode())
    return 0 if raw is None else k.decode_u64(raw)


def list_inflows(
    state: StateScanner, reserve: str, *, after: int | None = None, limit: int = MAX_INFLOW_PAGE
) -> list[tuple[int, pb.ReserveInflow]]:
    """A reserve's inflows newest first, as (sequence number, record).

    Args:
        after: the sequence number of the last inflow of the previous page: only older
            ones follow. None for the newest.
        limit: at most this many (capped at MAX_INFLOW_PAGE).
    """
    if after is not None and after <= 0:
        return []
    prefix = INFLOW + reserve.encode() + b"/"
    start = None if after is None else inflow_key(reserve, after - 1)
    out: list[tuple[int, pb.ReserveInflow]] = []
    limit = min(limit, MAX_INFLOW_PAGE)
    if limit <= 0:
        return out
    for key, value in state.iter_state(prefix, start=start):
        seq = k.U64_MAX - k.decode_u64(key[len(prefix) :])
        out.append((seq, pb.ReserveInflow.FromString(value)))
        if len(out) >= limit:
            break
    return out


# ---------------------------------------------------------------- seizure


def court_order_refusal(where: str, order: pb.CourtOrder) -> Refusal | None:
    """Each field 1 to MAX_TEXT printable characters, no blank at either end; the date a
    real YYYY-MM-DD date (not compared with any clock)."""
    for name in _COURT_ORDER_FIELDS:
        text: str = getattr(order, name)
        field = f"{where}.{name}"
        if not text.strip():
            return Refusal(pb.INVALID_COURT_ORDER, f"{field} is required (not blank)")
        if len(text) > MAX_TEXT:
            return Refusal(pb.INVALID_COURT_ORDER, f"{field} is longer than {MAX_TEXT} characters")
        if text != text.strip() or not text.isprintable():
            return Refusal(
                pb.INVALID_COURT_ORDER,
                f"{field}: {show(text)} has a blank at an end or an unprintable character",
            )
    if _DATE_RE.fullmatch(order.order_date) is None:
        return Refusal(
            pb.INVALID_COURT_ORDER,
            f"{where}.order_date: {show(order.order_date)} is not a YYYY-MM-DD date",
        )
    try:
        datetime.date.fromisoformat(order.order_date)
    except ValueError:
        return Refusal(
            pb.INVALID_COURT_ORDER,
            f"{where}.order_date: {show(order.order_date)} is not a calendar date",
        )
    return None


def static_seize_refusal(m: pb.Seize) -> Refusal | None:
    """The court order a seizure needs (a legal_ref alone is not one)."""
    if not k.valid_account_id(m.reserve):
        return Refusal(
            pb.INVALID_ACCOUNT_ID,
            f"seize.reserve: {show(m.reserve)} is not an account id (the receiving STATE_RESERVE)",
        )
    if not m.HasField("court_order"):
        return Refusal(
            pb.INVALID_COURT_ORDER,
            "seize.court_order is required (court, case_number, order_number, order_date)"
            + ("; legal_ref alone is not enough" if m.legal_ref else ""),
        )
    if len(m.legal_ref) > MAX_TEXT:
        return Refusal(pb.INVALID_FIELD, f"seize.legal_ref is longer than {MAX_TEXT} characters")
    return court_order_refusal("seize.court_order", m.court_order)


def _seize(ctx: Context, body: pb.TxBody, signer: pb.Account) -> Outcome:
    m = body.seize
    bad = _need_role(signer, pb.REGULATOR, "seize")
    if bad is not None:
        return bad
    target = ctx.ov.account(m.account_id)
    if target is None:
        return Refusal(pb.UNKNOWN_ACCOUNT, f"seize.account_id: no account {m.account_id!r}")
    bad = closed_refusal("seize.account_id", target)
    if bad is not None:
        return bad
    bad = segregated_target("seize", target)
    if bad is not None:
        return bad
    reserve = ctx.ov.account(m.reserve)
    if reserve is None:
        return Refusal(pb.UNKNOWN_ACCOUNT, f"seize.reserve: no account {m.reserve!r}")
    if reserve.role != pb.STATE_RESERVE:
        return Refusal(
            pb.UNAUTHORIZED,
            f"seize.reserve: {m.reserve!r} is {role_name(reserve.role)}; seized funds go only "
            "to a STATE_RESERVE",
        )
    asset = ctx.ov.asset(m.asset)
    if asset is None:
        return Refusal(pb.UNKNOWN_ASSET, f"seize.asset: no asset {m.asset!r}")
    if target.role == pb.STATE_RESERVE:
        return Refusal(pb.INVALID_FIELD, f"seize: the state reserve {m.account_id!r} is not seized")
    if not target.frozen:
        return Refusal(pb.NOT_FROZEN, f"seize: {m.account_id!r} is not frozen")
    bad = hold_refusal(ctx.rules, "seize.reserve", reserve, asset)
    if bad is not None:
        return bad
    amount = amount_of(m)
    balance = ctx.ov.balance(target.account_id, m.asset)
    if balance < amount:
        return Refusal(
            pb.INSUFFICIENT_FUNDS,
            f"seize: {m.account_id!r} holds {balance} {m.asset}, not {amount}",
        )
    reserve_balance = ctx.ov.balance(reserve.account_id, m.asset) + amount
    seized = amount_of(asset, "seized") + amount
    if reserve_balance > AMOUNT_MAX or seized > AMOUNT_MAX:
        return Refusal(pb.AMOUNT_OVERFLOW, f"seize.amount: {m.asset} would pass 2^128 - 1")
    ctx.ov.set_balance(target, m.asset, balance - amount)
    ctx.ov.set_balance(reserve, m.asset, reserve_balance)
    set_amount(asset, "seized", seized)
    ctx.ov.put_asset(asset)
    ctx.ov.put_raw(k.seizure_key(ctx.tx_id), m.SerializeToString())
    record = pb.ReserveInflow(
        reserve=reserve.account_id,
        kind=pb.SEIZED,
        asset=m.asset,
        source=target.account_id,
        tx_id=ctx.tx_id,
        height=ctx.height,
        court_order=m.court_order,
    )
    set_amount(record, "amount", amount)
    _put_inflow(ctx, record)
    return [signer.account_id, m.account_id, reserve.account_id]


RESERVE_HANDLERS: Final[dict[str, Handler]] = {"seize": _seize}
