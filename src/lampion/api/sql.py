from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from lampion.api.deps import PrincipalDep, RuntimeDep
from lampion.api.responses import errors
from lampion.schemas.sql import SchemaListing, SqlRequest, SqlResponse
from lampion.services import schema, sql

router = APIRouter(tags=["SQL"])


@router.post(
    "/v1/projects/{project_id}/endpoints/{endpoint_id}/sql",
    response_model=SqlResponse,
    responses={
        **errors(403, 404, 409, 503),
        400: {
            "model": errors(400)[400]["model"],
            "description": "`sql_error`: a statement failed (details: `statement_index`, "
            "`sqlstate`, `detail`, `hint`, `position`, and the `results` of the statements "
            "before it); or `invalid_request`",
        },
    },
)
async def execute_sql(
    project_id: str, endpoint_id: str, body: SqlRequest, rt: RuntimeDep, principal: PrincipalDep
) -> SqlResponse:
    """Execute SQL: a statement, a script (split as PostgreSQL would), or a psql meta-command
    (`\\dt`, `\\d NAME`, `\\dn`, `\\du`, `\\l`, `\\dx`, `\\di`, `\\dv`, `\\df`, `\\conninfo`).
    Wakes a suspended compute."""
    return await sql.execute(rt, principal, project_id, endpoint_id, body)


@router.get("/v1/projects/{project_id}/schema", response_model=SchemaListing, responses=errors(404))
async def browse_schema(
    project_id: str,
    rt: RuntimeDep,
    principal: PrincipalDep,
    database: Annotated[str | None, Query(max_length=63)] = None,
    schema_name: Annotated[str | None, Query(alias="schema", max_length=63)] = None,
    endpoint_id: str | None = None,
    branch_id: str | None = None,
) -> SchemaListing:
    """No parameters: databases. `?database=X`: its schemas. `?database=X&schema=Y`: its tables
    and views with columns and indexes. Default: the primary branch's endpoint."""
    return await schema.browse(
        rt, principal, project_id, database, schema_name, endpoint_id, branch_id
    )
