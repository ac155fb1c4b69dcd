"""Payment identification on a transfer leg: the ISO 20022 ids a bank's systems track a
payment by (docs/iso20022.md maps each to its pacs.008 element).

Rules this module keeps:

1. The fields are checked with the body alone (`leg_refusal`, from the ledger's static
   checks), each with a code of its own; a refused leg refuses the transaction for its
   body (it speaks for its tx id, node/ledger/_ledger.py rule 6).
2. Every field is bounded: identifiers are ASCII of at most 35 characters, the
   unstructured text at most 140 characters, so a leg's ids take at most a few hundred
   bytes.
3. The ids change no state and no verdict of the rules: a plain payment carrying them
   stays on the short path with the same result, and the store indexes them outside the
   app hash (node/store.py).
"""

from __future__ import annotations

import re
import uuid
from typing import Final

from node.ledger import _rules
from proto import ledger_pb2 as pb

#: ISO Max35Text, in the restricted character set banks exchange identifiers in
#: (letters, digits, space and ``/ - ? : ( ) . , ' +``).
MAX_ID_CHARS: Final = 35
#: ISO Max140Text (RmtInf/Ustrd).
MAX_UNSTRUCTURED_CHARS: Final = 140
UETR_BYTES: Final = 16
#: ISO DocumentType3Code: the kinds of creditor reference (Strd/CdtrRefInf/Tp/CdOrPrtry/Cd).
CREDITOR_REFERENCE_TYPES: Final = frozenset({"RADM", "RPIN", "FXDR", "DISP", "PUOR", "SCOR"})

_RESTRICTED_RE: Final = re.compile(r"[A-Za-z0-9/\-?:().,'+ ]{1,35}")
_PURPOSE_CODE_RE: Final = re.compile(r"[A-Z]{1,4}")


def carries_ids(leg: pb.TransferLeg) -> bool:
    """Whether the leg carries any payment identification field."""
    return bool(leg.end_to_end_id or leg.uetr or leg.purpose_code or leg.HasField("remittance"))


def indexed(leg: pb.TransferLeg) -> bool:
    """Whether the store indexes the leg: it carries a UETR or an end-to-end id."""
    return bool(leg.uetr or leg.end_to_end_id)


def leg_refusal(where: str, leg: pb.TransferLeg) -> _rules.Refusal | None:
    """Why the leg's payment ids are malformed, or None.

    where: the leg's place in the body, e.g. ``transfer.legs[0]``.
    """
    if leg.end_to_end_id:
        bad = identifier_error(leg.end_to_end_id)
        if bad is not None:
            return _rules.Refusal(pb.INVALID_END_TO_END_ID, f"{where}.end_to_end_id: {bad}")
    if leg.uetr:
        bad = _uetr_error(leg.uetr)
        if bad is not None:
            return _rules.Refusal(pb.INVALID_UETR, f"{where}.uetr: {bad}")
    if leg.purpose_code and _PURPOSE_CODE_RE.fullmatch(leg.purpose_code) is None:
        return _rules.Refusal(
            pb.INVALID_PURPOSE_CODE,
            f"{where}.purpose_code: {_rules.show(leg.purpose_code)} is not 1 to 4 upper-case "
            "letters (an ISO ExternalPurpose1Code such as SALA or GDDS)",
        )
    if leg.HasField("remittance"):
        bad = _remittance_error(leg.remittance)
        if bad is not None:
            return _rules.Refusal(pb.INVALID_REMITTANCE, f"{where}.remittance.{bad}")
    return None


def uetr_text(uetr: bytes) -> str:
    """The canonical lower-case text of a 16-byte UETR (8-4-4-4-12 hex digits)."""
    return str(uuid.UUID(bytes=uetr))


def parse_uetr(text: str) -> bytes:
    """The 16 bytes of a UETR given as canonical text (either case).

    Raises:
        ValueError: text is not 36 characters of the 8-4-4-4-12 form, or not a
            version-4 UUID.
    """
    form = f"{_rules.show(text)} is not a UUID of the form 8-4-4-4-12 hex digits"
    if len(text) != 36 or text.count("-") != 4:
        raise ValueError(form)
    try:
        value = uuid.UUID(text)
    except ValueError:
        raise ValueError(form) from None
    if str(value) != text.lower():
        raise ValueError(form)
    bad = _uetr_error(value.bytes)
    if bad is not None:
        raise ValueError(bad)
    return value.bytes


def identifier_error(text: str) -> str | None:
    """Why text is no identifier of the restricted set (an end-to-end id or creditor
    reference: ISO Max35Text), or None."""
    if _RESTRICTED_RE.fullmatch(text) is None:
        if len(text) > MAX_ID_CHARS:
            return f"{len(text)} characters, more than {MAX_ID_CHARS}"
        return (
            f"{_rules.show(text)} has a character outside A-Z, a-z, 0-9, space and "
            "/ - ? : ( ) . , ' +"
        )
    if text[0] in "/ " or text[-1] in "/ " or "//" in text:
        return f"{_rules.show(text)} begins or ends with '/' or a space, or holds '//'"
    return None


def _uetr_error(uetr: bytes) -> str | None:
    if len(uetr) != UETR_BYTES:
        return f"{len(uetr)} bytes, not {UETR_BYTES}"
    if uetr[6] >> 4 != 4 or uetr[8] >> 6 != 0b10:
        return f"{uetr_text(uetr)} is not a version-4 (random) UUID of the RFC 4122 variant"
    return None


def _remittance_error(remittance: pb.Remittance) -> str | None:
    """What is wrong in a leg's remittance (its field first), or None."""
    kind, reference, text = (
        remittance.creditor_reference_type,
        remittance.creditor_reference,
        remittance.unstructured,
    )
    if not (kind or reference or text):
        return "creditor_reference, unstructured: the remittance is empty"
    if reference:
        bad = identifier_error(reference)
        if bad is not None:
            return f"creditor_reference: {bad}"
    if kind:
        if not reference:
            return "creditor_reference_type: set without a creditor_reference"
        if kind not in CREDITOR_REFERENCE_TYPES:
            return (
                f"creditor_reference_type: {_rules.show(kind)} is not one of "
                f"{', '.join(sorted(CREDITOR_REFERENCE_TYPES))}"
            )
    if text:
        if len(text) > MAX_UNSTRUCTURED_CHARS:
            return f"unstructured: {len(text)} characters, more than {MAX_UNSTRUCTURED_CHARS}"
        if not text.isprintable():
            return "unstructured: holds a control or non-printing character"
        if text != text.strip():
            return "unstructured: begins or ends with a space"
    return None
