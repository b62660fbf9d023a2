"""Errors the API returned, as exceptions that keep everything the API said."""

from __future__ import annotations

from typing import Any


class LampionAPIError(Exception):
    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
    ):
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details or {}
        self.request_id = request_id
        super().__init__(f"{code}: {message}" + (f" (request {request_id})" if request_id else ""))


class NotFoundError(LampionAPIError):
    pass


class ConflictError(LampionAPIError):
    pass


class AuthenticationError(LampionAPIError):
    pass


class RateLimitError(LampionAPIError):
    pass


_BY_CODE: dict[str, type[LampionAPIError]] = {
    "not_found": NotFoundError,
    "conflict": ConflictError,
    "authentication_failed": AuthenticationError,
    "rate_limit_exceeded": RateLimitError,
}


def from_response(status_code: int, body: Any, request_id: str | None) -> LampionAPIError:
    error = body.get("error", {}) if isinstance(body, dict) else {}
    code = str(error.get("code") or "server_error")
    cls = _BY_CODE.get(code, LampionAPIError)
    return cls(
        status_code,
        code,
        str(error.get("message") or f"HTTP {status_code}"),
        error.get("details") or {},
        (body.get("metadata") or {}).get("request_id") if isinstance(body, dict) else request_id,
    )
