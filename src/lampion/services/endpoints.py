"""Endpoints (computes): suspend, resume, size, auto-suspend, allowlist."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lampion.compute import hba
from lampion.errors import Conflict, InvalidRequest, NotFound, ServiceUnavailable
from lampion.event_types import EventType
from lampion.pg.admin import reload_config
from lampion.runtime import Runtime
from lampion.schemas.endpoints import Endpoint as EndpointOut
from lampion.schemas.endpoints import EndpointState, EndpointUpdate
from lampion.services import computes, events, intervals, plans, verifiers
from lampion.services.auth import Principal
from lampion.services.projects import get_owned as get_owned_project
from lampion.states import DesiredState, EndpointStatus
from lampion.store.models import Endpoint, Project
from lampion.store.paging import Ordering, Page, Paging, page_of
from lampion.store.types import utcnow

log = structlog.get_logger(__name__)


def endpoint_summary(endpoint: Endpoint) -> dict[str, object]:
    return {
        "id": endpoint.id,
        "project_id": endpoint.project_id,
        "branch_id": endpoint.branch_id,
        "status": endpoint.status,
        "compute_units": endpoint.compute_units,
        "auto_suspend_seconds": endpoint.auto_suspend_seconds,
        "pooler_enabled": endpoint.pooler_enabled,
        "pooler_mode": endpoint.pooler_mode,
    }


def view(rt: Runtime, endpoint: Endpoint, project: Project) -> EndpointOut:
    password = rt.secrets.decrypt(endpoint.password_enc)
    return EndpointOut(
        id=endpoint.id,
        project_id=endpoint.project_id,
        branch_id=endpoint.branch_id,
        status=endpoint.status,
        **computes.connection_info(rt.settings, endpoint, password).model_dump(),
        auto_suspend_seconds=endpoint.auto_suspend_seconds,
        compute_units=endpoint.compute_units,
        last_active_at=endpoint.last_active_at,
        created_at=endpoint.created_at,
        pooler_enabled=endpoint.pooler_enabled,
        pooler_mode=endpoint.pooler_mode,
    )


async def owned(
    session: AsyncSession, principal: Principal, project_id: str, endpoint_id: str
) -> tuple[Project, Endpoint]:
    project = await get_owned_project(session, principal, project_id)
    endpoint = await session.scalar(
        select(Endpoint).where(Endpoint.id == endpoint_id, Endpoint.project_id == project.id)
    )
    if endpoint is None:
        raise NotFound(f"Endpoint {endpoint_id} not found")
    return project, endpoint


ORDERING = Ordering(
    natural=(Endpoint.created_at, Endpoint.id),
    sortable={
        "created_at": Endpoint.created_at,
        "status": Endpoint.status,
        "compute_units": Endpoint.compute_units,
    },
)


async def list_endpoints(
    rt: Runtime,
    principal: Principal,
    project_id: str,
    paging: Paging,
    *,
    status: str | None = None,
    branch_id: str | None = None,
) -> Page[EndpointOut]:
    async with rt.sessions() as session:
        project = await get_owned_project(session, principal, project_id)
        query = select(Endpoint).where(Endpoint.project_id == project.id)
        if status is not None:
            query = query.where(Endpoint.status == status)
        if branch_id is not None:
            query = query.where(Endpoint.branch_id == branch_id)
        page = await page_of(session, query, paging, ORDERING)
        return page.map(lambda endpoint: view(rt, endpoint, project))


async def get(rt: Runtime, principal: Principal, project_id: str, endpoint_id: str) -> EndpointOut:
    async with rt.sessions() as session:
        project, endpoint = await owned(session, principal, project_id, endpoint_id)
        return view(rt, endpoint, project)


async def suspend(
    rt: Runtime, principal: Principal, project_id: str, endpoint_id: str
) -> EndpointState:
    await _as_owner(rt, principal, project_id, endpoint_id, suspend_by_id)
    return EndpointState(id=endpoint_id, status=EndpointStatus.SUSPENDED)


async def _as_owner(
    rt: Runtime,
    principal: Principal,
    project_id: str,
    endpoint_id: str,
    change: Callable[[Runtime, str], Awaitable[bool]],
) -> None:
    """Suspends or resumes the caller's endpoint, holding its project meanwhile."""
    async with rt.sessions() as session:
        await owned(session, principal, project_id, endpoint_id)
    async with rt.locks.shared(project_id, f"project {project_id}"):
        await change(rt, endpoint_id)


