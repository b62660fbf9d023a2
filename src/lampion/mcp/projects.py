"""Tools for projects: list, describe, create, delete."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import Field

from lampion.mcp.params import ProjectRef
from lampion.mcp.toolbox import Effect, ToolSpec, lampion, public


async def list_projects(
    ctx: Context[Any, Any],
    name: Annotated[str | None, Field(description="Only projects with exactly this name")] = None,
) -> dict[str, Any]:
    """List the organization's Lampion projects (PostgreSQL databases with branches): id,
    name, region, PostgreSQL version, state. At most the first 100."""
    async with lampion(ctx) as api:
        projects = await api.projects.list(name=name, limit=100)
    return {"projects": [public(p) for p in projects]}


async def describe_project(ctx: Context[Any, Any], project: ProjectRef) -> dict[str, Any]:
    """Describe one project: its fields, its branches (with parent, state, endpoint id,
    sizes) and its endpoints (computes: status, compute units, auto-suspend). No password:
    use get_connection_string for that."""
    async with lampion(ctx) as api:
        project_id = await api.resolve_project(project)
        found = await api.projects.get(project_id)
        branches = await api.branches.list(project_id)
        endpoints = await api.endpoints.list(project_id)
    return {
        "project": public(found),
        "branches": [public(b) for b in branches],
        "endpoints": [public(e) for e in endpoints],
    }


async def create_project(
    ctx: Context[Any, Any],
    name: Annotated[str, Field(min_length=1, max_length=64, description="The project's name")],
    region: Annotated[str | None, Field(description="Region; default the first one")] = None,
    pg_version: Annotated[
        int | None, Field(description="PostgreSQL major version; default the newest")
    ] = None,
) -> dict[str, Any]:
    """Create a project: a PostgreSQL database with a primary branch `main` and a running
    endpoint. Answers once the database accepts connections, with the project, branch and
    endpoint ids (call get_connection_string for a connection string)."""
    async with lampion(ctx) as api:
        created = await api.projects.create(name, region=region, pg_version=pg_version)
    return {"project": public(created)}


async def delete_project(ctx: Context[Any, Any], project: ProjectRef) -> dict[str, Any]:
    """Delete a project with all its branches, endpoints and data. Irreversible."""
    async with lampion(ctx) as api:
        project_id = await api.resolve_project(project)
        await api.projects.delete(project_id)
    return {"deleted": project_id}


TOOLS = [
    ToolSpec(list_projects, "List projects", Effect.READS),
    ToolSpec(describe_project, "Describe a project", Effect.READS),
    ToolSpec(create_project, "Create a project", Effect.WRITES),
    ToolSpec(delete_project, "Delete a project", Effect.DESTROYS, idempotent=True),
]
