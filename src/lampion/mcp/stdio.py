"""`lampion mcp`: the MCP server over stdio, calling the API at LAMPION_API_URL as
LAMPION_API_KEY; read-only when asked, or when the key itself is read_only."""

from __future__ import annotations

import httpx

from lampion.client import AsyncLampion, LampionAPIError
from lampion.mcp.access import shared
from lampion.mcp.server import build_server


async def serve(*, read_only: bool) -> None:
    async with AsyncLampion() as api:
        read_only = read_only or await _key_is_read_only(api)
        await build_server(shared(api), read_only=read_only).run_stdio_async()


async def _key_is_read_only(api: AsyncLampion) -> bool:
    try:
        return (await api.api_keys.current()).permission == "read_only"
    except (LampionAPIError, httpx.TransportError):
        # Unknown (a bad key, the API down): every tool is listed, and the API refuses and
        # each tool reports whatever this key may not do.
        return False
