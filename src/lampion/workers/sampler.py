"""Every 30 s: a snapshot of every running compute, its branch's logical size and whether
its WAL archiving works; hourly storage samples of every compute (suspended ones keep
their size, and their storage is billed), each its data's logical size plus its branch's
history on disk; snapshots older than 24 h go."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Row, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lampion.pg.archiver import ArchiverStatus, archiver_status
from lampion.runtime import Runtime
from lampion.services import computes, history_status, verifiers
from lampion.services.metrics import HISTORY_HOURS, MB, take_snapshot
from lampion.states import EndpointStatus, ProjectState
from lampion.storage.history_usage import HistorySize
from lampion.store.models import Branch, Endpoint, MetricsSnapshot, Project, StorageSample
from lampion.store.types import utcnow

log = structlog.get_logger(__name__)

STORAGE_SAMPLE_EVERY = timedelta(hours=1)
_CONCURRENCY = 16


@dataclass(frozen=True)
class _Seen:
    """What one running compute told this pass."""

    snapshot: MetricsSnapshot
    archiver: ArchiverStatus | None


class Sampler:
    def __init__(self, rt: Runtime):
        self.rt = rt

    async def run_once(self) -> int:
        async with self.rt.sessions() as session:
            rows = (
                await session.execute(
                    select(Endpoint, Project)
                    .join(Project, Project.id == Endpoint.project_id)
                    .where(
                        Project.state == ProjectState.ACTIVE,
                        Endpoint.status.in_((EndpointStatus.RUNNING, EndpointStatus.SUSPENDED)),
                    )
                )
            ).all()
            due = await _due_for_storage(session, rows, utcnow())
        gate = asyncio.Semaphore(_CONCURRENCY)
        running = [(e, p) for e, p in rows if e.status == EndpointStatus.RUNNING]
        usage = await self.rt.compute.stats_many(
            [computes.spec_for(self.rt, e, p.pg_version) for e, p in running]
        )

        async def one(endpoint: Endpoint, project: Project) -> _Seen | None:
            if endpoint.status != EndpointStatus.RUNNING:
                return None
            async with gate:
                try:
                    snapshot = await take_snapshot(
                        self.rt, endpoint, project.pg_version, usage.get(endpoint.id)
                    )
                except (OSError, Exception) as exc:  # one compute's trouble is not the pass's
                    log.info("sampler.skipped", endpoint_id=endpoint.id, error=str(exc))
                    return None
                spec = computes.spec_for(self.rt, endpoint, project.pg_version)
                await verifiers.harvest_quietly(
                    self.rt, endpoint.id, self.rt.compute.admin_target(spec)
                )
                try:
                    archiver = await archiver_status(self.rt.compute.admin_target(spec))
                except (OSError, Exception) as exc:
                    log.info("sampler.archiver_unread", endpoint_id=endpoint.id, error=str(exc))
                    archiver = None
                return _Seen(snapshot, archiver)

        seen = await asyncio.gather(*(one(e, p) for e, p in rows))
        histories = await self._history_sizes([p.id for e, p in rows if e.id in due])
        now = utcnow()
        async with self.rt.sessions() as session, session.begin():
            session.add_all([s.snapshot for s in seen if s is not None])
            branches = {
                b.id: b
                for b in await session.scalars(
                    select(Branch).where(Branch.id.in_({e.branch_id for e, _ in rows}))
                )
            }
            for (endpoint, project), observed in zip(rows, seen, strict=True):
                branch = branches.get(endpoint.branch_id)
                if branch is None:
                    continue
                if observed is not None:
                    branch.logical_size_bytes = int(observed.snapshot.storage_logical_mb * MB)
                    if observed.archiver is not None:
                        history_status.note_archiver(
                            session, project.org_id, branch, endpoint.id, observed.archiver
                        )
                size = histories.get(branch.id)
                if size is not None:
                    branch.history_bytes = size.own
                if endpoint.id in due:
                    await _storage_sample(session, endpoint, project, branch, size, now)
            await session.execute(
                delete(MetricsSnapshot).where(
                    MetricsSnapshot.snapshot_at < now - timedelta(hours=HISTORY_HOURS)
                )
            )
        return sum(s is not None for s in seen)

    async def _history_sizes(self, project_ids: Sequence[str]) -> dict[str, HistorySize]:
        """The history of every branch of these projects: walked only for a storage sample."""
        if not project_ids:
            return {}
        async with self.rt.sessions() as session:
            branches = (
                await session.execute(
                    select(Branch.project_id, Branch.id)
                    .where(Branch.project_id.in_(set(project_ids)))
                    .order_by(Branch.created_at, Branch.id)
                )
            ).all()
        by_project: dict[str, list[str]] = {}
        for project_id, branch_id in branches:
            by_project.setdefault(project_id, []).append(branch_id)
        sizes: dict[str, HistorySize] = {}
        for branch_ids in by_project.values():
            sizes.update(await history_status.measure(self.rt, branch_ids))
        return sizes


async def _due_for_storage(
    session: AsyncSession, rows: Sequence[Row[tuple[Endpoint, Project]]], now: datetime
) -> set[str]:
    """The endpoints to sample: every endpoint of a project one of whose endpoints is due, so
    that a project's histories are walked once for all of them."""
    latest = dict(
        (
            await session.execute(
                select(StorageSample.endpoint_id, func.max(StorageSample.sampled_at)).group_by(
                    StorageSample.endpoint_id
                )
            )
        )
        .tuples()
        .all()
    )
    due_projects = {
        project.id
        for endpoint, project in rows
        if (last := latest.get(endpoint.id)) is None or now - last >= STORAGE_SAMPLE_EVERY
    }
    return {endpoint.id for endpoint, project in rows if project.id in due_projects}


async def _storage_sample(
    session: AsyncSession,
    endpoint: Endpoint,
    project: Project,
    branch: Branch,
    history: HistorySize | None,
    now: datetime,
) -> None:
    """The branch's logical size (as last seen running) plus its history's bytes not
    already billed to an older branch of the project."""
    logical = branch.logical_size_bytes
    if logical is None:  # sampled before branches kept it: the last sample stands
        logical = await session.scalar(
            select(StorageSample.storage_bytes)
            .where(StorageSample.endpoint_id == endpoint.id)
            .order_by(StorageSample.sampled_at.desc())
            .limit(1)
        )
        if logical is None:
            return
        history = None
    session.add(
        StorageSample(
            org_id=project.org_id,
            project_id=project.id,
            endpoint_id=endpoint.id,
            sampled_at=now,
            storage_bytes=logical + (history.billed if history else 0),
        )
    )