async def suspend_by_id(rt: Runtime, endpoint_id: str) -> bool:
    """Fast shutdown, data kept. False (and nothing done) when it was not running."""
    async with rt.locks.exclusive(endpoint_id, f"endpoint {endpoint_id}"):
        async with rt.sessions() as session:
            endpoint, project = await _load(session, endpoint_id)
            _check_settled(endpoint)
        spec = computes.spec_for(rt, endpoint, project.pg_version)
        if endpoint.status == EndpointStatus.RUNNING:  # roles made with SQL, for the proxy
            await verifiers.harvest_quietly(rt, endpoint_id, rt.compute.admin_target(spec))
        await computes.stop(rt, spec)
        async with rt.sessions() as session, session.begin():
            endpoint, project = await _load(session, endpoint_id)
            changed = endpoint.status != EndpointStatus.SUSPENDED
            endpoint.status = EndpointStatus.SUSPENDED
            endpoint.desired_state = DesiredState.SUSPENDED
            await intervals.close_interval(session, endpoint.id, utcnow())
            if changed:
                events.emit(
                    session,
                    project.org_id,
                    EventType.ENDPOINT_SUSPENDED,
                    endpoint_summary(endpoint),
                )
    if changed:
        log.info("endpoint.suspended", endpoint_id=endpoint_id)
    return changed


async def resume(
    rt: Runtime, principal: Principal, project_id: str, endpoint_id: str
) -> EndpointState:
    await _as_owner(rt, principal, project_id, endpoint_id, resume_by_id)
    return EndpointState(id=endpoint_id, status=EndpointStatus.RUNNING)


async def resume_by_id(rt: Runtime, endpoint_id: str) -> bool:
    """Starts a suspended compute. False (and nothing done) when it was already running."""
    async with rt.locks.exclusive(endpoint_id, f"endpoint {endpoint_id}"):
        async with rt.sessions() as session:
            endpoint, project = await _load(session, endpoint_id)
            _check_settled(endpoint)
        spec = computes.spec_for(rt, endpoint, project.pg_version)
        if endpoint.status == EndpointStatus.RUNNING and (await rt.compute.status(spec)).running:
            return False
        try:
            await rt.compute.start(spec)
        except Exception as exc:
            await _mark_failed(rt, endpoint_id, exc)
            raise ServiceUnavailable(f"Endpoint {endpoint_id} could not be started") from exc
        async with rt.sessions() as session, session.begin():
            endpoint, project = await _load(session, endpoint_id)
            now = utcnow()
            endpoint.status = EndpointStatus.RUNNING
            endpoint.desired_state = DesiredState.RUNNING
            endpoint.last_active_at = now
            await intervals.open_interval(session, endpoint, project.org_id, now)
            events.emit(
                session, project.org_id, EventType.ENDPOINT_RESUMED, endpoint_summary(endpoint)
            )
    log.info("endpoint.resumed", endpoint_id=endpoint_id)
    return True


async def update(
    rt: Runtime, principal: Principal, project_id: str, endpoint_id: str, body: EndpointUpdate
) -> EndpointOut:
    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise InvalidRequest(
            "Nothing to update",
            details={"allowed_fields": sorted(EndpointUpdate.model_fields)},
        )
    async with rt.sessions() as session:
        await owned(session, principal, project_id, endpoint_id)
        if "compute_units" in changes:
            await plans.check_compute_units(session, principal.org_id, changes["compute_units"])
    async with (
        rt.locks.shared(project_id, f"project {project_id}"),
        rt.locks.exclusive(endpoint_id, f"endpoint {endpoint_id}"),
    ):
        async with rt.sessions() as session:
            endpoint, project = await _load(session, endpoint_id)
            _check_settled(endpoint)
        resize = "compute_units" in changes and changes["compute_units"] != endpoint.compute_units
        repool = any(
            field in changes and changes[field] != getattr(endpoint, field)
            for field in ("pooler_enabled", "pooler_mode")
        )
        async with rt.sessions() as session, session.begin():
            endpoint, project = await _load(session, endpoint_id)
            for field, value in changes.items():
                setattr(endpoint, field, value)
            events.emit(
                session, project.org_id, EventType.ENDPOINT_UPDATED, endpoint_summary(endpoint)
            )
        if resize and endpoint.status == EndpointStatus.RUNNING:
            await _restart_resized(rt, endpoint_id)
        elif repool and endpoint.status == EndpointStatus.RUNNING:
            await _reconfigure_pooler(rt, endpoint_id)
    return await get(rt, principal, project_id, endpoint_id)


