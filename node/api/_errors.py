"""The API's error shape and its own stable codes.

Every error response is ``{"error": {"code": CODE, "message": TEXT}}`` (plus ``tx_id`` where
one is known). Ledger refusals use the ledger's ResultCode names (``INSUFFICIENT_FUNDS``,
``DUPLICATE``...); problems at the HTTP level use the codes below.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.responses import JSONResponse

NOT_FOUND: Final = "NOT_FOUND"
METHOD_NOT_ALLOWED: Final = "METHOD_NOT_ALLOWED"
INVALID_JSON: Final = "INVALID_JSON"
INVALID_BASE64: Final = "INVALID_BASE64"
INVALID_ARGUMENT: Final = "INVALID_ARGUMENT"
BODY_TOO_LARGE: Final = "BODY_TOO_LARGE"
INCOMPLETE_BODY: Final = "INCOMPLETE_BODY"
BODY_TIMEOUT: Final = "BODY_TIMEOUT"
TIMEOUT: Final = "TIMEOUT"
NOT_READY: Final = "NOT_READY"
INTERNAL: Final = "INTERNAL"
RATE_LIMITED: Final = "RATE_LIMITED"
TOO_MANY_CONNECTIONS: Final = "TOO_MANY_CONNECTIONS"
HEADERS_TIMEOUT: Final = "HEADERS_TIMEOUT"
HEADERS_TOO_LARGE: Final = "HEADERS_TOO_LARGE"
# No valid bearer token (docs/api.md, "Access"); not the ledger's UNAUTHORIZED (a signer
# whose role may not do this), so that the code alone tells the two apart.
UNAUTHENTICATED: Final = "UNAUTHENTICATED"
FORBIDDEN: Final = "FORBIDDEN"  # the token lacks the scope, or reads another bank's account
# ISO 20022 out (node/api/_statements.py, docs/iso20022.md).
INVALID_RANGE: Final = "INVALID_RANGE"
RANGE_TOO_LARGE: Final = "RANGE_TOO_LARGE"
NOT_REPRESENTABLE: Final = "NOT_REPRESENTABLE"
STATEMENT_INCONSISTENT: Final = "STATEMENT_INCONSISTENT"
CAMT_INVALID: Final = "CAMT_INVALID"

#: Every HTTP-level code with the status it comes with.
HTTP_CODES: Final[dict[str, int]] = {
    NOT_FOUND: 404,
    METHOD_NOT_ALLOWED: 405,
    INVALID_JSON: 400,
    INVALID_BASE64: 400,
    INVALID_ARGUMENT: 400,
    BODY_TOO_LARGE: 413,
    INCOMPLETE_BODY: 400,
    BODY_TIMEOUT: 408,
    TIMEOUT: 504,
    NOT_READY: 503,
    INTERNAL: 500,
    RATE_LIMITED: 429,
    TOO_MANY_CONNECTIONS: 503,
    HEADERS_TIMEOUT: 408,
    HEADERS_TOO_LARGE: 431,
    UNAUTHENTICATED: 401,
    FORBIDDEN: 403,
    INVALID_RANGE: 400,
    RANGE_TOO_LARGE: 400,
    NOT_REPRESENTABLE: 422,
    STATEMENT_INCONSISTENT: 500,
    CAMT_INVALID: 500,
}


#: The mempool's own refusals (node-side, never in a receipt): status and Retry-After
#: seconds (None: none; MEMPOOL_FULL's comes with the answer, the seconds the pool needs
#: to drain at the measured commit capacity). Other ledger codes are 400. See
#: docs/mempool.md.
ADMISSION_STATUS: Final[dict[str, tuple[int, str | None]]] = {
    "MEMPOOL_FULL": (429, "1"),
    "PEER_SHARE_EXCEEDED": (503, "1"),  # gossip only; listed for completeness
    "PENDING_TXS_EXCEEDED": (429, "1"),
    "PENDING_FUNDS_EXCEEDED": (409, None),
}


class ApiProblem(Exception):
    """Raised inside a handler to answer with an error response.

    Attributes:
        status: the HTTP status.
        code: the stable error code.
        message: a sentence for the operator.
        headers: extra HTTP headers (``Retry-After``).
        extra: more fields of the error object (e.g. ``tx_id``).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.extra = extra

    def response(self) -> JSONResponse:
        """The JSON error response."""
        return error_response(
            self.status, self.code, self.message, headers=self.headers, **self.extra
        )


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """``{"error": {"code": code, "message": message, **extra}}`` with the given status."""
    return JSONResponse(
        {"error": {"code": code, "message": message, **extra}}, status_code=status, headers=headers
    )


def bad_argument(message: str) -> ApiProblem:
    """400 INVALID_ARGUMENT."""
    return ApiProblem(400, INVALID_ARGUMENT, message)


def not_found(message: str) -> ApiProblem:
    """404 NOT_FOUND."""
    return ApiProblem(404, NOT_FOUND, message)
