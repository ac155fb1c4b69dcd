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
from typing import Any, Final

import pytest
import schemathesis
from live_node import LiveNode
from schemathesis.engine import events, from_schema
from schemathesis.engine.recorder import ScenarioRecorder

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


def fuzz_config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
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
    documented under POST /v1/txs. Any other 400 to a schema-valid request is a finding.
    """
    if label != SUBMIT or check != "positive_data_acceptance" or status != 400:
        return False
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return False
    return code in LEDGER_CODES


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


def run_fuzzer(api: str) -> tuple[list[str], set[str], int]:
    """(findings, operations exercised, requests made) of one bounded run against api."""
    schema = schemathesis.openapi.from_url(f"{api}/openapi.json", config=fuzz_config())
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


@pytest.mark.integration
def test_the_fuzzer_finds_nothing_against_a_live_node(live: LiveNode) -> None:
    doc: dict[str, Any] = schemathesis.openapi.from_url(f"{live.api}/openapi.json").raw_schema
    declared = {f"{m.upper()} {path}" for path, item in doc["paths"].items() for m in item}
    declared.remove("GET /openapi.json")  # the fuzzer never calls the document it reads
    found, operations, requests = run_fuzzer(live.api)
    assert not found, f"{len(found)} findings:\n" + "\n".join(found)
    assert declared <= operations, f"operations never exercised: {declared - operations}"
    assert requests >= 10 * len(declared), f"only {requests} requests were made"
