"""Hostile ISO 20022 input: each refused with its code and FF01 before the mapping reads it
(node/iso20022/_xml.py)."""

from __future__ import annotations

import pytest
from iso_samples import Payment, pacs008

from node.iso20022 import PACS_008, PACS_009
from node.iso20022._refusal import IsoRefusal
from node.iso20022._xml import MAX_DEPTH, MAX_ELEMENTS, MAX_MESSAGE_BYTES, read_message

GOOD = pacs008(Payment("alice.bank1", "shop.bank1"))


def refusal(data: bytes, message: str = PACS_008) -> IsoRefusal:
    with pytest.raises(IsoRefusal) as caught:
        read_message(data, message)
    assert caught.value.reason == "FF01"
    return caught.value


def test_a_valid_message_is_read() -> None:
    root = read_message(GOOD.encode(), PACS_008)
    assert root.tag.endswith("}Document")


def test_a_utf8_byte_order_mark_is_allowed() -> None:
    assert read_message(b"\xef\xbb\xbf" + GOOD.encode(), PACS_008) is not None


def test_too_large_is_refused_before_parsing() -> None:
    padded = GOOD.replace("<GrpHdr>", "<!--" + "x" * MAX_MESSAGE_BYTES + "--><GrpHdr>")
    assert refusal(padded.encode()).code == "XML_TOO_LARGE"


@pytest.mark.parametrize(
    "doc",
    [
        # billion laughs
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
        '"&lol;&lol;&lol;&lol;">]><Document>&lol2;</Document>',
        # an external entity reading a local file
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        "<Document>&x;</Document>",
        # an external DTD fetched over a network
        '<!DOCTYPE Document SYSTEM "http://127.0.0.1:9/evil.dtd"><Document/>',
    ],
)
def test_doctype_and_entities_are_refused(doc: str) -> None:
    assert refusal(doc.encode()).code == "XML_FORBIDDEN"


def test_a_doctype_hidden_in_utf16_is_refused() -> None:
    doc = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY x "y">]><Document/>'
    assert refusal(doc.encode("utf-16")).code == "XML_FORBIDDEN"


def test_a_utf8_body_declared_as_another_encoding_is_refused() -> None:
    doc = GOOD.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    err = refusal(doc.encode())
    assert err.code == "XML_FORBIDDEN"
    assert "ISO-8859-1" in err.message


def test_bytes_that_are_not_utf8_are_refused() -> None:
    doc = GOOD.replace("Debtor", "D\xe9bitor").encode("latin-1")
    assert refusal(doc).code == "XML_FORBIDDEN"


def test_too_deep_is_refused() -> None:
    inner = "<a>" * (MAX_DEPTH + 1) + "</a>" * (MAX_DEPTH + 1)
    doc = GOOD.replace("</GrpHdr>", f"</GrpHdr>{inner}")
    assert refusal(doc.encode()).code == "XML_FORBIDDEN"


def test_too_many_elements_is_refused() -> None:
    doc = GOOD.replace("</GrpHdr>", "</GrpHdr>" + "<a/>" * MAX_ELEMENTS)
    assert refusal(doc.encode()).code == "XML_FORBIDDEN"


@pytest.mark.parametrize("doc", ["", "<Document>", "not xml", "<a></b>", "<?xml?>"])
def test_malformed_is_refused(doc: str) -> None:
    assert refusal(doc.encode()).code == "XML_MALFORMED"


def test_another_message_is_refused_as_schema_invalid() -> None:
    err = refusal(GOOD.encode(), PACS_009)
    assert err.code == "XML_SCHEMA_INVALID"
    assert "pacs.009.001.10" in err.message


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("<MsgId>MSG-1</MsgId>", ""),  # a mandatory element missing
        ('Ccy="KZT">100.00', 'Ccy="kzt">100.00'),  # a currency code of the wrong form
        (">100.00<", ">-1.00<"),  # a negative amount
        (">100.00<", ">1.123456<"),  # more fraction digits than ISO allows
        ("<ChrgBr>SLEV</ChrgBr>", "<ChrgBr>NONE</ChrgBr>"),  # not a code of the list
        ("<EndToEndId>NOTPROVIDED</EndToEndId>", "<EndToEndId>" + "x" * 36 + "</EndToEndId>"),
        ("</CdtrAcct>", "</CdtrAcct><Unknown/>"),  # an element the schema does not have
    ],
)
def test_schema_invalid_content_is_refused(old: str, new: str) -> None:
    assert old in GOOD
    err = refusal(GOOD.replace(old, new, 1).encode())
    assert err.code == "XML_SCHEMA_INVALID"
