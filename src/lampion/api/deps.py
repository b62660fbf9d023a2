"""Request dependencies: the runtime and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from lampion.api.credentials import request_key
from lampion.runtime import Runtime
from lampion.services import ratelimit
from lampion.services.auth import Principal, authenticate


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


CONSOLE_MARK = "console"
"""The ``request.state`` flag the console's in-process client sets on its requests."""


def _console_read(request: Request) -> bool:
    """A read the web console makes for a page (``console/client.py`` marks its requests;
    nothing outside the process can): not the key's own request, so not counted."""
    return request.method in _SAFE_METHODS and getattr(request.state, CONSOLE_MARK, False) is True


async def get_principal(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    presented: Annotated[str | None, Depends(request_key)],
) -> Principal:
    principal = await authenticate(runtime.sessions, presented)
    if runtime.settings.rate_limit_enabled and not _console_read(request):
        state = await ratelimit.consume(
            runtime.sessions, principal, read_only=request.method in _SAFE_METHODS
        )
        if state is not None:
            request.state.rate_limit_headers = state.headers()
    if request.method not in _SAFE_METHODS:
        principal.require_write()
    return principal


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
