"""What every tool is built from: its effect (which sets its MCP annotations and whether a
read-only server offers it), the server that carries the API source, and the client a tool
calls through, with API errors turned into tool errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, InputRequiredResult, ToolAnnotations
from pydantic import BaseModel

from lampion.client import AsyncLampion
from lampion.mcp.access import ApiSource
from lampion.mcp.errors import as_tool_errors


class Effect(Enum):
    READS = "reads"  # changes nothing
    WRITES = "writes"  # adds or changes, loses nothing
    DESTROYS = "destroys"  # may lose data or a resource


@dataclass(frozen=True)
class ToolSpec:
    fn: Callable[..., Awaitable[Any]]
    title: str
    effect: Effect
    idempotent: bool = False

    @property
    def name(self) -> str:
        return self.fn.__name__

    @property
    def annotations(self) -> ToolAnnotations:
        reads = self.effect is Effect.READS
        return ToolAnnotations(
            title=self.title,
            read_only_hint=reads,
            destructive_hint=self.effect is Effect.DESTROYS,
            idempotent_hint=True if reads else self.idempotent,
            open_world_hint=False,
        )


class LampionMCP(MCPServer[Any]):
    """An MCP server whose tools reach the API through ``source``; the tools named in
    ``refused`` (those that change something, on a read-only server) are not listed and a
    call to one is refused as a tool error."""

    def __init__(self, source: ApiSource, *, read_only: bool, instructions: str) -> None:
        super().__init__(
            "lampion", instructions=instructions, log_level="WARNING", subscriptions=False
        )
        self.source = source
        self.read_only = read_only
        self.refused: set[str] = set()

    def register(self, spec: ToolSpec) -> None:
        if self.read_only and spec.effect is not Effect.READS:
            self.refused.add(spec.name)
            return
        self.add_tool(spec.fn, title=spec.title, annotations=spec.annotations)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        if name in self.refused:
            raise ToolError(
                f"{name} changes data, and this MCP server is read-only (started with "
                "--read-only, or its API key is read_only)"
            )
        return await super().call_tool(name, arguments, context)


@asynccontextmanager
async def lampion(ctx: Context[Any, Any]) -> AsyncIterator[AsyncLampion]:
    """The API client for this call; API errors inside leave as tool errors."""
    server = ctx.mcp_server
    assert isinstance(server, LampionMCP)
    async with as_tool_errors(), server.source(ctx) as api:
        yield api


def is_read_only(ctx: Context[Any, Any]) -> bool:
    server = ctx.mcp_server
    return isinstance(server, LampionMCP) and server.read_only


SECRET_FIELDS = frozenset({"connection_string", "pooled_connection_string", "pg_password"})


def public(model: BaseModel) -> dict[str, Any]:
    """A model as JSON without any password (connection strings carry one)."""
    return model.model_dump(mode="json", exclude=set(SECRET_FIELDS))
