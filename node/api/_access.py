"""Who may call which route: the scope table and the ASGI layer that enforces it.

Rules this module keeps:

1. `ROUTE_ACCESS` is the one table of what every route needs (docs/api.md, "Access", shows
   the same table; a test checks that it covers every route of the app).
2. With no token file the API is open, as on a developer's loopback node; the node refuses
   to start with a non-loopback ``api.listen`` then (``require_tokens_off_loopback``).
3. A public route never looks at the Authorization header. Any other route answers 401
   UNAUTHENTICATED (with ``WWW-Authenticate: Bearer``) without a valid token, and 403 FORBIDDEN
   with a token that lacks the scope, or, for a ``read:own`` token, when the account is not
   the token's bank or an account that bank registered (``Account.registered_by``).
4. A route missing from the table needs ``read:all`` (the layer fails closed). A path or
   method of no route goes on to the router's 404 or 405, which reveal nothing.
5. A ``read:own`` token gets the same 403 for an account that does not exist as for another
   bank's: a bank cannot probe for other banks' customers. A malformed id goes on to the
   handler, which answers 400 without reading anything.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Sequence
from typing import Any, Final

from google.protobuf.message import DecodeError
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from node.api import _errors as e
from node.api._facade import NodeFacade
from node.api._limits import ApiObserver
from node.api._requests import check_account_id, parse_tx_id
from node.api._tokens import (
    INVALID_TOKEN,
    MISSING_TOKEN,
    READ_ALL,
    READ_OWN,
    REVOKED_TOKEN,
    SUBMIT,
    ApiToken,
    TokenBook,
    TokenHolder,
)
from node.errors import ConfigError
from node.ledger import get_account
from node.ledger._rules import required_accounts
from proto import ledger_pb2


class Need(enum.Enum):
    """What a route asks of the caller."""

    PUBLIC = "public"  # no token
    SUBMIT = "submit"  # submit
    OWN_ACCOUNT = "own_account"  # read:own for the path's account (its bank's), or read:all
    OWN_TX = "own_tx"  # read:own for a tx that names one of its bank's accounts, or read:all
    READ_ALL = "read_all"  # read:all

    @property
    def scope(self) -> str:
        """The scope named in refusals and metrics (``public`` for none)."""
        return _SCOPE_OF[self]


_SCOPE_OF: Final = {
    Need.PUBLIC: "public",
    Need.SUBMIT: SUBMIT,
    Need.OWN_ACCOUNT: READ_OWN,
    Need.OWN_TX: READ_OWN,
    Need.READ_ALL: READ_ALL,
}

#: Every route's need, by route template. ``admin`` passes every check; no route needs
#: ``admin`` alone today.
ROUTE_ACCESS: Final[dict[str, Need]] = {
    "/v1/status": Need.PUBLIC,
    "/v1/health": Need.PUBLIC,
    "/v1/txs": Need.SUBMIT,
    "/v1/txs/batch": Need.SUBMIT,
    "/v1/iso20022/pacs.008": Need.SUBMIT,
    "/v1/iso20022/pacs.009": Need.SUBMIT,
    "/v1/iso20022/pacs.008/prepare": Need.SUBMIT,
    "/v1/iso20022/pacs.009/prepare": Need.SUBMIT,
    "/v1/txs/{tx_id}": Need.OWN_TX,
    "/v1/txs/{tx_id}/travel": Need.OWN_TX,  # sealed: only the recipients' keys open them
    "/v1/travel/recipients": Need.SUBMIT,  # what a paying bank needs to build a transfer
    "/v1/accounts/{account_id}": Need.OWN_ACCOUNT,
    "/v1/accounts/{account_id}/transactions": Need.OWN_ACCOUNT,
    "/v1/accounts/{account_id}/payments": Need.OWN_ACCOUNT,
    "/v1/licences/{account_id}": Need.OWN_ACCOUNT,
    "/v1/reserves/{account_id}/inflows": Need.OWN_ACCOUNT,
    "/v1/persons/{person_ref}": Need.READ_ALL,  # one person's accounts at every bank
    "/v1/payments/{uetr}": Need.READ_ALL,  # a UETR may name any bank's transfer
    "/v1/blocks/latest": Need.PUBLIC,
    "/v1/blocks/{height}": Need.PUBLIC,
    "/v1/validators": Need.PUBLIC,
    "/v1/assets": Need.PUBLIC,
    "/v1/assets/{code}": Need.PUBLIC,
    "/v1/evidence": Need.PUBLIC,
    "/v1/rulebook": Need.PUBLIC,
    "/v1/governance": Need.PUBLIC,
    "/v1/governance/{proposal_id}": Need.PUBLIC,
    "/v1/events": Need.PUBLIC,
    "/v1/iso20022/camt.053/{account_id}": Need.OWN_ACCOUNT,
    "/v1/iso20022/notifications/{account_id}": Need.OWN_ACCOUNT,
    "/openapi.json": Need.PUBLIC,
}

# Why a token was refused a route (besides MISSING_TOKEN, INVALID_TOKEN, REVOKED_TOKEN).
MISSING_SCOPE: Final = "missing_scope"
OTHER_BANK: Final = "other_bank"
AUTH_REFUSAL_REASONS: Final = frozenset(
    {MISSING_TOKEN, INVALID_TOKEN, REVOKED_TOKEN, MISSING_SCOPE, OTHER_BANK}
)
AUTH_SCOPES: Final = frozenset({SUBMIT, READ_OWN, READ_ALL})

_CHALLENGE: Final = 'Bearer realm="tenge-node"'


def _served_route(routes: Sequence[BaseRoute], scope: Scope) -> tuple[str, dict[str, Any]] | None:
    """The template and path parameters of the route that serves a request (path and
    method match, as the router picks it), or None when it will be a 404 or a 405."""
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.FULL and isinstance(route, Route):
            return route.path, dict(child.get("path_params", {}))
    return None


def is_loopback(host: str) -> bool:
    """Whether a listen host only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def require_tokens_off_loopback(listen: str, host: str, tokens: TokenBook | None) -> None:
    """Refuse an API that anyone on the network could call without a token.

    Raises:
        ConfigError: ``api.listen`` is not a loopback address and there is no token file.
    """
    if tokens is None and not is_loopback(host):
        raise ConfigError(
            f"config.toml: api.listen: {listen} is not a loopback address and no API token is "
            "configured; create one with `tenge-node api-token create` or listen on 127.0.0.1"
        )


