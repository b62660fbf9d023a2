"""Projects: a PostgreSQL database with its primary branch and compute."""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from lampion import ids
from lampion.compute.base import ComputeSpec
from lampion.errors import InvalidRequest, NotFound, ProvisioningFailed
from lampion.runtime import Runtime
from lampion.schemas.projects import Project as ProjectOut
from lampion.schemas.projects import ProjectCreate, ProjectCreated
from lampion.services import computes, events, intervals, plans
from lampion.services.auth import Principal
from lampion.store.models import Branch, Endpoint, Project
from lampion.store.paging import Ordering, Page, Paging, page_of
from lampion.store.types import utcnow

log = structlog.get_logger(__name__)

PRIMARY_BRANCH = "main"


def project_summary(project: Project) -> dict[str, object]:
    return {
        "id": project.id,
        "name": project.name,
        "region": project.region,
        "pg_version": project.pg_version,
    }


async def get_owned(session: AsyncSession, principal: Principal, project_id: str) -> Project:
    """The caller's project; another org's project is as missing as a missing one."""
    project = await session.scalar(
        select(Project).where(Project.id == project_id, Project.org_id == principal.org_id)
    )
    if project is None:
        raise NotFound(f"Project {project_id} not found")
    return project


ORDERING = Ordering(
    natural=(Project.created_at, Project.id),
    sortable={
        "name": Project.name,
        "region": Project.region,
        "pg_version": Project.pg_version,
        "created_at": Project.created_at,
    },
)


async def list_projects(
    rt: Runtime,
    principal: Principal,
    paging: Paging,
    *,
    name: str | None = None,
    region: str | None = None,
) -> Page[ProjectOut]:
    query = select(Project).where(Project.org_id == principal.org_id)
    if name is not None:
        query = query.where(Project.name == name)
    if region is not None:
        query = query.where(Project.region == region)
    async with rt.sessions() as session:
        page = await page_of(session, query, paging, ORDERING)
        return page.map(ProjectOut.model_validate)


async def get(rt: Runtime, principal: Principal, project_id: str) -> ProjectOut:
    async with rt.sessions() as session:
        return ProjectOut.model_validate(await get_owned(session, principal, project_id))


async def create(rt: Runtime, principal: Principal, request: ProjectCreate) -> ProjectCreated:
    region = request.region or rt.settings.regions[0]
    if region not in rt.settings.regions:
        raise InvalidRequest(
            f"Unknown region {region!r}",
            details={"field": "region", "value": region, "allowed_values": rt.settings.regions},
        )
    install = rt.install_for(request.pg_version)
    password = ids.password()
    project, branch, endpoint = await _insert_rows(
        rt, principal, request.name, region, install.major, password
    )
    spec = computes.spec_for(rt, endpoint, project.pg_version)
    async with rt.locks.exclusive(project.id, f"project {project.id}"):
        try:
            await rt.storage.create_root(branch.id, install)
            await rt.compute.start(spec)
            await computes.set_superuser_password(rt, spec, password)
            await _mark_ready(rt, principal, project.id)
        except BaseException as exc:
            log.error(
                "project.provisioning_failed",
                project_id=project.id,
                error_type=type(exc).__name__,
                error=str(exc),
            )
            await _undo(rt, project.id, [spec], [branch.id])
            if isinstance(exc, Exception):
                raise ProvisioningFailed() from exc
            raise
    log.info("project.created", project_id=project.id, endpoint_id=endpoint.id)
    return ProjectCreated(
        id=project.id,
        name=project.name,
        region=project.region,
        pg_version=project.pg_version,
        state="active",
        created_at=project.created_at,
        branch_id=branch.id,
        endpoint_id=endpoint.id,
        connection_string=computes.connection_string(rt.settings, endpoint.id, password),
        pg_password=password,
        host=rt.settings.public_host,
        port=rt.settings.proxy_port,
        pg_port=endpoint.port,
    )


