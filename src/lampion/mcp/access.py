"""Where a tool's API client comes from: one client for the whole process (stdio), or a
client per HTTP request acting as the key that request presented."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from starlette.requests import Request
from starlette.types import ASGIApp

from lampion.api.credentials import presented_key
from lampion.client import AsyncLampion
from lampion.client.in_process import in_process

ApiSource = Callable[[Context[Any, Any]], AbstractAsyncContextManager[AsyncLampion]]


def shared(client: AsyncLampion) -> ApiSource:
    """Every call through ``client`` (stdio: LAMPION_API_URL / LAMPION_API_KEY)."""

    @asynccontextmanager
    async def open_client(_: Context[Any, Any]) -> AsyncIterator[AsyncLampion]:
        yield client

    return open_client


def per_request(app: ASGIApp) -> ApiSource:
    """A client of ``app`` in process, as the key of the HTTP request carrying the call."""

    @asynccontextmanager
    async def open_client(ctx: Context[Any, Any]) -> AsyncIterator[AsyncLampion]:
        request = ctx.request_context.request
        key = presented_key(request.headers) if isinstance(request, Request) else None
        if key is None:
            raise ToolError("This request carries no API key")
        client = in_process(app, key)
        try:
            yield client
        finally:
            await client.close()

    return open_client