class AccessLayer:
    """ASGI layer that checks the bearer token of every non-public request."""

    def __init__(
        self,
        app: ASGIApp,
        routes: Sequence[BaseRoute],
        facade: NodeFacade,
        holder: TokenHolder,
        observer: ApiObserver,
    ) -> None:
        self.app = app
        self.routes = routes
        self.facade = facade
        self.holder = holder
        self.observer = observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        book = self.holder.book
        if scope["type"] != "http" or book is None:
            await self.app(scope, receive, send)
            return
        served = _served_route(self.routes, scope)
        if served is None:  # no route for this path and method: the 404 or 405 is public
            await self.app(scope, receive, send)
            return
        template, params = served
        need = ROUTE_ACCESS.get(template, Need.READ_ALL)  # a route missing from the table
        if need is Need.PUBLIC:
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(need, book, _bearer(scope), params)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, reason, message = refusal
        self.observer.on_api_auth_refused(need.scope, reason)
        if status == 401:
            response = e.error_response(
                401, e.UNAUTHENTICATED, message, headers={"WWW-Authenticate": _challenge(reason)}
            )
        else:
            response = e.error_response(403, e.FORBIDDEN, message)
        await response(scope, receive, send)

    def _refusal(
        self, need: Need, book: TokenBook, presented: str | None, params: dict[str, Any]
    ) -> tuple[int, str, str] | None:
        """(status, reason, message) of a refusal, or None to serve the request."""
        if presented is None:
            message = f"this route needs a bearer token with scope {need.scope}"
            return 401, MISSING_TOKEN, f"{message} (Authorization: Bearer TOKEN)"
        token, reason = book.authenticate(presented)
        if token is None:
            what = "revoked" if reason == REVOKED_TOKEN else "not a valid token of this node"
            return 401, reason, f"the bearer token is {what}"
        if need is Need.SUBMIT or need is Need.READ_ALL:
            if token.has(need.scope):
                return None
            return 403, MISSING_SCOPE, _lacks(token, need.scope)
        if token.has(READ_ALL):
            return None
        if not token.has(READ_OWN):
            return 403, MISSING_SCOPE, _lacks(token, f"{READ_OWN} or {READ_ALL}")
        if need is Need.OWN_ACCOUNT:
            return self._own_account(token, params.get("account_id", ""))
        return self._own_tx(token, params.get("tx_id", ""))

    def _own_account(self, token: ApiToken, text: str) -> tuple[int, str, str] | None:
        try:
            account_id = check_account_id(text)
        except e.ApiProblem:
            return None  # the handler answers 400 INVALID_ARGUMENT
        if _owns(self.facade, token.bank, account_id):
            return None
        return (
            403,
            OTHER_BANK,
            (
                f"token {token.name!r} reads the accounts of {token.bank!r} and those it "
                f"registered; {account_id!r} is not one of them"
            ),
        )

    def _own_tx(self, token: ApiToken, text: str) -> tuple[int, str, str] | None:
        try:
            tx_id = parse_tx_id(text)
        except e.ApiProblem:
            return None
        named = _named_accounts(self.facade, tx_id)
        if named is None:
            return None  # neither committed nor pending: the handler answers 404
        if any(_owns(self.facade, token.bank, account_id) for account_id in named):
            return None
        return (
            403,
            OTHER_BANK,
            (
                f"token {token.name!r} reads the transactions of {token.bank!r}'s accounts; "
                f"{tx_id.hex()} names none of them"
            ),
        )


