"""Restore and reset: a branch's data replaced in place, its endpoint kept (id, port,
password, connection string).

The new data is made beside the old (``<branch>.new``), the compute stopped, the two swapped,
the compute started on the new data; only then is the old data (``<branch>.old``) removed, or
handed to the branch ``preserve_under_name`` names. Any failure swaps back and restarts the
old data. The branch is ``restoring`` from before the first change on disk until the swap is
settled, so that the reconciler settles a swap a crash interrupted (``undo_swap``: the old
data, or the new one once the old was let go; never neither).

Where the new data comes from is a :class:`Source`: today another branch's present (a live
clone); a point of a branch's history can be one too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from lampion import ids
from lampion.compute.base import ComputeSpec
from lampion.errors import Conflict, InvalidRequest, NotFound, ServiceUnavailable
from lampion.event_types import EventType
from lampion.runtime import Runtime
from lampion.schemas.branches import Branch as BranchOut
from lampion.schemas.branches import BranchRestore
from lampion.services import branches, computes, events, history, plans, provisioning, wake
from lampion.services.auth import Principal
from lampion.services.projects import get_owned as get_owned_project
from lampion.states import BranchState, DesiredState, EndpointStatus, ProjectState
from lampion.storage.base import REPLACED_SUFFIX
from lampion.storage.history import RecoveryTarget
from lampion.store.models import Branch, Endpoint, Project
from lampion.store.types import utcnow

log = structlog.get_logger(__name__)

MakeData = Callable[[str], Awaitable[object]]
"""Fills the data dir of the given name (``storage.prepare_replacement``'s) with the new data."""


@dataclass(frozen=True)
class Source:
    """Where a restore's new data comes from."""

    make_data: MakeData
    described: dict[str, Any]
    """What the event says about it: ``{"branch_id": …}`` (and a point, when at one)."""
    endpoint_id: str | None = None
    """A compute read while the data is made: held (shared) meanwhile."""
    history_from: str | None = None
    """For a point of history: whose base and WAL the new data recovers from (a branch id,
    or the restored branch's own history once set aside), linked in after the swap."""
    point: RecoveryTarget | None = None
    """That point: the bases after it are not linked in (they lie on another timeline)."""


@dataclass(frozen=True)
class Target:
    """The branch whose data is replaced, as checked before (``ready``, not protected)."""

    project: Project
    branch: Branch
    endpoint: Endpoint


async def reset_to_parent(
    rt: Runtime, principal: Principal, project_id: str, branch_ref: str
) -> BranchOut:
    """The branch's data becomes its parent's present."""
    async with rt.sessions() as session:
        target = await _target(session, principal, project_id, branch_ref, "reset")
        if target.branch.parent_id is None:
            raise Conflict(f"Branch {target.branch.name} has no parent to reset to")
        parent = await session.get(Branch, target.branch.parent_id)
        if parent is None:
            raise NotFound(f"The parent of branch {target.branch.name} is gone")
        source = await _present_of(rt, session, target.project, parent)
    await replace_data(rt, target, source, EventType.BRANCH_RESET, preserve_under_name=None)
    return await branches.get(rt, principal, project_id, target.branch.id)


async def restore(
    rt: Runtime, principal: Principal, project_id: str, branch_ref: str, body: BranchRestore
) -> BranchOut:
    """The branch's data becomes another branch's present, or a point (time or LSN) of its
    own history or another branch's."""
    point = _point(body)
    async with rt.sessions() as session:
        target = await _target(session, principal, project_id, branch_ref, "restore")
        if point is None:
            source_branch = await _source_branch(session, target, body.source_branch_id)
            source = await _present_of(rt, session, target.project, source_branch)
        else:
            source_branch = await _point_source_branch(session, target, body.source_branch_id)
            source, check_window = await _point_of(rt, session, target, source_branch, point)
        if body.preserve_under_name is not None:
            await _check_name_free(session, target.project.id, body.preserve_under_name)
    if point is not None:
        await check_window()
    await replace_data(
        rt, target, source, EventType.BRANCH_RESTORED, preserve_under_name=body.preserve_under_name
    )
    return await branches.get(rt, principal, project_id, target.branch.id)


async def _target(
    session: AsyncSession, principal: Principal, project_id: str, branch_ref: str, action: str
) -> Target:
    project = await get_owned_project(session, principal, project_id)
    if project.state != ProjectState.ACTIVE:
        raise Conflict(f"Project {project_id} is {project.state}")
    branch = await branches.find(session, project.id, branch_ref)
    if branch is None:
        raise NotFound(f"Branch {branch_ref} not found")
    branches.require_unprotected(branch, action)
    if branch.state != BranchState.READY:
        raise Conflict(f"Branch {branch.name} is {branch.state}; it cannot be {action} now")
    endpoint = await branches.endpoint_of(session, branch.id)
    if endpoint is None or endpoint.status == EndpointStatus.PROVISIONING:
        raise Conflict(f"Branch {branch.name}'s compute is still being provisioned")
    return Target(project, branch, endpoint)


async def _source_branch(session: AsyncSession, target: Target, source_ref: str | None) -> Branch:
    if source_ref is None:
        raise InvalidRequest(
            "Nothing to restore: give source_branch_id, source_timestamp or source_lsn",
            details={"field": "source_branch_id"},
        )
    source = await _named_source(session, target, source_ref)
    if source.id == target.branch.id:
        raise InvalidRequest(
            "Nothing to restore: the source is the branch itself, at its present",
            details={"field": "source_branch_id", "value": source_ref},
        )
    return source


async def _present_of(
    rt: Runtime, session: AsyncSession, project: Project, source: Branch
) -> Source:
    endpoint = await branches.endpoint_of(session, source.id)
    if source.state != BranchState.READY or endpoint is None:
        raise Conflict(f"Branch {source.name} is {source.state}; it cannot be copied now")
    spec = computes.spec_for(rt, endpoint, project.pg_version)
    return Source(
        make_data=lambda name: provisioning.clone_data(rt, spec, source.id, name),
        described={"branch_id": source.id, "name": source.name},
        endpoint_id=endpoint.id,
    )


async def _check_name_free(session: AsyncSession, project_id: str, name: str) -> None:
    if await branches.find(session, project_id, name) is not None:
        raise Conflict(
            f"A branch named {name!r} already exists in this project",
            details={"field": "preserve_under_name", "value": name},
        )


async def replace_data(
    rt: Runtime,
    target: Target,
    source: Source,
    event: EventType,
    *,
    preserve_under_name: str | None,
) -> None:
    """Replaces the branch's data with what ``source`` makes, under the branch's and its
    endpoint's exclusive locks (409 while another operation holds either)."""
    project, branch, endpoint = target.project, target.branch, target.endpoint
    async with AsyncExitStack() as held:
        await held.enter_async_context(rt.locks.shared(project.id, f"project {project.id}"))
        await held.enter_async_context(rt.locks.exclusive(branch.id, f"branch {branch.name}"))
        await held.enter_async_context(rt.locks.exclusive(endpoint.id, f"branch {branch.name}"))
        if source.endpoint_id is not None:
            await held.enter_async_context(
                rt.locks.shared(source.endpoint_id, f"endpoint {source.endpoint_id}")
            )
        await _set_state(rt, branch.id, BranchState.READY, BranchState.RESTORING)
        preserved: tuple[Branch, Endpoint, str] | None = None
        try:
            if preserve_under_name is not None:
                preserved = await _insert_preserved(rt, target, preserve_under_name)
            await _make_new_data(rt, branch.id, source)
        except BaseException:
            await _give_up(rt, branch.id, preserved)
            raise
        keep_running = endpoint.desired_state == DesiredState.RUNNING
        spec = computes.spec_for(rt, endpoint, project.pg_version)
        try:
            await _swap_and_start(rt, spec, branch.id, keep_running, source)
        except BaseException as exc:
            if await _swap_back(rt, spec, branch.id, keep_running):
                await _give_up(rt, branch.id, preserved)
            if isinstance(exc, Exception):
                raise ServiceUnavailable(
                    f"Branch {branch.name} could not be started on the new data; "
                    "its data is as before"
                ) from exc
            raise
        await _mark_replaced(rt, project.org_id, branch.id, keep_running, event, source)
        log.info(str(event), branch_id=branch.id, source=source.described)
        if preserved is None:
            await rt.storage.drop_replaced(branch.id)
            await history.of(rt).drop_aside(branch.id)
        else:
            await _bring_up_preserved(rt, target, *preserved)


async def _set_state(rt: Runtime, branch_id: str, expected: BranchState, to: BranchState) -> None:
    async with rt.sessions() as session, session.begin():
        row = await session.get(Branch, branch_id)
        if row is None:
            raise NotFound(f"Branch {branch_id} not found")
        if row.state != expected:
            raise Conflict(f"Branch {row.name} is {row.state}")
        row.state = to


async def _make_new_data(rt: Runtime, branch_id: str, source: Source) -> None:
    name = await rt.storage.prepare_replacement(branch_id)
    try:
        await source.make_data(name)
    except Exception as exc:
        raise ServiceUnavailable(
            "The new data could not be made; the branch's data is as before"
        ) from exc


async def _swap_and_start(
    rt: Runtime, spec: ComputeSpec, branch_id: str, running: bool, source: Source
) -> None:
    """The new data in place, running with the endpoint's password (the copy carries the
    source's). A suspended compute is started just long enough to set it."""
    password = await _password_of(rt, spec.endpoint_id)
    await computes.stop(rt, spec)
    await rt.storage.swap(branch_id)
    await history.of(rt).set_aside(branch_id)
    if (history_from := source.history_from) is not None:
        own = history_from == branch_id  # its own history: set aside just now
        await history.of(rt).share(
            branch_id + REPLACED_SUFFIX if own else history_from, branch_id, until=source.point
        )
    await history.record_base(rt, branch_id)
    await rt.compute.start(spec)
    await history.seal(rt, spec)  # a point of history: promoted
    await computes.set_superuser_password(rt, spec, password)
    if not running:
        await computes.stop(rt, spec)


async def _swap_back(rt: Runtime, spec: ComputeSpec, branch_id: str, running: bool) -> bool:
    """The old data back in place (and running, if it ran). False when the disk could not
    be settled: the branch stays ``restoring`` for the reconciler to settle."""
    try:
        await computes.stop(rt, spec)
        await rt.storage.undo_swap(branch_id)
        await history.of(rt).take_back(branch_id)
    except Exception as exc:
        log.error("restore.swap_back_failed", branch_id=branch_id, error=str(exc))
        return False
    if running:
        try:
            await rt.compute.start(spec)
        except Exception as exc:  # the reconciler restarts it
            log.error("restore.restart_old_failed", branch_id=branch_id, error=str(exc))
    return True


async def _give_up(
    rt: Runtime, branch_id: str, preserved: tuple[Branch, Endpoint, str] | None
) -> None:
    """Nothing changed after all: no new data, the branch ready, no preserved branch."""
    await rt.storage.undo_swap(branch_id)
    await history.of(rt).take_back(branch_id)
    await _set_state(rt, branch_id, BranchState.RESTORING, BranchState.READY)
    if preserved is not None:
        await provisioning.destroy(rt, branches.BranchResource(preserved[0].id))


async def _password_of(rt: Runtime, endpoint_id: str) -> str:
    async with rt.sessions() as session:
        row = await session.get(Endpoint, endpoint_id)
        if row is None:
            raise NotFound(f"Endpoint {endpoint_id} not found")
        return rt.secrets.decrypt(row.password_enc)


async def _mark_replaced(
    rt: Runtime, org_id: str, branch_id: str, running: bool, event: EventType, source: Source
) -> None:
    async with rt.sessions() as session, session.begin():
        branch = await session.get(Branch, branch_id)
        endpoint = await branches.endpoint_of(session, branch_id)
        if branch is None or endpoint is None:
            raise NotFound(f"Branch {branch_id} disappeared while it was being restored")
        branch.state = BranchState.READY
        endpoint.status = EndpointStatus.RUNNING if running else EndpointStatus.SUSPENDED
        if running:
            endpoint.last_active_at = utcnow()
        summary = branches.branch_summary(branch, endpoint.id)
        events.emit(session, org_id, event, {**summary, "source": source.described})


async def _insert_preserved(rt: Runtime, target: Target, name: str) -> tuple[Branch, Endpoint, str]:
    """The rows of the branch that keeps the data as it was (a child of the restored branch,
    with a compute like its own); its data dir is the old one, handed over after the swap."""
    project, password = target.project, ids.password()

    async def add(session: AsyncSession, port: int) -> tuple[Branch, Endpoint, str]:
        await plans.check_new_branch(session, project.org_id, project.id)
        await _check_name_free(session, project.id, name)
        now = utcnow()
        branch = Branch(
            id=ids.branch_id(),
            project_id=project.id,
            name=name,
            parent_id=target.branch.id,
            is_primary=False,
            state=BranchState.PROVISIONING,
            created_at=now,
        )
        endpoint = computes.new_endpoint(
            rt, project.id, branch.id, port=port, password=password, now=now, parent=target.endpoint
        )
        session.add(branch)
        await session.flush()
        session.add(endpoint)
        return branch, endpoint, password

    async def name_taken_meanwhile() -> None:
        async with rt.sessions() as session:
            await _check_name_free(session, project.id, name)

    return await computes.insert_with_port(rt, add, name_taken_meanwhile)


async def _bring_up_preserved(
    rt: Runtime, target: Target, branch: Branch, endpoint: Endpoint, password: str
) -> None:
    """Starts the preserved branch on the old data dir (renamed, not copied)."""
    org_id, restored_id = target.project.org_id, target.branch.id

    async def mark_ready(session: AsyncSession) -> None:
        row = await session.get(Branch, branch.id)
        compute = await branches.endpoint_of(session, branch.id)
        if row is None or compute is None:
            raise NotFound(f"Branch {branch.id} disappeared while it was being created")
        row.state = BranchState.READY
        await provisioning.mark_running(session, compute, org_id, utcnow())
        events.emit(
            session, org_id, EventType.BRANCH_CREATED, branches.branch_summary(row, compute.id)
        )

    made = provisioning.Footprint(
        specs=[computes.spec_for(rt, endpoint, target.project.pg_version)], branch_ids=[branch.id]
    )
    async with rt.locks.exclusive(branch.id, f"branch {branch.name}"):
        try:
            await provisioning.provision(
                rt,
                branches.BranchResource(branch.id),
                made,
                password=password,
                make_data=lambda: _hand_over(rt, restored_id, branch.id),
                mark_ready=mark_ready,
            )
        except ServiceUnavailable as exc:
            raise ServiceUnavailable(
                f"Branch {target.branch.name} was restored, but branch {branch.name} that was "
                "to keep its data as it was could not be started"
            ) from exc


async def _hand_over(rt: Runtime, restored_id: str, preserved_id: str) -> None:
    """The old data dir and its history become the preserved branch's, renamed, not copied."""
    await rt.storage.adopt_replaced(restored_id, preserved_id)
    await history.of(rt).hand_over(restored_id, preserved_id)


def _point(body: BranchRestore) -> RecoveryTarget | None:
    if body.source_lsn is not None:
        return RecoveryTarget(lsn=body.source_lsn.upper())
    if body.source_timestamp is not None:
        return RecoveryTarget(time=body.source_timestamp)
    return None


async def _point_source_branch(
    session: AsyncSession, target: Target, source_ref: str | None
) -> Branch:
    """Whose history a point is of: the branch itself unless another is named."""
    if source_ref is None:
        return target.branch
    return await _named_source(session, target, source_ref)


async def _named_source(session: AsyncSession, target: Target, source_ref: str) -> Branch:
    source = await branches.find(session, target.project.id, source_ref)
    if source is None:
        raise InvalidRequest(
            f"Source branch {source_ref} not found in this project",
            details={"field": "source_branch_id", "value": source_ref},
        )
    return source


async def _point_of(
    rt: Runtime, session: AsyncSession, target: Target, source: Branch, point: RecoveryTarget
) -> tuple[Source, Callable[[], Awaitable[None]]]:
    """The new data: the source's base recovered to ``point`` of its history (its WAL up to
    now archived first); and the check, run outside the session, that the point lies in the
    source's window (which wakes the source)."""
    endpoint = await branches.endpoint_of(session, source.id)
    if source.state != BranchState.READY or endpoint is None:
        raise Conflict(f"Branch {source.name} is {source.state}; it cannot be read now")
    keep = await history.retention(rt, session, target.project)
    spec = computes.spec_for(rt, endpoint, target.project.pg_version)
    branch_id, endpoint_id = target.branch.id, endpoint.id

    async def check_window() -> None:
        await wake.ensure_running(rt, endpoint_id)
        await history.check_point(rt, source.id, spec, keep, point, fields="source")

    async def make_data(name: str) -> None:
        await history.archive_newest(rt, spec, source.id)
        await history.of(rt).recovering_copy(source.id, rt.storage.path(name), branch_id, point)

    at = (
        {"lsn": point.lsn}
        if point.lsn
        else {"time": point.time.isoformat() if point.time else None}
    )
    described: dict[str, Any] = {"branch_id": source.id, "name": source.name, **at}
    itself = source.id == branch_id  # its compute is held alone by the restore anyway
    source_made = Source(
        make_data,
        described,
        endpoint_id=None if itself else endpoint_id,
        history_from=source.id,
        point=point,
    )
    return source_made, check_window
