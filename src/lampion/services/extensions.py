"""Extensions inside a compute (`pgvector` is an alias of `vector`)."""

from __future__ import annotations

from lampion.errors import NotFound
from lampion.event_types import EventType
from lampion.pg import catalog
from lampion.runtime import Runtime
from lampion.schemas.objects import Extension
from lampion.services import dataplane
from lampion.services.auth import Principal

ALIASES = {"pgvector": "vector"}


async def list_extensions(
    rt: Runtime, principal: Principal, project_id: str, endpoint_id: str, database: str
) -> list[Extension]:
    compute = await dataplane.open_compute(rt, principal, project_id, endpoint_id)
    async with dataplane.connection(rt, compute, database) as connection:
        return [Extension(**row) for row in await catalog.list_extensions(connection)]


async def install(
    rt: Runtime, principal: Principal, project_id: str, endpoint_id: str, name: str, database: str
) -> Extension:
    real = ALIASES.get(name, name)
    compute = await dataplane.open_compute(rt, principal, project_id, endpoint_id)
    async with dataplane.connection(rt, compute, database) as connection:
        available = {row["name"]: row for row in await catalog.list_extensions(connection)}
        if real not in available:
            raise NotFound(
                f"Extension {name!r} is not available on this compute",
                details={"available": sorted(available)},
            )
        version = await catalog.create_extension(connection, real)
    await dataplane.announce(
        rt, principal, compute, EventType.EXTENSION_INSTALLED, name=name, database=database
    )
    return Extension(
        name=name,
        installed=True,
        version=version,
        default_version=available[real]["default_version"],
    )


async def uninstall(
    rt: Runtime, principal: Principal, project_id: str, endpoint_id: str, name: str, database: str
) -> None:
    real = ALIASES.get(name, name)
    compute = await dataplane.open_compute(rt, principal, project_id, endpoint_id)
    async with dataplane.connection(rt, compute, database) as connection:
        if not await catalog.drop_extension(connection, real):
            raise NotFound(f"Extension {name!r} is not installed in database {database!r}")
    await dataplane.announce(
        rt, principal, compute, EventType.EXTENSION_UNINSTALLED, name=name, database=database
    )
