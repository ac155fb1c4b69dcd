"""ISO 20022 out of the store: camt.053 statements and the camt.054 notification stream
(docs/iso20022.md, "Statements: camt.053" and "Notifications: camt.054").

Rules this module keeps:

1. A range is bounded before anything is read: at most `MAX_STATEMENT_HEIGHTS` heights,
   then at most `MAX_STATEMENT_ENTRIES` transactions of the account (RANGE_TOO_LARGE past
   either); from after to, an unknown height, heights and dates together are
   INVALID_RANGE.
2. Balances come from the store's balance index (node/store.py, rules 9 and 10): the
   opening balance is the one at the end of ``from_height - 1``, the closing one at the
   end of ``to_height``.
3. Entries come from the bodies of the account's transactions with code OK (each transfer
   leg, issue, redeem, seizure; a refused one is listed in the account's history, store
   rule 4, but moves nothing).
   What a body does not say (the backing an issue or redemption moves, the balances a
   closed account sweeps) is the rest of the block's change in the balance index, booked
   on a transaction of the account in that block that is not a transfer (the first issue,
   redemption, seizure or closure, if there are several; else the first). So each asset's
   entries add up from the opening to the closing balance; a change that no transaction
   explains is a bug (STATEMENT_INCONSISTENT, 500, logged).
4. An asset, amount or account id with no ISO form answers 422 NOT_REPRESENTABLE naming
   it; a document that fails its schema is a bug (CAMT_INVALID, 500, logged).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any, Final

from node.api import _errors as e
from node.api._events import next_block
from node.api._facade import NodeFacade
from node.blocks import decode_block
from node.iso20022 import NotRepresentable, iso_currency
from node.iso20022._camt import (
    AssetStatement,
    CamtInvalid,
    Entry,
    Period,
    camt053_statement,
    camt054_notification,
)
from node.ledger import KZT, amount_of, get_account, get_asset, uetr_text
from node.store import HistoryEntry, Store
from proto import block_pb2, ledger_pb2

log = logging.getLogger("tenge.api")

MAX_STATEMENT_HEIGHTS: Final = 100_000
MAX_STATEMENT_ENTRIES: Final = 10_000
#: Transactions read at a time while a notification stream catches up.
NOTIFICATION_PAGE: Final = 100
DATE_PATTERN: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DATE_RE: Final = re.compile(DATE_PATTERN)
_MS_PER_DAY: Final = 86_400_000
#: The kinds besides transfers that move balances beyond what their bodies say (rule 3).
_MOVING_KINDS: Final = frozenset({"issue", "redeem", "seize", "close_account"})

INVALID_RANGE: Final = e.INVALID_RANGE
RANGE_TOO_LARGE: Final = e.RANGE_TOO_LARGE
NOT_REPRESENTABLE: Final = e.NOT_REPRESENTABLE
STATEMENT_INCONSISTENT: Final = e.STATEMENT_INCONSISTENT
CAMT_INVALID: Final = e.CAMT_INVALID


def _problem(code: str, message: str, **extra: Any) -> e.ApiProblem:
    return e.ApiProblem(e.HTTP_CODES[code], code, message, headers=None, **extra)


# ---- ranges ----


def heights_of(store: Store, params: dict[str, str]) -> tuple[int, int]:
    """The heights a statement request names: ``from_height``/``to_height`` or
    ``from_date``/``to_date`` (YYYY-MM-DD, UTC; by block time). A missing ``to_*`` means
    the tip.

    Raises:
        ApiProblem: 400 INVALID_ARGUMENT (malformed), INVALID_RANGE or RANGE_TOO_LARGE.
    """
    by_height = "from_height" in params or "to_height" in params
    by_date = "from_date" in params or "to_date" in params
    if by_height and by_date:
        raise _problem(INVALID_RANGE, "give heights or dates, not both")
    tip = store.height
    if by_date:
        if "from_date" not in params:
            raise _problem(INVALID_RANGE, "from_date is required with to_date")
        first = _day_start_ms(params["from_date"], "from_date")
        end = (
            _day_start_ms(params["to_date"], "to_date") + _MS_PER_DAY
            if "to_date" in params
            else None
        )
        if end is not None and end <= first:
            raise _problem(INVALID_RANGE, "from_date is after to_date")
        from_height = _first_height_at(store, first)
        to_height = tip if end is None else _first_height_at(store, end) - 1
        if from_height > to_height:
            raise _problem(INVALID_RANGE, "no block was committed in that date range")
    else:
        if "from_height" not in params:
            raise _problem(INVALID_RANGE, "give from_height (and to_height) or from_date")
        from_height = _height(params["from_height"], "from_height")
        to_height = _height(params["to_height"], "to_height") if "to_height" in params else tip
        if from_height > to_height:
            raise _problem(
                INVALID_RANGE, f"from_height {from_height} is after to_height {to_height}"
            )
        if to_height > tip:
            raise _problem(INVALID_RANGE, f"no block at height {to_height} (the chain is at {tip})")
    if to_height - from_height + 1 > MAX_STATEMENT_HEIGHTS:
        raise _problem(
            RANGE_TOO_LARGE,
            f"{to_height - from_height + 1} heights; a statement covers at most "
            f"{MAX_STATEMENT_HEIGHTS}",
        )
    return from_height, to_height


def _height(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 20:
        raise e.bad_argument(f"{what} must be a height (1 or more), not {text[:40]!r}")
    value = int(text)
    if value < 1:
        raise _problem(INVALID_RANGE, f"{what} must be 1 or more (height 0 is the genesis)")
    return value


def _day_start_ms(text: str, what: str) -> int:
    if _DATE_RE.fullmatch(text) is None:
        raise e.bad_argument(f"{what} must be a date YYYY-MM-DD, not {text[:40]!r}")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise e.bad_argument(f"{what}: {text!r} is not a calendar date") from None
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def _first_height_at(store: Store, time_ms: int) -> int:
    """The first height whose block time is at or after time_ms (tip + 1 if none): a
    binary search over the headers (block times never decrease)."""
    low, high = 1, store.height + 1
    while low < high:
        middle = (low + high) // 2
        if _block(store, middle).header.time_ms >= time_ms:
            high = middle
        else:
            low = middle + 1
    return low


def _block(store: Store, height: int) -> block_pb2.Block:
    block = decode_block(store.get_block(height) or b"")
    if block is None:
        raise RuntimeError(f"committed block {height} is missing or does not decode")
    return block


# ---- entries ----


def account_entries(
    store: Store,
    account_id: str,
    from_height: int,
    to_height: int,
    assets: Iterable[str],
    history: Sequence[HistoryEntry] | None = None,
) -> list[Entry]:
    """The account's entries of each of assets at heights from_height to to_height, in
    chain order (block, transaction, leg; rule 3).

    history: the account's transactions in the range, if read already; the caller has
    bounded them (rule 1). Only one block is decoded at a time.

    Raises:
        ApiProblem: 500 STATEMENT_INCONSISTENT (a bug: logged).
    """
    if history is None:
        history = store.account_history_between(
            account_id, from_height, to_height, limit=MAX_STATEMENT_ENTRIES
        )
    wanted = set(assets)
    decimals = {asset: _decimals(store, asset) for asset in wanted}
    entries: list[Entry] = []
    place: dict[tuple[int, bytes], int] = {}  # (height, tx id) -> index in its block
    undescribed: dict[int, list[tuple[bytes, str]]] = {}  # height -> (tx id, kind)
    times: dict[int, int] = {}  # height -> block time
    block: block_pb2.Block | None = None
    codes: dict[int, int] = {}  # index -> result code, of the current block
    for line in history:
        if block is None or block.header.height != line.height:
            block = _block(store, line.height)
            times[line.height] = block.header.time_ms
            codes = {r.index: r.code for r in store.get_receipts(line.height)}
        if codes.get(line.index) != ledger_pb2.OK:
            continue  # settled but refused (INSUFFICIENT_FUNDS...): it moved nothing
        body = ledger_pb2.TxBody.FromString(
            ledger_pb2.TxEnvelope.FromString(block.txs[line.index]).body
        )
        place[(line.height, line.tx_id)] = line.index
        moves = _body_moves(body, account_id, line.tx_id, line.height, times[line.height])
        entries.extend(replace(m, decimals=decimals[m.asset]) for m in moves if m.asset in wanted)
        kind = body.WhichOneof("kind") or "unknown"
        if kind != "transfer":
            undescribed.setdefault(line.height, []).append((line.tx_id, kind))
    booked: dict[tuple[int, str], int] = {}
    for entry in entries:
        booked[entry.height, entry.asset] = (
            booked.get((entry.height, entry.asset), 0) + entry.amount
        )
    for asset in sorted(wanted):
        changes = store.balance_changes(
            account_id, asset, from_height, to_height, limit=MAX_STATEMENT_HEIGHTS
        )
        for height, (before, after) in sorted(changes.items()):
            rest = after - before - booked.get((height, asset), 0)
            if rest == 0:
                continue
            candidates = undescribed.get(height)
            if not candidates:
                log.error(
                    "statement of %s: %s changed by %d at height %d with no transaction",
                    account_id, asset, rest, height,
                )  # fmt: skip
                raise _problem(
                    STATEMENT_INCONSISTENT,
                    f"the {asset} balance of {account_id!r} changed at height {height} by "
                    "more than its transactions say; the node logged it",
                )
            moving = [c for c in candidates if c[1] in _MOVING_KINDS]
            tx_id, kind = (moving or candidates)[0]
            debtor, creditor = (account_id, "") if rest < 0 else ("", account_id)
            entries.append(
                Entry(tx_id, None, height, times[height], asset, decimals[asset], rest, kind,
                      debtor, creditor)
            )  # fmt: skip
    entries.sort(
        key=lambda x: (x.height, place[(x.height, x.tx_id)], -1 if x.leg is None else x.leg)
    )
    return entries


def _decimals(store: Store, asset: str) -> int:
    record = get_asset(store, asset)
    return 0 if record is None else int(record.decimals)


def _body_moves(
    body: ledger_pb2.TxBody, account_id: str, tx_id: bytes, height: int, time_ms: int
) -> list[Entry]:
    """The movements of account_id's balances that a settled body describes (rule 3);
    decimals are filled in by the caller."""
    kind = body.WhichOneof("kind") or "unknown"
    out: list[Entry] = []

    def add(asset: str, amount: int, debtor: str, creditor: str, leg: int | None = None,
            payment: ledger_pb2.TransferLeg | None = None) -> None:  # fmt: skip
        ids: dict[str, str] = {}
        if payment is not None:
            ids = {
                "end_to_end_id": payment.end_to_end_id,
                "uetr": uetr_text(payment.uetr) if payment.uetr else "",
                "purpose_code": payment.purpose_code,
                "unstructured": payment.remittance.unstructured,
                "creditor_reference": payment.remittance.creditor_reference,
                "creditor_reference_type": payment.remittance.creditor_reference_type,
            }
        out.append(
            Entry(tx_id, leg, height, time_ms, asset, 0, amount, kind, debtor, creditor, **ids)
        )

    if kind == "transfer":
        for i, leg in enumerate(body.transfer.legs):
            if leg.payer == account_id:
                add(leg.asset, -amount_of(leg), leg.payer, leg.payee, i, leg)
            if leg.payee == account_id:
                add(leg.asset, amount_of(leg), leg.payer, leg.payee, i, leg)
    elif kind == "issue" and body.issue.to == account_id:
        add(body.issue.asset, amount_of(body.issue), "", account_id)
    elif kind == "redeem" and body.signer == account_id:
        add(body.redeem.asset, -amount_of(body.redeem), account_id, "")
    elif kind == "seize":
        seize = body.seize
        if seize.account_id == account_id:
            add(seize.asset, -amount_of(seize), account_id, seize.reserve)
        if seize.reserve == account_id:
            add(seize.asset, amount_of(seize), seize.account_id, account_id)
    return out


# ---- documents ----


def statement_document(
    store: Store, account_id: str, from_height: int, to_height: int, asset: str | None
) -> bytes:
    """The camt.053 statement of an existing account over a checked range (`heights_of`),
    of one asset or of every asset it held or moved in the range.

    Raises:
        ApiProblem: RANGE_TOO_LARGE, INVALID_RANGE (before the balance index),
            NOT_REPRESENTABLE, STATEMENT_INCONSISTENT, CAMT_INVALID.
    """
    counted = store.account_history_between(
        account_id, from_height, to_height, limit=MAX_STATEMENT_ENTRIES + 1
    )
    if len(counted) > MAX_STATEMENT_ENTRIES:
        raise _problem(
            RANGE_TOO_LARGE,
            f"more than {MAX_STATEMENT_ENTRIES} transactions of {account_id!r} in heights "
            f"{from_height} to {to_height}; ask for a shorter range",
        )
    account = get_account(store, account_id)
    candidates = [asset] if asset is not None else sorted(account.assets if account else [])
    balances: dict[str, tuple[int, int]] = {}
    for code in candidates:
        opening = store.balance_at(account_id, code, from_height - 1)
        closing = store.balance_at(account_id, code, to_height)
        if opening is None or closing is None:
            since = store.balances_from
            raise _problem(
                INVALID_RANGE,
                "this node's store predates its balance index and has committed no block since"
                if since is None
                else f"this node indexes balances from height {since} on: a statement "
                f"starts at {since} or later",
            )
        balances[code] = (opening, closing)
    entries: dict[str, list[Entry]] = {}
    for entry in account_entries(store, account_id, from_height, to_height, candidates, counted):
        entries.setdefault(entry.asset, []).append(entry)
    shown = [
        code
        for code in candidates
        if code == asset or balances[code] != (0, 0) or entries.get(code)
    ] or [KZT]
    balances.setdefault(KZT, (0, 0))
    for code in shown:
        try:
            iso_currency(code)
        except NotRepresentable as err:
            raise _problem(
                NOT_REPRESENTABLE, f"{err}; ask for one asset with asset=KZT", asset=code
            ) from None
    period = Period(
        from_height,
        to_height,
        _block(store, from_height).header.time_ms,
        _block(store, to_height).header.time_ms,
    )
    statements = [
        AssetStatement(code, _decimals(store, code), *balances[code], tuple(entries.get(code, ())))
        for code in shown
    ]
    return _document(lambda: camt053_statement(account_id, period, statements))


def _document(build: Callable[[], bytes]) -> bytes:
    try:
        return build()
    except NotRepresentable as err:
        raise _problem(NOT_REPRESENTABLE, str(err)) from None
    except CamtInvalid:
        log.exception("an ISO 20022 document failed its schema")
        raise _problem(
            CAMT_INVALID, "the node built a document that fails its schema; it logged it"
        ) from None


def notification_document(store: Store, account_id: str, height: int) -> bytes | None:
    """The camt.054 notification of the account's entries in the block at height, or None
    when none of its balances moved there.

    Raises:
        ApiProblem: NOT_REPRESENTABLE, STATEMENT_INCONSISTENT, CAMT_INVALID.
    """
    account = get_account(store, account_id)
    assets = list(account.assets) if account is not None else []
    entries = account_entries(store, account_id, height, height, assets)
    if not entries:
        return None
    time_ms = _block(store, height).header.time_ms
    period = Period(height, height, time_ms, time_ms)
    return _document(lambda: camt054_notification(account_id, period, entries))


async def notification_stream(
    facade: NodeFacade, account_id: str, after: int, keepalive_s: float
) -> AsyncIterator[str]:
    """Server-sent events: one ``camt.054`` event (id = height, data = the document) per
    block after height `after` that moves the account's balances, first from the store,
    then as blocks commit (the subscription opens first, as in node/api/_events.py)."""
    store = facade.store
    next_height = after + 1
    async with facade.subscribe() as channel:
        yield ": camt.054 notifications\n\n"
        while True:
            upto = store.height
            while next_height <= upto:  # catch up from the store, a page at a time
                lines = store.account_history_between(
                    account_id, next_height, upto, limit=NOTIFICATION_PAGE
                )
                heights = sorted({line.height for line in lines})
                if len(lines) < NOTIFICATION_PAGE:
                    next_height = upto + 1
                elif len(heights) > 1:
                    heights = heights[:-1]  # the last height may go on in the next page
                for height in heights:
                    event = _notification_event(store, account_id, height)
                    if event:
                        yield event
                if heights and next_height <= heights[-1]:
                    next_height = heights[-1] + 1
            summary, ended = await next_block(channel, keepalive_s)
            if ended:
                yield _sse("dropped", '{"reason":"too slow; reconnect with Last-Event-ID"}')
                return
            if summary is None:
                yield ": keepalive\n\n"


def _notification_event(store: Store, account_id: str, height: int) -> str:
    try:
        document = notification_document(store, account_id, height)
    except e.ApiProblem as problem:
        if problem.code != NOT_REPRESENTABLE:
            raise
        data = json.dumps(
            {"height": height, "code": problem.code, "message": problem.message},
            separators=(",", ":"),
        )
        return _sse("not_representable", data, str(height))
    if document is None:
        return ""
    return _sse("camt.054", document.decode(), str(height))


def _sse(event: str, data: str, event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    lines = "".join(f"data: {line}\n" for line in data.splitlines())
    return f"{head}event: {event}\n{lines}\n"
