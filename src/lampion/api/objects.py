"""Databases, roles, extensions, logs and dump of one endpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from lampion.api.deps import PrincipalDep, RuntimeDep
from lampion.api.listing import Paging, paginate, paging_for
from lampion.api.responses import errors
from lampion.schemas.objects import (
    Database,
    DatabaseCreate,
    Extension,
    ExtensionCreate,
    LogTail,
    Role,
    RoleCreate,
    RoleCreated,
)
from lampion.services import databases, dump, extensions, logs, roles

router = APIRouter(prefix="/v1/projects/{project_id}/endpoints/{endpoint_id}")
Db = Annotated[str, Query(min_length=1, max_length=63)]


@router.get("/databases", response_model=list[Database], tags=["Databases"], responses=errors(404))
async def list_databases(
    project_id: str,
    endpoint_id: str,
    request: Request,
    response: Response,
    rt: RuntimeDep,
    principal: PrincipalDep,
    page: Paging = Depends(paging_for("name", "size_bytes", "owner")),
) -> list[Database]:
    """List databases with encoding, size and owner."""
    items = await databases.list_databases(rt, principal, project_id, endpoint_id)
    return paginate(request, response, items, page)


@router.post(
    "/databases",
    response_model=Database,
    status_code=status.HTTP_201_CREATED,
    tags=["Databases"],
    responses=errors(403, 404, 409),
)
async def create_database(
    project_id: str, endpoint_id: str, body: DatabaseCreate, rt: RuntimeDep, principal: PrincipalDep
) -> Database:
    """Create a database (the name is taken exactly as given)."""
    return await databases.create(rt, principal, project_id, endpoint_id, body)


@router.delete(
    "/databases/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    tags=["Databases"],
    responses=errors(403, 404, 409),
)
async def drop_database(
    project_id: str, endpoint_id: str, name: str, rt: RuntimeDep, principal: PrincipalDep
) -> Response:
    """Drop a database; its connections are terminated first. `postgres` is protected (409)."""
    await databases.delete(rt, principal, project_id, endpoint_id, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/roles", response_model=list[Role], tags=["Roles"], responses=errors(404))
async def list_roles(
    project_id: str,
    endpoint_id: str,
    request: Request,
    response: Response,
    rt: RuntimeDep,
    principal: PrincipalDep,
    page: Paging = Depends(paging_for("name")),
) -> list[Role]:
    """List roles (not PostgreSQL's own `pg_*` roles)."""
    items = await roles.list_roles(rt, principal, project_id, endpoint_id)
    return paginate(request, response, items, page)


@router.post(
    "/roles",
    response_model=RoleCreated,
    status_code=status.HTTP_201_CREATED,
    tags=["Roles"],
    responses=errors(403, 404, 409),
    response_model_exclude_none=True,
)
async def create_role(
    project_id: str, endpoint_id: str, body: RoleCreate, rt: RuntimeDep, principal: PrincipalDep
) -> RoleCreated:
    """Create a role; without a password a login role gets a generated one (shown once)."""
    return await roles.create(rt, principal, project_id, endpoint_id, body)


@router.delete(
    "/roles/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    tags=["Roles"],
    responses=errors(403, 404, 409),
)
async def drop_role(
    project_id: str, endpoint_id: str, name: str, rt: RuntimeDep, principal: PrincipalDep
) -> Response:
    """Drop a role. `cloud_admin` is protected (409)."""
    await roles.delete(rt, principal, project_id, endpoint_id, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/extensions", response_model=list[Extension], tags=["Extensions"], responses=errors(404)
)
async def list_extensions(
    project_id: str,
    endpoint_id: str,
    request: Request,
    response: Response,
    rt: RuntimeDep,
    principal: PrincipalDep,
    database: Db = "postgres",
    page: Paging = Depends(paging_for("name")),
    installed: bool | None = None,
) -> list[Extension]:
    """Available extensions and whether each is installed in `database` (filter:
    `installed`)."""
    items = await extensions.list_extensions(rt, principal, project_id, endpoint_id, database)
    return paginate(request, response, items, page, {"installed": installed})


@router.post(
    "/extensions",
    response_model=Extension,
    status_code=status.HTTP_201_CREATED,
    tags=["Extensions"],
    responses=errors(403, 404, 409),
)
async def install_extension(
    project_id: str,
    endpoint_id: str,
    body: ExtensionCreate,
    rt: RuntimeDep,
    principal: PrincipalDep,
    database: Db = "postgres",
) -> Extension:
    """Install an extension (`pgvector` is `vector`); unknown names: 404 listing those available."""
    return await extensions.install(rt, principal, project_id, endpoint_id, body.name, database)


@router.delete(
    "/extensions/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    tags=["Extensions"],
    responses=errors(403, 404, 409),
)
async def uninstall_extension(
    project_id: str,
    endpoint_id: str,
    name: str,
    rt: RuntimeDep,
    principal: PrincipalDep,
    database: Db = "postgres",
) -> Response:
    """Uninstall an extension."""
    await extensions.uninstall(rt, principal, project_id, endpoint_id, name, database)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/logs", response_model=LogTail, tags=["Logs"], responses=errors(404))
async def tail_logs(
    project_id: str,
    endpoint_id: str,
    rt: RuntimeDep,
    principal: PrincipalDep,
    lines: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> LogTail:
    """The last `lines` of the PostgreSQL log (also of a suspended compute; never wakes it)."""
    return await logs.read_tail(rt, principal, project_id, endpoint_id, lines)


@router.get(
    "/dump",
    response_class=StreamingResponse,
    tags=["Backup & Dump"],
    responses={
        **errors(404),
        200: {"content": {"application/sql": {}}, "description": "pg_dump plain SQL, streamed"},
    },
)
async def download_dump(
    project_id: str,
    endpoint_id: str,
    rt: RuntimeDep,
    principal: PrincipalDep,
    database: Db = "postgres",
    table: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
) -> StreamingResponse:
    """pg_dump as plain SQL, streamed as produced. `table` (`name` or `schema.name`) dumps one
    table. A failed pg_dump ends the stream without its final chunk, so clients see an error."""
    stream = await dump.open_dump(rt, principal, project_id, endpoint_id, database, table)
    filename = f"{database}.sql" if table is None else f"{database}-{table}.sql"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in filename)
    return StreamingResponse(
        stream,
        media_type="application/sql",
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )
