"""The OpenAPI 3.1 document served at /openapi.json: the API's contract.

Written by hand next to the routes; a test checks that the two list the same paths and
methods, and a fuzzer (tests/api/test_openapi_fuzz.py, schemathesis against a real node)
checks that the server accepts every request the document allows, refuses with a
documented status what it forbids, and answers only what it declares. Error codes come
from the code (the API's own and the ledger's ResultCode names), and the patterns of ids
and cursors from `node.api._requests`, which the handlers check them with, so neither
list can drift.
"""

from __future__ import annotations

from typing import Any, Final

from node.api import _errors as e
from node.api._access import openapi_access
from node.api._iso import MAX_NONCE, MAX_SIGNATURES
from node.api._requests import (
    ACCOUNT_ID_PATTERN,
    ASSET_CODE_PATTERN,
    BASE64_PATTERN,
    CURSOR_PATTERN,
    END_TO_END_ID_PATTERN,
    HEX32_PATTERN,
    MAX_BATCH,
    MAX_BODY_BYTES,
    MAX_HEIGHT,
    MAX_WAIT_TIMEOUT_S,
    UETR_PATTERN,
)
from node.api._statements import DATE_PATTERN
from node.iso20022._status import ACCEPTED, MESSAGE_REASONS, REJECTED, SETTLED
from node.ledger import MAX_ID_CHARS
from proto import ledger_pb2

API_VERSION: Final = "1.0.0"

_STR: Final = {"type": "string"}
_INT: Final = {"type": "integer", "minimum": 0}
_INTEGER: Final = {"type": "integer"}
_BOOL: Final = {"type": "boolean"}
_HEX: Final = {"type": "string", "pattern": "^[0-9a-f]*$", "description": "lower-case hex"}
_AMOUNT: Final = {
    "type": "string",
    "pattern": "^(0|[1-9][0-9]*)$",
    "maxLength": 39,
    "description": (
        "integer minor units as a canonical decimal string, 0 to 2^128 - 1 "
        "(340282366920938463463374607431768211455); 1 KZT = 100 tiyn, 1 unit of an "
        "18-decimal asset = 10^18"
    ),
}
_HEX32: Final = {
    "type": "string",
    "pattern": HEX32_PATTERN,
    "minLength": 64,
    "maxLength": 64,
    "description": "64 hex characters (either case)",
}
_ACCOUNT_ID: Final = {
    "type": "string",
    "pattern": ACCOUNT_ID_PATTERN,
    "minLength": 3,
    "maxLength": 64,
    "description": "3 to 64 of a-z, 0-9, '.', '-'",
}
_UETR: Final = {"type": "string", "pattern": UETR_PATTERN, "minLength": 36, "maxLength": 36}
_E2E: Final = {
    "type": "string",
    "pattern": END_TO_END_ID_PATTERN,
    "minLength": 1,
    "maxLength": MAX_ID_CHARS,
    "description": "1 to 35 of A-Z a-z 0-9 space / - ? : ( ) . , ' +; no '//', no '/' or "
    "space at either end",
}
_ASSET_CODE: Final = {
    "type": "string",
    "pattern": ASSET_CODE_PATTERN,
    "minLength": 2,
    "maxLength": 12,
    "description": "an upper-case letter, then 1 to 11 upper-case letters or digits",
}
_CURSOR: Final = {
    "type": "string",
    "pattern": CURSOR_PATTERN,
    "description": "HEIGHT-INDEX, as `next` of the previous page gives it",
}
_HEIGHT_OR_ZERO: Final = {"type": "integer", "minimum": 0, "maximum": MAX_HEIGHT}
#: A base64 envelope; `{"tx": ...}` around it must stay within the 1 MiB body limit.
_ENVELOPE_BASE64: Final = {
    "type": "string",
    "contentEncoding": "base64",
    "pattern": BASE64_PATTERN,
    "minLength": 4,
    "maxLength": MAX_BODY_BYTES - len('{"tx":""}'),
    "description": "standard base64 (A-Z a-z 0-9 + /, = padding) of a serialized TxEnvelope",
}
_U64_STRING: Final = {
    "type": "string",
    "pattern": "^(0|[1-9][0-9]*)$",
    "maxLength": 20,
    "description": "an unsigned 64-bit integer as a decimal string",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str] | None = None, **props: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
    }


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    """An object schema that allows no property besides its own (the API refuses others)."""
    return {**schema, "additionalProperties": False}


def _json_text(schema: dict[str, Any]) -> dict[str, Any]:
    """A string holding a JSON document that schema describes (an event's `data`)."""
    return {"type": "string", "contentMediaType": "application/json", "contentSchema": schema}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _path_param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }


