"""ISO 20022 messages in and out of the node (docs/iso20022.md).

The XSDs of the message versions the node speaks are vendored in ``xsd/`` (their terms in
``xsd/NOTICE``); `schema` loads one, checked against its recorded digest.
"""

from collections.abc import Callable

from node.iso20022._mapping import PaymentMessage, payment_message, travel_data
from node.iso20022._money import (
    AmountError,
    NotRepresentable,
    amount_text,
    iso_currency,
    minor_units,
)
from node.iso20022._refusal import IsoRefusal, OriginalMessage, OriginalTransaction
from node.iso20022._schemas import (
    CAMT_053,
    CAMT_054,
    PACS_002,
    PACS_008,
    PACS_009,
    SCHEMAS,
    SchemaFile,
    SchemaFileError,
    namespace,
    schema,
)
from node.iso20022._status import (
    ACCEPTED,
    REJECTED,
    SETTLED,
    STATUS_REASONS,
    IsoResult,
    status_reason,
    status_report,
)
from node.iso20022._xml import read_message
from proto import ledger_pb2


def payment_from_xml(
    data: bytes, message: str, decimals_of: Callable[[str], int | None]
) -> PaymentMessage:
    """Read a pacs.008 or pacs.009 (bytes of UTF-8 XML) and map it to its transfer.

    Raises:
        IsoRefusal: the message is refused (docs/iso20022.md, "Message codes").
    """
    return payment_message(read_message(data, message), message, decimals_of)


def payment_and_parties(
    data: bytes, message: str, decimals_of: Callable[[str], int | None]
) -> tuple[PaymentMessage, list[ledger_pb2.TravelRuleData]]:
    """`payment_from_xml` and each transaction's travel-rule data (`travel_data`), from
    one reading of the message.

    Raises:
        IsoRefusal: the message is refused (docs/iso20022.md, "Message codes").
    """
    root = read_message(data, message)
    return payment_message(root, message, decimals_of), travel_data(root, message)


__all__ = [
    "ACCEPTED",
    "CAMT_053",
    "CAMT_054",
    "PACS_002",
    "PACS_008",
    "PACS_009",
    "REJECTED",
    "SCHEMAS",
    "SETTLED",
    "STATUS_REASONS",
    "AmountError",
    "IsoRefusal",
    "IsoResult",
    "NotRepresentable",
    "OriginalMessage",
    "OriginalTransaction",
    "PaymentMessage",
    "SchemaFile",
    "SchemaFileError",
    "amount_text",
    "iso_currency",
    "minor_units",
    "namespace",
    "payment_and_parties",
    "payment_from_xml",
    "payment_message",
    "read_message",
    "schema",
    "status_reason",
    "status_report",
]
