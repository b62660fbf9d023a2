from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import AwareDatetime

from lampion.api.deps import PrincipalDep, RuntimeDep
from lampion.api.listing import Paging, paging_for, respond
from lampion.api.responses import errors
from lampion.schemas.branches import (
    Branch,
    BranchCreate,
    BranchCreated,
    BranchRestore,
    BranchUpdate,
    SchemaDiff,
)
from lampion.services import branches, restore, schema_diff

router = APIRouter(prefix="/v1/projects/{project_id}/branches", tags=["Branches"])


@router.get("", response_model=list[Branch], responses=errors(404))
async def list_branches(
    project_id: str,
    request: Request,
    response: Response,
    rt: RuntimeDep,
    principal: PrincipalDep,
    paging: Paging = Depends(paging_for(*branches.ORDERING.sortable)),
    name: str | None = None,
) -> list[Branch]:
    """List the project's branches; the first one, `main`, is the primary branch."""
    page = await branches.list_branches(rt, principal, project_id, paging, name=name)
    return respond(request, response, page, paging)


@router.post(
    "",
    response_model=BranchCreated,
    status_code=status.HTTP_201_CREATED,
    responses=errors(403, 404, 409, 503),
)
async def create_branch(
    project_id: str, body: BranchCreate, rt: RuntimeDep, principal: PrincipalDep
) -> BranchCreated:
    """Create a branch: a copy-on-write fork of the parent's data at this moment, with its own
    compute. Later writes on either side never show on the other."""
    return await branches.create(rt, principal, project_id, body)


@router.get("/{branch_id}", response_model=Branch, responses=errors(404))
async def get_branch(
    project_id: str, branch_id: str, rt: RuntimeDep, principal: PrincipalDep
) -> Branch:
    """Get a branch by id or by name."""
    return await branches.get(rt, principal, project_id, branch_id)


@router.delete(
    "/{branch_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(403, 404, 409),
)
async def delete_branch(
    project_id: str, branch_id: str, rt: RuntimeDep, principal: PrincipalDep
) -> Response:
    """Delete a branch (by id or name), its compute and its data. The primary branch and
    branches with children cannot be deleted (409)."""
    await branches.delete_branch(rt, principal, project_id, branch_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.patch("/{branch_id}", response_model=Branch, responses=errors(400, 404, 409))
async def update_branch(
    project_id: str, branch_id: str, body: BranchUpdate, rt: RuntimeDep, principal: PrincipalDep
) -> Branch:
    """Rename a branch, set or clear (`null`) its expiry, protect or unprotect it. A protected
    branch refuses delete, restore, reset and expiry; the primary branch never expires."""
    return await branches.update(rt, principal, project_id, branch_id, body)


@router.get(
    "/{branch_id}/compare_schema", response_model=SchemaDiff, responses=errors(400, 404, 503)
)
async def compare_schema(
    project_id: str,
    branch_id: str,
    rt: RuntimeDep,
    principal: PrincipalDep,
    base_branch_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    database: Annotated[str, Query(min_length=1, max_length=63)] = "postgres",
    base_timestamp: Annotated[
        AwareDatetime | None, Query(description="The base as it was at this time (RFC 3339)")
    ] = None,
    base_lsn: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$",
            description="The base as it was at this WAL position",
        ),
    ] = None,
) -> SchemaDiff:
    """Unified diff from the base branch's schema (default: the parent's), as it is or as it
    was at `base_timestamp` / `base_lsn` of its history, to this branch's, as schema-only
    pg_dumps of `database`; empty when equal. Wakes suspended computes."""
    diff = await schema_diff.compare(
        rt, principal, project_id, branch_id, base_branch_id, database,
        base_timestamp=base_timestamp, base_lsn=base_lsn,
    )  # fmt: skip
    return SchemaDiff(diff=diff)


# Restore and reset: the branch's data replaced in place, its endpoint kept.


@router.post("/{branch_id}/reset_to_parent", response_model=Branch, responses=errors(404, 409, 503))
async def reset_to_parent(
    project_id: str, branch_id: str, rt: RuntimeDep, principal: PrincipalDep
) -> Branch:
    """Replace the branch's data with its parent's present. The endpoint keeps its id, port,
    password and connection string; a running compute is restarted on the new data (clients
    see one disconnect), a suspended one stays suspended."""
    return await restore.reset_to_parent(rt, principal, project_id, branch_id)


@router.post("/{branch_id}/restore", response_model=Branch, responses=errors(400, 404, 409, 503))
async def restore_branch(
    project_id: str, branch_id: str, body: BranchRestore, rt: RuntimeDep, principal: PrincipalDep
) -> Branch:
    """Replace the branch's data with another branch's present (`source_branch_id`), keeping
    the endpoint as `reset_to_parent` does. With `preserve_under_name` the data as it was
    survives as a new branch of that name (a child of this one, with its own running compute).
    With `source_timestamp` or `source_lsn` the data becomes that point of the source's history
    (default source: the branch itself), e.g. the second before a `DROP TABLE`; a point outside
    the source's window is a 400 with the window in `details`."""
    return await restore.restore(rt, principal, project_id, branch_id, body)
