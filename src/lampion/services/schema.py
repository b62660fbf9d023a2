"""Browsing databases, schemas, tables and columns."""

from __future__ import annotations

from sqlalchemy import select

from lampion.errors import InvalidRequest, NotFound
from lampion.pg import catalog
from lampion.runtime import Runtime
from lampion.schemas.sql import SchemaListing
from lampion.services import dataplane
from lampion.services.auth import Principal
from lampion.services.projects import get_owned
from lampion.store.models import Branch, Endpoint


async def browse(
    rt: Runtime,
    principal: Principal,
    project_id: str,
    database: str | None,
    schema: str | None,
    endpoint_id: str | None,
    branch_id: str | None,
) -> SchemaListing:
    if schema is not None and database is None:
        raise InvalidRequest("schema needs database", details={"field": "schema"})
    endpoint_id = endpoint_id or await endpoint_of(rt, principal, project_id, branch_id)
    compute = await dataplane.open_compute(rt, principal, project_id, endpoint_id)
    if database is None:
        async with dataplane.connection(rt, compute) as connection:
            return SchemaListing(type="databases", items=await catalog.list_databases(connection))
    async with dataplane.connection(rt, compute, database) as connection:
        if schema is None:
            return SchemaListing(type="schemas", items=await catalog.list_schemas(connection))
        if not await catalog.schema_exists(connection, schema):
            raise NotFound(f"Schema {schema!r} does not exist in database {database!r}")
        return SchemaListing(type="tables", items=await catalog.list_tables(connection, schema))


async def endpoint_of(
    rt: Runtime, principal: Principal, project_id: str, branch_ref: str | None
) -> str:
    """The endpoint of the given branch (id or name), by default of the primary branch."""
    async with rt.sessions() as session:
        project = await get_owned(session, principal, project_id)
        query = select(Endpoint.id).join(Branch, Branch.id == Endpoint.branch_id)
        query = query.where(Branch.project_id == project.id)
        if branch_ref is None:
            query = query.where(Branch.is_primary.is_(True))
        else:
            query = query.where((Branch.id == branch_ref) | (Branch.name == branch_ref))
        endpoint_id = await session.scalar(query)
    if endpoint_id is None:
        raise NotFound(f"Branch {branch_ref} not found")
    return str(endpoint_id)
