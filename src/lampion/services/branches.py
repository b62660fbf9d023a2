"""Branches: copy-on-write forks of a parent's data, each with its own compute."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lampion import clock, ids
from lampion.compute.base import ComputeSpec
from lampion.errors import Conflict, InvalidRequest, NotFound
from lampion.event_types import EventType
from lampion.runtime import Runtime
from lampion.schemas.branches import Branch as BranchOut
from lampion.schemas.branches import BranchCreate, BranchCreated, BranchUpdate
from lampion.services import computes, events, history, plans, provisioning, wake
from lampion.services.auth import Principal
from lampion.services.projects import get_owned as get_owned_project
from lampion.states import BranchState, ProjectState
from lampion.storage.history import RecoveryTarget
from lampion.store.models import Branch, Endpoint, Project
from lampion.store.paging import Ordering, Page, Paging, page_of_rows
from lampion.store.types import utcnow

log = structlog.get_logger(__name__)


def branch_summary(branch: Branch, endpoint_id: str | None) -> dict[str, object]:
    return {
        "id": branch.id,
        "project_id": branch.project_id,
        "name": branch.name,
        "parent_id": branch.parent_id,
        "is_primary": branch.is_primary,
        "endpoint_id": endpoint_id,
    }


def _out(
    branch: Branch, endpoint_id: str | None, earliest_restore_time: datetime | None = None
) -> BranchOut:
    return BranchOut(
        id=branch.id,
        project_id=branch.project_id,
        name=branch.name,
        is_primary=branch.is_primary,
        parent_id=branch.parent_id,
        state=branch.state,
        endpoint_id=endpoint_id,
        expires_at=branch.expires_at,
        protected=branch.protected,
        created_at=branch.created_at,
        parent_lsn=branch.parent_lsn,
        parent_timestamp=branch.parent_timestamp,
        earliest_restore_time=earliest_restore_time,
        logical_size_bytes=branch.logical_size_bytes,
        history_bytes=branch.history_bytes,
        history_status="ok" if branch.archive_failed_at is None else "failing",
        archive_failed_at=branch.archive_failed_at,
        archive_failed_wal=branch.archive_failed_wal,
    )


def require_unprotected(branch: Branch, action: str) -> None:
    """The one rule for protected branches: they refuse delete, restore, reset and expiry.
    ``action`` is the verb refused, e.g. "delete"."""
    if branch.protected:
        raise Conflict(
            f"Branch {branch.name} is protected; unprotect it before you {action} it",
            details={"reason": "protected", "branch_id": branch.id, "action": action},
        )


def check_expiry(branch_is_primary: bool, expires_at: datetime | None) -> None:
    """An expiry lies in the future, and the primary branch never expires."""
    if expires_at is None:
        return
    if branch_is_primary:
        raise InvalidRequest(
            "The primary branch never expires",
            details={"field": "expires_at", "reason": "primary_branch"},
        )
    if expires_at <= clock.now():
        raise InvalidRequest(
            "expires_at must be in the future",
            details={"field": "expires_at", "value": expires_at.isoformat()},
        )


async def find(session: AsyncSession, project_id: str, id_or_name: str) -> Branch | None:
    """A branch of the project by id, or else by name (names are unique in a project)."""
    by_id: Branch | None = await session.scalar(
        select(Branch).where(Branch.project_id == project_id, Branch.id == id_or_name)
    )
    if by_id is not None:
        return by_id
    by_name: Branch | None = await session.scalar(
        select(Branch).where(Branch.project_id == project_id, Branch.name == id_or_name)
    )
    return by_name


async def endpoint_of(session: AsyncSession, branch_id: str) -> Endpoint | None:
    """A branch's compute row (None while a create has not written it)."""
    endpoint: Endpoint | None = await session.scalar(
        select(Endpoint).where(Endpoint.branch_id == branch_id)
    )
    return endpoint


ORDERING = Ordering(
    natural=(Branch.created_at, Branch.id),
    sortable={"name": Branch.name, "created_at": Branch.created_at},
)


