"""The usage tool: compute hours, storage and transfer, and their estimated cost."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import Field

from lampion.mcp.toolbox import Effect, ToolSpec, lampion


async def get_usage(
    ctx: Context[Any, Any],
    project: Annotated[
        str | None,
        Field(description="Project id or name; default the whole organization with its cost"),
    ] = None,
    period: Annotated[
        str | None, Field(pattern=r"^\d{4}-\d{2}$", description="Month YYYY-MM; default this one")
    ] = None,
) -> dict[str, Any]:
    """Usage in a month: compute hours, storage and data transfer, for one project, or for
    the organization with its plan, each project's share and the estimated cost in USD."""
    async with lampion(ctx) as api:
        if project is None:
            return (await api.usage.org(period=period)).model_dump(mode="json")
        project_id = await api.resolve_project(project)
        return (await api.usage.project(project_id, period=period)).model_dump(mode="json")


TOOLS = [ToolSpec(get_usage, "Get usage", Effect.READS)]