def _query_param(
    name: str, description: str, schema: dict[str, Any], *, required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


def _get(
    summary: str,
    ok: dict[str, Any],
    *,
    params: list[dict[str, Any]] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": ok}
    for status, text in (errors or {}).items():
        responses[status] = _error(text)
    responses["500"] = _error("INTERNAL: an unexpected error; the node logs the details")
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if params:
        op["parameters"] = params
    return {"get": op}


_ISO_MESSAGE: Final = {
    "type": "string",
    "minLength": 1,
    "description": "the ISO 20022 message, XML text (UTF-8 once encoded, at most 256 KiB, "
    "no DOCTYPE)",
}


def _HEX_BYTES(size: int) -> dict[str, Any]:
    return {
        "type": "string",
        "pattern": f"^[0-9a-fA-F]{{{2 * size}}}$",
        "description": f"{size} bytes as hex",
    }


def _iso_prepare(message: str) -> dict[str, Any]:
    """POST of a message: the TxBody its debtor signs (with sealed travel data)."""
    return {
        "post": {
            "summary": f"The TxBody a {message} describes, for its debtor to sign",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("IsoPrepare")}},
            },
            "responses": {
                "200": _json(_ref("IsoPrepared"), "the body, its sign bytes and tx id"),
                "400": _error(
                    "the message refused (its code and ISO reason, as for a submission), "
                    "NO_TRAVEL_KEY or TRAVEL_DATA (its travel-rule data cannot be sealed), "
                    "or INVALID_JSON, INVALID_ARGUMENT"
                ),
                "408": _error("BODY_TIMEOUT: the body did not arrive within 10 s"),
                "413": _error("BODY_TOO_LARGE: the body passed 1 MiB"),
                "429": _error("RATE_LIMITED: retry after the Retry-After header's seconds"),
                "503": _error("TOO_MANY_CONNECTIONS: retry after the Retry-After seconds"),
                "500": _error("INTERNAL"),
            },
        }
    }


def _iso_submit(message: str) -> dict[str, Any]:
    """A POST of one ISO 20022 message with its signed transfer, answered by a pacs.002."""

    def status(description: str) -> dict[str, Any]:
        return _json(_ref("IsoStatus"), description)

    return {
        "post": {
            "summary": f"Submit a {message} with its signed transfer; answered with a pacs.002",
            "parameters": [
                _query_param(
                    "wait", "commit: answer once final", {"type": "string", "enum": ["commit"]}
                ),
                _query_param(
                    "timeout",
                    "seconds to wait, with wait=commit only (default 30, at most 300)",
                    {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_WAIT_TIMEOUT_S},
                ),
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("IsoSubmission")}},
            },
            "responses": {
                "200": status("with wait=commit: ACSC (settled) or RJCT (refused at commit)"),
                "202": status("ACTC: admitted to the mempool"),
                "204": {"description": "with wait=commit: the client left before the commit"},
                "400": {
                    "description": (
                        "RJCT: the message or the ledger refused it (IsoStatus, with the "
                        "ISO reason), or the body is not {message, tx} (Error)"
                    ),
                    "content": {
                        "application/json": {
                            "schema": {"anyOf": [_ref("IsoStatus"), _ref("Error")]}
                        }
                    },
                },
                "408": _error("BODY_TIMEOUT: the body did not arrive within 10 s"),
                "409": status("RJCT PENDING_FUNDS_EXCEEDED"),
                "413": _error("BODY_TOO_LARGE: the body passed 1 MiB"),
                "429": {
                    "description": "RJCT MEMPOOL_FULL or PENDING_TXS_EXCEEDED (IsoStatus), "
                    "or RATE_LIMITED (Error): retry after the Retry-After header's seconds",
                    "content": {
                        "application/json": {
                            "schema": {"anyOf": [_ref("IsoStatus"), _ref("Error")]}
                        }
                    },
                },
                "503": _error("TOO_MANY_CONNECTIONS: retry after the Retry-After seconds"),
                "504": status("ACTC with error TIMEOUT: not committed in time; still pending"),
                "500": _error("INTERNAL"),
            },
        }
    }


def error_codes() -> list[str]:
    """Every code an error response may carry."""
    ledger = [v.name for v in ledger_pb2.ResultCode.DESCRIPTOR.values if v.name != "OK"]
    return sorted(e.HTTP_CODES) + ledger + sorted(MESSAGE_REASONS)