async def list_branches(
    rt: Runtime, principal: Principal, project_id: str, paging: Paging, *, name: str | None = None
) -> Page[BranchOut]:
    async with rt.sessions() as session:
        project = await get_owned_project(session, principal, project_id)
        query = (
            select(Branch, Endpoint.id)
            .outerjoin(Endpoint, Endpoint.branch_id == Branch.id)
            .where(Branch.project_id == project.id)
        )
        if name is not None:
            query = query.where(Branch.name == name)
        page = await page_of_rows(session, query, paging, ORDERING)
        keep = await history.retention(rt, session, project)
        return page.map(
            lambda row: _out(row[0], row[1], history.earliest_restore_time(rt, row[0].id, keep))
        )


async def get(rt: Runtime, principal: Principal, project_id: str, branch_ref: str) -> BranchOut:
    async with rt.sessions() as session:
        project = await get_owned_project(session, principal, project_id)
        branch = await find(session, project.id, branch_ref)
        if branch is None:
            raise NotFound(f"Branch {branch_ref} not found")
        endpoint = await endpoint_of(session, branch.id)
        keep = await history.retention(rt, session, project)
    return _out(
        branch,
        endpoint.id if endpoint else None,
        history.earliest_restore_time(rt, branch.id, keep),
    )


async def create(
    rt: Runtime, principal: Principal, project_id: str, body: BranchCreate
) -> BranchCreated:
    async with rt.sessions() as session:
        project = await get_owned_project(session, principal, project_id)
        if project.state != ProjectState.ACTIVE:
            raise Conflict(f"Project {project_id} is {project.state}")
        parent = await _resolve_parent(session, project.id, body.parent_id)
        parent_endpoint = await endpoint_of(session, parent.id)
        if parent.state != BranchState.READY or parent_endpoint is None:
            raise Conflict(f"Branch {parent.name} is {parent.state}; it cannot be branched now")
        if await find(session, project.id, body.name) is not None:
            raise Conflict(f"A branch named {body.name!r} already exists in this project")
        check_expiry(False, body.expires_at)
        keep = await history.retention(rt, session, project)
    password = ids.password()
    parent_spec = computes.spec_for(rt, parent_endpoint, project.pg_version)
    point = _point(body)
    if point is not None:
        await wake.ensure_running(rt, parent_endpoint.id)  # its newest WAL is archived
        await history.check_point(rt, parent.id, parent_spec, keep, point)
    async with (
        rt.locks.shared(project.id, f"project {project.id}"),
        rt.locks.shared(parent_endpoint.id, f"endpoint {parent_endpoint.id}"),
    ):
        branch, endpoint = await _insert_rows(
            rt, project, parent, parent_endpoint, body, password, point
        )
        made = provisioning.Footprint(
            specs=[computes.spec_for(rt, endpoint, project.pg_version)], branch_ids=[branch.id]
        )
        async with rt.locks.exclusive(branch.id, f"branch {body.name}"):
            await provisioning.provision(
                rt,
                BranchResource(branch.id),
                made,
                password=password,
                make_data=lambda: _make_data(rt, parent_spec, parent.id, branch.id, point),
                mark_ready=lambda session: _mark_ready(session, project.org_id, branch.id),
            )
    log.info("branch.created", branch_id=branch.id, parent_id=parent.id, endpoint_id=endpoint.id)
    earliest = history.earliest_restore_time(rt, branch.id, keep)
    return BranchCreated(
        **_out(branch, endpoint.id, earliest).model_dump(exclude={"state"}),
        state=BranchState.READY,
        compute_id=endpoint.id,
        **computes.connection_info(rt.settings, endpoint, password).model_dump(),
    )


def _point(body: BranchCreate) -> RecoveryTarget | None:
    if body.parent_lsn is not None:
        return RecoveryTarget(lsn=body.parent_lsn.upper())
    if body.parent_timestamp is not None:
        return RecoveryTarget(time=body.parent_timestamp)
    return None


async def _make_data(
    rt: Runtime,
    parent_spec: ComputeSpec,
    parent_id: str,
    branch_id: str,
    point: RecoveryTarget | None,
) -> None:
    """The parent's present (a clone), or a point of its history (a recovery)."""
    if point is None:
        await provisioning.clone_data(rt, parent_spec, parent_id, branch_id)
    else:
        await history.point_in_time_data(rt, parent_spec, parent_id, branch_id, point)


async def _resolve_parent(session: AsyncSession, project_id: str, parent_ref: str | None) -> Branch:
    if parent_ref is None:
        parent = await session.scalar(
            select(Branch).where(Branch.project_id == project_id, Branch.is_primary.is_(True))
        )
    else:
        parent = await find(session, project_id, parent_ref)
    if parent is None:
        raise InvalidRequest(
            f"Parent branch {parent_ref} not found in this project",
            details={"field": "parent_id", "value": parent_ref},
        )
    return parent


