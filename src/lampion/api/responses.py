"""OpenAPI documentation of the error responses: what each status means, and the ones a
route declares."""

from __future__ import annotations

from typing import Any

from lampion.schemas.common import ErrorBody

STATUS_TEXT = {
    400: "Invalid request (`invalid_request`); failing fields in `details`",
    401: "Missing or invalid API key (`authentication_failed`)",
    403: "The key may not do this (`forbidden`)",
    404: "No such resource in your organization (`not_found`)",
    409: "Conflicting state or an operation in progress (`conflict`); for a POST, also the "
    "same Idempotency-Key still in flight",
    422: "Idempotency-Key reused with another request (`idempotency_key_reused`)",
    429: "Rate limit exceeded (`rate_limit_exceeded`); see `Retry-After`",
    500: "Internal error (`server_error`); nothing internal is disclosed",
    503: "Temporarily unavailable (`service_unavailable`): a compute that is starting, "
    "restarting or shutting down, the metadata store unreachable or busy; the message says "
    "which. Retry after `Retry-After` seconds",
    507: "Storage is full (`insufficient_storage`): nothing was made or changed; reads keep "
    "working",
}
"""What each error status means, for every route that documents it."""


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    wanted = {400, 401, 500, *statuses}
    return {
        status: {"model": ErrorBody, "description": STATUS_TEXT[status]}
        for status in sorted(wanted)
    }
