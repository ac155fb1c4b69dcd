"""The one error of ISO 20022 input: our stable code, the ISO reason code, a sentence."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OriginalTransaction:
    """How the sender named one credit transfer transaction (for its pacs.002)."""

    end_to_end_id: str  # the text as sent, NOTPROVIDED included
    tx_id: str  # PmtId/TxId, or ""


@dataclass(frozen=True)
class OriginalMessage:
    """How the sender named a message and its transactions: what a pacs.002 refers to."""

    message_id: str
    transactions: tuple[OriginalTransaction, ...]


class IsoRefusal(ValueError):
    """A message the node does not accept.

    Attributes:
        code: our stable code (``XML_SCHEMA_INVALID``, ``UNKNOWN_CURRENCY``...), as the
            API's error shape names it.
        reason: the ISO 20022 external status reason code a pacs.002 carries (``FF01``).
        message: a sentence for the sender.
        original: the refused message's ids, when it could be read that far.
    """

    original: OriginalMessage | None = None

    def __init__(self, code: str, reason: str, message: str) -> None:
        super().__init__(f"{code} ({reason}): {message}")
        self.code = code
        self.reason = reason
        self.message = message