async def _insert_rows(
    rt: Runtime,
    project: Project,
    parent: Branch,
    parent_endpoint: Endpoint,
    body: BranchCreate,
    password: str,
    point: RecoveryTarget | None = None,
) -> tuple[Branch, Endpoint]:
    name = body.name

    async def add(session: AsyncSession, port: int) -> tuple[Branch, Endpoint]:
        await plans.check_new_branch(session, project.org_id, project.id)
        now = utcnow()
        branch = Branch(
            id=ids.branch_id(),
            project_id=project.id,
            name=name,
            parent_id=parent.id,
            is_primary=False,
            state=BranchState.PROVISIONING,
            expires_at=body.expires_at,
            protected=body.protected,
            created_at=now,
            parent_lsn=point.lsn if point else None,
            parent_timestamp=point.time if point else None,
        )
        endpoint = computes.new_endpoint(
            rt, project.id, branch.id, port=port, password=password, now=now, parent=parent_endpoint
        )
        session.add(branch)
        await session.flush()
        session.add(endpoint)
        return branch, endpoint

    async def name_taken_meanwhile() -> None:
        async with rt.sessions() as session:
            if await find(session, project.id, name) is not None:
                raise Conflict(f"A branch named {name!r} already exists in this project")

    return await computes.insert_with_port(rt, add, name_taken_meanwhile)


async def _mark_ready(session: AsyncSession, org_id: str, branch_id: str) -> None:
    branch = await session.get(Branch, branch_id)
    endpoint = await endpoint_of(session, branch_id)
    if branch is None or endpoint is None:
        raise NotFound(f"Branch {branch_id} disappeared while it was being created")
    branch.state = BranchState.READY
    await provisioning.mark_running(session, endpoint, org_id, utcnow())
    events.emit(session, org_id, EventType.BRANCH_CREATED, branch_summary(branch, endpoint.id))


@dataclass(frozen=True)
class BranchResource:
    """A branch holds its compute and its data dir."""

    id: str
    kind = "branch"

    async def footprint(self, rt: Runtime, session: AsyncSession) -> provisioning.Footprint | None:
        row = (
            await session.execute(select(Branch, Project).join(Project).where(Branch.id == self.id))
        ).first()
        if row is None:
            return None
        branch, project = row
        endpoint = await endpoint_of(session, branch.id)
        summary = branch_summary(branch, endpoint.id if endpoint else None)
        return provisioning.Footprint(
            specs=[computes.spec_for(rt, endpoint, project.pg_version)] if endpoint else [],
            branch_ids=[branch.id],
            deleted_event=provisioning.Event(project.org_id, EventType.BRANCH_DELETED, summary)
            if branch.state == BranchState.DELETING
            else None,
        )


async def delete_branch(
    rt: Runtime, principal: Principal, project_id: str, branch_ref: str
) -> None:
    async with rt.sessions() as session:
        project = await get_owned_project(session, principal, project_id)
        branch = await find(session, project.id, branch_ref)
        if branch is None:
            raise NotFound(f"Branch {branch_ref} not found")
        _check_deletable(branch, await _children(session, branch.id))
        endpoint = await endpoint_of(session, branch.id)
    await _delete(rt, branch, endpoint.id if endpoint else branch.id)


def _check_deletable(branch: Branch, children: list[str], action: str = "delete") -> None:
    if branch.is_primary:
        raise Conflict(
            f"Branch {branch.name} is the project's primary branch; delete the project instead"
        )
    require_unprotected(branch, action)
    if children:
        raise Conflict(
            f"Branch {branch.name} has child branches; delete them first",
            details={"children": children},
        )


