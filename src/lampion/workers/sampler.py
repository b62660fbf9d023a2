"""Every 30 s: a snapshot of every running compute; hourly storage samples of every compute
(suspended ones keep their size, and their storage is billed); snapshots older than 24 h go."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Row, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lampion.runtime import Runtime
from lampion.services import computes
from lampion.services.metrics import HISTORY_HOURS, MB, take_snapshot
from lampion.states import EndpointStatus, ProjectState
from lampion.store.models import Endpoint, MetricsSnapshot, Project, StorageSample
from lampion.store.types import utcnow

log = structlog.get_logger(__name__)

STORAGE_SAMPLE_EVERY = timedelta(hours=1)
_CONCURRENCY = 16


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
        gate = asyncio.Semaphore(_CONCURRENCY)
        running = [(e, p) for e, p in rows if e.status == EndpointStatus.RUNNING]
        usage = await self.rt.compute.stats_many(
            [computes.spec_for(self.rt, e, p.pg_version) for e, p in running]
        )

        async def one(endpoint: Endpoint, project: Project) -> MetricsSnapshot | None:
            if endpoint.status != EndpointStatus.RUNNING:
                return None
            async with gate:
                try:
                    return await take_snapshot(
                        self.rt, endpoint, project.pg_version, usage.get(endpoint.id)
                    )
                except (OSError, Exception) as exc:  # one compute's trouble is not the pass's
                    log.info("sampler.skipped", endpoint_id=endpoint.id, error=str(exc))
                    return None

        snapshots = await asyncio.gather(*(one(e, p) for e, p in rows))
        now = utcnow()
        async with self.rt.sessions() as session, session.begin():
            session.add_all([s for s in snapshots if s is not None])
            await self._storage_samples(session, rows, snapshots, now)
            await session.execute(
                delete(MetricsSnapshot).where(
                    MetricsSnapshot.snapshot_at < now - timedelta(hours=HISTORY_HOURS)
                )
            )
        return sum(s is not None for s in snapshots)

    async def _storage_samples(
        self,
        session: AsyncSession,
        rows: Sequence[Row[tuple[Endpoint, Project]]],
        snapshots: Sequence[MetricsSnapshot | None],
        now: datetime,
    ) -> None:
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
        for (endpoint, project), snapshot in zip(rows, snapshots, strict=True):
            last_at = latest.get(endpoint.id)
            if last_at is not None and now - last_at < STORAGE_SAMPLE_EVERY:
                continue
            size: int | None
            if snapshot is not None:
                size = int(snapshot.storage_logical_mb * MB)
            else:
                size = await session.scalar(
                    select(StorageSample.storage_bytes)
                    .where(StorageSample.endpoint_id == endpoint.id)
                    .order_by(StorageSample.sampled_at.desc())
                    .limit(1)
                )
                if size is None:
                    continue
            session.add(
                StorageSample(
                    org_id=project.org_id,
                    project_id=project.id,
                    endpoint_id=endpoint.id,
                    sampled_at=now,
                    storage_bytes=size,
                )
            )