async def _restart_resized(rt: Runtime, endpoint_id: str) -> None:
    """Size maps to settings postgres reads at start (shared_buffers): restart to apply."""
    async with rt.sessions() as session:
        endpoint, project = await _load(session, endpoint_id)
    spec = computes.spec_for(rt, endpoint, project.pg_version)
    await computes.stop(rt, spec)
    try:
        await rt.compute.start(spec)
    except Exception as exc:
        await _mark_failed(rt, endpoint_id, exc)
        raise ServiceUnavailable(f"Endpoint {endpoint_id} could not be restarted") from exc
    async with rt.sessions() as session, session.begin():
        endpoint, project = await _load(session, endpoint_id)
        await intervals.open_interval(session, endpoint, project.org_id, utcnow())


async def restart_dead_pooler(rt: Runtime, endpoint_id: str) -> None:
    """Starts the pooler of a running compute again (it died); nothing when the compute is
    not running, its pooler is disabled, or another operation holds the endpoint."""
    try:
        async with rt.locks.exclusive(endpoint_id, f"endpoint {endpoint_id}"):
            async with rt.sessions() as session:
                endpoint, project = await _load(session, endpoint_id)
            if endpoint.status != EndpointStatus.RUNNING or not endpoint.pooler_enabled:
                return
            spec = computes.spec_for(rt, endpoint, project.pg_version)
            if (await rt.compute.status(spec)).running:
                await rt.compute.start(spec)
    except Conflict:
        return


async def _reconfigure_pooler(rt: Runtime, endpoint_id: str) -> None:
    """Starting a running compute again brings its pooler in line with the row (started,
    restarted in its new mode, or stopped); postgres keeps running."""
    async with rt.sessions() as session:
        endpoint, project = await _load(session, endpoint_id)
    await rt.compute.start(computes.spec_for(rt, endpoint, project.pg_version))


async def get_allowlist(
    rt: Runtime, principal: Principal, project_id: str, endpoint_id: str
) -> list[str]:
    async with rt.sessions() as session:
        _, endpoint = await owned(session, principal, project_id, endpoint_id)
        return list(endpoint.allowlist)


async def set_allowlist(
    rt: Runtime, principal: Principal, project_id: str, endpoint_id: str, entries: Sequence[str]
) -> list[str]:
    try:
        allowlist = hba.normalize_allowlist(entries)
    except ValueError as exc:
        raise InvalidRequest(f"Invalid allowlist: {exc}", details={"field": "allowlist"}) from exc
    async with rt.sessions() as session:
        await owned(session, principal, project_id, endpoint_id)
    async with (
        rt.locks.shared(project_id, f"project {project_id}"),
        rt.locks.exclusive(endpoint_id, f"endpoint {endpoint_id}"),
    ):
        async with rt.sessions() as session:
            endpoint, project = await _load(session, endpoint_id)
            _check_settled(endpoint)
        spec = computes.spec_for(rt, endpoint, project.pg_version)
        await asyncio.to_thread(hba.write, spec.data_dir, allowlist, rt.user, rt.proxy_source)
        if (await rt.compute.status(spec)).running:
            await reload_config(rt.compute.admin_target(spec))
        async with rt.sessions() as session, session.begin():
            endpoint, project = await _load(session, endpoint_id)
            endpoint.allowlist = allowlist
            events.emit(
                session,
                project.org_id,
                EventType.ALLOWLIST_UPDATED,
                {"endpoint_id": endpoint.id, "project_id": project.id, "allowlist": allowlist},
            )
    return allowlist


async def _load(session: AsyncSession, endpoint_id: str) -> tuple[Endpoint, Project]:
    row = (
        await session.execute(
            select(Endpoint, Project)
            .join(Project, Project.id == Endpoint.project_id)
            .where(Endpoint.id == endpoint_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"Endpoint {endpoint_id} not found")
    return row[0], row[1]


def _check_settled(endpoint: Endpoint) -> None:
    if endpoint.status == EndpointStatus.PROVISIONING:
        raise Conflict(f"Endpoint {endpoint.id} is still being provisioned")


async def _mark_failed(rt: Runtime, endpoint_id: str, exc: Exception) -> None:
    log.error("endpoint.failed", endpoint_id=endpoint_id, error=str(exc))
    async with rt.sessions() as session, session.begin():
        endpoint, project = await _load(session, endpoint_id)
        endpoint.status = EndpointStatus.FAILED
        await intervals.close_interval(session, endpoint.id, utcnow())
        events.emit(session, project.org_id, EventType.ENDPOINT_FAILED, endpoint_summary(endpoint))
