"""Reading an ISO 20022 message from outside: bounded, with nothing resolved, then
validated against its schema.

Rules this module keeps:

1. A message is at most `MAX_MESSAGE_BYTES` of UTF-8. An XML declaration may name only
   UTF-8 as its encoding: a message declared UTF-16 (or anything else) is refused before
   any parser reads it, so no check below can be passed by re-encoding.
2. No DOCTYPE, so no DTD, no entity (internal or external) and nothing fetched over a
   network; lxml's parser is also told not to resolve entities nor to touch a network.
3. The tree is at most `MAX_DEPTH` elements deep and `MAX_ELEMENTS` elements in all.
4. The document element must be the ``Document`` of the expected message's namespace,
   and the whole document must be valid against that message's vendored XSD
   (node/iso20022/_schemas.py). Only then does the mapping read it.
5. Every refusal is an `IsoRefusal` with a stable code, an ISO 20022 reason code
   (FF01 "invalid file format" for all of these) and a sentence that says what is wrong.
"""

from __future__ import annotations

import re
from typing import Final

from lxml import etree

from node.iso20022._refusal import IsoRefusal
from node.iso20022._schemas import namespace, schema

MAX_MESSAGE_BYTES: Final = 256 * 1024
MAX_DEPTH: Final = 32
MAX_ELEMENTS: Final = 20_000

XML_TOO_LARGE: Final = "XML_TOO_LARGE"
XML_MALFORMED: Final = "XML_MALFORMED"
XML_FORBIDDEN: Final = "XML_FORBIDDEN"
XML_SCHEMA_INVALID: Final = "XML_SCHEMA_INVALID"
#: The ISO reason of every refusal of this module.
INVALID_FILE_FORMAT: Final = "FF01"

_BOM: Final = b"\xef\xbb\xbf"
_DECLARATION_RE: Final = re.compile(r"<\?xml\b[^>]*?\?>", re.DOTALL)
_ENCODING_RE: Final = re.compile(r"""\bencoding\s*=\s*(["'])([^"']*)\1""")
_MAX_SHOWN: Final = 200

_PARSER: Final = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


def _refuse(code: str, message: str) -> IsoRefusal:
    return IsoRefusal(code, INVALID_FILE_FORMAT, message)


def _text_of(data: bytes) -> str:
    """The message as text: UTF-8, with a declared encoding (if any) of UTF-8."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise _refuse(
            XML_TOO_LARGE, f"the message is {len(data)} bytes; at most {MAX_MESSAGE_BYTES}"
        )
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _refuse(
            XML_FORBIDDEN, f"the message is not UTF-8 (byte {err.start}); send it as UTF-8"
        ) from None
    declaration = _DECLARATION_RE.match(text.lstrip())
    if declaration is not None:
        encoding = _ENCODING_RE.search(declaration.group(0))
        if encoding is not None and encoding.group(2).lower() not in ("utf-8", "utf8"):
            raise _refuse(
                XML_FORBIDDEN,
                f"the XML declaration names encoding {encoding.group(2)[:20]!r}; only UTF-8",
            )
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise _refuse(XML_FORBIDDEN, "a DOCTYPE or entity declaration is not allowed")
    return text


def _check_shape(root: etree._Element) -> None:
    """At most MAX_DEPTH deep and MAX_ELEMENTS elements."""
    count = 0
    depth = 0
    for event, _element in etree.iterwalk(root, events=("start", "end")):
        if event == "end":
            depth -= 1
            continue
        count += 1
        depth += 1
        if depth > MAX_DEPTH:
            raise _refuse(XML_FORBIDDEN, f"the message nests deeper than {MAX_DEPTH} elements")
        if count > MAX_ELEMENTS:
            raise _refuse(XML_FORBIDDEN, f"the message has more than {MAX_ELEMENTS} elements")


def read_message(data: bytes, message: str) -> etree._Element:
    """The ``Document`` element of an ISO 20022 message of version message (for example
    "pacs.008.001.08"), parsed under the rules above and valid against its schema.

    Raises:
        IsoRefusal: XML_TOO_LARGE, XML_FORBIDDEN, XML_MALFORMED or XML_SCHEMA_INVALID.
    """
    text = _text_of(data)
    try:
        root = etree.fromstring(text.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError as err:
        raise _refuse(XML_MALFORMED, f"not well-formed XML: {str(err)[:_MAX_SHOWN]}") from None
    if not isinstance(root.tag, str):
        raise _refuse(XML_MALFORMED, "the message has no document element")
    _check_shape(root)
    expected = f"{{{namespace(message)}}}Document"
    if root.tag != expected:
        raise _refuse(
            XML_SCHEMA_INVALID,
            f"the document element is {root.tag[:_MAX_SHOWN]}; a {message} message is {expected}",
        )
    error = next(iter(schema(message).iter_errors(root)), None)
    if error is not None:
        where = error.path or "/"
        raise _refuse(
            XML_SCHEMA_INVALID,
            f"not valid {message} at {where[:_MAX_SHOWN]}: {(error.reason or '')[:_MAX_SHOWN]}",
        )
    return root
