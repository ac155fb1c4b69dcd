"""The ISO 20022 XSDs the node validates against, vendored in ``node/iso20022/xsd``.

Rules this module keeps:

1. One table, `SCHEMAS`, names every message version the node accepts or emits; nothing
   else in the code spells a version.
2. A schema file is checked against its recorded SHA-256 before it is loaded, so an
   install whose files were changed fails loudly instead of validating against something
   else.
3. Each schema is loaded once per process (loading one takes a few hundred milliseconds);
   validation itself is the caller's, with ``schema(message).iter_errors(...)``.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Final

import xmlschema


@dataclass(frozen=True, slots=True)
class SchemaFile:
    """One vendored XSD: its file in ``xsd/`` and the SHA-256 of its bytes."""

    file: str
    sha256: str

    @property
    def namespace(self) -> str:
        """The message's XML namespace (``urn:iso:std:iso:20022:tech:xsd:<message>``)."""
        return "urn:iso:std:iso:20022:tech:xsd:" + self.file.removesuffix(".xsd")


PACS_008: Final = "pacs.008.001.08"  # customer credit transfer, in
PACS_009: Final = "pacs.009.001.10"  # financial institution credit transfer, in
PACS_002: Final = "pacs.002.001.12"  # payment status report, out
CAMT_053: Final = "camt.053.001.08"  # statement, out
CAMT_054: Final = "camt.054.001.08"  # debit/credit notification, out

SCHEMAS: Final[dict[str, SchemaFile]] = {
    PACS_008: SchemaFile(
        "pacs.008.001.08.xsd", "9bb360555d1981be8635aa3ed295abfe8b2d221d316193434114ad722107dcde"
    ),
    PACS_009: SchemaFile(
        "pacs.009.001.10.xsd", "8a8c01d50a6a76eb6183b49dd002cec37481b9401c3c9fda598111883695c10c"
    ),
    PACS_002: SchemaFile(
        "pacs.002.001.12.xsd", "4b48c2253981f49b6afbf5e60f849621aa4221804f062a0e85a3cbf358bfe0cc"
    ),
    CAMT_053: SchemaFile(
        "camt.053.001.08.xsd", "ca0b135cc8e2dde5b2f99af6b6c514a8f29d6e7c6cf98e9ea84d247189868ff5"
    ),
    CAMT_054: SchemaFile(
        "camt.054.001.08.xsd", "2b392a1f7e70e70902fd0d803ff85989613bd1cae351663240b0bb9243be2c28"
    ),
}


class SchemaFileError(RuntimeError):
    """A vendored XSD is missing or its bytes differ from the recorded SHA-256 (a broken
    install: reinstall the node)."""


def namespace(message: str) -> str:
    """The XML namespace of a message version of `SCHEMAS`.

    Raises:
        KeyError: the version is not one of `SCHEMAS`.
    """
    return SCHEMAS[message].namespace


@functools.cache
def schema(message: str) -> xmlschema.XMLSchema:
    """The loaded XSD of a message version of `SCHEMAS` (loaded once per process).

    Raises:
        KeyError: the version is not one of `SCHEMAS`.
        SchemaFileError: its file is missing or altered.
    """
    entry = SCHEMAS[message]
    path = resources.files("node.iso20022").joinpath("xsd", entry.file)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise SchemaFileError(f"the ISO 20022 schema {entry.file} cannot be read: {err}") from err
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        raise SchemaFileError(
            f"the ISO 20022 schema {entry.file} has SHA-256 {digest}, not {entry.sha256}"
        )
    return xmlschema.XMLSchema(data.decode("utf-8"))
