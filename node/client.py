"""A Python client of the node's HTTP API (trio + httpx), docs/api.md.

One method per endpoint, and one per transaction kind that builds, signs (with
`node.ledger.txbuild`) and submits it::

    async with TengeClient("http://127.0.0.1:26657") as api:
        result = await api.transfer(
            signer="alice.halyk", keys=[alice], legs=[("alice.halyk", "shop.kaspi", "KZT", 125050)],
            wait=True,
        )
        print(result.code)            # "OK" once committed

Errors: `ApiError` (the node answered with an error: ``status``, ``code``, ``message``)
and `Unreachable` (no answer: connection refused, reset, or timed out).

The per-kind helpers, `SubmitResult`, `SendOptions` and the amount functions live in
`node._client_tx` and are re-exported here.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, Unpack
from urllib.parse import quote

import httpx
import trio

from node._client_tx import (
    SendOptions,
    SubmitResult,
    TransactionKinds,
    format_amount,
    parse_amount,
)
from node.errors import NodeError
from node.iso20022 import (
    PACS_008,
    PACS_009,
    IsoRefusal,
    IsoResult,
    payment_and_parties,
)
from node.iso20022._mapping import TRAVEL_DATA
from node.iso20022._status import MESSAGE_REASONS
from node.keys import KeyPair
from node.ledger import KZT, amount_of
from node.ledger._persons import person_ref
from node.ledger._travel import required_from
from node.ledger.txbuild import (
    KindMessage,
    TravelDataError,
    build_tx,
    seal_travel_data,
    sign_envelope,
    tx_id_of,
)
from proto import ledger_pb2 as pb

#: What a server-sent event (name, id, data) gives the reader; None skips it.
_EventItem = Callable[[str, str, str], "dict[str, Any] | None"]

DEFAULT_TIMEOUT_S: Final = 30.0
DEFAULT_EXPIRES_IN: Final = 100
#: Extra seconds the HTTP request may take beyond a wait=commit timeout.
WAIT_MARGIN_S: Final = 10.0


class ClientError(NodeError):
    """Root of the client's errors."""


class ApiError(ClientError):
    """The node answered with an error.

    Attributes:
        status: the HTTP status.
        code: the stable code (a ledger ResultCode name or an API code such as NOT_FOUND).
        message: the node's explanation.
        tx_id: the transaction's id (hex) when the error concerns one, else "".
    """

    def __init__(self, status: int, code: str, message: str, tx_id: str = "") -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.tx_id = tx_id


class Unreachable(ClientError):
    """The node could not be reached or did not answer in time."""


class EventStream:
    """Events of a server-sent stream, as dicts (see `TengeClient.events` and
    `TengeClient.iso_notifications`)."""

    def __init__(self, receive: trio.MemoryReceiveChannel[dict[str, Any] | ClientError]) -> None:
        self._receive = receive

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        try:
            item = await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise StopAsyncIteration from None
        if isinstance(item, ClientError):
            raise item
        return item


