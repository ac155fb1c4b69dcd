"""The operator HTTP API (DESIGN.md §8; every route and shape in docs/api.md).

The node builds the app with ``create_app(facade)``, where ``facade`` implements
`NodeFacade`, and serves it in its nursery with ``await nursery.start(serve_api, app,
host, port)``; one `ApiGate` (connection and rate limits, node/api/_limits.py) passed to
both holds the limits. ``create_app(..., tokens=TokenHolder(load_tokens(...)))`` asks for
bearer tokens on every non-public route (`ROUTE_ACCESS`, node/api/_access.py).
`CommitFeed` implements the facade's commit waiters and block stream: the
node calls ``feed.publish(BlockSummary.of(...))`` after each durable commit.
"""

from node.api._access import ROUTE_ACCESS, Need, is_loopback, require_tokens_off_loopback
from node.api._app import (
    DEFAULT_MAX_BLOCK_AGE_S,
    DEFAULT_WAIT_TIMEOUT_S,
    MAX_BODY_BYTES,
    MAX_PAGE,
    MAX_WAIT_TIMEOUT_S,
    create_app,
)
from node.api._errors import (
    BODY_TIMEOUT,
    BODY_TOO_LARGE,
    FORBIDDEN,
    HEADERS_TIMEOUT,
    HEADERS_TOO_LARGE,
    HTTP_CODES,
    INCOMPLETE_BODY,
    INTERNAL,
    INVALID_ARGUMENT,
    INVALID_BASE64,
    INVALID_JSON,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    NOT_READY,
    RATE_LIMITED,
    TIMEOUT,
    TOO_MANY_CONNECTIONS,
    UNAUTHENTICATED,
)
from node.api._facade import SUBSCRIBER_BUFFER, BlockSummary, CommitFeed, NodeFacade
from node.api._limits import REFUSAL_REASONS, ApiGate, ApiLimits, ApiObserver, RateLimiter
from node.api._openapi import error_codes, openapi_document
from node.api._server import hypercorn_config, serve_api
from node.api._tokens import (
    API_TOKENS_FILE,
    SCOPES,
    ApiToken,
    TokenBook,
    TokenHolder,
    load_tokens,
    new_token,
    reload_tokens,
    revoke,
    save_tokens,
    token_file,
    watch_token_file,
)

__all__ = [
    "API_TOKENS_FILE",
    "BODY_TIMEOUT",
    "BODY_TOO_LARGE",
    "DEFAULT_MAX_BLOCK_AGE_S",
    "DEFAULT_WAIT_TIMEOUT_S",
    "FORBIDDEN",
    "HEADERS_TIMEOUT",
    "HEADERS_TOO_LARGE",
    "HTTP_CODES",
    "INCOMPLETE_BODY",
    "INTERNAL",
    "INVALID_ARGUMENT",
    "INVALID_BASE64",
    "INVALID_JSON",
    "MAX_BODY_BYTES",
    "MAX_PAGE",
    "MAX_WAIT_TIMEOUT_S",
    "METHOD_NOT_ALLOWED",
    "NOT_FOUND",
    "NOT_READY",
    "RATE_LIMITED",
    "REFUSAL_REASONS",
    "ROUTE_ACCESS",
    "SCOPES",
    "SUBSCRIBER_BUFFER",
    "TIMEOUT",
    "TOO_MANY_CONNECTIONS",
    "UNAUTHENTICATED",
    "ApiGate",
    "ApiLimits",
    "ApiObserver",
    "ApiToken",
    "BlockSummary",
    "CommitFeed",
    "Need",
    "NodeFacade",
    "RateLimiter",
    "TokenBook",
    "TokenHolder",
    "create_app",
    "error_codes",
    "hypercorn_config",
    "is_loopback",
    "load_tokens",
    "new_token",
    "openapi_document",
    "reload_tokens",
    "require_tokens_off_loopback",
    "revoke",
    "save_tokens",
    "serve_api",
    "token_file",
    "watch_token_file",
]
