"""Projects: a PostgreSQL database with its primary branch and compute."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lampion import ids
from lampion.errors import InvalidRequest, NotFound
from lampion.event_types import EventType
from lampion.runtime import Runtime
from lampion.schemas.projects import Project as ProjectOut
from lampion.schemas.projects import ProjectCreate, ProjectCreated
from lampion.services import computes, events, plans, provisioning
from lampion.services.auth import Principal
from lampion.states import BranchState, ProjectState
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
    made = provisioning.Footprint(
        specs=[computes.spec_for(rt, endpoint, project.pg_version)],
        branch_ids=[branch.id],
        project_id=project.id,
    )
    async with rt.locks.exclusive(project.id, f"project {project.id}"):
        await provisioning.provision(
            rt,
            ProjectResource(project.id),
            made,
            password=password,
            make_data=lambda: provisioning.root_data(rt, branch.id, install),
            mark_ready=lambda session: _mark_ready(session, principal, project.id),
        )
    log.info("project.created", project_id=project.id, endpoint_id=endpoint.id)
    return ProjectCreated(
        **ProjectOut.model_validate(project).model_dump(exclude={"state"}),
        state=ProjectState.ACTIVE,
        branch_id=branch.id,
        endpoint_id=endpoint.id,
        **computes.connection_info(rt.settings, endpoint, password).model_dump(),
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
            state=ProjectState.PROVISIONING,
            created_at=now,
        )
        branch = Branch(
            id=ids.branch_id(),
            project_id=project.id,
            name=PRIMARY_BRANCH,
            is_primary=True,
            state=BranchState.PROVISIONING,
            created_at=now,
        )
        endpoint = computes.new_endpoint(
            rt, project.id, branch.id, port=port, password=password, now=now
        )
        for row in (project, branch, endpoint):
            session.add(row)
            await session.flush()
        return project, branch, endpoint

    return await computes.insert_with_port(rt, add)


async def _mark_ready(session: AsyncSession, principal: Principal, project_id: str) -> None:
    project = await get_owned(session, principal, project_id)
    project.state = ProjectState.ACTIVE
    for branch in await session.scalars(select(Branch).where(Branch.project_id == project_id)):
        branch.state = BranchState.READY
    endpoints = (
        await session.scalars(select(Endpoint).where(Endpoint.project_id == project_id))
    ).all()
    now = utcnow()
    for endpoint in endpoints:
        await provisioning.mark_running(session, endpoint, principal.org_id, now)
    events.emit(
        session,
        principal.org_id,
        EventType.PROJECT_CREATED,
        {**project_summary(project), "endpoint_ids": [e.id for e in endpoints]},
    )


@dataclass(frozen=True)
class ProjectResource:
    """A project holds every branch and compute in it."""

    id: str
    kind = "project"

    async def footprint(self, rt: Runtime, session: AsyncSession) -> provisioning.Footprint | None:
        project = await session.get(Project, self.id)
        if project is None:
            return None
        endpoints = await session.scalars(select(Endpoint).where(Endpoint.project_id == self.id))
        branch_ids = await session.scalars(select(Branch.id).where(Branch.project_id == self.id))
        return provisioning.Footprint(
            specs=[computes.spec_for(rt, e, project.pg_version) for e in endpoints],
            branch_ids=list(branch_ids),
            project_id=project.id,
            deleted_event=provisioning.Event(
                project.org_id, EventType.PROJECT_DELETED, project_summary(project)
            )
            if project.state == ProjectState.DELETING
            else None,
        )


async def delete_project(rt: Runtime, principal: Principal, project_id: str) -> None:
    async with rt.locks.exclusive(project_id, f"project {project_id}"):
        async with rt.sessions() as session, session.begin():
            project = await get_owned(session, principal, project_id)
            project.state = ProjectState.DELETING
        await provisioning.destroy(rt, ProjectResource(project_id))
    log.info("project.deleted", project_id=project_id)