class TengeClient(TransactionKinds):
    """The node's HTTP API; the per-kind helpers come from `TransactionKinds`.

    Args:
        base_url: e.g. ``http://127.0.0.1:26657``.
        timeout_s: per-request timeout (a wait=commit request gets its wait on top).
        transport: an httpx transport (tests pass ``httpx.ASGITransport(app)``).
        chain_id: the chain to sign for; read from /v1/status when not given.
        token: a bearer token of the node (``tenge-node api-token create``), sent as
            ``Authorization: Bearer TOKEN`` on every request; None sends none.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
        chain_id: str | None = None,
        token: str | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout_s, transport=transport, headers=headers
        )
        self._timeout_s = timeout_s
        self._chain_id = chain_id
        self._max_tx_ttl: int | None = None

    async def __aenter__(self) -> TengeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool; safe to call twice."""
        await self._http.aclose()

    # ---- plumbing ----

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int | float] | None = None,
        body: Any = None,
        timeout_s: float | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> Any:
        try:
            response = await self._http.request(
                method,
                path,
                params=params,
                json=body,
                timeout=self._timeout_s if timeout_s is None else timeout_s,
            )
        except httpx.TransportError as e:
            raise Unreachable(f"{method} {path}: {type(e).__name__}: {e}") from e
        try:
            doc = response.json()
        except ValueError:
            doc = None
        if response.status_code in ok and doc is not None:
            return doc
        raise _api_error(response.status_code, doc, response.text)

    # ---- queries ----

    async def status(self) -> dict[str, Any]:
        """GET /v1/status."""
        doc: dict[str, Any] = await self._request("GET", "/v1/status")
        self._chain_id = self._chain_id or doc["chain_id"]
        self._max_tx_ttl = doc.get("max_tx_ttl")
        return doc

    async def health(self) -> dict[str, Any]:
        """GET /v1/health; the document for both 200 and 503 (see its ``status``)."""
        doc: dict[str, Any] = await self._request("GET", "/v1/health", ok=(200, 503))
        return doc

    async def tx(self, tx_id: str | bytes) -> dict[str, Any]:
        """GET /v1/txs/{tx_id}: status, location, code and the decoded transaction."""
        key = tx_id.hex() if isinstance(tx_id, bytes) else tx_id
        doc: dict[str, Any] = await self._request("GET", f"/v1/txs/{key}")
        return doc

    async def account(self, account_id: str) -> dict[str, Any]:
        """GET /v1/accounts/{id}."""
        doc: dict[str, Any] = await self._request("GET", f"/v1/accounts/{account_id}")
        return doc

    async def travel_recipients(self, payer: str, payee: str) -> list[dict[str, Any]]:
        """GET /v1/travel/recipients: whom a payer -> payee leg seals its travel-rule data
        to (account_id, receives_for, travel_key as hex or None)."""
        params = {"payer": payer, "payee": payee}
        doc: dict[str, Any] = await self._request("GET", "/v1/travel/recipients", params=params)
        recipients: list[dict[str, Any]] = doc["recipients"]
        return recipients

    async def seal_travel(
        self, payer: str, payee: str, data: pb.TravelRuleData
    ) -> list[pb.TravelCopy]:
        """The travel copies of a payer -> payee leg: data sealed to every recipient's
        published key, as the node names them (`travel_recipients`).

        Raises:
            TravelDataError: data is malformed, or a recipient has published no key.
        """
        keys = {}
        for found in await self.travel_recipients(payer, payee):
            if found["travel_key"] is None:
                raise TravelDataError(
                    f"{found['account_id']!r} ({found['receives_for']}) has published no "
                    "travel key (NO_TRAVEL_KEY)"
                )
            keys[found["account_id"]] = bytes.fromhex(found["travel_key"])
        return seal_travel_data(data, keys)

    async def travel_copies(self, tx_id: str | bytes) -> list[list[pb.TravelCopy]]:
        """GET /v1/txs/{tx_id}/travel: each leg's sealed copies, to open with
        `txbuild.open_travel_copy` and the recipient's private key."""
        key = tx_id.hex() if isinstance(tx_id, bytes) else tx_id
        doc: dict[str, Any] = await self._request("GET", f"/v1/txs/{key}/travel")
        return [
            [
                pb.TravelCopy(recipient=c["recipient"], sealed=bytes.fromhex(c["sealed"]))
                for c in leg["copies"]
            ]
            for leg in doc["legs"]
        ]

    async def person(self, ref: bytes | str) -> dict[str, Any]:
        """GET /v1/persons/{ref}: the person's accounts, frozen flag and today's outflow."""
        ref_hex = ref.hex() if isinstance(ref, bytes) else ref
        doc: dict[str, Any] = await self._request("GET", f"/v1/persons/{ref_hex}")
        return doc

    async def account_transactions(
        self, account_id: str, *, after: str | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        """GET /v1/accounts/{id}/transactions: one page; ``next`` continues it."""
        params: dict[str, str | int] = {}
        if after is not None:
            params["after"] = after
        if limit is not None:
            params["limit"] = limit
        path = f"/v1/accounts/{account_id}/transactions"
        doc: dict[str, Any] = await self._request("GET", path, params=params)
        return doc

    async def payments(
        self, *, uetr: str | None = None, end_to_end_id: str | None = None, payer: str = ""
    ) -> list[dict[str, Any]]:
        """The settled transfers with a leg of this UETR (GET /v1/payments/{uetr}), or that
        payer paid under this end-to-end id (GET /v1/accounts/{payer}/payments), in chain
        order (each as `tx` answers).

        Raises:
            ValueError: neither or both of uetr and end_to_end_id (with payer) are given.
        """
        if (uetr is None) == (end_to_end_id is None) or (end_to_end_id is not None) != bool(payer):
            raise ValueError("give uetr, or end_to_end_id with payer")
        if uetr is not None:
            path, params = f"/v1/payments/{quote(uetr, safe='')}", None
        else:
            path = f"/v1/accounts/{quote(payer, safe='')}/payments"
            params = {"end_to_end_id": str(end_to_end_id)}
        doc: dict[str, Any] = await self._request("GET", path, params=params)
        payments: list[dict[str, Any]] = doc["payments"]
        return payments

    async def statement(
        self, account_id: str, *, after: str | None = None, page_size: int = 100
    ) -> AsyncIterator[dict[str, Any]]:
        """Every statement line after cursor `after`, page by page."""
        cursor = after
        while True:
            page = await self.account_transactions(account_id, after=cursor, limit=page_size)
            for line in page["transactions"]:
                yield line
            cursor = page["next"]
            if cursor is None:
                return

    async def block(self, height: int | None = None) -> dict[str, Any]:
        """GET /v1/blocks/{height}, or /v1/blocks/latest when height is None."""
        which = "latest" if height is None else str(height)
        doc: dict[str, Any] = await self._request("GET", f"/v1/blocks/{which}")
        return doc

    async def validators(self) -> dict[str, Any]:
        """GET /v1/validators."""
        doc: dict[str, Any] = await self._request("GET", "/v1/validators")
        return doc

    async def rulebook(self, version: int | None = None) -> dict[str, Any]:
        """GET /v1/rulebook: the active rulebook and the pending change, or one version."""
        path = "/v1/rulebook" if version is None else f"/v1/rulebook?version={int(version)}"
        doc: dict[str, Any] = await self._request("GET", path)
        return doc

    async def assets(self) -> list[dict[str, Any]]:
        """GET /v1/assets."""
        doc = await self._request("GET", "/v1/assets")
        assets: list[dict[str, Any]] = doc["assets"]
        return assets

    async def asset(self, code: str) -> dict[str, Any]:
        """GET /v1/assets/{code}: the asset with issued, redeemed and outstanding supply."""
        doc: dict[str, Any] = await self._request("GET", f"/v1/assets/{code}")
        return doc

    async def evidence(self) -> list[dict[str, Any]]:
        """GET /v1/evidence."""
        doc = await self._request("GET", "/v1/evidence")
        evidence: list[dict[str, Any]] = doc["evidence"]
        return evidence

    async def openapi(self) -> dict[str, Any]:
        """GET /openapi.json."""
        doc: dict[str, Any] = await self._request("GET", "/openapi.json")
        return doc

    @asynccontextmanager
    async def events(self, *, after: int | None = None) -> AsyncIterator[EventStream]:
        """Committed blocks from /v1/events (from height after + 1 if given)::

            async with api.events() as stream:
                async for block in stream:
                    ...

        The stream is read by a background task, and leaving the block cancels it, so
        breaking out of the loop is clean. Iterating raises `ApiError` when the node
        refuses the request or drops the stream (code DROPPED: the reader fell too far
        behind; reconnect with ``after`` = the last height seen) and `Unreachable` when
        the connection fails.
        """

        def block(event: str, event_id: str, data: str) -> dict[str, Any] | None:
            return json.loads(data) if event == "block" else None

        async with self._sse("/v1/events", after, block) as stream:
            yield stream

    @asynccontextmanager
    async def iso_notifications(
        self, account_id: str, *, after: int | None = None
    ) -> AsyncIterator[EventStream]:
        """camt.054 notifications of one account from /v1/iso20022/notifications/{id}
        (blocks after height after, if given), as ``{"height": H, "document": bytes}``;
        ``{"height": H, "not_representable": message}`` for a block whose entries have no
        ISO form. Errors as for `events`."""

        def notification(event: str, event_id: str, data: str) -> dict[str, Any] | None:
            if event == "camt.054":
                return {"height": int(event_id), "document": data.encode()}
            if event == "not_representable":
                return {"height": int(event_id), "not_representable": json.loads(data)["message"]}
            return None

        path = f"/v1/iso20022/notifications/{quote(account_id, safe='')}"
        async with self._sse(path, after, notification) as stream:
            yield stream

    async def iso_statement(
        self,
        account_id: str,
        *,
        from_height: int | None = None,
        to_height: int | None = None,
        from_date: str | None = None,
        to_date: str | None = None,
        asset: str | None = None,
    ) -> bytes:
        """GET /v1/iso20022/camt.053/{id}: the account's camt.053 statement (XML bytes) over
        heights or dates (YYYY-MM-DD, UTC); a missing end means the tip."""
        given = {
            "from_height": from_height,
            "to_height": to_height,
            "from_date": from_date,
            "to_date": to_date,
            "asset": asset,
        }
        params = {name: str(value) for name, value in given.items() if value is not None}
        path = f"/v1/iso20022/camt.053/{quote(account_id, safe='')}"
        try:
            response = await self._http.get(path, params=params)
        except httpx.TransportError as e:
            raise Unreachable(f"GET {path}: {type(e).__name__}: {e}") from e
        if response.status_code == 200:
            return response.content
        try:
            doc = response.json()
        except ValueError:
            doc = None
        raise _api_error(response.status_code, doc, response.text)

    @asynccontextmanager
    async def _sse(
        self, path: str, after: int | None, item: _EventItem
    ) -> AsyncIterator[EventStream]:
        send, receive = trio.open_memory_channel[dict[str, Any] | ClientError](16)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._pump_events, path, send, after, item)
            try:
                yield EventStream(receive)
            finally:
                nursery.cancel_scope.cancel()
                receive.close()

    async def _pump_events(
        self,
        path: str,
        send: trio.MemorySendChannel[dict[str, Any] | ClientError],
        after: int | None,
        item: _EventItem,
    ) -> None:
        params = {} if after is None else {"after": str(after)}
        timeout = httpx.Timeout(self._timeout_s, read=None)
        async with send:
            try:
                async with self._http.stream(
                    "GET", path, params=params, timeout=timeout
                ) as response:
                    if response.status_code != 200:
                        text = (await response.aread()).decode(errors="replace")
                        try:
                            doc = json.loads(text)
                        except ValueError:
                            doc = None
                        await send.send(_api_error(response.status_code, doc, text))
                        return
                    event, event_id, data = "", "", []
                    # Never leave this loop early: httpx's nested generators must finish
                    # (or be cancelled) to be cleaned up under trio.
                    async for line in response.aiter_lines():
                        if line.startswith("event:"):
                            event = line[6:].strip()
                        elif line.startswith("id:"):
                            event_id = line[3:].strip()
                        elif line.startswith("data:"):
                            data.append(line[5:].removeprefix(" "))
                        elif not line and data:
                            text = "\n".join(data)
                            if event == "dropped":
                                reason = json.loads(text).get("reason", "")
                                await send.send(ApiError(200, "DROPPED", reason))
                            else:
                                found = item(event, event_id, text)
                                if found is not None:
                                    await send.send(found)
                            event, event_id, data = "", "", []
            except httpx.TransportError as e:
                await send.send(Unreachable(f"GET {path}: {type(e).__name__}: {e}"))
            except trio.BrokenResourceError:
                pass  # the reader left

    # ---- submission ----

    async def submit(
        self, envelope: bytes, *, wait: bool = False, timeout_s: float | None = None
    ) -> SubmitResult:
        """POST /v1/txs with a serialized, signed TxEnvelope.

        Raises:
            ApiError: refused (a ledger code, 400; PENDING_FUNDS_EXCEEDED, 409; too many
                pending for the account, 429), mempool full (429), or with wait, not
                committed in time (504 TIMEOUT; the transaction stays pending).
            Unreachable: no answer.
        """
        params, http_timeout = self._wait_query(wait, timeout_s)
        doc = await self._request(
            "POST",
            "/v1/txs",
            params=params,
            body={"tx": base64.b64encode(envelope).decode()},
            timeout_s=http_timeout,
            ok=(200, 202),
        )
        return SubmitResult(
            tx_id=doc["tx_id"],
            status=doc["status"],
            height=doc.get("height"),
            index=doc.get("index"),
            code=doc.get("code"),
            message=doc.get("message", ""),
        )

    async def submit_iso(
        self,
        message: bytes | str,
        *,
        keys: Sequence[KeyPair],
        kind: str = "pacs.008",
        travel: str = "auto",
        wait: bool = False,
        timeout_s: float | None = None,
        nonce: int | None = None,
        expires_at_height: int | None = None,
    ) -> IsoResult:
        """Build the transfer a pacs.008 or pacs.009 describes, sign it with keys (the
        debtor's), and POST both to /v1/iso20022/{kind}; the node's pacs.002 answer.

        The transfer is built by the node's own mapping (node/iso20022), with the asset
        decimals the node lists, so a message the client can map is one the node maps to
        the same transfer. Travel-rule data is sealed from the message's party data (Dbtr
        and Cdtr, or the agents of a pacs.009) to the leg's recipients: with travel
        "auto" for the legs the active rulebook requires it of, "always" for every leg,
        "never" for none. A message the client cannot read, map or seal is not sent:
        the result is the RJCT the node would give (no tx_id).

        Raises:
            ValueError: kind is not "pacs.008" or "pacs.009", or travel not one of the three.
            ApiError: the node answered without a pacs.002 (not JSON, too large, rate
                limited, unauthenticated...).
            Unreachable: no answer.
        """
        version = {"pacs.008": PACS_008, "pacs.009": PACS_009}.get(kind)
        if version is None:
            raise ValueError(f"kind must be pacs.008 or pacs.009, not {kind!r}")
        if travel not in ("auto", "always", "never"):
            raise ValueError(f"travel must be auto, always or never, not {travel!r}")
        data = message.encode("utf-8") if isinstance(message, str) else message
        decimals = {a["code"]: int(a["decimals"]) for a in await self.assets()}
        try:
            payment, parties = payment_and_parties(data, version, decimals.get)
        except IsoRefusal as refusal:
            return IsoResult.refused_here(version, refusal)
        transfer = payment.transfer
        if travel != "never":
            try:
                await self._seal_legs(transfer, parties, always=travel == "always")
            except TravelDataError as err:
                unsealed = IsoRefusal(TRAVEL_DATA, MESSAGE_REASONS[TRAVEL_DATA], str(err))
                unsealed.original = payment.original
                return IsoResult.refused_here(version, unsealed)
        envelope = await self.sign(
            transfer,
            signer=payment.signer,
            keys=keys,
            nonce=nonce,
            expires_at_height=expires_at_height,
        )
        params, http_timeout = self._wait_query(wait, timeout_s)
        doc = await self._request(
            "POST",
            f"/v1/iso20022/{kind}",
            params=params,
            body={"message": data.decode("utf-8"), "tx": base64.b64encode(envelope).decode()},
            timeout_s=http_timeout,
            ok=(200, 202, 400, 409, 429, 504),
        )
        if not isinstance(doc, dict) or "pacs002" not in doc:
            raise _api_error(400, doc, json.dumps(doc)[:200])
        return IsoResult.from_answer(doc)

    async def _seal_legs(
        self, transfer: pb.Transfer, parties: Sequence[pb.TravelRuleData], *, always: bool
    ) -> None:
        """Seal each leg's travel data (from the message's parties) where the active
        rulebook requires it, as the ledger judges it (`node.ledger._travel.required`)."""
        book = (await self.rulebook())["active"]
        threshold = (
            int(book.get("travel_rule_threshold", "0"))
            if book.get("travel_rule_enforced")
            else None
        )
        for leg, party in zip(transfer.legs, parties, strict=True):
            kzt_value = amount_of(leg) if leg.asset == KZT else None
            if always or required_from(threshold, leg.asset, kzt_value):
                leg.travel_copies.extend(await self.seal_travel(leg.payer, leg.payee, party))

    def _wait_query(
        self, wait: bool, timeout_s: float | None
    ) -> tuple[dict[str, str | float], float]:
        """The query of a submission (wait=commit, timeout) and its HTTP timeout."""
        params: dict[str, str | float] = {}
        http_timeout = self._timeout_s
        if wait:
            params["wait"] = "commit"
            if timeout_s is not None:
                params["timeout"] = timeout_s
            http_timeout += WAIT_MARGIN_S + (timeout_s or 300.0)
        return params, http_timeout

    async def chain_id(self) -> str:
        """The chain id (from /v1/status once, then remembered)."""
        if self._chain_id is None:
            await self.status()
        assert self._chain_id is not None
        return self._chain_id

    async def sign(
        self,
        kind: KindMessage,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        nonce: int | None = None,
        expires_at_height: int | None = None,
        expires_in: int | None = None,
        memo: str = "",
    ) -> bytes:
        """Build and sign a transaction for this chain; the serialized envelope."""
        if expires_at_height is None:
            status = await self.status()
            ttl = status.get("max_tx_ttl") or DEFAULT_EXPIRES_IN
            expires_at_height = status["height"] + (
                min(DEFAULT_EXPIRES_IN, ttl) if expires_in is None else expires_in
            )
        chain_id = await self.chain_id()
        body = build_tx(
            chain_id,
            signer,
            kind,
            nonce=secrets.randbits(63) if nonce is None else nonce,
            expires_at_height=expires_at_height,
            memo=memo,
        )
        return sign_envelope(body, chain_id, keys)

    async def send(
        self,
        kind: KindMessage,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Build, sign and submit one transaction of any kind."""
        envelope = await self.sign(
            kind,
            signer=signer,
            keys=keys,
            nonce=options.get("nonce"),
            expires_at_height=options.get("expires_at_height"),
            expires_in=options.get("expires_in"),
            memo=options.get("memo", ""),
        )
        return await self.submit(
            envelope, wait=options.get("wait", False), timeout_s=options.get("timeout_s")
        )


def _api_error(status: int, doc: Any, text: str) -> ApiError:
    error = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return ApiError(
            status, error["code"], str(error.get("message", "")), str(error.get("tx_id", ""))
        )
    return ApiError(status, f"HTTP_{status}", text[:200])


__all__ = [
    "ApiError",
    "ClientError",
    "EventStream",
    "IsoResult",
    "SendOptions",
    "SubmitResult",
    "TengeClient",
    "Unreachable",
    "format_amount",
    "parse_amount",
    "person_ref",
    "tx_id_of",
]
