"""Errors a client sees. Each maps to one code and HTTP status of the seed-001 error body."""

from __future__ import annotations

from typing import Any

RETRY_AFTER = "Retry-After"


class LampionError(Exception):
    status_code = 500
    code = "server_error"
    default_message = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ):
        self.message = message or self.default_message
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)


class InvalidRequest(LampionError):
    status_code = 400
    code = "invalid_request"
    default_message = "Malformed request"


class AuthenticationFailed(LampionError):
    status_code = 401
    code = "authentication_failed"
    default_message = "Invalid or missing API key"


class Forbidden(LampionError):
    status_code = 403
    code = "forbidden"
    default_message = "Insufficient permissions"


class NotFound(LampionError):
    status_code = 404
    code = "not_found"
    default_message = "Resource not found"


class MethodNotAllowed(LampionError):
    status_code = 405
    code = "method_not_allowed"
    default_message = "Method not allowed"


class SqlError(LampionError):
    """A statement of the user's script failed in PostgreSQL."""

    status_code = 400
    code = "sql_error"
    default_message = "A statement failed"


class Conflict(LampionError):
    status_code = 409
    code = "conflict"
    default_message = "The resource is in a conflicting state"


class IdempotencyKeyReused(LampionError):
    status_code = 422
    code = "idempotency_key_reused"
    default_message = "This idempotency key was used with a different request"


class RateLimitExceeded(LampionError):
    status_code = 429
    code = "rate_limit_exceeded"
    default_message = "Rate limit exceeded"


class ServerError(LampionError):
    status_code = 500
    code = "server_error"
    default_message = "Internal server error"


class InsufficientStorage(LampionError):
    """The data directory's filesystem (or the store's) is full: nothing was made."""

    status_code = 507
    code = "insufficient_storage"
    default_message = "Storage is full: nothing was changed; retry once space is freed"


class ServiceUnavailable(LampionError):
    """A transient fault: the answer carries ``Retry-After`` (seconds) and says what is
    happening, so a client retries instead of failing."""

    status_code = 503
    code = "service_unavailable"
    default_message = "Service temporarily unavailable"
    default_retry_after = 2

    def __init__(
        self,
        message: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(message, details, headers)
        self.retry_after = self.default_retry_after if retry_after is None else retry_after
        self.headers.setdefault(RETRY_AFTER, str(self.retry_after))


class ProvisioningFailed(ServiceUnavailable):
    default_message = "The compute could not be provisioned; nothing was kept"


ERROR_CODES: dict[int, str] = {
    cls.status_code: cls.code
    for cls in (
        InvalidRequest,
        AuthenticationFailed,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        IdempotencyKeyReused,
        RateLimitExceeded,
        ServerError,
        ServiceUnavailable,
        InsufficientStorage,
    )
}


def code_for_status(status: int) -> str:
    if status in ERROR_CODES:
        return ERROR_CODES[status]
    return "invalid_request" if 400 <= status < 500 else "server_error"