async def _insert_rows(
    rt: Runtime, principal: Principal, name: str, region: str, pg_version: int, password: str
) -> tuple[Project, Branch, Endpoint]:
    async def add(session: AsyncSession, port: int) -> tuple[Project, Branch, Endpoint]:
        await plans.check_new_project(session, principal.org_id)
        now = utcnow()
        project = Project(
            id=ids.project_id(),
            org_id=principal.org_id,
            name=name,
            region=region,
            pg_version=pg_version,
            state="provisioning",
            created_at=now,
        )
        branch = Branch(
            id=ids.branch_id(),
            project_id=project.id,
            name=PRIMARY_BRANCH,
            is_primary=True,
            state="provisioning",
            created_at=now,
        )
        endpoint = computes.new_endpoint(rt, project.id, branch.id, port, password, now)
        for row in (project, branch, endpoint):
            session.add(row)
            await session.flush()
        return project, branch, endpoint

    return await computes.insert_with_port(rt, add)


async def _mark_ready(rt: Runtime, principal: Principal, project_id: str) -> None:
    async with rt.sessions() as session, session.begin():
        project = await get_owned(session, principal, project_id)
        project.state = "active"
        for branch in await session.scalars(select(Branch).where(Branch.project_id == project_id)):
            branch.state = "ready"
        endpoints = (
            await session.scalars(select(Endpoint).where(Endpoint.project_id == project_id))
        ).all()
        now = utcnow()
        for endpoint in endpoints:
            endpoint.status = "running"
            endpoint.last_active_at = now
            await intervals.open_interval(session, endpoint, principal.org_id, now)
        events.emit(
            session,
            principal.org_id,
            "project.created",
            {**project_summary(project), "endpoint_ids": [e.id for e in endpoints]},
        )


async def _undo(
    rt: Runtime, project_id: str, specs: Sequence[ComputeSpec], branch_ids: Sequence[str]
) -> None:
    """Removes every trace of a project whose creation failed or was interrupted."""
    await _destroy_resources(rt, specs, branch_ids)
    async with rt.sessions() as session, session.begin():
        await _delete_rows(session, project_id)


async def _destroy_resources(
    rt: Runtime, specs: Sequence[ComputeSpec], branch_ids: Sequence[str]
) -> None:
    for spec in specs:
        try:
            await computes.destroy(rt, spec)
        except Exception as exc:  # keep undoing the rest; the reconciler retries later
            log.error("compute.destroy_failed", endpoint_id=spec.endpoint_id, error=str(exc))
    for branch_id in branch_ids:
        await rt.storage.delete(branch_id)


async def _delete_rows(session: AsyncSession, project_id: str) -> None:
    for endpoint_id in await session.scalars(
        select(Endpoint.id).where(Endpoint.project_id == project_id)
    ):
        await intervals.close_interval(session, endpoint_id, utcnow())
    await session.execute(delete(Endpoint).where(Endpoint.project_id == project_id))
    await session.execute(delete(Branch).where(Branch.project_id == project_id))
    await session.execute(delete(Project).where(Project.id == project_id))


async def delete_project(rt: Runtime, principal: Principal, project_id: str) -> None:
    async with rt.locks.exclusive(project_id, f"project {project_id}"):
        async with rt.sessions() as session, session.begin():
            project = await get_owned(session, principal, project_id)
            project.state = "deleting"
        await finish_delete(rt, project_id)
    log.info("project.deleted", project_id=project_id)


async def finish_delete(rt: Runtime, project_id: str) -> None:
    """Stops and removes a project's computes and data, then its rows with a
    ``project.deleted`` event in one transaction. Safe to run again after a crash, and
    also undoes a create that a crash interrupted."""
    async with rt.sessions() as session:
        project = await session.get(Project, project_id)
        if project is None:
            return
        endpoints = (
            await session.scalars(select(Endpoint).where(Endpoint.project_id == project_id))
        ).all()
        branch_ids = list(
            (await session.scalars(select(Branch.id).where(Branch.project_id == project_id))).all()
        )
        specs = [computes.spec_for(rt, e, project.pg_version) for e in endpoints]
    await _destroy_resources(rt, specs, branch_ids)
    async with rt.sessions() as session, session.begin():
        project = await session.get(Project, project_id)
        if project is None:
            return
        if project.state == "deleting":  # an interrupted create was never announced
            events.emit(session, project.org_id, "project.deleted", project_summary(project))
        await _delete_rows(session, project_id)
