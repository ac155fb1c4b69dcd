"""JSON views of ledger and chain records, as the API shows them.

Conventions: amounts (128-bit: a wire field ``x`` with its ``x_high`` shown as one value
from 0 to 2^128 - 1), every other unbounded u64 that counts money, and the nonce are
decimal strings of integer minor units; byte fields are lower-case hex (a UETR: its UUID
text); enums are their names; heights, indexes, tiers and times are JSON integers. A travel
copy shows its recipient and size, never its sealed bytes.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

import consensus as cs
from node.blocks import block_id
from node.consensus_codec import encode_evidence
from node.evidence import kind_of
from node.genesis import rulebook_to_doc
from node.ledger import evidence_cursor, uetr_text
from node.ledger._amounts import AMOUNT_FIELDS, HIGH, amount_of
from node.ledger._payment_ids import UETR_BYTES
from node.store import HistoryEntry
from proto import block_pb2, consensus_pb2, ledger_pb2

#: u64 fields shown as decimal strings.
STRING_U64_FIELDS: Final = frozenset(
    {
        "amount",
        "per_payment",
        "daily_outflow",
        "holding_cap",
        "issued",
        "redeemed",
        "seized",
        "nonce",
        "tiyn_per_unit",
        "travel_rule_threshold",
    }
)


#: Bytes fields of a UUID, shown as its canonical lower-case text (a value of another
#: length, which only a refused transaction can hold, as hex).
UUID_FIELDS: Final = frozenset({"uetr"})


def code_name(code: int) -> str:
    """The stable name of a ResultCode value ("OK", "INSUFFICIENT_FUNDS"...)."""
    return enum_name(ledger_pb2.ResultCode.DESCRIPTOR, code)


def enum_name(enum: Any, value: int) -> str:
    """The name of an enum value, or its number as text when the schema lacks it."""
    found = enum.values_by_number.get(value)
    return str(value) if found is None else str(found.name)


def message_json(msg: Message) -> dict[str, Any]:
    """A protobuf message as JSON, field by field, with the conventions above.

    Unset oneof members are left out; every other field appears with its value. An amount
    and its ``_high`` companion appear as one string under the amount's name.
    """
    out: dict[str, Any] = {}
    by_name = msg.DESCRIPTOR.fields_by_name
    for field in msg.DESCRIPTOR.fields:
        if field.containing_oneof is not None and not msg.HasField(field.name):
            continue
        name = field.name
        if name in AMOUNT_FIELDS and name + HIGH in by_name:
            out[name] = str(amount_of(msg, name))
            continue
        if name.endswith(HIGH) and name[: -len(HIGH)] in AMOUNT_FIELDS:
            continue
        value = getattr(msg, field.name)
        if field.is_repeated:
            out[field.name] = [_scalar_json(field, item) for item in value]
        else:
            out[field.name] = _scalar_json(field, value)
    return out


def _scalar_json(field: Any, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if isinstance(value, ledger_pb2.TravelCopy):  # who it is for, never the bytes
            return {"recipient": value.recipient, "size": len(value.sealed)}
        return message_json(value)
    if field.type == FieldDescriptor.TYPE_BYTES:
        if field.name in UUID_FIELDS and len(value) == UETR_BYTES:
            return uetr_text(value)
        return bytes(value).hex()
    if field.type == FieldDescriptor.TYPE_ENUM:
        return enum_name(field.enum_type, value)
    if field.name in STRING_U64_FIELDS:
        return str(value)
    return value


def tx_json(raw: bytes) -> dict[str, Any]:
    """A committed or pending envelope, decoded: its body fields, kind and signers.

    Envelopes that do not decode (committed with a MALFORMED receipt) are shown as hex.
    """
    envelope = ledger_pb2.TxEnvelope()
    body = ledger_pb2.TxBody()
    try:
        envelope.ParseFromString(raw)
        body.ParseFromString(envelope.body)
    except DecodeError:
        return {"kind": None, "raw": raw.hex()}
    out: dict[str, Any] = {"kind": body.WhichOneof("kind")}
    out.update(message_json(body))
    out["signatures"] = [
        {"public_key": s.public_key.hex(), "signature": s.signature.hex()}
        for s in envelope.signatures
    ]
    return out


def licence_json(licence: ledger_pb2.Licence | None, height: int) -> dict[str, Any] | None:
    """An account's licence record (None when it never had one); in_force at height."""
    if licence is None:
        return None
    return {
        "account_id": licence.account_id,
        "assets": list(licence.assets),
        "purposes": [enum_name(ledger_pb2.Purpose.DESCRIPTOR, p) for p in licence.purposes],
        "expires_at_height": licence.expires_at_height,
        "reference": licence.reference,
        "granted_by": licence.granted_by,
        "granted_height": licence.granted_height,
        "revoked": licence.revoked,
        "revoked_height": licence.revoked_height,
        "revoke_reference": licence.revoke_reference,
        "in_force": not licence.revoked and height <= licence.expires_at_height,
    }