def _schemas() -> dict[str, Any]:
    # speaks_for_tx false: a copy refused for its envelope (junk signatures, too large,
    # undecodable); it is not the verdict on tx_id (docs/api.md, "Whose receipt is it?").
    tx_ref: dict[str, Any] = {"tx_id": _HEX, "code": _STR, "speaks_for_tx": _BOOL}
    cert = _nullable(
        _obj(height=_INT, round=_INT, block_hash=_HEX, signers={"type": "array", "items": _HEX})
    )
    return {
        "Error": _obj(
            error=_obj(
                required=["code", "message"],
                code={"type": "string", "enum": error_codes()},
                message=_STR,
                tx_id=_HEX,
                rule=_STR,
                reason={
                    "type": "string",
                    "pattern": "^[A-Z0-9]{4}$",
                    "description": "ISO 20022 status reason (the ISO routes' refusals)",
                },
            )
        ),
        "Status": _obj(
            chain_id=_STR,
            node_id=_HEX,
            moniker=_STR,
            height=_INT,
            latest_block_hash=_HEX,
            latest_app_hash=_HEX,
            catching_up=_BOOL,
            validator=_BOOL,
            peers=_INT,
            mempool=_obj(txs=_INT, bytes=_INT),
            max_tx_ttl=_INT,
            max_tx_bytes=_INT,
        ),
        "Health": _obj(
            required=["status", "height", "catching_up", "last_commit_age_s", "peers"],
            status={"type": "string", "enum": ["ok", "unhealthy"]},
            height=_INT,
            catching_up=_BOOL,
            last_commit_age_s=_nullable({"type": "number"}),
            peers=_INT,
            reason=_STR,
            error=_obj(code=_STR, message=_STR),
            signer=_obj(
                required=["kind", "address", "up"],
                kind={"type": "string", "enum": ["remote"]},
                address=_STR,
                up=_BOOL,
                error=_STR,
            ),
        ),
        "Submission": _closed(_obj(tx=_ENVELOPE_BASE64)),
        "IsoSubmission": {
            "oneOf": [
                _closed(
                    _obj(
                        message=_ISO_MESSAGE,
                        tx={**_ENVELOPE_BASE64, "description": "the signed transfer it describes"},
                    )
                ),
                _closed(
                    _obj(
                        message=_ISO_MESSAGE,
                        body={**_ENVELOPE_BASE64, "description": "the body prepare built"},
                        signatures={
                            "type": "array",
                            "minItems": 1,
                            "maxItems": MAX_SIGNATURES,
                            "items": _closed(
                                _obj(public_key=_HEX_BYTES(32), signature=_HEX_BYTES(64))
                            ),
                            "description": "Ed25519 signatures of the body's sign_bytes",
                        },
                    )
                ),
            ]
        },
        "IsoPrepare": _closed(
            _obj(
                required=["message"],
                message=_ISO_MESSAGE,
                nonce={"type": "integer", "minimum": 0, "maximum": MAX_NONCE},
                expires_at_height={
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_NONCE,
                    "description": "the body's last height (default: 100 blocks ahead, or "
                    "max_tx_ttl if less); the ledger judges it when the body is submitted",
                },
            )
        ),
        "IsoPrepared": _obj(
            body=_ENVELOPE_BASE64,
            sign_bytes=_HEX,
            tx_id=_HEX,
            signers={"type": "array", "items": _STR},
            nonce=_INT,
            expires_at_height=_INT,
        ),
        "IsoStatus": _obj(
            required=["status", "pacs002"],
            status={"type": "string", "enum": [ACCEPTED, SETTLED, REJECTED]},
            pacs002={
                "type": "string",
                "contentMediaType": "application/xml",
                "description": "the pacs.002.001.12 status report of the message",
            },
            tx_id=_HEX,
            height=_INT,
            index=_INT,
            rulebook_version=_INT,
            rule=_STR,
            error=_obj(
                required=["code", "message"],
                code={"type": "string", "enum": error_codes()},
                message=_STR,
                reason={"type": "string", "pattern": "^[A-Z0-9]{4}$"},
                tx_id=_HEX,
                rule=_STR,
            ),
        ),
        "BatchSubmission": _closed(
            _obj(
                txs={
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_BATCH,
                    "items": _ENVELOPE_BASE64,
                    "description": "the whole body at most 1 MiB (else 413)",
                }
            )
        ),
        "BatchResult": _obj(
            admitted=_INT,
            refused=_INT,
            results={
                "type": "array",
                "items": _obj(
                    ["tx_id", "status"],
                    tx_id=_HEX,
                    status={"enum": ["pending", "refused"]},
                    code=_STR,
                    message=_STR,
                    rule=_STR,
                ),
            },
        ),
        "Pending": _obj(tx_id=_HEX, status={"const": "pending"}),
        "Committed": _obj(
            tx_id=_HEX,
            status={"const": "committed"},
            height=_INT,
            index=_INT,
            code=_STR,
            message=_STR,
            rulebook_version=_INT,
            rule=_STR,
        ),
        "DecodedTx": {
            "type": "object",
            "description": (
                "The TxBody's fields (chain_id, nonce as a string, expires_at_height, signer, "
                "memo), `kind` and an object under the kind's name, amounts as strings, bytes "
                "as hex; `signatures` lists public_key and signature. An envelope that does "
                "not decode is {kind: null, raw: HEX}."
            ),
            "properties": {
                "kind": _nullable(_STR),
                "signer": _STR,
                "nonce": _U64_STRING,
                "expires_at_height": _INT,
                "signatures": {"type": "array", "items": _obj(public_key=_HEX, signature=_HEX)},
                "transfer": {
                    "type": "object",
                    "properties": {
                        "legs": {"type": "array", "items": _ref("TransferLeg")},
                        "reference": _STR,
                        "purpose": _STR,
                    },
                    "additionalProperties": True,
                },
            },
            "additionalProperties": True,
        },
        "TransferLeg": _obj(
            payer=_STR,
            payee=_STR,
            asset=_STR,
            amount=_AMOUNT,
            end_to_end_id={**_STR, "description": 'the payer\'s id (EndToEndId), else ""'},
            uetr={
                **_STR,
                "description": 'the UETR as lower-case UUID text, else ""; hex when a '
                "refused transaction held one of another length",
            },
            purpose_code={**_STR, "description": 'ISO ExternalPurpose1Code (Purp/Cd), else ""'},
            remittance=_obj(
                creditor_reference_type=_STR,
                creditor_reference=_STR,
                unstructured=_STR,
            ),
            travel_copies={
                "type": "array",
                "description": "sealed travel-rule data: each copy's recipient and size in "
                "bytes, never its content",
                "items": _obj(recipient=_STR, size=_INT),
            },
        ),
        "TravelCopies": _obj(
            tx_id=_HEX,
            legs={
                "type": "array",
                "items": _obj(
                    index=_INT,
                    copies={"type": "array", "items": _obj(recipient=_STR, sealed=_HEX)},
                ),
            },
        ),
        "TravelRecipients": _obj(
            payer=_STR,
            payee=_STR,
            recipients={
                "type": "array",
                "items": _obj(
                    account_id=_STR,
                    receives_for=_STR,
                    travel_key=_nullable(_HEX),
                ),
            },
        ),
        "Payments": _obj(
            required=["payments"],
            payments={"type": "array", "items": _ref("Transaction")},
        ),
        "Transaction": _obj(
            required=["tx_id", "status", "tx"],
            tx_id=_HEX,
            status={"type": "string", "enum": ["pending", "committed"]},
            height=_INT,
            index=_INT,
            code=_STR,
            message=_STR,
            rulebook_version=_INT,
            rule=_STR,
            tx=_ref("DecodedTx"),
        ),
        "Rulebook": {
            "type": "object",
            "description": (
                "One rulebook version (docs/rulebook.md): version, activation_height, kinds, "
                "central_bank_payees, purpose_rules, rates (asset -> tiyn per whole unit, as "
                "strings), travel_rule_threshold (string), travel_rule_enforced, tier_limits "
                "(amounts as strings)"
            ),
            "properties": {"version": _INT, "activation_height": _INT},
            "additionalProperties": True,
        },
        "Proposal": _obj(
            proposal_id=_HEX,
            status={"enum": ["OPEN", "EXPIRED", "EXECUTED", "WITHDRAWN"]},
            proposer=_STR,
            proposed_height=_INT,
            expires_at_height=_INT,
            activation_height=_INT,
            summary=_STR,
            change={"type": ["object", "null"], "additionalProperties": True},
            approvals={"type": "array", "items": _STR},
            decided_height=_INT,
            effective_height=_INT,
        ),
        "Governance": _obj(
            height=_INT,
            quorum={"type": "array", "items": _STR},
            proposals={"type": "array", "items": _ref("Proposal")},
        ),
        "Rulebooks": _obj(
            height=_INT, active=_ref("Rulebook"), pending=_nullable(_ref("Rulebook"))
        ),
        "RulebookVersion": _obj(rulebook=_ref("Rulebook")),
        "Licence": _obj(
            account_id=_STR,
            assets={"type": "array", "items": _STR},
            purposes={"type": "array", "items": _STR},
            expires_at_height=_INT,
            reference=_STR,
            granted_by=_STR,
            granted_height=_INT,
            revoked=_BOOL,
            revoked_height=_INT,
            revoke_reference=_STR,
            in_force=_BOOL,
        ),
        "LicenceAnswer": _obj(height=_INT, licence=_ref("Licence")),
        "Account": _obj(
            account_id=_STR,
            role=_STR,
            zone=_STR,
            kyc_tier=_INT,
            licence=_nullable(_ref("Licence")),
            frozen=_BOOL,
            frozen_legal_ref=_STR,
            keys={"type": "array", "items": _HEX},
            threshold=_INT,
            registered_by=_STR,
            registered_height=_INT,
            person_ref=_HEX,
            closed=_BOOL,
            closed_height=_INT,
            closed_ref=_STR,
            keys_changed_height=_INT,
            travel_key={**_nullable(_HEX), "description": "published X25519 travel key"},
            travel_key_height=_INT,
            balances={"type": "object", "additionalProperties": _AMOUNT},
        ),
        "Person": _obj(
            person_ref=_HEX,
            accounts={"type": "array", "items": _STR},
            frozen=_BOOL,
            frozen_legal_ref=_STR,
            day=_nullable(_INT),
            outflow_today=_AMOUNT,
        ),
        "Statement": _obj(
            account_id=_STR,
            transactions={
                "type": "array",
                "items": _obj(
                    cursor=_STR,
                    tx_id=_HEX,
                    height=_INT,
                    index=_INT,
                    time_ms=_INT,
                    code=_STR,
                    message=_STR,
                    tx=_ref("DecodedTx"),
                ),
            },
            next=_nullable(_STR),
        ),
        "Block": _obj(
            height=_INT,
            hash=_HEX,
            header=_obj(
                chain_id=_STR,
                height=_INT,
                time_ms=_INT,
                prev_block_hash=_HEX,
                app_hash=_HEX,
                txs_hash=_HEX,
                proposer=_HEX,
                validators_hash=_HEX,
            ),
            num_txs=_INT,
            txs={"type": "array", "items": _obj(index=_INT, **tx_ref)},
            commit=cert,
            last_commit=cert,
        ),
        "Validators": _obj(
            height=_INT,
            validators={"type": "array", "items": _obj(public_key=_HEX, power=_INT, moniker=_STR)},
            total_power=_INT,
        ),
        "Asset": _obj(
            [
                "code",
                "decimals",
                "issuer",
                "kind",
                "payment_zones",
                "issued",
                "redeemed",
                "seized",
                "outstanding",
                "backed_by",
                "reserve_account",
            ],
            code=_STR,
            decimals=_INT,
            issuer=_STR,
            kind=_STR,
            payment_zones={"type": "array", "items": _STR},
            issued=_AMOUNT,
            redeemed=_AMOUNT,
            seized=_AMOUNT,
            outstanding=_AMOUNT,
            backed_by={**_STR, "description": 'a backed stablecoin\'s backing ("KZT"), else ""'},
            reserve_account={
                **_STR,
                "description": 'the ISSUANCE_RESERVE account holding the backing, else ""',
            },
            supply={**_AMOUNT, "description": "backed assets only: issued - redeemed"},
            reserve={
                **_AMOUNT,
                "description": "backed assets only: the backing the reserve account holds; "
                "equals supply converted to the backing's minor units",
            },
        ),
        "Assets": _obj(assets={"type": "array", "items": _ref("Asset")}),
        "Inflows": _obj(
            account_id=_STR,
            inflows={"type": "array", "items": _ref("Inflow")},
            next=_nullable(_STR),
        ),
        "Inflow": _obj(
            seq=_INT,
            reserve=_STR,
            kind={"enum": ["SEIZED", "MINED", "PURCHASED", "TRANSFERRED"]},
            asset=_STR,
            amount=_AMOUNT,
            source=_STR,
            tx_id=_HEX,
            height=_INT,
            court_order={"type": "object", "additionalProperties": True},
        ),
        "Evidence": _obj(
            evidence={"type": "array", "items": _ref("EvidenceItem")},
            next=_nullable(_STR),
        ),
        "EvidenceItem": _obj(
            [
                "kind",
                "status",
                "committed_height",
                "cursor",
                "validator",
                "height",
                "round",
                "raw",
            ],
            kind={"type": "string", "enum": ["duplicate_vote", "conflicting_proposal"]},
            status={"type": "string", "enum": ["committed", "pending"]},
            committed_height=_nullable(_INT),
            cursor=_nullable(_STR),
            validator=_HEX,
            height=_INT,
            round=_INT,
            raw=_HEX,
            type={"type": "string", "enum": ["PREVOTE", "PRECOMMIT"]},
            vote_a=_obj(block_hash=_HEX, signature=_HEX, sign_bytes=_HEX),
            vote_b=_obj(block_hash=_HEX, signature=_HEX, sign_bytes=_HEX),
            proposal_a=_obj(pol_round=_INTEGER, value_id=_HEX, signature=_HEX, sign_bytes=_HEX),
            proposal_b=_obj(pol_round=_INTEGER, value_id=_HEX, signature=_HEX, sign_bytes=_HEX),
        ),
        "BlockEvent": _obj(
            height=_INT,
            hash=_HEX,
            time_ms=_INT,
            num_txs=_INT,
            txs={"type": "array", "items": _obj(**tx_ref)},
        ),
        "DroppedEvent": _obj(reason=_STR),
        "NotRepresentableEvent": _obj(height=_INT, code=_STR, message=_STR),
        "NotificationEvent": {
            "description": (
                "One event of /v1/iso20022/notifications/{account_id}: `camt.054` (id = "
                "height, data = a camt.054.001.08 document, one `data:` line per XML line), "
                "`not_representable` (an entry of an asset with no ISO currency), or `dropped`"
            ),
            "oneOf": [
                _obj(
                    event={"const": "camt.054"},
                    id={**_U64_STRING, "description": "the block's height"},
                    data={"type": "string", "contentMediaType": "application/xml"},
                ),
                _obj(
                    event={"const": "not_representable"},
                    id={**_U64_STRING, "description": "the block's height"},
                    data=_json_text(_ref("NotRepresentableEvent")),
                ),
                _obj(
                    ["event", "data"],
                    event={"const": "dropped"},
                    data=_json_text(_ref("DroppedEvent")),
                ),
            ],
        },
        "ServerSentEvent": {
            "description": (
                "One event of the stream, as an EventSource reads it: `event`, `id` and "
                "`data` (a JSON document); comment lines (`: keepalive`) are not events"
            ),
            "oneOf": [
                _obj(
                    event={"const": "block"},
                    id={**_U64_STRING, "description": "the block's height"},
                    data=_json_text(_ref("BlockEvent")),
                ),
                _obj(
                    ["event", "data"],
                    event={"const": "dropped"},
                    data=_json_text(_ref("DroppedEvent")),
                ),
            ],
        },
    }


