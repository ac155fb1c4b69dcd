"""Building and signing transactions: for clients, the CLI, tests and benchmarks.

Example::

    body = build_tx(chain_id, "alice.bank1", transfer(("alice.bank1", "shop.bank1", "KZT", 500)),
                    nonce=7, expires_at_height=height + 100)
    envelope = sign_envelope(body, chain_id, [alice_key])
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import nacl.exceptions
import nacl.public
from google.protobuf.message import DecodeError

from node.keys import TX_DOMAIN, KeyPair, sign_bytes
from node.ledger._amounts import set_amount
from node.ledger._payment_ids import parse_uetr
from node.ledger._rules import rotation_sign_bytes
from node.ledger._travel import MAX_SEALED, travel_key_error
from proto import ledger_pb2 as pb

KindMessage = (
    pb.RegisterAccount
    | pb.RegisterAsset
    | pb.SetLimits
    | pb.Issue
    | pb.Redeem
    | pb.Transfer
    | pb.Freeze
    | pb.Unfreeze
    | pb.Seize
    | pb.UpdateValidator
    | pb.RotateValidatorKey
    | pb.SetRates
    | pb.Propose
    | pb.Approve
    | pb.Withdraw
    | pb.RotateKeys
    | pb.RecoverAccount
    | pb.ChangeAccount
    | pb.CloseAccount
    | pb.GrantLicence
    | pb.RevokeLicence
    | pb.PublishTravelKey
)

_KIND_FIELD: Final[dict[type, str]] = {
    pb.RegisterAccount: "register_account",
    pb.RegisterAsset: "register_asset",
    pb.SetLimits: "set_limits",
    pb.Issue: "issue",
    pb.Redeem: "redeem",
    pb.Transfer: "transfer",
    pb.Freeze: "freeze",
    pb.Unfreeze: "unfreeze",
    pb.Seize: "seize",
    pb.UpdateValidator: "update_validator",
    pb.RotateValidatorKey: "rotate_validator_key",
    pb.SetRates: "set_rates",
    pb.Propose: "propose",
    pb.Approve: "approve",
    pb.Withdraw: "withdraw",
    pb.RotateKeys: "rotate_keys",
    pb.RecoverAccount: "recover_account",
    pb.ChangeAccount: "change_account",
    pb.CloseAccount: "close_account",
    pb.GrantLicence: "grant_licence",
    pb.RevokeLicence: "revoke_licence",
    pb.PublishTravelKey: "publish_travel_key",
}


def build_tx(
    chain_id: str,
    signer: str,
    kind_message: KindMessage,
    *,
    nonce: int,
    expires_at_height: int,
    memo: str = "",
) -> bytes:
    """Serialize a TxBody carrying kind_message; these exact bytes are what gets signed.

    Raises:
        TypeError: kind_message is not one of the transaction kinds.
    """
    field = _KIND_FIELD.get(type(kind_message))
    if field is None:
        raise TypeError(f"{type(kind_message).__name__} is not a transaction kind")
    body = pb.TxBody(
        chain_id=chain_id,
        nonce=nonce,
        expires_at_height=expires_at_height,
        signer=signer,
        memo=memo,
    )
    getattr(body, field).CopyFrom(kind_message)
    return body.SerializeToString()


def sign_envelope(body: bytes, chain_id: str, keys: Sequence[KeyPair]) -> bytes:
    """A serialized TxEnvelope of body signed by each key, in the order given."""
    message = sign_bytes(TX_DOMAIN, chain_id, body)
    envelope = pb.TxEnvelope(
        body=body,
        signatures=[pb.Signature(public_key=k.public_key, signature=k.sign(message)) for k in keys],
    )
    return envelope.SerializeToString()


@dataclass(frozen=True, slots=True)
class PaymentIds:
    """The payment identification of one leg (docs/iso20022.md); "" leaves a field out.

    Attributes:
        end_to_end_id: the payer's id of the payment (pacs.008 EndToEndId).
        uetr: the payment's UUID (UETR), as canonical text or 16 bytes.
        purpose_code: an ISO ExternalPurpose1Code (Purp/Cd), e.g. "SALA".
        creditor_reference_type: an ISO DocumentType3Code (e.g. "SCOR"), with
            creditor_reference.
        creditor_reference: the creditor's reference (RmtInf/Strd/CdtrRefInf/Ref).
        unstructured: free-text remittance information (RmtInf/Ustrd).
    """

    end_to_end_id: str = ""
    uetr: str | bytes = ""
    purpose_code: str = ""
    creditor_reference_type: str = ""
    creditor_reference: str = ""
    unstructured: str = ""

    def apply(self, leg: pb.TransferLeg) -> None:
        """Set these ids on leg; the ledger checks them (node/ledger/_payment_ids.py).

        Raises:
            ValueError: the UETR text is not a version-4 UUID of the canonical form.
        """
        leg.end_to_end_id = self.end_to_end_id
        uetr = self.uetr
        if isinstance(uetr, str):
            leg.uetr = parse_uetr(uetr) if uetr else b""
        else:
            leg.uetr = uetr
        leg.purpose_code = self.purpose_code
        if self.creditor_reference_type or self.creditor_reference or self.unstructured:
            leg.remittance.creditor_reference_type = self.creditor_reference_type
            leg.remittance.creditor_reference = self.creditor_reference
            leg.remittance.unstructured = self.unstructured


#: A leg's sealed travel-rule data (`seal_travel_data`).
TravelCopies = Sequence[pb.TravelCopy]

#: A transfer leg: (payer, payee, asset, amount), optionally with its payment ids, and
#: then its travel copies (``PaymentIds()`` when it has no ids).
Leg = (
    tuple[str, str, str, int]
    | tuple[str, str, str, int, PaymentIds]
    | tuple[str, str, str, int, PaymentIds, TravelCopies]
)


def transfer(*legs: Leg, reference: str = "", purpose: int = pb.PURPOSE_UNSPECIFIED) -> pb.Transfer:
    """A Transfer from (payer, payee, asset, amount[, PaymentIds[, travel copies]]) legs,
    with an optional purpose; amounts up to 2^128 - 1.

    Raises:
        ValueError: an amount is not an int from 0 to 2^128 - 1, or a UETR is malformed.
    """
    message = pb.Transfer(reference=reference, purpose=purpose)  # type: ignore[arg-type]
    for spec in legs:
        leg = message.legs.add(payer=spec[0], payee=spec[1], asset=spec[2])
        set_amount(leg, "amount", spec[3])
        if len(spec) >= 5:
            spec[4].apply(leg)
        if len(spec) == 6:
            leg.travel_copies.extend(spec[5])
    return message


#: Bounds of `TravelRuleData`'s fields, in characters: names and the originator's id or
#: address as ISO Max140Text; accounts as account ids or IBANs.
TRAVEL_TEXT_LIMITS: Final = {
    "originator_name": 140,
    "originator_account": 64,
    "originator_id": 140,
    "beneficiary_name": 140,
    "beneficiary_account": 64,
}


class TravelDataError(ValueError):
    """Travel-rule data is malformed, or a copy does not open with the key given."""


def travel_data_error(data: pb.TravelRuleData) -> str | None:
    """Why travel-rule data is incomplete or malformed, or None: every field 1 to its
    limit (`TRAVEL_TEXT_LIMITS`) of printable characters."""
    for name, limit in TRAVEL_TEXT_LIMITS.items():
        text = getattr(data, name)
        if not text:
            return f"{name} is required"
        if len(text) > limit:
            return f"{name}: {len(text)} characters, more than {limit}"
        if not text.isprintable() or text != text.strip():
            return f"{name}: a control character, or a space at either end"
    return None


def seal_travel_data(
    data: pb.TravelRuleData, recipient_keys: Mapping[str, bytes]
) -> list[pb.TravelCopy]:
    """One sealed copy of data per recipient, sorted by account id: a libsodium sealed box
    to the recipient's published X25519 travel key, that only its private key opens.

    Args:
        data: the leg's originator and beneficiary.
        recipient_keys: account id -> published travel key, for every required recipient
            (the payer's and payee's banks, each regulator with a key).

    Raises:
        TravelDataError: data is malformed, or a key is no usable travel key.
    """
    bad = travel_data_error(data)
    if bad is not None:
        raise TravelDataError(f"travel data: {bad}")
    plain = data.SerializeToString()
    copies = []
    for recipient, public_key in sorted(recipient_keys.items()):
        bad = travel_key_error(public_key)
        if bad is not None:
            raise TravelDataError(f"the travel key of {recipient!r}: {bad}")
        sealed = nacl.public.SealedBox(nacl.public.PublicKey(public_key)).encrypt(plain)
        copies.append(pb.TravelCopy(recipient=recipient, sealed=sealed))
    return copies


def open_travel_copy(copy: pb.TravelCopy, private_key: bytes) -> pb.TravelRuleData:
    """The travel-rule data sealed in copy, opened with the recipient's X25519 private key.

    Raises:
        TravelDataError: the copy does not open with this key (another recipient's key, or
            tampered bytes), or what it holds is no well-formed `TravelRuleData`.
    """
    if len(copy.sealed) > MAX_SEALED:
        raise TravelDataError(f"the copy is {len(copy.sealed)} bytes, more than {MAX_SEALED}")
    try:
        box = nacl.public.SealedBox(nacl.public.PrivateKey(private_key))
        plain = box.decrypt(copy.sealed)
    except (nacl.exceptions.CryptoError, nacl.exceptions.TypeError, ValueError) as e:
        raise TravelDataError(
            f"the copy for {copy.recipient!r} does not open with this key (it was sealed to "
            "another key, or altered)"
        ) from e
    try:
        data = pb.TravelRuleData.FromString(plain)
    except DecodeError as e:
        raise TravelDataError("the opened copy is not TravelRuleData") from e
    bad = travel_data_error(data)
    if bad is not None:
        raise TravelDataError(f"the opened copy: {bad}")
    return data


def issue(asset: str, to: str, amount: int) -> pb.Issue:
    """An Issue of amount (up to 2^128 - 1) minor units of asset into account to."""
    message = pb.Issue(asset=asset, to=to)
    set_amount(message, "amount", amount)
    return message


def redeem(asset: str, amount: int) -> pb.Redeem:
    """A Redeem of amount (up to 2^128 - 1) minor units of asset held by the signer."""
    message = pb.Redeem(asset=asset)
    set_amount(message, "amount", amount)
    return message


def seize(
    account_id: str,
    asset: str,
    amount: int,
    *,
    reserve: str,
    court_order: pb.CourtOrder,
    legal_ref: str = "",
) -> pb.Seize:
    """A Seize of amount (up to 2^128 - 1) minor units of asset from a frozen account into
    the STATE_RESERVE account reserve, under a court order."""
    message = pb.Seize(
        account_id=account_id,
        asset=asset,
        legal_ref=legal_ref,
        reserve=reserve,
        court_order=court_order,
    )
    set_amount(message, "amount", amount)
    return message


#: Changes that go through a governance proposal (node/ledger/_governance.py).
GovernedChange = (
    pb.SetLimits | pb.SetRates | pb.RegisterAsset | pb.UpdateValidator | pb.RotateValidatorKey
)


def propose(
    change: GovernedChange,
    *,
    expires_at_height: int,
    summary: str,
    activation_height: int = 0,
) -> pb.Propose:
    """A Propose carrying one governed change, open for approval until expires_at_height."""
    message = pb.Propose(
        expires_at_height=expires_at_height,
        activation_height=activation_height,
        summary=summary,
    )
    getattr(message, _KIND_FIELD[type(change)]).CopyFrom(change)
    return message


def rotate_validator_key(
    chain_id: str, public_key: bytes, new_key: KeyPair
) -> pb.RotateValidatorKey:
    """A validator's move to new_key, with the new key's proof (docs/governance.md)."""
    new_public_key = new_key.public_key
    message = rotation_sign_bytes(chain_id, public_key, new_public_key)
    return pb.RotateValidatorKey(
        public_key=public_key, new_public_key=new_public_key, proof=new_key.sign(message)
    )


def tx_id_of(envelope: bytes) -> bytes:
    """The tx id (SHA-256 of the body bytes) of a serialized envelope.

    Raises:
        google.protobuf.message.DecodeError: envelope does not decode.
    """
    return hashlib.sha256(pb.TxEnvelope.FromString(envelope).body).digest()


def legs_of(envelope: bytes) -> Iterable[pb.TransferLeg]:
    """The transfer legs of a serialized envelope (none for other kinds)."""
    body = pb.TxBody.FromString(pb.TxEnvelope.FromString(envelope).body)
    return list(body.transfer.legs) if body.WhichOneof("kind") == "transfer" else []