async def _delete(
    rt: Runtime, branch: Branch, endpoint_key: str, *, expired_org: str | None = None
) -> bool:
    """Marks the branch deleting and destroys it (emitting ``branch.deleted``). With
    ``expired_org``, an expiry: re-checked under the lock, announced as ``branch.expired``."""
    async with (
        rt.locks.shared(branch.project_id, f"project {branch.project_id}"),
        rt.locks.exclusive(branch.id, f"branch {branch.name}"),
        rt.locks.exclusive(endpoint_key, f"branch {branch.name}"),
    ):
        async with rt.sessions() as session, session.begin():
            row = await session.get(Branch, branch.id, with_for_update=True)
            if row is None:
                raise NotFound(f"Branch {branch.name} not found")
            if row.state == BranchState.PROVISIONING:
                raise Conflict(f"Branch {branch.name} is still being created")
            action = "delete" if expired_org is None else "expire"
            _check_deletable(row, await _children(session, branch.id), action)
            if expired_org is not None:
                if row.expires_at is None or row.expires_at > clock.now():
                    return False  # its expiry was moved or cleared meanwhile
                endpoint = await endpoint_of(session, row.id)
                summary = branch_summary(row, endpoint.id if endpoint else None)
                events.emit(session, expired_org, EventType.BRANCH_EXPIRED, summary)
            row.state = BranchState.DELETING
        await provisioning.destroy(rt, BranchResource(branch.id))
    log.info("branch.deleted", branch_id=branch.id, expired=expired_org is not None)
    return True


async def update(
    rt: Runtime, principal: Principal, project_id: str, branch_ref: str, body: BranchUpdate
) -> BranchOut:
    changes = {field: getattr(body, field) for field in body.model_fields_set}
    if "name" in changes and changes["name"] is None:
        raise InvalidRequest("name cannot be null", details={"field": "name"})
    if "protected" in changes and changes["protected"] is None:
        raise InvalidRequest("protected cannot be null", details={"field": "protected"})
    if not changes:
        raise InvalidRequest(
            "Nothing to update", details={"allowed_fields": sorted(BranchUpdate.model_fields)}
        )
    async with rt.sessions() as session:
        project = await get_owned_project(session, principal, project_id)
        branch = await find(session, project.id, branch_ref)
        if branch is None:
            raise NotFound(f"Branch {branch_ref} not found")
    try:
        async with rt.sessions() as session, session.begin():
            row = await session.get(Branch, branch.id, with_for_update=True)
            if row is None or row.state == BranchState.DELETING:
                raise NotFound(f"Branch {branch_ref} not found")
            if "expires_at" in changes:
                check_expiry(row.is_primary, changes["expires_at"])
            new_name = body.name if "name" in changes else None
            renamed = new_name is not None and new_name != row.name
            if new_name is not None and renamed and await find(session, project.id, new_name):
                raise _name_taken(new_name)
            for field, value in changes.items():
                setattr(row, field, value)
    except IntegrityError as exc:  # the same name taken meanwhile (unique index)
        raise _name_taken(str(changes.get("name"))) from exc
    log.info("branch.updated", branch_id=branch.id, fields=sorted(changes))
    return await get(rt, principal, project_id, branch.id)


def _name_taken(name: str) -> Conflict:
    return Conflict(f"A branch named {name!r} already exists in this project")


async def expire_due(rt: Runtime) -> int:
    """Deletes every branch whose expiry has passed (unprotected, non-primary, ready, without
    children: one with children is skipped and logged). Returns how many were deleted."""
    async with rt.sessions() as session:
        rows = (
            await session.execute(
                select(Branch, Project.org_id)
                .join(Project, Project.id == Branch.project_id)
                .where(
                    Branch.expires_at.is_not(None),
                    Branch.expires_at <= clock.now(),
                    Branch.protected.is_(False),
                    Branch.is_primary.is_(False),
                    Branch.state == BranchState.READY,
                    Project.state == ProjectState.ACTIVE,
                )
                .order_by(Branch.expires_at)
            )
        ).all()
    deleted = 0
    for branch, org_id in rows:
        if rt.locks.busy(branch.id):
            continue
        async with rt.sessions() as session:
            children = await _children(session, branch.id)
            endpoint = await endpoint_of(session, branch.id)
        if children:
            log.warning("branch.expiry_skipped", branch_id=branch.id, children=children)
            continue
        try:
            if await _delete(
                rt, branch, endpoint.id if endpoint else branch.id, expired_org=org_id
            ):
                deleted += 1
        except (Conflict, NotFound) as exc:
            log.info("branch.expiry_skipped", branch_id=branch.id, reason=exc.message)
    return deleted


async def _children(session: AsyncSession, branch_id: str) -> list[str]:
    return list(
        (await session.scalars(select(Branch.name).where(Branch.parent_id == branch_id))).all()
    )
