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
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypedDict, Unpack

import httpx
import trio

from node.errors import NodeError
from node.keys import KeyPair
from node.ledger import U64_MAX
from node.ledger.txbuild import KindMessage, build_tx, sign_envelope, transfer, tx_id_of
from proto import ledger_pb2 as pb

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


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The node's answer to a submission.

    Attributes:
        tx_id: hex of the transaction id.
        status: "pending" (admitted) or "committed" (final, with height and code).
        height, index: where it was committed (None while pending).
        code: the receipt's code name once committed ("OK" or a rule failure), else None.
        message: the receipt's message ("" when OK).
    """

    tx_id: str
    status: str
    height: int | None = None
    index: int | None = None
    code: str | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        """Committed with code OK."""
        return self.status == "committed" and self.code == "OK"


class SendOptions(TypedDict, total=False):
    """How a built transaction is submitted.

    Keys:
        wait: wait until committed (``?wait=commit``).
        timeout_s: how long the node waits for the commit.
        nonce: the body's nonce (default: random 63 bits).
        expires_at_height: last height for inclusion (default: tip + ``expires_in``).
        expires_in: blocks from the tip (default: min(100, the chain's max_tx_ttl)).
        memo: free text stored with the transaction.
    """

    wait: bool
    timeout_s: float
    nonce: int
    expires_at_height: int
    expires_in: int
    memo: str


def parse_amount(text: str, decimals: int) -> int:
    """Minor units of a decimal amount in an asset's units: ("1250.50", 2) -> 125050.

    Raises:
        ValueError: not a plain non-negative decimal, more decimals than the asset has,
            or more than 2^64 - 1 minor units.
    """
    if not text or not all(c.isdigit() or c == "." for c in text) or not text.isascii():
        raise ValueError(f"{text!r} is not a non-negative decimal amount")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a decimal amount") from None
    minor = value.scaleb(decimals)
    if minor != minor.to_integral_value():
        raise ValueError(f"{text!r} has more than {decimals} decimal places")
    units = int(minor)
    if units > U64_MAX:
        raise ValueError(f"{text!r} is more than 2^64 - 1 minor units")
    return units


def format_amount(units: int, decimals: int) -> str:
    """The inverse of `parse_amount`: (125050, 2) -> "1250.50"."""
    if decimals == 0:
        return str(units)
    text = str(units).rjust(decimals + 1, "0")
    return f"{text[:-decimals]}.{text[-decimals:]}"


def _u64(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= U64_MAX:
        raise ValueError(f"{what} must be an integer from 0 to 2^64 - 1, not {value!r}")
    return value


def _enum(enum: Any, value: str | int, what: str) -> int:
    if isinstance(value, int):
        return value
    try:
        number: int = enum.Value(value)
    except ValueError:
        raise ValueError(f"{what}: unknown value {value!r}") from None
    return number


class EventStream:
    """Blocks from /v1/events, as dicts (see `TengeClient.events`)."""

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


class TengeClient:
    """The node's HTTP API.

    Args:
        base_url: e.g. ``http://127.0.0.1:26657``.
        timeout_s: per-request timeout (a wait=commit request gets its wait on top).
        transport: an httpx transport (tests pass ``httpx.ASGITransport(app)``).
        chain_id: the chain to sign for; read from /v1/status when not given.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
        chain_id: str | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s, transport=transport)
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
        send, receive = trio.open_memory_channel[dict[str, Any] | ClientError](16)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._pump_events, send, after)
            try:
                yield EventStream(receive)
            finally:
                nursery.cancel_scope.cancel()
                receive.close()

    async def _pump_events(
        self, send: trio.MemorySendChannel[dict[str, Any] | ClientError], after: int | None
    ) -> None:
        params = {} if after is None else {"after": str(after)}
        timeout = httpx.Timeout(self._timeout_s, read=None)
        async with send:
            try:
                async with self._http.stream(
                    "GET", "/v1/events", params=params, timeout=timeout
                ) as response:
                    if response.status_code != 200:
                        text = (await response.aread()).decode(errors="replace")
                        try:
                            doc = json.loads(text)
                        except ValueError:
                            doc = None
                        await send.send(_api_error(response.status_code, doc, text))
                        return
                    event, data = "", ""
                    # Never leave this loop early: httpx's nested generators must finish
                    # (or be cancelled) to be cleaned up under trio.
                    async for line in response.aiter_lines():
                        if line.startswith("event:"):
                            event = line[6:].strip()
                        elif line.startswith("data:"):
                            data = line[5:].strip()
                        elif not line and data:
                            doc = json.loads(data)
                            if event == "dropped":
                                await send.send(ApiError(200, "DROPPED", doc.get("reason", "")))
                            elif event == "block":
                                await send.send(doc)
                            event, data = "", ""
            except httpx.TransportError as e:
                await send.send(Unreachable(f"GET /v1/events: {type(e).__name__}: {e}"))
            except trio.BrokenResourceError:
                pass  # the reader left

    # ---- submission ----

    async def submit(
        self, envelope: bytes, *, wait: bool = False, timeout_s: float | None = None
    ) -> SubmitResult:
        """POST /v1/txs with a serialized, signed TxEnvelope.

        Raises:
            ApiError: refused (a ledger code, 400), mempool full (503), or with wait, not
                committed in time (504 TIMEOUT; the transaction stays pending).
            Unreachable: no answer.
        """
        params: dict[str, str | float] = {}
        http_timeout = self._timeout_s
        if wait:
            params["wait"] = "commit"
            if timeout_s is not None:
                params["timeout"] = timeout_s
            http_timeout += WAIT_MARGIN_S + (timeout_s or 300.0)
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

    # ---- one helper per transaction kind ----

    async def register_account(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        account_id: str,
        role: str | int,
        zone: str | int,
        public_keys: Sequence[bytes],
        kyc_tier: int = 0,
        threshold: int = 0,
        licensed: bool = False,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Register an account (central bank: banks and state roles; a bank: its clients)."""
        message = pb.RegisterAccount(
            account_id=account_id,
            role=_enum(pb.Role, role, "role"),  # type: ignore[arg-type]
            zone=_enum(pb.Zone, zone, "zone"),  # type: ignore[arg-type]
            kyc_tier=kyc_tier,
            public_keys=list(public_keys),
            threshold=threshold,
            licensed=licensed,
        )
        return await self.send(message, signer=signer, keys=keys, **options)

    async def register_asset(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        code: str,
        decimals: int,
        issuer: str,
        kind: str | int,
        payment_zones: Sequence[str | int],
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Register an asset (central bank)."""
        message = pb.RegisterAsset(
            code=code,
            decimals=decimals,
            issuer=issuer,
            kind=_enum(pb.AssetKind, kind, "kind"),  # type: ignore[arg-type]
            payment_zones=[_enum(pb.Zone, z, "payment_zones") for z in payment_zones],  # type: ignore[misc]
        )
        return await self.send(message, signer=signer, keys=keys, **options)

    async def set_limits(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        kyc_tier: int,
        per_payment: int,
        daily_outflow: int,
        holding_cap: int,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Set the KZT limits of a KYC tier, in tiyn; 0 means no limit (central bank)."""
        message = pb.SetLimits(
            kyc_tier=kyc_tier,
            per_payment=_u64(per_payment, "per_payment"),
            daily_outflow=_u64(daily_outflow, "daily_outflow"),
            holding_cap=_u64(holding_cap, "holding_cap"),
        )
        return await self.send(message, signer=signer, keys=keys, **options)

    async def issue(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        asset: str,
        to: str,
        amount: int,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Create supply of an asset into an account (the asset's issuer)."""
        message = pb.Issue(asset=asset, to=to, amount=_u64(amount, "amount"))
        return await self.send(message, signer=signer, keys=keys, **options)

    async def redeem(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        asset: str,
        amount: int,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Destroy supply held by the signer."""
        message = pb.Redeem(asset=asset, amount=_u64(amount, "amount"))
        return await self.send(message, signer=signer, keys=keys, **options)

    async def transfer(
        self,
        *,
        keys: Sequence[KeyPair],
        legs: Sequence[tuple[str, str, str, int]],
        reference: str = "",
        signer: str | None = None,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Pay: one or more (payer, payee, asset, amount) legs, settled all or nothing.

        Every paying account must sign; `signer` defaults to the first leg's payer.
        """
        if not legs:
            raise ValueError("a transfer needs at least one leg")
        checked = [(p, q, a, _u64(n, f"legs[{i}].amount")) for i, (p, q, a, n) in enumerate(legs)]
        message = transfer(*checked, reference=reference)
        acting = legs[0][0] if signer is None else signer
        return await self.send(message, signer=acting, keys=keys, **options)

    async def freeze(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        account_id: str,
        legal_ref: str,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Freeze an account (regulator)."""
        message = pb.Freeze(account_id=account_id, legal_ref=legal_ref)
        return await self.send(message, signer=signer, keys=keys, **options)

    async def unfreeze(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        account_id: str,
        legal_ref: str,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Unfreeze an account (regulator)."""
        message = pb.Unfreeze(account_id=account_id, legal_ref=legal_ref)
        return await self.send(message, signer=signer, keys=keys, **options)

    async def seize(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        account_id: str,
        asset: str,
        amount: int,
        legal_ref: str,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Move funds of a frozen account to STATE_RESERVE under a court order (regulator)."""
        message = pb.Seize(
            account_id=account_id, asset=asset, amount=_u64(amount, "amount"), legal_ref=legal_ref
        )
        return await self.send(message, signer=signer, keys=keys, **options)

    async def update_validator(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        public_key: bytes,
        power: int,
        moniker: str = "",
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Add, re-weight or (power 0) remove a validator (central bank)."""
        message = pb.UpdateValidator(
            public_key=public_key, power=_u64(power, "power"), moniker=moniker
        )
        return await self.send(message, signer=signer, keys=keys, **options)


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
    "SendOptions",
    "SubmitResult",
    "TengeClient",
    "Unreachable",
    "format_amount",
    "parse_amount",
    "tx_id_of",
]
