"""Reaching a user's compute from the API: ownership, wake-on-demand, pooled connections."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from lampion.compute.base import AdminTarget, ComputeSpec
from lampion.compute.installations import PgInstall
from lampion.errors import NotFound
from lampion.event_types import EventType
from lampion.runtime import Runtime
from lampion.services import computes, events
from lampion.services.auth import Principal
from lampion.services.endpoints import owned
from lampion.services.pgerrors import translate, unreachable
from lampion.services.wake import ensure_running
from lampion.states import EndpointStatus
from lampion.store.models import Endpoint, Project


@dataclass(frozen=True)
class Compute:
    project: Project
    endpoint: Endpoint
    spec: ComputeSpec
    target: AdminTarget

    @property
    def install(self) -> PgInstall:
        return self.spec.install


async def open_compute(
    rt: Runtime, principal: Principal, project_id: str, endpoint_id: str, *, wake: bool = True
) -> Compute:
    """The caller's endpoint, running (woken if it was suspended) unless ``wake`` is False."""
    async with rt.sessions() as session:
        project, endpoint = await owned(session, principal, project_id, endpoint_id)
    if wake and endpoint.status != EndpointStatus.RUNNING:
        await ensure_running(rt, endpoint.id)
    if wake:
        rt.meter.touch(endpoint.id)
    spec = computes.spec_for(rt, endpoint, project.pg_version)
    return Compute(project, endpoint, spec, rt.compute.admin_target(spec))


@asynccontextmanager
async def connection(
    rt: Runtime, compute: Compute, database: str = "postgres"
) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection to the compute. Every failure on it that says the compute cannot
    be reached (killed, restarting, stopped or deleted under the request) leaves as a 503
    with Retry-After, whatever the caller was doing with it."""
    try:
        async with rt.pools.connection(compute.endpoint.id, compute.target, database) as conn:
            yield conn
    except asyncpg.InvalidCatalogNameError as exc:
        raise NotFound(f"Database {database!r} does not exist") from exc
    except asyncpg.PostgresError as exc:
        raise translate(exc) from exc
    except (asyncpg.InterfaceError, OSError) as exc:
        fault = unreachable(exc)
        if fault is None:
            raise
        raise fault from exc


async def announce(
    rt: Runtime, principal: Principal, compute: Compute, kind: EventType, **data: str
) -> None:
    """The event of a change made inside a compute (emitted once the change succeeded)."""
    async with rt.sessions() as session, session.begin():
        events.emit(
            session,
            principal.org_id,
            kind,
            {**data, "endpoint_id": compute.endpoint.id, "project_id": compute.project.id},
        )
