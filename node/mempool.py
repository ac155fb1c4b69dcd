"""The mempool: transactions admitted by the ledger's check_tx and waiting for a block.

Admission order is kept (FIFO), so the proposer reaps the oldest transactions first. The
pool is bounded by count and by bytes; when either bound is reached a new transaction is
refused with MEMPOOL_FULL rather than evicting one that was already acknowledged as
pending. After each commit the included transactions leave the pool and the rest are
checked again against the new state; those that no longer pass (spent funds, expired) are
dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from proto import ledger_pb2

log = logging.getLogger(__name__)


class CheckOutcome(Protocol):
    """What the ledger's check_tx returns, as far as the mempool cares."""

    @property
    def code(self) -> int: ...
    @property
    def message(self) -> str: ...
    @property
    def tx_id(self) -> bytes: ...
    @property
    def expires_at_height(self) -> int: ...
    @property
    def accounts(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class _Entry:
    raw: bytes
    accounts: tuple[str, ...]  # the accounts that authorised it (payers, or the signer)
    expires_at_height: int


class TxChecker(Protocol):
    """The ledger's admission check."""

    def check_tx(self, raw: bytes, *, next_height: int) -> CheckOutcome: ...


@dataclass(frozen=True, slots=True)
class Admission:
    """The mempool's answer to one submitted transaction."""

    code: int
    message: str
    tx_id: bytes
    added: bool = False  # newly added: the caller gossips it

    @property
    def ok(self) -> bool:
        return self.code == ledger_pb2.OK


class Mempool:
    """Pending transactions, bounded by count and bytes."""

    def __init__(self, checker: TxChecker, *, max_txs: int, max_bytes: int) -> None:
        self._checker = checker
        self.max_txs = max_txs
        self.max_bytes = max_bytes
        self._txs: dict[bytes, _Entry] = {}  # by tx_id, in admission order
        self.size_bytes = 0
        self.results: dict[int, int] = {}  # admissions by result code, for metrics

    def __len__(self) -> int:
        return len(self._txs)

    def __contains__(self, tx_id: bytes) -> bool:
        return tx_id in self._txs

    def get(self, tx_id: bytes) -> bytes | None:
        """The pending envelope with this id, or None."""
        entry = self._txs.get(tx_id)
        return None if entry is None else entry.raw

    def add(self, raw: bytes, *, next_height: int, source: str = "api") -> Admission:
        """Admit one transaction: ledger check, de-duplication and the pool's bounds.

        ``source`` says who sent it: "api", or the id of the peer that gossiped it.
        """
        outcome = self._checker.check_tx(raw, next_height=next_height)
        if outcome.code != ledger_pb2.OK:
            return self._count(Admission(outcome.code, outcome.message, outcome.tx_id))
        tx_id = outcome.tx_id
        if tx_id in self._txs:
            # Already pending: resubmission is idempotent, so answer as the first time.
            return self._count(Admission(ledger_pb2.OK, "already pending", tx_id))
        if len(self._txs) >= self.max_txs or self.size_bytes + len(raw) > self.max_bytes:
            return self._count(
                Admission(
                    ledger_pb2.MEMPOOL_FULL,
                    f"mempool full ({len(self._txs)} txs, {self.size_bytes} bytes); retry later",
                    tx_id,
                )
            )
        self._txs[tx_id] = _Entry(raw, tuple(outcome.accounts), outcome.expires_at_height)
        self.size_bytes += len(raw)
        return self._count(Admission(ledger_pb2.OK, "pending", tx_id, added=True))

    def reap(self, *, max_txs: int, max_bytes: int) -> list[bytes]:
        """The oldest pending transactions that fit in a block; they stay in the pool."""
        out: list[bytes] = []
        total = 0
        for entry in self._txs.values():
            raw = entry.raw
            if len(out) >= max_txs or total + len(raw) > max_bytes:
                break
            out.append(raw)
            total += len(raw)
        return out

    def update(
        self, included: Iterable[bytes], *, next_height: int, touched: set[str] | None = None
    ) -> int:
        """After a commit: drop the included tx ids and re-check what the block may affect.

        Args:
            included: tx ids of the committed block.
            next_height: the height the remaining transactions would go into.
            touched: accounts the block's transactions involved; pending transactions
                authorised by one of them are checked again, as are those expiring. None
                checks every pending transaction (a block that changed rules, e.g. limits).

        Returns:
            How many remaining transactions were dropped by the re-check.
        """
        for tx_id in included:
            entry = self._txs.pop(tx_id, None)
            if entry is not None:
                self.size_bytes -= len(entry.raw)
        dropped = 0
        for tx_id, entry in list(self._txs.items()):
            if (
                touched is not None
                and entry.expires_at_height >= next_height
                and touched.isdisjoint(entry.accounts)
            ):
                continue
            outcome = self._checker.check_tx(entry.raw, next_height=next_height)
            if outcome.code != ledger_pb2.OK:
                del self._txs[tx_id]
                self.size_bytes -= len(entry.raw)
                dropped += 1
                log.debug("mempool dropped %s on re-check: %s", tx_id.hex(), outcome.message)
        return dropped

    def _count(self, admission: Admission) -> Admission:
        self.results[admission.code] = self.results.get(admission.code, 0) + 1
        return admission
