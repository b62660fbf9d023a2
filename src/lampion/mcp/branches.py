"""Tools for branches: list, describe, create (now or at a point of the parent's history),
delete, reset to the parent, restore, compare schemas, and the connection string."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import Field

from lampion.mcp.params import BranchRef, Database, Lsn, ProjectRef, RequiredBranchRef, Timestamp
from lampion.mcp.toolbox import Effect, ToolSpec, lampion, public


async def list_branches(ctx: Context[Any, Any], project: ProjectRef) -> dict[str, Any]:
    """List a project's branches: id, name, primary or not, parent, state, endpoint id,
    protection, expiry, the earliest point it can be restored or branched at, sizes."""
    async with lampion(ctx) as api:
        project_id = await api.resolve_project(project)
        branches = await api.branches.list(project_id)
    return {"branches": [public(b) for b in branches]}


async def describe_branch(
    ctx: Context[Any, Any], project: ProjectRef, branch: RequiredBranchRef
) -> dict[str, Any]:
    """Describe one branch and its endpoint (status, compute units). No password."""
    async with lampion(ctx) as api:
        project_id = await api.resolve_project(project)
        found = await api.branches.get(project_id, branch)
        endpoint = (
            await api.endpoints.get(project_id, found.endpoint_id) if found.endpoint_id else None
        )
    return {"branch": public(found), "endpoint": public(endpoint) if endpoint else None}


async def create_branch(
    ctx: Context[Any, Any],
    project: ProjectRef,
    name: Annotated[str, Field(min_length=1, max_length=64, description="The new branch's name")],
    parent: BranchRef = None,
    at: Timestamp = None,
    lsn: Lsn = None,
    expires_at: Annotated[
        str | None,
        Field(description="RFC 3339 time at which the branch deletes itself (optional)"),
    ] = None,
) -> dict[str, Any]:
    """Create a branch: an instant copy-on-write copy of the parent (default: the primary
    branch) with its own endpoint, as the parent is now, or as it was at a point in time
    (`at`) or WAL position (`lsn`) of its history. No password in the answer."""
    async with lampion(ctx) as api:
        project_id = await api.resolve_project(project)
        created = await api.branches.create(
            project_id, name, parent=parent, at=at, lsn=lsn, expires_at=expires_at
        )
    assert created is not None  # if_not_exists is off: a clash is an API error
    return {"branch": public(created)}


async def delete_branch(
    ctx: Context[Any, Any], project: ProjectRef, branch: RequiredBranchRef
) -> dict[str, Any]:
    """Delete a branch with its endpoint and data. The primary branch, a protected branch
    and a branch with children cannot be deleted. Irreversible."""
    async with lampion(ctx) as api:
        project_id = await api.resolve_project(project)
        await api.branches.delete(project_id, branch)
    return {"deleted": branch}


async def reset_branch_to_parent(
    ctx: Context[Any, Any], project: ProjectRef, branch: RequiredBranchRef
) -> dict[str, Any]:
    """Replace a branch's data with its parent's present data; every change made on the
    branch is lost. Its endpoint and connection string stay the same."""
    async with lampion(ctx) as api:
        project_id = await api.resolve_project(project)
        reset = await api.branches.reset_to_parent(project_id, branch)
    return {"branch": public(reset)}


async def restore_branch(
    ctx: Context[Any, Any],
    project: ProjectRef,
    branch: RequiredBranchRef,
    source: Annotated[
        str | None,
        Field(description="Branch (id or name) whose data to take; default the branch itself"),
    ] = None,
    at: Timestamp = None,
    lsn: Lsn = None,
    preserve_under_name: Annotated[
        str | None,
        Field(description="Keep the data as it was before the restore as a new branch"),
    ] = None,
) -> dict[str, Any]:
    """Restore a branch: its data becomes another branch's present data (`source` alone), or
    its own or `source`'s data as it was at a point in time (`at`) or WAL position (`lsn`).
    The branch's current data is lost unless `preserve_under_name` is given."""
    async with lampion(ctx) as api:
        project_id = await api.resolve_project(project)
        restored = await api.branches.restore(
            project_id, branch, source=source, at=at, lsn=lsn,
            preserve_under_name=preserve_under_name,
        )  # fmt: skip
    return {"branch": public(restored)}


async def compare_schemas(
    ctx: Context[Any, Any],
    project: ProjectRef,
    branch: RequiredBranchRef,
    base: Annotated[
        str | None, Field(description="Branch (id or name) to compare with; default the parent")
    ] = None,
    database: Database = "postgres",
) -> dict[str, Any]:
    """Compare the schemas of two branches: a unified diff (`a/<base>` → `b/<branch>`) of
    their schema-only dumps of one database; empty when they are equal."""
    async with lampion(ctx) as api:
        project_id = await api.resolve_project(project)
        compared = await api.branches.compare_schema(
            project_id, branch, base=base, database=database
        )
    return {"diff": compared.diff}


async def get_connection_string(
    ctx: Context[Any, Any],
    project: ProjectRef,
    branch: BranchRef = None,
    database: Annotated[str | None, Field(description="Database; default postgres")] = None,
    pooled: Annotated[
        bool, Field(description="Through the endpoint's PgBouncer (transaction pooling)")
    ] = False,
) -> dict[str, Any]:
    """A PostgreSQL connection string for a branch (default the primary), as its superuser.
    It contains the password: the only tool whose answer does."""
    async with lampion(ctx) as api:
        if pooled:
            project_id, endpoint_id = await api.endpoint_of(project, branch)
            endpoint = await api.endpoints.get(project_id, endpoint_id)
            if endpoint.pooled_connection_string is None:
                return {"connection_string": None, "note": "This endpoint's pooler is disabled"}
            return {"connection_string": endpoint.pooled_connection_string}
        found = await api.connection_string(project, branch=branch, database=database)
    return {"connection_string": found}


TOOLS = [
    ToolSpec(list_branches, "List branches", Effect.READS),
    ToolSpec(describe_branch, "Describe a branch", Effect.READS),
    ToolSpec(create_branch, "Create a branch", Effect.WRITES),
    ToolSpec(delete_branch, "Delete a branch", Effect.DESTROYS, idempotent=True),
    ToolSpec(reset_branch_to_parent, "Reset a branch to its parent", Effect.DESTROYS),
    ToolSpec(restore_branch, "Restore a branch", Effect.DESTROYS),
    ToolSpec(compare_schemas, "Compare two branches' schemas", Effect.READS),
    ToolSpec(get_connection_string, "Get a connection string", Effect.READS),
]
