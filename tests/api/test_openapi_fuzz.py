"""The OpenAPI document is the contract: schemathesis, driven by /openapi.json alone, fuzzes
a real node and finds nothing.

It runs every phase of `st run` (explicit examples, the coverage phase's boundary values,
property-based fuzzing and stateful sequences) with every check: no 5xx, every status and
content type documented, every response (and every server-sent event) valid against its
schema, schema-valid requests accepted, schema-invalid ones refused, 405 for undeclared
methods. Bounded: a fixed seed, MAX_EXAMPLES per operation, event streams cut after
MAX_STREAM_EVENTS events or REQUEST_TIMEOUT_S; nothing leaves 127.0.0.1.

By hand, against any node: ``st run http://127.0.0.1:26657/openapi.json --checks all``
(docs/api.md, "The contract").
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Final

import httpx
import pytest
import schemathesis
from live_node import LiveNode
from schemathesis.engine import events, from_schema
from schemathesis.engine.recorder import ScenarioRecorder

from node.iso20022._status import MESSAGE_REASONS
from proto import ledger_pb2

SEED: Final = 20_261_203
MAX_EXAMPLES: Final = 10
MAX_STREAM_EVENTS: Final = 2
REQUEST_TIMEOUT_S: Final = 2.0
#: schemathesis's default statuses for a refused schema-invalid request, and 413: a tx
#: string past the document's maxLength makes the body pass the 1 MiB limit.
NEGATIVE_STATUSES: Final = [
    "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"
]  # fmt: skip
LEDGER_CODES: Final = frozenset(ledger_pb2.ResultCode.keys()) - {"OK"}
SUBMIT: Final = "POST /v1/txs"
#: Submissions whose schema-valid body may still hold no valid transaction or message.
JUDGED: Final = frozenset(
    {
        SUBMIT,
        "POST /v1/iso20022/pacs.008",
        "POST /v1/iso20022/pacs.009",
        "POST /v1/iso20022/pacs.008/prepare",
        "POST /v1/iso20022/pacs.009/prepare",
    }
)
VERDICT_CODES: Final = LEDGER_CODES | frozenset(MESSAGE_REASONS)
UETR: Final = uuid.UUID("2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901")
END_TO_END_ID: Final = "CONTRACT/0001"


def fuzz_config(live: LiveNode) -> schemathesis.Config:
    """The run's settings; the node's token on every request (the checks of authentication
    drop or spoil it to see the node refuse)."""
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": live.headers,
            "workers": 1,
            "request-timeout": REQUEST_TIMEOUT_S,
            "max-stream-events": MAX_STREAM_EVENTS,
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "checks": {
                "enabled": True,
                "negative_data_rejection": {"expected-statuses": NEGATIVE_STATUSES},
            },
        }
    )


def is_ledger_verdict(label: str, check: str, status: int | None, body: bytes) -> bool:
    """A schema-valid submission refused by the ledger: the one answer no schema foresees.

    A base64 string that the document allows need not hold a signed transaction, and the
    node answers it with the ledger's verdict (400 MALFORMED, INVALID_SIGNATURE...), as
    documented under POST /v1/txs; a string need not hold a valid ISO 20022 message, and
    the ISO routes answer it with the message's verdict (RJCT XML_MALFORMED...). Any other
    400 to a schema-valid request is a finding.
    """
    if label not in JUDGED or check != "positive_data_acceptance" or status != 400:
        return False
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return False
    return code in VERDICT_CODES


def findings_of(recorder: ScenarioRecorder, phase: str) -> list[str]:
    out = []
    for case_id, checks in recorder.checks.items():
        interaction = recorder.interactions.get(case_id)
        response = interaction.response if interaction is not None else None
        status = response.status_code if response is not None else None
        body = response.content if response is not None else b""
        for check in checks:
            info = check.failure_info
            if info is None:
                continue
            operation = info.failure.operation or recorder.label  # stateful: the step's
            if is_ledger_verdict(operation, check.name, status, body):
                continue
            out.append(
                f"[{phase}] {operation}: {check.name}: {info.failure.title}: "
                f"{info.failure.message[:300]}\n  answer {status}: {body[:300]!r}\n"
                f"  {info.code_sample[:400]}"
            )
    return out


def run_fuzzer(live: LiveNode) -> tuple[list[str], set[str], int]:
    """(findings, operations exercised, requests made) of one bounded run against live."""
    schema = schemathesis.openapi.from_url(f"{live.api}/openapi.json", config=fuzz_config(live))
    found: list[str] = []
    operations: set[str] = set()
    requests = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            operations.add(recorder.label)
            requests += len(recorder.interactions)
            found += findings_of(recorder, str(event.phase))
        elif isinstance(event, events.NonFatalError | events.FatalError):
            found.append(f"the fuzzer could not run: {event!r}")
    return found, operations, requests


def populate(live: LiveNode) -> dict[str, str]:
    """Real objects for the answers to describe: an issue, a customer with a person
    reference, payments both ways; returns some of their ids."""
    live.send("central-bank", ledger_pb2.Issue(asset="KZT", to="bank-a", amount=10**6), nonce=1)
    person_ref = bytes(range(32))
    customer = ledger_pb2.RegisterAccount(
        account_id="bob.bank-a",
        role=ledger_pb2.CUSTOMER,
        zone=ledger_pb2.NATIONAL,
        kyc_tier=1,
        public_keys=[bytes(32)],  # a key nobody holds: bob never pays
        person_ref=person_ref,
    )
    live.send("bank-a", customer, nonce=2)
    leg = ledger_pb2.TransferLeg(payer="bank-a", payee="bob.bank-a", asset="KZT", amount=250)
    identified = ledger_pb2.TransferLeg()
    identified.CopyFrom(leg)
    identified.end_to_end_id, identified.uetr = END_TO_END_ID, UETR.bytes
    paid = live.send("bank-a", ledger_pb2.Transfer(legs=[identified], reference="r1"), nonce=3)
    live.send("bank-a", ledger_pb2.Transfer(legs=[leg], reference="r2"), nonce=4)
    return {"tx_id": paid["tx_id"], "height": str(paid["height"]), "person": person_ref.hex()}


@pytest.mark.integration
def test_answers_about_real_objects_match_the_document(guarded_live: LiveNode) -> None:
    """What the fuzzer's random ids rarely reach: found accounts, statements with a next
    page, committed transactions, blocks with transactions, a person, the rulebook."""
    live = guarded_live
    ids = populate(live)
    schema = schemathesis.openapi.from_url(f"{live.api}/openapi.json", config=fuzz_config(live))
    statement = "/v1/accounts/{account_id}/transactions"
    first = httpx.get(
        f"{live.api}/v1/accounts/bank-a/transactions?limit=2", headers=live.headers, timeout=10
    )
    cursor = first.json()["next"]
    assert cursor is not None, first.text
    lookups = [
        ("/v1/status", "/v1/status"),
        ("/v1/health", "/v1/health"),
        ("/v1/accounts/{account_id}", "/v1/accounts/bank-a"),
        ("/v1/accounts/{account_id}", "/v1/accounts/bob.bank-a"),
        (statement, "/v1/accounts/bank-a/transactions?limit=2"),
        (statement, f"/v1/accounts/bank-a/transactions?after={cursor}"),
        ("/v1/persons/{person_ref}", f"/v1/persons/{ids['person']}"),
        ("/v1/txs/{tx_id}", f"/v1/txs/{ids['tx_id']}"),
        ("/v1/txs/{tx_id}", f"/v1/txs/{ids['tx_id'].upper()}"),
        ("/v1/blocks/{height}", f"/v1/blocks/{ids['height']}"),
        ("/v1/blocks/latest", "/v1/blocks/latest"),
        ("/v1/validators", "/v1/validators"),
        ("/v1/assets", "/v1/assets"),
        ("/v1/assets/{code}", "/v1/assets/KZT"),
        ("/v1/rulebook", "/v1/rulebook"),
        ("/v1/rulebook", "/v1/rulebook?version=1"),
        ("/v1/governance", "/v1/governance"),
        ("/v1/evidence", "/v1/evidence"),
        ("/v1/reserves/{account_id}/inflows", "/v1/reserves/state-reserve/inflows"),
        ("/v1/licences/{account_id}", "/v1/licences/bank-a"),
        ("/v1/payments/{uetr}", f"/v1/payments/{UETR}"),
        (
            "/v1/accounts/{account_id}/payments",
            f"/v1/accounts/bank-a/payments?end_to_end_id={END_TO_END_ID}",
        ),
    ]
    for template, url in lookups:
        response = httpx.get(live.api + url, headers=live.headers, timeout=10)
        assert response.status_code in (200, 404), (url, response.text)
        schema[template]["GET"].validate_response(response)
        if "payments" in template:
            assert [p["tx_id"] for p in response.json()["payments"]] == [ids["tx_id"]], url


@pytest.mark.integration
def test_the_fuzzer_finds_nothing_against_a_live_node(guarded_live: LiveNode) -> None:
    live = guarded_live
    doc: dict[str, Any] = schemathesis.openapi.from_url(f"{live.api}/openapi.json").raw_schema
    declared = {f"{m.upper()} {path}" for path, item in doc["paths"].items() for m in item}
    declared.remove("GET /openapi.json")  # the fuzzer never calls the document it reads
    found, operations, requests = run_fuzzer(live)
    assert not found, f"{len(found)} findings:\n" + "\n".join(found)
    assert declared <= operations, f"operations never exercised: {declared - operations}"
    assert requests >= 10 * len(declared), f"only {requests} requests were made"
