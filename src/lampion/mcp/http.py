"""The MCP server over streamable HTTP at /mcp of the control plane. A request is
authenticated by its API key (401 in the API's error format otherwise) before any MCP
handling, then served by the full server or, for a read_only key, the read-only one; its
tools act in process through the public API as that key. Stateless: no MCP session outlives
a request, so any replica can serve any request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from lampion.api.credentials import presented_key
from lampion.api.errors import error_response, lampion_error_response
from lampion.errors import LampionError
from lampion.mcp.access import per_request
from lampion.mcp.server import build_server
from lampion.services.auth import authenticate

PATH = "/mcp"


class McpEndpoint:
    """The ASGI app at /mcp; serves while `running` (inside the app's lifespan)."""

    def __init__(self) -> None:
        self._managers: dict[bool, StreamableHTTPSessionManager] = {}

    @asynccontextmanager
    async def running(self, app: ASGIApp) -> AsyncIterator[None]:
        managers = {}
        for read_only in (False, True):
            server = build_server(per_request(app), read_only=read_only)
            # Bearer keys, not cookies, authenticate here: DNS rebinding gains nothing.
            server.streamable_http_app(
                streamable_http_path=PATH, stateless_http=True, json_response=True,
                transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            )  # fmt: skip
            managers[read_only] = server.session_manager
        # The SDK's managers hold task groups, which must be left in the task that entered
        # them: one task of their own serves them, whichever tasks start and stop the app.
        started, stopping = asyncio.Event(), asyncio.Event()

        async def serve() -> None:
            async with AsyncExitStack() as stack:
                for manager in managers.values():
                    await stack.enter_async_context(manager.run())
                self._managers = managers
                started.set()
                try:
                    await stopping.wait()
                finally:
                    self._managers = {}

        serving = asyncio.create_task(serve(), name="mcp-session-managers")
        waiting = asyncio.create_task(started.wait())
        await asyncio.wait([serving, waiting], return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if serving.done():
            serving.result()  # it failed to start: raise why
        try:
            yield
        finally:
            stopping.set()
            await serving

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        runtime = scope["app"].state.runtime
        try:
            principal = await authenticate(runtime.sessions, presented_key(Headers(scope=scope)))
        except LampionError as exc:
            await lampion_error_response(exc)(scope, receive, send)
            return
        manager = self._managers.get(principal.permission == "read_only")
        if manager is None:
            unavailable = error_response(503, "service_unavailable", "The MCP server is stopping")
            await unavailable(scope, receive, send)
            return
        await manager.handle_request(scope, receive, send)
