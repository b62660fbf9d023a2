"""Tools for endpoints (a branch's compute): list, suspend, resume."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import Field

from lampion.mcp.params import ProjectRef
from lampion.mcp.toolbox import Effect, ToolSpec, lampion, public

EndpointId = Annotated[str, Field(min_length=1, description="Endpoint id (ep-…)")]


async def list_endpoints(ctx: Context[Any, Any], project: ProjectRef) -> dict[str, Any]:
    """List a project's endpoints (one PostgreSQL compute per branch): id, branch id,
    status (running, suspended…), compute units, auto-suspend delay, host and port. No
    password: use get_connection_string."""
    async with lampion(ctx) as api:
        project_id = await api.resolve_project(project)
        endpoints = await api.endpoints.list(project_id)
    return {"endpoints": [public(e) for e in endpoints]}


async def suspend_endpoint(
    ctx: Context[Any, Any], project: ProjectRef, endpoint: EndpointId
) -> dict[str, Any]:
    """Suspend an endpoint: its PostgreSQL stops (open connections end), data is kept; the
    next connection or SQL call wakes it."""
    async with lampion(ctx) as api:
        project_id = await api.resolve_project(project)
        state = await api.endpoints.suspend(project_id, endpoint)
    return state.model_dump(mode="json")


async def resume_endpoint(
    ctx: Context[Any, Any], project: ProjectRef, endpoint: EndpointId
) -> dict[str, Any]:
    """Start a suspended endpoint's PostgreSQL."""
    async with lampion(ctx) as api:
        project_id = await api.resolve_project(project)
        state = await api.endpoints.resume(project_id, endpoint)
    return state.model_dump(mode="json")


TOOLS = [
    ToolSpec(list_endpoints, "List endpoints", Effect.READS),
    ToolSpec(suspend_endpoint, "Suspend an endpoint", Effect.WRITES, idempotent=True),
    ToolSpec(resume_endpoint, "Resume an endpoint", Effect.WRITES, idempotent=True),
]