def account_json(
    account: ledger_pb2.Account,
    balances: dict[str, int],
    licence: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """GET /v1/accounts/{id}; licence: `licence_json` of its licence record."""
    return {
        "account_id": account.account_id,
        "role": enum_name(ledger_pb2.Role.DESCRIPTOR, account.role),
        "zone": enum_name(ledger_pb2.Zone.DESCRIPTOR, account.zone),
        "kyc_tier": account.kyc_tier,
        "licence": licence,
        "frozen": account.frozen,
        "frozen_legal_ref": account.frozen_legal_ref,
        "keys": [key.hex() for key in account.public_keys],
        "threshold": max(1, account.threshold),
        "registered_by": account.registered_by,
        "registered_height": account.registered_height,
        "person_ref": account.person_ref.hex(),
        "closed": account.closed,
        "closed_height": account.closed_height,
        "closed_ref": account.closed_ref,
        "keys_changed_height": account.keys_changed_height,
        "travel_key": account.travel_key.hex() if account.travel_key else None,
        "travel_key_height": account.travel_key_height,
        "balances": {code: str(amount) for code, amount in balances.items()},
    }


def asset_json(asset: ledger_pb2.Asset, reserve: int | None = None) -> dict[str, Any]:
    """GET /v1/assets/{code}: the record with its supply (issued, redeemed, outstanding).

    Args:
        reserve: for a backed stablecoin, the backing its reserve account holds; shown
            with ``supply`` (= outstanding) so that the 1:1 backing reads at a glance.
    """
    out = message_json(asset)
    out["outstanding"] = str(amount_of(asset, "issued") - amount_of(asset, "redeemed"))
    if asset.backed_by:
        out["supply"] = out["outstanding"]
        out["reserve"] = str(reserve or 0)
    return out


def validator_json(public_key: bytes, power: int, moniker: str) -> dict[str, Any]:
    return {"public_key": public_key.hex(), "power": power, "moniker": moniker}


def certificate_json(cert: consensus_pb2.CommitCertificate) -> dict[str, Any] | None:
    """The certificate's round, block hash and signers (None when empty)."""
    if not cert.block_hash:
        return None
    return {
        "height": cert.height,
        "round": cert.round,
        "block_hash": cert.block_hash.hex(),
        "signers": [sig.validator.hex() for sig in cert.signatures],
    }


def block_json(
    raw_block: bytes, raw_commit: bytes | None, receipts: list[ledger_pb2.Receipt]
) -> dict[str, Any]:
    """GET /v1/blocks/{height}: header, transactions with codes, certificate signers.

    Raises:
        DecodeError: the stored block or certificate does not decode (a corrupt store).
    """
    block = block_pb2.Block.FromString(raw_block)
    commit = consensus_pb2.CommitCertificate()
    if raw_commit:
        commit.ParseFromString(raw_commit)
    header = block.header
    txs: list[dict[str, Any]] = []
    for index, raw in enumerate(block.txs):
        receipt = receipts[index] if index < len(receipts) else None
        txs.append(
            {
                "index": index,
                "tx_id": _tx_id(raw).hex() if receipt is None else receipt.tx_id.hex(),
                "code": None if receipt is None else code_name(receipt.code),
                "speaks_for_tx": receipt is not None and receipt.speaks_for_tx,
            }
        )
    return {
        "height": header.height,
        "hash": block_id(raw_block).hex(),
        "header": message_json(header),
        "num_txs": len(block.txs),
        "txs": txs,
        "commit": certificate_json(commit),
        "last_commit": certificate_json(block.last_commit),
    }


def _tx_id(raw: bytes) -> bytes:
    try:
        return hashlib.sha256(ledger_pb2.TxEnvelope.FromString(raw).body).digest()
    except DecodeError:
        return hashlib.sha256(raw).digest()


def receipt_json(receipt: ledger_pb2.Receipt) -> dict[str, Any]:
    """Location and result of one committed transaction."""
    return {
        "tx_id": receipt.tx_id.hex(),
        "status": "committed",
        "height": receipt.height,
        "index": receipt.index,
        "code": code_name(receipt.code),
        "message": receipt.message,
        "rulebook_version": receipt.rulebook_version,
        "rule": receipt.rule,
    }


def history_json(
    entry: HistoryEntry, receipt: ledger_pb2.Receipt | None, tx: bytes | None, time_ms: int
) -> dict[str, Any]:
    """One line of an account statement."""
    return {
        "cursor": entry.cursor,
        "tx_id": entry.tx_id.hex(),
        "height": entry.height,
        "index": entry.index,
        "time_ms": time_ms,
        "code": None if receipt is None else code_name(receipt.code),
        "message": "" if receipt is None else receipt.message,
        "tx": None if tx is None else tx_json(tx),
    }


def evidence_json(
    evidence: cs.Evidence, chain_id: str, committed: ledger_pb2.CommittedEvidence | None = None
) -> dict[str, Any]:
    """One piece of equivocation evidence (a duplicate vote or a conflicting proposal).

    Each side shows its signature and the exact bytes it signed (``sign_bytes``), so a
    reader can check the equivocation with the validator's public key alone; ``raw`` is
    the serialized ``tenge.v1.Evidence``. committed: its ledger record, None if pending.
    """
    out: dict[str, Any] = {
        "kind": kind_of(evidence),
        "status": "pending" if committed is None else "committed",
        "committed_height": None if committed is None else committed.height,
        "cursor": None if committed is None else evidence_cursor(committed),
        "validator": evidence.validator.hex(),
        "height": evidence.height,
        "round": evidence.round,
        "raw": encode_evidence(evidence).hex(),
    }
    if isinstance(evidence, cs.ConflictingProposal):

        def side(pol_round: int, value_id: bytes, signature: bytes) -> dict[str, Any]:
            signed = cs.proposal_sign_bytes(
                chain_id, evidence.height, evidence.round, pol_round, value_id
            )
            return {
                "pol_round": pol_round,
                "value_id": value_id.hex(),
                "signature": signature.hex(),
                "sign_bytes": signed.hex(),
            }

        out["proposal_a"] = side(evidence.pol_round_a, evidence.value_id_a, evidence.signature_a)
        out["proposal_b"] = side(evidence.pol_round_b, evidence.value_id_b, evidence.signature_b)
        return out

    def vote(v: cs.Vote) -> dict[str, Any]:
        return {
            "block_hash": v.block_hash.hex(),
            "signature": v.signature.hex(),
            "sign_bytes": v.sign_bytes(chain_id).hex(),
        }

    out["type"] = evidence.vote_a.type.name
    out["vote_a"] = vote(evidence.vote_a)
    out["vote_b"] = vote(evidence.vote_b)
    return out


def rulebook_json(book: ledger_pb2.Rulebook) -> dict[str, Any]:
    """A rulebook version: as genesis.json writes it, with its version, activation height
    and tier limits (docs/rulebook.md)."""
    return {
        "version": book.version,
        "activation_height": book.activation_height,
        **rulebook_to_doc(book),
        "tier_limits": [message_json(t) for t in book.tier_limits],
    }


def proposal_json(proposal: ledger_pb2.GovernanceProposal, status: str) -> dict[str, Any]:
    """A governance proposal: its change decoded like a transaction's kind object."""
    m = proposal.propose
    change = m.WhichOneof("action")
    return {
        "proposal_id": proposal.proposal_id.hex(),
        "status": status,
        "proposer": proposal.proposer,
        "proposed_height": proposal.proposed_height,
        "expires_at_height": m.expires_at_height,
        "activation_height": m.activation_height,
        "summary": m.summary,
        "change": {"kind": change, change: message_json(getattr(m, change))} if change else None,
        "approvals": list(proposal.approvals),
        "decided_height": proposal.decided_height,
        "effective_height": proposal.effective_height,
    }