def _bearer(scope: Scope) -> str | None:
    """The token of the Authorization header ("" for a header that is not Bearer)."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").strip().partition(" ")
            return token.strip() if kind.lower() == "bearer" else ""
    return None


def _challenge(reason: str) -> str:
    if reason == MISSING_TOKEN:
        return _CHALLENGE
    return f'{_CHALLENGE}, error="invalid_token"'


def _lacks(token: ApiToken, scope: str) -> str:
    has = ", ".join(sorted(token.scopes))
    return f"token {token.name!r} ({has}) lacks scope {scope}"


def _owns(facade: NodeFacade, bank: str, account_id: str) -> bool:
    """Whether bank reads account_id under read:own: the bank itself, or registered by it."""
    if account_id == bank:
        return True
    account = get_account(facade.store, account_id)
    return account is not None and account.registered_by == bank


def _named_accounts(facade: NodeFacade, tx_id: bytes) -> list[str] | None:
    """The accounts a transaction names: a committed one's statement accounts (its
    receipt's), a pending one's signer, payers and payees; None when it is neither."""
    store = facade.store
    location = store.find_tx(tx_id)
    if location is not None:
        receipt = store.get_receipt(location.height, location.index)
        if receipt is not None:
            return list(receipt.accounts)
    raw = facade.mempool.get(tx_id)
    if raw is None:
        return None if location is None else []
    envelope, body = ledger_pb2.TxEnvelope(), ledger_pb2.TxBody()
    try:
        envelope.ParseFromString(raw)
        body.ParseFromString(envelope.body)
    except DecodeError:
        return []
    named = [body.signer, *required_accounts(body)]
    if body.WhichOneof("kind") == "transfer":
        named += [leg.payee for leg in body.transfer.legs]
    return named


# ---- the OpenAPI document (node/api/_openapi.py) ----

#: The name of the bearer scheme in the OpenAPI document's components.
BEARER_SCHEME: Final = "bearer"


def openapi_access(paths: dict[str, Any]) -> dict[str, Any]:
    """Write into an OpenAPI ``paths`` object each operation's ``security`` (from
    `ROUTE_ACCESS`) and its 401 and 403 answers; the ``securitySchemes`` to put in
    ``components``. Public routes get ``security: []``."""
    for path, item in paths.items():
        need = ROUTE_ACCESS[path]
        for op in item.values():
            if need is Need.PUBLIC:
                op["security"] = []
                continue
            scopes = [need.scope] if need.scope != READ_OWN else [READ_OWN, READ_ALL]
            op["security"] = [{BEARER_SCHEME: [scope]} for scope in scopes]
            responses = op["responses"]
            responses["401"] = _error_answer(
                "UNAUTHENTICATED: no bearer token, or not a valid one of this node (with "
                "WWW-Authenticate: Bearer); only once the node has a token file"
            )
            responses["403"] = _error_answer(
                f"FORBIDDEN: the token lacks scope {' or '.join(scopes)}"
                + (
                    "; or, read:own, the account is not its bank's"
                    if need.scope == READ_OWN
                    else ""
                )
            )
    return {
        BEARER_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "A token from `tenge-node api-token create` (tng_ID_SECRET). The roles "
                "listed on an operation are the scopes that open it; `admin` opens every "
                "route. A node without a token file asks for none (loopback only)."
            ),
        }
    }


def _error_answer(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