def _iso_paths(bad: str, account_id: dict[str, Any]) -> dict[str, Any]:
    """ISO 20022 out: camt.053 statements and camt.054 notifications (docs/iso20022.md)."""
    height = {"type": "integer", "minimum": 1, "maximum": MAX_HEIGHT}
    day = {"type": "string", "format": "date", "pattern": DATE_PATTERN}
    ranges = (
        "INVALID_ARGUMENT (a malformed parameter) or INVALID_RANGE (from after to, a height "
        "past the tip, heights and dates together, no block in the dates, a height before "
        "the node's balance index) or RANGE_TOO_LARGE (more than 100000 heights or 10000 "
        "transactions)"
    )
    return {
        "/v1/iso20022/camt.053/{account_id}": _get(
            "The account's camt.053.001.08 statement over a height or date range",
            {
                "description": (
                    "a BkToCstmrStmt: one Stmt per asset, OPBD and CLBD balances, one Ntry "
                    "per movement, valid against the camt.053.001.08 XSD"
                ),
                "content": {"application/xml": {"schema": {"type": "string"}}},
            },
            params=[
                account_id,
                _query_param("from_height", "the first height (1 or more)", height),
                _query_param("to_height", "the last height (default: the tip)", height),
                _query_param("from_date", "the first day, UTC, by block time", day),
                _query_param("to_date", "the last day, UTC (default: the tip)", day),
                _query_param("asset", "only this asset (default: every one)", _ASSET_CODE),
            ],
            errors={
                "400": ranges,
                "404": "NOT_FOUND: no such account, or no such asset",
                "422": "NOT_REPRESENTABLE: an asset (named in `asset`), an amount or the "
                "account id has no ISO 20022 form; ask for asset=KZT",
            },
        ),
        "/v1/iso20022/notifications/{account_id}": _get(
            "Server-sent events: a camt.054.001.08 notification per block that moves the "
            "account's balances (id = height)",
            {
                "description": (
                    "text/event-stream of NotificationEvent; comment lines as keepalive"
                ),
                "content": {"text/event-stream": {"schema": _ref("NotificationEvent")}},
            },
            params=[
                account_id,
                _query_param(
                    "after",
                    "replay from the height after this one (default: the tip)",
                    _HEIGHT_OR_ZERO,
                ),
                {
                    "name": "Last-Event-ID",
                    "in": "header",
                    "required": False,
                    "description": "the `id` of the last event seen; `after` wins over it",
                    "schema": _HEIGHT_OR_ZERO,
                },
            ],
            errors={"400": bad, "404": "NOT_FOUND: no such account"},
        ),
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of every route of `create_app`."""
    bad = "INVALID_ARGUMENT: a malformed id or query parameter"
    account_id = _path_param("account_id", "an account id", _ACCOUNT_ID)
    submit_responses = {
        "200": _json(_ref("Committed"), "with wait=commit: committed (code may be a refusal)"),
        "202": _json(_ref("Pending"), "admitted to the mempool"),
        "204": {"description": "with wait=commit: the client left before the commit (unread)"},
        "400": _error(
            "refused: a ledger ResultCode name (INSUFFICIENT_FUNDS, DUPLICATE...), or "
            "INVALID_JSON, INVALID_BASE64, INVALID_ARGUMENT, INCOMPLETE_BODY"
        ),
        "408": _error("BODY_TIMEOUT: the body did not arrive within 10 s"),
        "409": _error(
            "PENDING_FUNDS_EXCEEDED: the balance cannot pay this on top of the account's "
            "pending transactions"
        ),
        "413": _error("BODY_TOO_LARGE: the body passed 1 MiB"),
        "429": _error(
            "MEMPOOL_FULL (the pool holds its seconds of commit capacity, this client its "
            "share of them, or the admission queue is full; Retry-After: the seconds the "
            "pool needs to drain), PENDING_TXS_EXCEEDED (the account has too many pending "
            "transactions) or RATE_LIMITED: retry after the Retry-After header's seconds"
        ),
        "503": _error("TOO_MANY_CONNECTIONS: retry after the Retry-After header's seconds"),
        "504": _error("TIMEOUT: not committed within the timeout; the tx stays pending"),
        "500": _error("INTERNAL"),
    }
    paths: dict[str, Any] = {
        "/v1/status": _get("Chain tip and node identity", _json(_ref("Status"), "the status")),
        "/v1/health": {
            "get": {
                "summary": "200 when in sync with a recent commit, 503 otherwise",
                "responses": {
                    "200": _json(_ref("Health"), "healthy"),
                    "503": _json(_ref("Health"), "unhealthy, with the reason (NOT_READY)"),
                },
            }
        },
        "/v1/txs": {
            "post": {
                "summary": "Submit a signed TxEnvelope",
                "parameters": [
                    _query_param(
                        "wait", "commit: answer once final", {"type": "string", "enum": ["commit"]}
                    ),
                    _query_param(
                        "timeout",
                        "seconds to wait, with wait=commit only (default 30, at most 300); "
                        "without wait=commit it is refused with 400 INVALID_ARGUMENT",
                        {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_WAIT_TIMEOUT_S},
                    ),
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("Submission")}},
                },
                "responses": submit_responses,
            }
        },
        "/v1/iso20022/pacs.008": _iso_submit("pacs.008.001.08 (customer credit transfer)"),
        "/v1/iso20022/pacs.009": _iso_submit(
            "pacs.009.001.10 (financial institution credit transfer)"
        ),
        "/v1/iso20022/pacs.008/prepare": _iso_prepare("pacs.008.001.08"),
        "/v1/iso20022/pacs.009/prepare": _iso_prepare("pacs.009.001.10"),
        "/v1/txs/batch": {
            "post": {
                "summary": "Submit up to 1000 signed TxEnvelopes, each admitted or refused alone",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("BatchSubmission")}},
                },
                "responses": {
                    "200": _json(
                        _ref("BatchResult"),
                        "one result per envelope, in order: pending, or refused with its code",
                    ),
                    "400": _error(
                        "INVALID_JSON, INVALID_BASE64, INVALID_ARGUMENT, INCOMPLETE_BODY"
                    ),
                    "408": _error("BODY_TIMEOUT: the body did not arrive within 10 s"),
                    "413": _error("BODY_TOO_LARGE: the body passed 1 MiB"),
                    "429": _error(
                        "MEMPOOL_FULL: every envelope was refused as full, or the admission "
                        "queue is full; nothing admitted; retry after the Retry-After "
                        "header's seconds. RATE_LIMITED: past this client's budget"
                    ),
                    "500": _error("INTERNAL"),
                },
            }
        },
        "/v1/txs/{tx_id}": _get(
            "A committed or pending transaction, decoded",
            _json(_ref("Transaction"), "the transaction"),
            params=[_path_param("tx_id", "the SHA-256 of the signed body", _HEX32)],
            errors={"400": bad, "404": "NOT_FOUND: neither committed nor pending"},
        ),
        "/v1/txs/{tx_id}/travel": _get(
            "The sealed travel-rule copies of a committed transfer, for their recipients "
            "to open with their own keys (tenge-node travel open)",
            _json(_ref("TravelCopies"), "each leg's copies: recipient and sealed bytes (hex)"),
            params=[_path_param("tx_id", "the SHA-256 of the signed body", _HEX32)],
            errors={"400": bad, "404": "NOT_FOUND: no committed transaction"},
        ),
        "/v1/travel/recipients": _get(
            "Whom a leg from payer to payee seals its travel-rule data to: the payer's and "
            "the payee's institutions and every regulator with a key",
            _json(_ref("TravelRecipients"), "the recipients with their travel keys"),
            params=[
                _query_param("payer", "the paying account", _ACCOUNT_ID, required=True),
                _query_param("payee", "the receiving account", _ACCOUNT_ID, required=True),
            ],
            errors={
                "400": "INVALID_ARGUMENT: a malformed id, or an account of genesis that no "
                "bank registered",
                "404": "NOT_FOUND: no such payer or payee",
            },
        ),
        "/v1/accounts/{account_id}": _get(
            "An account with its balances",
            _json(_ref("Account"), "the account"),
            params=[account_id],
            errors={"400": bad, "404": "NOT_FOUND: no such account"},
        ),
        "/v1/persons/{person_ref}": _get(
            "One person's accounts at every bank, frozen flag and today's outflow",
            _json(_ref("Person"), "the person"),
            params=[_path_param("person_ref", "the person reference", _HEX32)],
            errors={"400": bad, "404": "NOT_FOUND: no account carries the reference"},
        ),
        "/v1/licences/{account_id}": _get(
            "An account's licence (granted by the regulator) and whether it is in force",
            _json(_ref("LicenceAnswer"), "the licence record, revoked or expired ones too"),
            params=[account_id],
            errors={"400": bad, "404": "NOT_FOUND: the account has no licence"},
        ),
        "/v1/accounts/{account_id}/transactions": _get(
            "The account's statement, oldest first, paginated",
            _json(_ref("Statement"), "one page; pass `next` as `after` for the following one"),
            params=[
                account_id,
                _query_param("after", "cursor from a previous page", _CURSOR),
                _query_param(
                    "limit",
                    "page size, 1 to 1000 (default 100)",
                    {"type": "integer", "minimum": 1, "maximum": 1000},
                ),
            ],
            errors={"400": bad, "404": "NOT_FOUND: no such account"},
        ),
        "/v1/payments/{uetr}": _get(
            "Settled transfers with a leg of this UETR",
            _json(_ref("Payments"), "the matches in chain order, at most 100; [] if none"),
            params=[_path_param("uetr", "a UETR: version-4 UUID text, either case", _UETR)],
            errors={"400": bad},
        ),
        "/v1/accounts/{account_id}/payments": _get(
            "Settled transfers with a leg this account pays under an end-to-end id",
            _json(_ref("Payments"), "the matches in chain order, at most 100; [] if none"),
            params=[
                account_id,
                _query_param("end_to_end_id", "the payer's end-to-end id", _E2E, required=True),
            ],
            errors={"400": bad, "404": "NOT_FOUND: no such account"},
        ),
        "/v1/blocks/latest": _get(
            "The latest committed block",
            _json(_ref("Block"), "the block"),
            errors={"404": "NOT_FOUND: no block committed yet"},
        ),
        "/v1/blocks/{height}": _get(
            "A committed block: header, transactions with codes, certificate signers",
            _json(_ref("Block"), "the block"),
            params=[
                _path_param(
                    "height", "1 or more", {"type": "integer", "minimum": 1, "maximum": MAX_HEIGHT}
                )
            ],
            errors={"400": bad, "404": "NOT_FOUND: above the chain's height"},
        ),
        "/v1/validators": _get(
            "The validator set that runs the next height",
            _json(_ref("Validators"), "the set"),
        ),
        "/v1/assets": _get(
            "Every registered asset with its supply", _json(_ref("Assets"), "the assets")
        ),
        "/v1/assets/{code}": _get(
            "An asset with its supply: issued, redeemed, outstanding (and a backed "
            "stablecoin's reserve)",
            _json(_ref("Asset"), "the asset"),
            params=[_path_param("code", "asset code, e.g. KZT", _ASSET_CODE)],
            errors={"400": bad, "404": "NOT_FOUND: no such asset"},
        ),
        "/v1/evidence": _get(
            "Equivocation evidence: pending on this node (first page only), then committed, "
            "newest committing block first, paginated",
            _json(_ref("Evidence"), "one page; pass `next` as `after` for the following one"),
            params=[
                _query_param("after", "cursor from a previous page", _CURSOR),
                _query_param(
                    "limit",
                    "committed pieces per page, 1 to 100 (default 100)",
                    {"type": "integer", "minimum": 1, "maximum": 100},
                ),
            ],
            errors={"400": bad},
        ),
        "/v1/rulebook": _get(
            "The active rulebook and the pending change (null when none); with `version`, "
            "one version that was once active",
            _json(
                {"oneOf": [_ref("Rulebooks"), _ref("RulebookVersion")]},
                "Rulebooks; RulebookVersion when `version` is given",
            ),
            params=[
                _query_param(
                    "version",
                    "a version that was active",
                    {"type": "integer", "minimum": 1, "maximum": 2**63},
                )
            ],
            errors={"400": bad, "404": "NOT_FOUND: no such version was ever active"},
        ),
        "/v1/governance": _get(
            "Governance proposals, newest first (at most 100), and the quorum that decides",
            _json(_ref("Governance"), "the proposals"),
        ),
        "/v1/governance/{proposal_id}": _get(
            "One governance proposal",
            _json(_ref("Proposal"), "the proposal"),
            params=[_path_param("proposal_id", "the proposal's tx id", _HEX32)],
            errors={"400": bad, "404": "NOT_FOUND: no such proposal"},
        ),
        "/v1/reserves/{account_id}/inflows": _get(
            "A state reserve's inflows, newest first, paginated: each with its kind (SEIZED "
            "with the court order, MINED, PURCHASED, TRANSFERRED), source, asset and amount",
            _json(_ref("Inflows"), "one page; pass `next` as `after` for the following one"),
            params=[
                _path_param("account_id", "a STATE_RESERVE account id", _ACCOUNT_ID),
                _query_param(
                    "after", "`next` of the previous page (a sequence number)", _HEIGHT_OR_ZERO
                ),
                _query_param(
                    "limit",
                    "inflows per page, 1 to 100 (default 100)",
                    {"type": "integer", "minimum": 1, "maximum": 100},
                ),
            ],
            errors={"400": bad, "404": "NOT_FOUND: no such STATE_RESERVE account"},
        ),
        "/v1/events": _get(
            "Server-sent events: one `block` event per committed block (id = height)",
            {
                "description": (
                    "text/event-stream; `event: block` with a BlockEvent as data; comment "
                    "lines as keepalive; `event: dropped` when the client fell too far behind"
                ),
                "content": {"text/event-stream": {"schema": _ref("ServerSentEvent")}},
            },
            params=[
                _query_param(
                    "after",
                    "replay from the height after this one (default: the tip)",
                    _HEIGHT_OR_ZERO,
                ),
                {
                    "name": "Last-Event-ID",
                    "in": "header",
                    "required": False,
                    "description": "the `id` of the last event seen; `after` wins over it",
                    "schema": _HEIGHT_OR_ZERO,
                },
            ],
            errors={"400": bad},
        ),
        **_iso_paths(bad, account_id),
        "/openapi.json": _get(
            "This document",
            {
                "description": "OpenAPI 3.1",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
        ),
    }
    # /v1/health's own 503 is its report; the accept loop's 503 is an Error.
    health_503 = paths["/v1/health"]["get"]["responses"]["503"]
    health_503["content"]["application/json"]["schema"] = {"anyOf": [_ref("Health"), _ref("Error")]}
    health_503["description"] += "; or TOO_MANY_CONNECTIONS"
    for item in paths.values():
        for op in item.values():
            # Every route refuses unknown and repeated query parameters.
            op["responses"].setdefault(
                "400", _error("INVALID_ARGUMENT: an unknown or repeated query parameter")
            )
            op["responses"].setdefault(
                "405", _error("METHOD_NOT_ALLOWED: the route exists for other methods")
            )
            # The limits of every route (docs/api.md, "Limits").
            op["responses"].setdefault(
                "429", _error("RATE_LIMITED: retry after the Retry-After header's seconds")
            )
            op["responses"].setdefault(
                "503", _error("TOO_MANY_CONNECTIONS: retry after the Retry-After header's seconds")
            )
            op["responses"].setdefault("431", _error("HEADERS_TOO_LARGE: headers past 16 KiB"))
            op["responses"].setdefault(
                "408", _error("HEADERS_TIMEOUT: the request headers took too long")
            )
    security_schemes = openapi_access(paths)  # security and 401/403 per route (docs/api.md)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tenge-node operator API",
            "version": API_VERSION,
            "description": (
                "JSON over HTTP. Amounts are decimal strings of integer minor units, 0 to "
                "2^128 - 1 (KYC-tier limits 0 to 2^64 - 1), byte fields hex. Errors: "
                '{"error": {"code": CODE, "message": TEXT}}.'
            ),
        },
        "paths": paths,
        "components": {"schemas": _schemas(), "securitySchemes": security_schemes},
    }
