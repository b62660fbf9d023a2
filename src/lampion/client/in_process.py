"""A client of the very app a caller runs in (the console, the MCP server over HTTP): the
public API through ``httpx.ASGITransport``, so every rule, permission and error is `/v1`'s."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from lampion.client.api import AsyncLampion

IN_PROCESS_URL = "http://lampion.internal"


class _WithState:
    """Puts ``state`` into each request's scope: what the app reads from ``request.state``
    and no outside client can set."""

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app({**scope, "state": {**scope.get("state", {}), **self.state}}, receive, send)


def in_process(app: ASGIApp, api_key: str, **state: Any) -> AsyncLampion:
    """A client of ``app`` as ``api_key``; not retried, so a caller sees a 503 at once.
    ``state`` marks its requests (``request.state``) for the app."""
    target = _WithState(app, state) if state else app
    return AsyncLampion(
        api_url=IN_PROCESS_URL, api_key=api_key, retries=0,
        transport=httpx.ASGITransport(target),
    )  # fmt: skip
