"""Databases inside a compute."""

from __future__ import annotations

from lampion.errors import Conflict, NotFound
from lampion.event_types import EventType
from lampion.pg import catalog
from lampion.runtime import Runtime
from lampion.schemas.objects import Database, DatabaseCreate
from lampion.services import dataplane
from lampion.services.auth import Principal

PROTECTED = frozenset({"postgres"})


async def list_databases(
    rt: Runtime, principal: Principal, project_id: str, endpoint_id: str
) -> list[Database]:
    compute = await dataplane.open_compute(rt, principal, project_id, endpoint_id)
    async with dataplane.connection(rt, compute) as connection:
        return [Database(**row) for row in await catalog.list_databases(connection)]


async def create(
    rt: Runtime, principal: Principal, project_id: str, endpoint_id: str, body: DatabaseCreate
) -> Database:
    compute = await dataplane.open_compute(rt, principal, project_id, endpoint_id)
    async with dataplane.connection(rt, compute) as connection:
        await catalog.create_database(connection, body.name, body.owner)
    await dataplane.announce(rt, principal, compute, EventType.DATABASE_CREATED, name=body.name)
    return Database(name=body.name, owner=body.owner or "cloud_admin")


async def delete(
    rt: Runtime, principal: Principal, project_id: str, endpoint_id: str, name: str
) -> None:
    if name in PROTECTED:  # refused without waking the compute (its owner is checked first)
        await dataplane.open_compute(rt, principal, project_id, endpoint_id, wake=False)
        raise Conflict(f"The {name} database cannot be dropped")
    compute = await dataplane.open_compute(rt, principal, project_id, endpoint_id)
    async with dataplane.connection(rt, compute) as connection:
        if not await catalog.database_exists(connection, name):
            raise NotFound(f"Database {name!r} does not exist")
        await rt.pools.drop(compute.endpoint.id, name)
        await catalog.drop_database(connection, name)
    await dataplane.announce(rt, principal, compute, EventType.DATABASE_DELETED, name=name)
