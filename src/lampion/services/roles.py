"""Roles inside a compute. Passwords travel as SCRAM verifiers and are never logged."""

from __future__ import annotations

from lampion import ids
from lampion.crypto import scram_sha256_verifier
from lampion.errors import Conflict, NotFound
from lampion.event_types import EventType
from lampion.pg import catalog
from lampion.runtime import Runtime
from lampion.schemas.objects import Role, RoleCreate, RoleCreated
from lampion.services import dataplane, verifiers
from lampion.services.auth import Principal
from lampion.storage.templates import SUPERUSER


async def list_roles(
    rt: Runtime, principal: Principal, project_id: str, endpoint_id: str
) -> list[Role]:
    compute = await dataplane.open_compute(rt, principal, project_id, endpoint_id)
    async with dataplane.connection(rt, compute) as connection:
        return [Role(**row) for row in await catalog.list_roles(connection)]


async def create(
    rt: Runtime, principal: Principal, project_id: str, endpoint_id: str, body: RoleCreate
) -> RoleCreated:
    generated = ids.password() if body.password is None and body.can_login else None
    password = body.password or generated
    compute = await dataplane.open_compute(rt, principal, project_id, endpoint_id)
    async with dataplane.connection(rt, compute) as connection:
        verifier = scram_sha256_verifier(password) if password else None
        await catalog.create_role(connection, body.name, verifier, body.can_login)
    if body.can_login:
        await verifiers.remember(rt, endpoint_id, body.name, verifier)
    await dataplane.announce(rt, principal, compute, EventType.ROLE_CREATED, name=body.name)
    return RoleCreated(name=body.name, can_login=body.can_login, password=generated)


async def delete(
    rt: Runtime, principal: Principal, project_id: str, endpoint_id: str, name: str
) -> None:
    if name == SUPERUSER:  # refused without waking the compute (its owner is checked first)
        await dataplane.open_compute(rt, principal, project_id, endpoint_id, wake=False)
        raise Conflict(f"The {SUPERUSER} role is needed by the platform and cannot be dropped")
    compute = await dataplane.open_compute(rt, principal, project_id, endpoint_id)
    async with dataplane.connection(rt, compute) as connection:
        if not await catalog.role_exists(connection, name):
            raise NotFound(f"Role {name!r} does not exist")
        await catalog.drop_role(connection, name)
    await verifiers.forget(rt, endpoint_id, name)
    await dataplane.announce(rt, principal, compute, EventType.ROLE_DELETED, name=name)
