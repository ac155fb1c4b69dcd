"""ISO 20022 messages in and out of the node (docs/iso20022.md).

The XSDs of the message versions the node speaks are vendored in ``xsd/`` (their terms in
``xsd/NOTICE``); `schema` loads one, checked against its recorded digest.
"""

from node.iso20022._money import (
    AmountError,
    NotRepresentable,
    amount_text,
    iso_currency,
    minor_units,
)
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

__all__ = [
    "CAMT_053",
    "CAMT_054",
    "PACS_002",
    "PACS_008",
    "PACS_009",
    "SCHEMAS",
    "AmountError",
    "NotRepresentable",
    "SchemaFile",
    "SchemaFileError",
    "amount_text",
    "iso_currency",
    "minor_units",
    "namespace",
    "schema",
]
