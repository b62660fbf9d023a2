"""Where a request presents its API key: `Authorization: Bearer …` or `X-API-Key: …`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

_BEARER = "bearer "

bearer_scheme = HTTPBearer(auto_error=False, description="`Authorization: Bearer lmp_live_…`")
api_key_scheme = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="`X-API-Key: lmp_live_…`"
)


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key in a bearer `Authorization`, else in `X-API-Key`; None when neither holds one.
    `headers` looks names up case-insensitively (Starlette's `Headers`)."""
    authorization = headers.get("authorization", "")
    if authorization[: len(_BEARER)].lower() == _BEARER:
        bearer = authorization[len(_BEARER) :].strip()
        if bearer:
            return bearer
    return headers.get("x-api-key", "").strip() or None


async def request_key(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    _api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> str | None:
    """`presented_key` as a dependency; the two schemes document the headers in OpenAPI."""
    return presented_key(request.headers)
