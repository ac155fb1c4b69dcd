"""The operator HTTP API as a Starlette app (docs/api.md lists every route and shape).

Rules this module keeps:

1. No traceback reaches a client. Handlers raise `ApiProblem` for expected failures; the
   outermost guard turns anything else into 500 INTERNAL and logs the traceback.
2. Every handler reads its body, query and path ids through `node.api._requests`, which
   bounds the body (413 past `MAX_BODY_BYTES`, 408 when it is slow), refuses unknown query
   parameters and validates every id before it touches the store.
3. The API reads committed state through the store and never writes anything; the only
   way in is `NodeFacade.submit` / `NodeFacade.submit_batch`.
4. Every request passes the `ApiGate` first (`_Gate`): the client's request budget is
   charged (429 RATE_LIMITED past it), the connection is marked busy so that it is never
   shed, and the request is reported to the gate's observer with its route template.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

import trio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from node.admission import AdmissionBusy
from node.api import _errors as e
from node.api._access import AccessLayer
from node.api._events import event_stream
from node.api._facade import NodeFacade
from node.api._iso import (
    ACCEPTED,
    ISO_MESSAGES,
    REJECTED,
    SETTLED,
    IsoRefusal,
    decode_iso_body,
    decode_prepare_body,
    iso_answer,
    prepare_transfer,
    read_submission,
)
from node.api._limits import ApiGate, retry_after
from node.api._openapi import openapi_document
from node.api._persons import parse_person_ref, person_doc
from node.api._requests import (
    BODY_READ_TIMEOUT_S,
    MAX_HEIGHT,
    check_account_id,
    check_asset_code,
    check_cursor,
    decode_batch,
    decode_submission,
    parse_height,
    parse_int,
    parse_timeout,
    parse_tx_id,
    query,
    read_body,
)
from node.api._requests import MAX_BODY_BYTES as MAX_BODY_BYTES  # re-exported by node.api
from node.api._requests import MAX_WAIT_TIMEOUT_S as MAX_WAIT_TIMEOUT_S
from node.api._statements import heights_of, notification_stream, statement_document
from node.api._tokens import TokenHolder
from node.api._travel import copies_doc, recipients_doc
from node.api._views import (
    account_json,
    asset_json,
    block_json,
    code_name,
    evidence_json,
    history_json,
    licence_json,
    message_json,
    proposal_json,
    receipt_json,
    rulebook_json,
    tx_json,
    validator_json,
)
from node.blocks import decode_block
from node.consensus_codec import evidence_from_proto
from node.iso20022._status import status_reason
from node.ledger import (
    MAX_EVIDENCE_PAGE,
    MAX_INFLOW_PAGE,
    evidence_cursor,
    get_account,
    get_asset,
    get_balances,
    get_evidence,
    get_licence,
    get_proposal,
    get_validators,
    identifier_error,
    list_assets,
    list_evidence,
    list_inflows,
    list_proposals,
    parse_uetr,
    read_rulebooks,
    read_version,
    reserve_balance,
    status_at,
)
from node.mempool import Admission
from node.store import StoreError, TxLocation
from proto import ledger_pb2

log = logging.getLogger("tenge.api")

DEFAULT_WAIT_TIMEOUT_S: Final = 30.0
DEFAULT_MAX_BLOCK_AGE_S: Final = 30.0
DEFAULT_PAGE: Final = 100
MAX_PAGE: Final = 1000
MAX_PROPOSALS: Final = 100
KEEPALIVE_S: Final = 15.0


def create_app(
    facade: NodeFacade,
    *,
    max_block_age_s: float = DEFAULT_MAX_BLOCK_AGE_S,
    default_wait_timeout_s: float = DEFAULT_WAIT_TIMEOUT_S,
    keepalive_s: float = KEEPALIVE_S,
    body_timeout_s: float = BODY_READ_TIMEOUT_S,
    gate: ApiGate | None = None,
    tokens: TokenHolder | None = None,
) -> Starlette:
    """The HTTP API of one node.

    Args:
        facade: the node, as the API sees it.
        max_block_age_s: /v1/health answers 503 when the last commit is older than this.
        default_wait_timeout_s: how long ``POST /v1/txs?wait=commit`` waits by default.
        keepalive_s: idle interval after which /v1/events sends a comment line.
        body_timeout_s: a request body must arrive whole within this (else 408).
        gate: rate limits and the observer of requests; pass the same gate to
            ``serve_api`` (it finds it on ``app.state.gate`` otherwise). Default: a gate
            with default limits that reports nothing.
        tokens: the bearer tokens every non-public route asks for (docs/api.md,
            "Access"); None or a holder without a book: the API is open.
    """
    gate = gate or ApiGate()
    api = _Api(facade, max_block_age_s, default_wait_timeout_s, keepalive_s, body_timeout_s, gate)
    routes = [
        Route("/v1/status", api.status, methods=["GET"]),
        Route("/v1/health", api.health, methods=["GET"]),
        Route("/v1/txs", api.submit, methods=["POST"]),
        Route("/v1/txs/batch", api.submit_batch, methods=["POST"]),
        Route("/v1/txs/{tx_id}", api.get_tx, methods=["GET"]),
        Route("/v1/iso20022/pacs.008", api.submit_iso, methods=["POST"]),
        Route("/v1/iso20022/pacs.009", api.submit_iso, methods=["POST"]),
        Route("/v1/iso20022/pacs.008/prepare", api.prepare_iso, methods=["POST"]),
        Route("/v1/iso20022/pacs.009/prepare", api.prepare_iso, methods=["POST"]),
        Route("/v1/txs/{tx_id}/travel", api.travel_copies, methods=["GET"]),
        Route("/v1/travel/recipients", api.travel_recipients, methods=["GET"]),
        Route("/v1/accounts/{account_id}", api.account, methods=["GET"]),
        Route("/v1/accounts/{account_id}/transactions", api.history, methods=["GET"]),
        Route("/v1/accounts/{account_id}/payments", api.payments_by_end_to_end_id, methods=["GET"]),
        Route("/v1/payments/{uetr}", api.payments_by_uetr, methods=["GET"]),
        Route("/v1/persons/{person_ref}", api.person, methods=["GET"]),
        Route("/v1/blocks/latest", api.latest_block, methods=["GET"]),
        Route("/v1/blocks/{height}", api.block, methods=["GET"]),
        Route("/v1/validators", api.validators, methods=["GET"]),
        Route("/v1/assets", api.assets, methods=["GET"]),
        Route("/v1/assets/{code}", api.asset, methods=["GET"]),
        Route("/v1/evidence", api.evidence, methods=["GET"]),
        Route("/v1/rulebook", api.rulebook, methods=["GET"]),
        Route("/v1/governance", api.governance, methods=["GET"]),
        Route("/v1/licences/{account_id}", api.licence, methods=["GET"]),
        Route("/v1/governance/{proposal_id}", api.proposal, methods=["GET"]),
        Route("/v1/reserves/{account_id}/inflows", api.inflows, methods=["GET"]),
        Route("/v1/events", api.events, methods=["GET"]),
        # ISO 20022 out: camt.053 statements, camt.054 notifications (node/api/_statements.py)
        Route("/v1/iso20022/camt.053/{account_id}", api.iso_statement, methods=["GET"]),
        Route("/v1/iso20022/notifications/{account_id}", api.iso_notifications, methods=["GET"]),
        Route("/openapi.json", api.openapi, methods=["GET"]),
    ]
    _literal_paths_first(routes)
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(_Gate, gate=gate, routes=routes),
            Middleware(_Guard),
            Middleware(
                AccessLayer,
                routes=routes,
                facade=facade,
                holder=tokens or TokenHolder(None),
                observer=gate.observer,
            ),
        ],
        exception_handlers={
            e.ApiProblem: _problem_handler,
            HTTPException: _http_exception_handler,
        },
    )
    app.state.gate = gate
    return app


class _ParamRoute(Route):
    """A route with path parameters that never takes a literal route's path.

    Starlette picks the first route that matches path and method, so without this
    ``GET /v1/txs/batch`` (a POST-only route) would reach ``/v1/txs/{tx_id}`` and be
    refused as a malformed tx id; with it, that request gets 405 and ``Allow: POST``.
    """

    literal_paths: frozenset[str] = frozenset()

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["path"] in self.literal_paths:
            return Match.NONE, {}
        return super().matches(scope)


def _literal_paths_first(routes: list[Route]) -> None:
    """Make every parameterised route yield the paths of the literal routes (in place)."""
    literal = frozenset(r.path for r in routes if not r.param_convertors)
    for i, route in enumerate(routes):
        if route.param_convertors:
            param = _ParamRoute(route.path, route.endpoint, methods=sorted(route.methods or ()))
            param.literal_paths = literal
            routes[i] = param


# ---- error plumbing ----


async def _problem_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, e.ApiProblem)
    return exc.response()


async def _http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        allow = (exc.headers or {}).get("Allow", "")
        return e.error_response(
            405,
            e.METHOD_NOT_ALLOWED,
            f"{request.method} is not allowed on {request.url.path}; allowed: {allow}",
            headers={"Allow": allow} if allow else None,
        )
    if exc.status_code == 404:
        return e.error_response(404, e.NOT_FOUND, f"no route {request.url.path}")
    return e.error_response(exc.status_code, e.INVALID_ARGUMENT, str(exc.detail))


UNMATCHED: Final = "unmatched"
CLIENT_GONE: Final = 499  # status reported when the client left before any response


class _Gate:
    """Outermost ASGI layer: rate limit, busy marking and metrics of every request."""

    def __init__(self, app: ASGIApp, gate: ApiGate, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.gate = gate
        self.routes = routes

    def _template(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE and isinstance(route, Route):
                return route.path
        return UNMATCHED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = trio.current_time()
        client = scope.get("client")
        peer = (str(client[0]), int(client[1])) if client else None
        status = CLIENT_GONE

        async def send_tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        connections = self.gate.connections
        connections.request_started(peer)
        try:
            wait = self.gate.check_request(peer[0] if peer else None, started)
            if wait:
                response = e.error_response(
                    429,
                    e.RATE_LIMITED,
                    f"this client exceeds {self.gate.limits.requests_per_s:g} requests/s "
                    f"(burst {self.gate.limits.burst}); retry after the Retry-After seconds",
                    headers={"Retry-After": retry_after(wait)},
                )
                await response(scope, receive, send_tracked)
            else:
                await self.app(scope, receive, send_tracked)
        finally:
            now = trio.current_time()
            connections.request_finished(peer, now)
            self.gate.observer.on_api_request(self._template(scope), status, now - started)


class _Guard:
    """ASGI layer inside the gate: any unexpected exception becomes 500 INTERNAL, logged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except ClientDisconnect:
            log.debug("client of %s %s went away", scope.get("method"), scope.get("path"))
        except Exception:
            log.exception("internal error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                response = e.error_response(
                    500, e.INTERNAL, "internal error; the node logged the details"
                )
                try:
                    await response(scope, receive, send)
                except OSError:
                    log.debug("could not send the 500: the client is gone")


