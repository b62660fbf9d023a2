"""Makes what runs on the machine agree with what the store says should run.

Desired state lives in the store; observed state is read from the machine (processes,
data dirs). Each pass: finish or undo what a crash left half-done, restart computes that
died, stop computes that should be suspended, and remove computes and data dirs that no
row owns. Rows are written before anything is made on disk and removed after it is gone,
so a data dir or compute without a row is always an orphan.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select

from lampion.event_types import EventType
from lampion.runtime import Runtime
from lampion.services import (
    branches,
    computes,
    events,
    history,
    intervals,
    projects,
    provisioning,
)
from lampion.services.endpoints import endpoint_summary
from lampion.states import BranchState, DesiredState, EndpointStatus, ProjectState
from lampion.storage import history_dirs
from lampion.storage.base import REPLACED_SUFFIX, owner_of
from lampion.store.locking import exclusive_pass
from lampion.store.models import Branch, Endpoint, Project
from lampion.store.types import utcnow

log = structlog.get_logger(__name__)


class Reconciler:
    def __init__(self, rt: Runtime):
        self.rt = rt

    async def run_once(self, *, startup: bool = False) -> bool:
        """One pass; False when another replica (or this process's own loop) holds it."""
        async with exclusive_pass(self.rt.engine, "reconciler") as mine:
            if not mine:
                return False
            cutoff = (
                utcnow()
                if startup
                else utcnow() - timedelta(seconds=self.rt.settings.provisioning_grace)
            )
            await self._finish_interrupted(cutoff)
            await self._converge_computes()
            await self._remove_orphans()
        return True

    async def _finish_interrupted(self, cutoff: datetime) -> None:
        """Undo a create cut short by a crash; finish a delete cut short by one."""
        async with self.rt.sessions() as session:
            stuck_projects = (
                await session.scalars(select(Project).where(Project.state != ProjectState.ACTIVE))
            ).all()
            stuck_branches = (
                await session.scalars(
                    select(Branch).where(
                        Branch.state.in_([BranchState.PROVISIONING, BranchState.DELETING]),
                        Branch.is_primary.is_(False),
                    )
                )
            ).all()
            restoring = (
                await session.scalars(select(Branch).where(Branch.state == BranchState.RESTORING))
            ).all()
        for project in stuck_projects:
            if self.rt.locks.busy(project.id) or _too_recent(
                project.state, project.created_at, cutoff
            ):
                continue
            log.warning("reconciler.finish_project", project_id=project.id, state=project.state)
            await _attempt(
                provisioning.destroy(self.rt, projects.ProjectResource(project.id)),
                project_id=project.id,
            )
        for branch in stuck_branches:
            if self.rt.locks.busy(branch.id) or _too_recent(
                branch.state, branch.created_at, cutoff
            ):
                continue
            log.warning("reconciler.finish_branch", branch_id=branch.id, state=branch.state)
            await _attempt(
                provisioning.destroy(self.rt, branches.BranchResource(branch.id)),
                branch_id=branch.id,
            )
        for branch in restoring:
            if not self.rt.locks.busy(branch.id):
                await _attempt(self._settle_swap(branch.id), branch_id=branch.id)

    async def _settle_swap(self, branch_id: str) -> None:
        """A restore a crash interrupted: the compute stopped, the old data back in place
        when it is still there (else the new data stays), the branch ready; the compute is
        started again below if it should run."""
        log.warning("reconciler.settle_restore", branch_id=branch_id)
        async with self.rt.sessions() as session:
            row = (
                await session.execute(
                    select(Endpoint, Project)
                    .join(Project, Project.id == Endpoint.project_id)
                    .where(Endpoint.branch_id == branch_id)
                )
            ).first()
        if row is not None:
            endpoint, project = row
            await computes.stop(self.rt, computes.spec_for(self.rt, endpoint, project.pg_version))
        old_data_back = self.rt.storage.path(branch_id + REPLACED_SUFFIX).exists()
        await self.rt.storage.undo_swap(branch_id)
        await self.rt.storage.drop_replaced(branch_id)
        if old_data_back:  # its history too
            await history.of(self.rt).take_back(branch_id)
        else:  # the new data stays, with the history begun for it
            await history.of(self.rt).drop_aside(branch_id)
        async with self.rt.sessions() as session, session.begin():
            branch = await session.get(Branch, branch_id)
            if branch is not None and branch.state == BranchState.RESTORING:
                branch.state = BranchState.READY

    async def _converge_computes(self) -> None:
        async with self.rt.sessions() as session:
            rows = (
                await session.execute(
                    select(Endpoint, Project)
                    .join(Project, Project.id == Endpoint.project_id)
                    .join(Branch, Branch.id == Endpoint.branch_id)
                    .where(
                        Project.state == ProjectState.ACTIVE,
                        Branch.state == BranchState.READY,
                        Endpoint.status != EndpointStatus.PROVISIONING,
                    )
                )
            ).all()
        for endpoint, project in rows:
            if self.rt.locks.busy(endpoint.id):
                continue
            async with self.rt.locks.exclusive(endpoint.id, f"endpoint {endpoint.id}"):
                spec = computes.spec_for(self.rt, endpoint, project.pg_version)
                running = (await self.rt.compute.status(spec)).running
                if endpoint.desired_state == DesiredState.RUNNING and not running:
                    await self._restart(endpoint, project)
                elif endpoint.desired_state == DesiredState.SUSPENDED and running:
                    log.warning("reconciler.stop_unwanted", endpoint_id=endpoint.id)
                    await self.rt.compute.stop(spec)

    async def _restart(self, endpoint: Endpoint, project: Project) -> None:
        log.warning("reconciler.compute_down", endpoint_id=endpoint.id)
        spec = computes.spec_for(self.rt, endpoint, project.pg_version)
        try:
            await self.rt.compute.start(spec)
            status = EndpointStatus.RUNNING
        except Exception as exc:
            log.error("reconciler.restart_failed", endpoint_id=endpoint.id, error=str(exc))
            status = EndpointStatus.FAILED
        async with self.rt.sessions() as session, session.begin():
            row = await session.get(Endpoint, endpoint.id)
            if row is None:
                return
            now = utcnow()
            await intervals.close_interval(session, row.id, now)
            if status == EndpointStatus.RUNNING:
                await intervals.open_interval(session, row, project.org_id, now)
            elif row.status != EndpointStatus.FAILED:
                events.emit(
                    session, project.org_id, EventType.ENDPOINT_FAILED, endpoint_summary(row)
                )
            row.status = status

    async def _remove_orphans(self) -> None:
        # The machine first, the store second: whatever is on disk now had its row first.
        running = set(await self.rt.compute.running_endpoints())
        on_disk = await self.rt.storage.branch_ids()
        store = history.of(self.rt)
        histories = await history_dirs.names(store.dir("-").parent)  # every branch's, by name
        async with self.rt.sessions() as session:
            endpoint_ids = set((await session.scalars(select(Endpoint.id))).all())
            rows = await session.execute(select(Branch.id, Branch.state))
            branch_states: dict[str, BranchState] = {row.id: row.state for row in rows}
        for endpoint_id in running - endpoint_ids:
            if not self.rt.locks.busy(endpoint_id):
                log.warning("reconciler.orphan_compute", endpoint_id=endpoint_id)
                await self.rt.compute.remove_orphan(endpoint_id)
        for name in on_disk - set(branch_states):
            if self._in_flight(name, branch_states):
                continue
            log.warning("reconciler.orphan_data_dir", branch_id=name)
            await self.rt.storage.delete(name)
        for name in histories - set(branch_states):
            if self._in_flight(name, branch_states):
                continue
            log.warning("reconciler.orphan_history", branch_id=name)
            await store.delete(name)

    def _in_flight(self, name: str, branch_states: dict[str, BranchState]) -> bool:
        """A swap in flight on the dir's branch, or one the next pass settles."""
        owner = owner_of(name)
        return self.rt.locks.busy(owner) or branch_states.get(owner) == BranchState.RESTORING


def _too_recent(state: str, created_at: datetime, cutoff: datetime) -> bool:
    """A create younger than the grace period may still be running (here or on a replica)."""
    return state == "provisioning" and created_at > cutoff


async def _attempt(job: Awaitable[None], **context: str) -> None:
    try:
        await job
    except Exception as exc:
        log.error("reconciler.failed", error=str(exc), **context)
