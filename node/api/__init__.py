"""The operator HTTP API (DESIGN.md §8; every route and shape in docs/api.md).

The node builds the app with ``create_app(facade)``, where ``facade`` implements
`NodeFacade`, and serves it in its nursery with ``await nursery.start(serve_api, app,
host, port)``; one `ApiGate` (connection and rate limits, node/api/_limits.py) passed to
both holds the limits. `CommitFeed` implements the facade's commit waiters and block stream: the
node calls ``feed.publish(BlockSummary.of(...))`` after each durable commit.
"""

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
)
from node.api._facade import SUBSCRIBER_BUFFER, BlockSummary, CommitFeed, NodeFacade
from node.api._limits import REFUSAL_REASONS, ApiGate, ApiLimits, ApiObserver, RateLimiter
from node.api._openapi import error_codes, openapi_document
from node.api._server import hypercorn_config, serve_api

__all__ = [
    "BODY_TIMEOUT",
    "BODY_TOO_LARGE",
    "DEFAULT_MAX_BLOCK_AGE_S",
    "DEFAULT_WAIT_TIMEOUT_S",
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
    "SUBSCRIBER_BUFFER",
    "TIMEOUT",
    "TOO_MANY_CONNECTIONS",
    "ApiGate",
    "ApiLimits",
    "ApiObserver",
    "BlockSummary",
    "CommitFeed",
    "NodeFacade",
    "RateLimiter",
    "create_app",
    "error_codes",
    "hypercorn_config",
    "openapi_document",
    "serve_api",
]
