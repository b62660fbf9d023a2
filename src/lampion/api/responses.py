"""OpenAPI documentation of the error responses every route can return."""

from __future__ import annotations

from typing import Any

from lampion.schemas.common import ErrorBody

_DESCRIPTIONS = {
    400: "Invalid request (`invalid_request`); failing fields in `details`",
    401: "Missing or invalid API key (`authentication_failed`)",
    403: "The key may not do this (`forbidden`)",
    404: "No such resource in your organization (`not_found`)",
    409: "Conflicting state or operation in progress (`conflict`)",
    500: "Internal error (`server_error`); nothing internal is disclosed",
    503: "Temporarily unavailable (`service_unavailable`)",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    wanted = {400, 401, 500, *statuses}
    return {
        status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]}
        for status in sorted(wanted)
    }