# ---- the handlers ----


class _Api:
    def __init__(
        self,
        facade: NodeFacade,
        max_block_age_s: float,
        default_wait_timeout_s: float,
        keepalive_s: float,
        body_timeout_s: float,
        gate: ApiGate,
    ) -> None:
        self.facade = facade
        self.gate = gate
        self.body_timeout_s = body_timeout_s
        self.max_block_age_s = max_block_age_s
        self.default_wait_timeout_s = default_wait_timeout_s
        self.keepalive_s = keepalive_s
        self._openapi: dict[str, Any] | None = None

    async def status(self, request: Request) -> Response:
        query(request, frozenset())
        f = self.facade
        store = f.store
        return JSONResponse(
            {
                "chain_id": f.chain_id,
                "node_id": f.node_id,
                "moniker": f.moniker,
                "height": store.height,
                "latest_block_hash": store.block_hash.hex(),
                "latest_app_hash": store.app_hash.hex(),
                "catching_up": f.catching_up,
                "validator": f.is_validator,
                "peers": len(f.peers),
                "mempool": {"txs": len(f.mempool), "bytes": f.mempool.size_bytes},
                "max_tx_ttl": f.ledger.max_tx_ttl,
                "max_tx_bytes": f.ledger.max_tx_bytes,
            }
        )

    async def health(self, request: Request) -> Response:
        query(request, frozenset())
        f = self.facade
        height = f.store.height
        last = f.last_commit_time
        age = None if last is None else max(0.0, trio.current_time() - last)
        reason = None
        if f.catching_up:
            reason = "catching up with peers"
        elif age is None:
            reason = "no block committed since the node started"
        elif age > self.max_block_age_s:
            reason = f"no block committed for {age:.1f} s (limit {self.max_block_age_s:g} s)"
        signer = f.signer_status
        if reason is None and signer is not None and not signer["up"]:
            reason = f"the remote signer is unreachable: {signer.get('error')}"
        doc: dict[str, Any] = {
            "status": "ok" if reason is None else "unhealthy",
            "height": height,
            "catching_up": f.catching_up,
            "last_commit_age_s": None if age is None else round(age, 3),
            "peers": len(f.peers),
        }
        if signer is not None:
            doc["signer"] = dict(signer)
        if reason is None:
            return JSONResponse(doc)
        doc["reason"] = reason
        doc["error"] = {"code": e.NOT_READY, "message": reason}
        return JSONResponse(doc, status_code=503)

    def _wait_params(self, request: Request) -> tuple[bool, float]:
        """The ``wait`` and ``timeout`` query parameters of a submission."""
        params = query(request, frozenset({"wait", "timeout"}))
        wait = params.get("wait")
        if wait not in (None, "commit"):
            raise e.bad_argument(f"wait must be 'commit', not {wait[:40]!r}")
        timeout = self.default_wait_timeout_s
        if "timeout" in params:
            if wait is None:
                raise e.bad_argument("timeout only applies with wait=commit")
            timeout = parse_timeout(params["timeout"])
        return wait is not None, timeout

    async def _admit(self, request: Request, raw: bytes, wait: bool, wait_s: float) -> _Outcome:
        """Admit one envelope and, with wait, wait for its commit (what became of it)."""
        try:
            admission = await self.facade.submit(raw, client=self._client_key(request))
        except AdmissionBusy as exc:
            return _Outcome(b"", busy=exc)
        outcome = _Outcome(admission.tx_id, admission=admission)
        if not admission.ok or not wait:
            return outcome
        location, gone = await _wait_unless_disconnected(
            request, self.facade.wait_committed(admission.tx_id, wait_s)
        )
        outcome.gone = gone
        outcome.location = location
        if location is not None:
            outcome.receipt = self.facade.store.get_receipt(location.height, location.index)
        return outcome

    async def submit(self, request: Request) -> Response:
        wait, timeout = self._wait_params(request)
        self._charge_submission(request, 1)
        raw = decode_submission(await read_body(request, timeout_s=self.body_timeout_s))
        outcome = await self._admit(request, raw, wait, timeout)
        if outcome.busy is not None:
            return _busy(outcome.busy)
        admission = outcome.admission
        assert admission is not None
        tx_id = admission.tx_id.hex()
        name = code_name(admission.code)
        if name in e.ADMISSION_STATUS:
            status, retry = _admission_status(admission)
            return e.error_response(
                status,
                name,
                admission.message,
                headers=None if retry is None else {"Retry-After": retry},
                tx_id=tx_id,
            )
        if not admission.ok:
            raise e.ApiProblem(
                400,
                code_name(admission.code),
                admission.message,
                headers=None,
                tx_id=tx_id,
                **_rule(admission),
            )
        if not wait:
            return JSONResponse({"tx_id": tx_id, "status": "pending"}, status_code=202)
        if outcome.gone:  # nobody to answer; the transaction stays pending
            log.debug("client left while waiting for %s", tx_id)
            return Response(status_code=204)
        location = outcome.location
        if location is None:
            raise e.ApiProblem(
                504,
                e.TIMEOUT,
                f"not committed within {timeout:g} s; the transaction stays pending",
                tx_id=tx_id,
            )
        receipt = outcome.receipt
        return JSONResponse(
            {
                "tx_id": tx_id,
                "status": "committed",
                "height": location.height,
                "index": location.index,
                "code": code_name(location.code),
                "message": "" if receipt is None else receipt.message,
                **_judged(receipt),
            }
        )

    async def prepare_iso(self, request: Request) -> Response:
        """The TxBody a pacs.008 or pacs.009 describes, for its debtor to sign."""
        query(request, frozenset())
        message = ISO_MESSAGES[request.url.path.rsplit("/", 2)[-2]]
        self._charge_submission(request, 1)
        f = self.facade
        height = f.store.height
        xml, nonce, expires = decode_prepare_body(
            await read_body(request, timeout_s=self.body_timeout_s), height, f.ledger.max_tx_ttl
        )
        try:
            doc = prepare_transfer(
                message,
                xml,
                f.ledger,
                f.store,
                f.chain_id,
                next_height=height + 1,
                nonce=nonce,
                expires_at_height=expires,
            )
        except IsoRefusal as refusal:
            raise e.ApiProblem(400, refusal.code, refusal.message, reason=refusal.reason) from None
        return JSONResponse(doc)

    async def submit_iso(self, request: Request) -> Response:
        """A pacs.008 or pacs.009 with its signed transfer: answered with a pacs.002."""
        message = ISO_MESSAGES[request.url.path.rsplit("/", 1)[-1]]
        wait, timeout = self._wait_params(request)
        self._charge_submission(request, 1)
        xml, raw = decode_iso_body(await read_body(request, timeout_s=self.body_timeout_s))
        try:
            submission = read_submission(message, xml, raw, self.facade.store)
        except IsoRefusal as refusal:
            return iso_answer(
                message=message,
                original=refusal.original,
                status=REJECTED,
                http_status=400,
                code=refusal.code,
                reason=refusal.reason,
                text=refusal.message,
            )
        original = submission.payment.original
        outcome = await self._admit(request, submission.envelope, wait, timeout)
        if outcome.busy is not None:
            return iso_answer(
                message=message,
                original=original,
                status=REJECTED,
                http_status=429,
                code=code_name(ledger_pb2.MEMPOOL_FULL),
                reason=status_reason(ledger_pb2.MEMPOOL_FULL),
                text=str(outcome.busy),
                headers={"Retry-After": "1"},
            )
        admission = outcome.admission
        assert admission is not None
        tx_id = admission.tx_id.hex()
        if not admission.ok:
            status, retry = _admission_status(admission)
            return iso_answer(
                message=message,
                original=original,
                status=REJECTED,
                http_status=status,
                tx_id=tx_id,
                code=code_name(admission.code),
                reason=status_reason(admission.code),
                text=admission.message,
                extra=_rule(admission),
                headers=None if retry is None else {"Retry-After": retry},
            )
        if outcome.gone:
            return Response(status_code=204)
        accepted = partial(iso_answer, message=message, original=original, tx_id=tx_id)
        if not wait:
            return accepted(status=ACCEPTED, http_status=202)
        location = outcome.location
        if location is None:
            late = f"not committed within {timeout:g} s; the transaction stays pending"
            return accepted(
                status=ACCEPTED,
                http_status=504,
                extra={"error": {"code": e.TIMEOUT, "message": late, "tx_id": tx_id}},
            )
        receipt = outcome.receipt
        where = {"height": location.height, "index": location.index, **_judged(receipt)}
        if location.code == ledger_pb2.OK:
            return accepted(status=SETTLED, http_status=200, extra=where)
        return accepted(
            status=REJECTED,
            http_status=200,
            code=code_name(location.code),
            reason=status_reason(location.code),
            text="" if receipt is None else receipt.message,
            extra=where,
        )

    async def submit_batch(self, request: Request) -> Response:
        """Admit up to MAX_BATCH envelopes in one request; each is judged on its own."""
        query(request, frozenset())
        raws = decode_batch(await read_body(request, timeout_s=self.body_timeout_s))
        self._charge_submission(request, len(raws))
        try:
            admissions = await self.facade.submit_batch(raws, client=self._client_key(request))
        except AdmissionBusy as exc:
            return _busy(exc)
        if admissions and all(a.code == ledger_pb2.MEMPOOL_FULL for a in admissions):
            first = admissions[0]
            wait = min(a.retry_after_s for a in admissions)
            return e.error_response(
                429,
                code_name(ledger_pb2.MEMPOOL_FULL),
                f"none of the {len(admissions)} transactions was admitted: {first.message}",
                headers={"Retry-After": retry_after(wait)},
            )
        results: list[dict[str, Any]] = []
        admitted = 0
        for admission in admissions:
            if admission.ok:
                admitted += 1
                results.append({"tx_id": admission.tx_id.hex(), "status": "pending"})
            else:
                results.append(
                    {
                        "tx_id": admission.tx_id.hex(),
                        "status": "refused",
                        "code": code_name(admission.code),
                        "message": admission.message,
                        **_rule(admission),
                    }
                )
        return JSONResponse(
            {"admitted": admitted, "refused": len(raws) - admitted, "results": results}
        )

    def _client_key(self, request: Request) -> str | None:
        """The key of the client's share of the mempool: its address, as the gate keys
        its budgets (None for a client in ``[api] exempt``: no share)."""
        host = request.client.host if request.client else None
        if host is None or self.gate.limits.is_exempt(host):
            return None
        return host

    def _charge_submission(self, request: Request, txs: int) -> None:
        """Charge txs submitted transactions to the client; 429 RATE_LIMITED past its budget."""
        host = request.client.host if request.client else None
        wait = self.gate.check_submission(host, txs, trio.current_time())
        if wait:
            limits = self.gate.limits
            raise e.ApiProblem(
                429,
                e.RATE_LIMITED,
                f"this client exceeds {limits.submit_txs_per_s:g} submitted transactions/s "
                f"(burst {limits.submit_burst}); nothing was admitted, retry after the "
                "Retry-After seconds",
                headers={"Retry-After": retry_after(wait)},
            )

    async def get_tx(self, request: Request) -> Response:
        query(request, frozenset())
        tx_id = parse_tx_id(request.path_params["tx_id"])
        store = self.facade.store
        location = store.find_tx(tx_id)
        pending = self.facade.mempool.get(tx_id)
        if location is not None and (location.settled or pending is None):
            # A body-only refusal of an earlier copy yields to the pending resubmission.
            receipt = store.get_receipt(location.height, location.index)
            raw = store.get_tx(tx_id)
            doc = (
                receipt_json(receipt)
                if receipt is not None
                else {
                    "tx_id": tx_id.hex(),
                    "status": "committed",
                    "height": location.height,
                    "index": location.index,
                    "code": code_name(location.code),
                    "message": "",
                }
            )
            doc["tx"] = None if raw is None else tx_json(raw)
            return JSONResponse(doc)
        if pending is not None:
            return JSONResponse({"tx_id": tx_id.hex(), "status": "pending", "tx": tx_json(pending)})
        raise e.not_found(f"no committed or pending transaction {tx_id.hex()}")

    async def account(self, request: Request) -> Response:
        query(request, frozenset())
        account_id = check_account_id(request.path_params["account_id"])
        store = self.facade.store
        account = get_account(store, account_id)
        if account is None:
            raise e.not_found(f"no account {account_id!r}")
        licence = licence_json(get_licence(store.get, account_id), store.height + 1)
        return JSONResponse(account_json(account, get_balances(store, account_id), licence))

    async def licence(self, request: Request) -> Response:
        """An account's licence record, and whether it is in force at the next height."""
        query(request, frozenset())
        account_id = check_account_id(request.path_params["account_id"])
        store = self.facade.store
        licence = licence_json(get_licence(store.get, account_id), store.height + 1)
        if licence is None:
            raise e.not_found(f"account {account_id!r} has no licence")
        return JSONResponse({"height": store.height, "licence": licence})

    async def person(self, request: Request) -> Response:
        query(request, frozenset())
        ref = parse_person_ref(request.path_params["person_ref"])
        return JSONResponse(person_doc(self.facade.store, ref))

    async def travel_recipients(self, request: Request) -> Response:
        """Whom a payer -> payee leg seals its travel-rule data to, with their keys."""
        params = query(request, frozenset({"payer", "payee"}))
        if "payer" not in params or "payee" not in params:
            raise e.bad_argument("the query parameters payer and payee are required")
        payer, payee = check_account_id(params["payer"]), check_account_id(params["payee"])
        return JSONResponse(recipients_doc(self.facade.store, payer, payee))

    async def travel_copies(self, request: Request) -> Response:
        """The sealed travel-rule copies of a committed transfer's legs."""
        query(request, frozenset())
        tx_id = parse_tx_id(request.path_params["tx_id"])
        return JSONResponse(copies_doc(self.facade.store, tx_id))

    async def history(self, request: Request) -> Response:
        params = query(request, frozenset({"after", "limit"}))
        account_id = check_account_id(request.path_params["account_id"])
        limit = parse_int(params.get("limit", str(DEFAULT_PAGE)), "limit", 1, MAX_PAGE)
        after = params.get("after")
        if after is not None:
            check_cursor(after)
        store = self.facade.store
        if get_account(store, account_id) is None:
            raise e.not_found(f"no account {account_id!r}")
        entries = store.account_history(account_id, after=after, limit=limit)
        blocks: dict[int, Any] = {}
        lines = []
        for entry in entries:
            if entry.height not in blocks:
                blocks[entry.height] = decode_block(store.get_block(entry.height) or b"")
            block = blocks[entry.height]
            raw = block.txs[entry.index] if block is not None else None
            time_ms = block.header.time_ms if block is not None else 0
            receipt = store.get_receipt(entry.height, entry.index)
            lines.append(history_json(entry, receipt, raw, time_ms))
        next_cursor = entries[-1].cursor if len(entries) == limit else None
        return JSONResponse({"account_id": account_id, "transactions": lines, "next": next_cursor})

    async def payments_by_uetr(self, request: Request) -> Response:
        """The settled transfers with a leg of this UETR."""
        query(request, frozenset())
        try:
            uetr = parse_uetr(request.path_params["uetr"])
        except ValueError as err:
            raise e.bad_argument(f"uetr: {err}") from None
        return self._payments(self.facade.store.payments_by_uetr(uetr))

    async def payments_by_end_to_end_id(self, request: Request) -> Response:
        """The settled transfers with a leg the account pays under this end-to-end id."""
        params = query(request, frozenset({"end_to_end_id"}))
        payer = check_account_id(request.path_params["account_id"])
        if "end_to_end_id" not in params:
            raise e.bad_argument("the query parameter end_to_end_id is required")
        end_to_end_id = params["end_to_end_id"]
        bad = identifier_error(end_to_end_id)
        if bad is not None:
            raise e.bad_argument(f"end_to_end_id: {bad}")
        store = self.facade.store
        if get_account(store, payer) is None:
            raise e.not_found(f"no account {payer!r}")
        return self._payments(store.payments_by_end_to_end_id(payer, end_to_end_id))

    def _payments(self, tx_ids: Sequence[bytes]) -> Response:
        store = self.facade.store
        found = []
        for tx_id in tx_ids:
            location = store.find_tx(tx_id)
            receipt = (
                None if location is None else store.get_receipt(location.height, location.index)
            )
            raw = store.get_tx(tx_id)
            if receipt is None or raw is None:  # the index and the block land together
                raise StoreError(f"payment index entry {tx_id.hex()} has no committed tx")
            found.append({**receipt_json(receipt), "tx": tx_json(raw)})
        return JSONResponse({"payments": found})

    async def latest_block(self, request: Request) -> Response:
        query(request, frozenset())
        height = self.facade.store.height
        if height == 0:
            raise e.not_found("no block has been committed yet")
        return self._block_response(height)

    async def block(self, request: Request) -> Response:
        query(request, frozenset())
        return self._block_response(parse_height(request.path_params["height"]))

    def _block_response(self, height: int) -> Response:
        store = self.facade.store
        raw = store.get_block(height)
        if raw is None:
            raise e.not_found(f"no block at height {height} (the chain is at {store.height})")
        return JSONResponse(block_json(raw, store.get_commit(height), store.get_receipts(height)))

    async def validators(self, request: Request) -> Response:
        query(request, frozenset())
        store = self.facade.store
        height = store.height + 1
        monikers = {v.public_key: v.moniker for v in get_validators(store)}
        valset = ledger_pb2.ValidatorSet()
        raw = store.get_validator_set(height)
        if raw is not None:
            valset.ParseFromString(raw)
        validators = [
            validator_json(v.public_key, v.power, v.moniker or monikers.get(v.public_key, ""))
            for v in valset.validators
        ]
        return JSONResponse(
            {
                "height": height,
                "validators": validators,
                "total_power": sum(v.power for v in valset.validators),
            }
        )

    async def assets(self, request: Request) -> Response:
        query(request, frozenset())
        store = self.facade.store
        assets = [asset_json(a, reserve_balance(store, a)) for a in list_assets(store)]
        return JSONResponse({"assets": assets})

    async def asset(self, request: Request) -> Response:
        query(request, frozenset())
        code = check_asset_code(request.path_params["code"])
        asset = get_asset(self.facade.store, code)
        if asset is None:
            raise e.not_found(f"no asset {code!r}")
        return JSONResponse(asset_json(asset, reserve_balance(self.facade.store, asset)))

    async def rulebook(self, request: Request) -> Response:
        """The active rulebook and the pending change; ``?version=N`` one that was active."""
        params = query(request, frozenset({"version"}))
        store = self.facade.store
        if "version" in params:
            version = parse_int(params["version"], "version", 1, 2**63)
            book = read_version(store.get, version)
            if book is None:
                raise e.not_found(f"no rulebook version {version} was ever active")
            return JSONResponse({"rulebook": rulebook_json(book)})
        active, pending = read_rulebooks(store.get)
        return JSONResponse(
            {
                "height": store.height,
                "active": rulebook_json(active),
                "pending": None if pending is None else rulebook_json(pending),
            }
        )

    async def governance(self, request: Request) -> Response:
        """Governance proposals, newest first (at most MAX_PROPOSALS), and the quorum."""
        query(request, frozenset())
        store = self.facade.store
        height = store.height + 1
        active, _ = read_rulebooks(store.get)
        proposals = list_proposals(store)[:MAX_PROPOSALS]
        return JSONResponse(
            {
                "height": store.height,
                "quorum": [ledger_pb2.Role.Name(r) for r in active.governance_quorum],
                "proposals": [proposal_json(p, status_at(p, height)) for p in proposals],
            }
        )

    async def proposal(self, request: Request) -> Response:
        query(request, frozenset())
        proposal_id = parse_tx_id(request.path_params["proposal_id"])
        store = self.facade.store
        found = get_proposal(store.get, proposal_id)
        if found is None:
            raise e.not_found(f"no proposal {proposal_id.hex()}")
        return JSONResponse(proposal_json(found, status_at(found, store.height + 1)))

    async def inflows(self, request: Request) -> Response:
        """A state reserve's inflows (seized, mined, purchased, transferred), newest first."""
        params = query(request, frozenset({"after", "limit"}))
        account_id = check_account_id(request.path_params["account_id"])
        limit = parse_int(params.get("limit", str(MAX_INFLOW_PAGE)), "limit", 1, MAX_INFLOW_PAGE)
        after = None
        if "after" in params:
            after = parse_int(params["after"], "after", 0, MAX_HEIGHT)
        store = self.facade.store
        account = get_account(store, account_id)
        if account is None or account.role != ledger_pb2.STATE_RESERVE:
            raise e.not_found(f"no STATE_RESERVE account {account_id!r}")
        page = list_inflows(store, account_id, after=after, limit=limit)
        items = [{"seq": seq, **message_json(record)} for seq, record in page]
        next_cursor = str(page[-1][0]) if len(page) == limit else None
        return JSONResponse({"account_id": account_id, "inflows": items, "next": next_cursor})

    async def evidence(self, request: Request) -> Response:
        params = query(request, frozenset({"after", "limit"}))
        limit = parse_int(
            params.get("limit", str(MAX_EVIDENCE_PAGE)), "limit", 1, MAX_EVIDENCE_PAGE
        )
        after = params.get("after")
        if after is not None:
            check_cursor(after)
        store, chain_id = self.facade.store, self.facade.chain_id
        records = list_evidence(store, after=after, limit=limit)
        items = []
        if after is None:  # the first page also shows what no block has committed yet
            items = [
                evidence_json(ev, chain_id)
                for ev in self.facade.evidence()
                if get_evidence(store, ev) is None
            ]
        for record in records:
            items.append(evidence_json(evidence_from_proto(record.evidence), chain_id, record))
        next_cursor = evidence_cursor(records[-1]) if len(records) == limit else None
        return JSONResponse({"evidence": items, "next": next_cursor})

    async def openapi(self, request: Request) -> Response:
        query(request, frozenset())
        if self._openapi is None:
            self._openapi = openapi_document()
        return JSONResponse(self._openapi)

    async def events(self, request: Request) -> Response:
        params = query(request, frozenset({"after"}))
        store = self.facade.store
        after = store.height
        resume = request.headers.get("last-event-id")
        if resume is not None:  # checked even when `after` wins over it
            after = parse_int(resume, "Last-Event-ID", 0, MAX_HEIGHT)
        if "after" in params:
            after = parse_int(params["after"], "after", 0, MAX_HEIGHT)
        return StreamingResponse(
            event_stream(self.facade, after, self.keepalive_s),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    # ---- ISO 20022 out (node/api/_statements.py) ----

    async def iso_statement(self, request: Request) -> Response:
        """A camt.053 statement of the account over a height or date range."""
        allowed = frozenset({"from_height", "to_height", "from_date", "to_date", "asset"})
        params = query(request, allowed)
        account_id = check_account_id(request.path_params["account_id"])
        asset = check_asset_code(params["asset"]) if "asset" in params else None
        store = self.facade.store
        if get_account(store, account_id) is None:
            raise e.not_found(f"no account {account_id!r}")
        if asset is not None and get_asset(store, asset) is None:
            raise e.not_found(f"no asset {asset!r}")
        from_height, to_height = heights_of(store, params)
        document = await trio.to_thread.run_sync(
            statement_document, store, account_id, from_height, to_height, asset
        )
        return Response(document, media_type="application/xml")

    async def iso_notifications(self, request: Request) -> Response:
        """Server-sent events: a camt.054 notification per block that moves the account."""
        params = query(request, frozenset({"after"}))
        account_id = check_account_id(request.path_params["account_id"])
        store = self.facade.store
        after = store.height
        resume = request.headers.get("last-event-id")
        if resume is not None:
            after = parse_int(resume, "Last-Event-ID", 0, MAX_HEIGHT)
        if "after" in params:
            after = parse_int(params["after"], "after", 0, MAX_HEIGHT)
        if get_account(store, account_id) is None:
            raise e.not_found(f"no account {account_id!r}")
        return StreamingResponse(
            notification_stream(self.facade, account_id, after, self.keepalive_s),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )


async def _wait_unless_disconnected(
    request: Request, waiting: Awaitable[TxLocation | None]
) -> tuple[TxLocation | None, bool]:
    """Await waiting, giving up early if the client disconnects: (result, client_gone)."""
    result: TxLocation | None = None
    gone = False
    async with trio.open_nursery() as nursery:

        async def watch() -> None:
            nonlocal gone
            while (await request.receive())["type"] != "http.disconnect":
                pass
            gone = True
            nursery.cancel_scope.cancel()

        nursery.start_soon(watch)
        result = await waiting
        nursery.cancel_scope.cancel()
    return result, gone


@dataclass
class _Outcome:
    """What became of one submitted envelope: refused as busy, judged at admission, and
    with wait, committed (location and receipt), timed out (no location) or abandoned."""

    tx_id: bytes
    busy: AdmissionBusy | None = None
    admission: Admission | None = None
    location: TxLocation | None = None
    receipt: ledger_pb2.Receipt | None = None
    gone: bool = False


def _admission_status(admission: Admission) -> tuple[int, str | None]:
    """The HTTP status and Retry-After of an admission refusal (400 for a ledger code)."""
    status, retry = e.ADMISSION_STATUS.get(code_name(admission.code), (400, None))
    if admission.retry_after_s:
        retry = retry_after(admission.retry_after_s)
    return status, retry


def _rule(admission: Admission) -> dict[str, str]:
    """The refusing rulebook rule, for an error object (nothing when no rule refused)."""
    return {"rule": admission.rule} if admission.rule else {}


def _judged(receipt: ledger_pb2.Receipt | None) -> dict[str, Any]:
    """What a committed answer says of the rulebook: its version and the refusing rule."""
    if receipt is None:
        return {}
    return {"rulebook_version": receipt.rulebook_version, "rule": receipt.rule}


def _busy(exc: AdmissionBusy) -> Response:
    """429 MEMPOOL_FULL with Retry-After: the node has too much admission work queued."""
    return e.error_response(
        429, code_name(ledger_pb2.MEMPOOL_FULL), str(exc), headers={"Retry-After": "1"}
    )
