"""Live metrics (never waking a compute), the sampler's snapshots, and their history."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lampion.compute.base import ComputeStats
from lampion.errors import InvalidRequest
from lampion.pg.stats import collect
from lampion.pg.unreachable import why_unreachable
from lampion.runtime import Runtime
from lampion.schemas.metrics import LiveMetrics, Snapshot
from lampion.services import computes
from lampion.services.auth import Principal
from lampion.services.endpoints import owned
from lampion.services.schema import endpoint_of
from lampion.states import EndpointStatus
from lampion.store.models import Endpoint, MetricsSnapshot
from lampion.store.paging import Ordering, Page, Paging, page_of
from lampion.store.types import utcnow

MB = 1_000_000
HISTORY_HOURS = 24


async def take_snapshot(
    rt: Runtime, endpoint: Endpoint, pg_version: int, usage: ComputeStats | None = None
) -> MetricsSnapshot:
    """Reads a running compute's statistics and its processes' CPU and memory (``usage``,
    when the caller already read it for many computes at once)."""
    spec = computes.spec_for(rt, endpoint, pg_version)
    statistics = await collect(rt.compute.admin_target(spec))
    if usage is None:
        usage = await rt.compute.stats(spec)
    return MetricsSnapshot(
        endpoint_id=endpoint.id,
        project_id=endpoint.project_id,
        snapshot_at=utcnow(),
        connections_total=statistics.connections_total,
        connections_active=statistics.connections_active,
        cache_hit_ratio=statistics.cache_hit_ratio,
        storage_logical_mb=round(statistics.storage_bytes / MB, 3),
        compute_cpu_seconds=round(usage.cpu_seconds, 2) if usage else 0.0,
        memory_mb=round(usage.memory_bytes / MB, 1) if usage else 0.0,
    )


async def live(
    rt: Runtime, principal: Principal, project_id: str, endpoint_id: str | None
) -> LiveMetrics:
    endpoint_id = endpoint_id or await endpoint_of(rt, principal, project_id, None)
    async with rt.sessions() as session:
        project, endpoint = await owned(session, principal, project_id, endpoint_id)
        last = await _latest(session, endpoint.id)
    running = endpoint.status == EndpointStatus.RUNNING
    if running:
        try:
            last = await take_snapshot(rt, endpoint, project.pg_version)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            if why_unreachable(exc) is None:
                raise
            running = False  # stopped or restarting under us: answer from the last sample
    return LiveMetrics(
        endpoint_id=endpoint.id,
        connections_total=last.connections_total if last and running else 0,
        connections_active=last.connections_active if last and running else 0,
        cache_hit_ratio=last.cache_hit_ratio if last else 0.0,
        storage_logical_mb=last.storage_logical_mb if last else 0.0,
        compute_cpu_seconds=last.compute_cpu_seconds if last else 0.0,
        memory_mb=last.memory_mb if last and running else 0.0,
        status=endpoint.status
        if running or endpoint.status != EndpointStatus.RUNNING
        else EndpointStatus.SUSPENDED,
        sampled_at=last.snapshot_at if last else None,
    )


async def _latest(session: AsyncSession, endpoint_id: str) -> MetricsSnapshot | None:
    snapshot: MetricsSnapshot | None = await session.scalar(
        select(MetricsSnapshot)
        .where(MetricsSnapshot.endpoint_id == endpoint_id)
        .order_by(MetricsSnapshot.snapshot_at.desc(), MetricsSnapshot.id.desc())
        .limit(1)
    )
    return snapshot


HISTORY_ORDERING = Ordering(
    natural=(MetricsSnapshot.snapshot_at, MetricsSnapshot.id),
    sortable={"snapshot_at": MetricsSnapshot.snapshot_at},
)


async def history(
    rt: Runtime,
    principal: Principal,
    project_id: str,
    paging: Paging,
    *,
    hours: int,
    endpoint_id: str | None = None,
) -> Page[Snapshot]:
    if not 1 <= hours <= HISTORY_HOURS:
        raise InvalidRequest(
            f"hours must be between 1 and {HISTORY_HOURS}", details={"field": "hours"}
        )
    endpoint_id = endpoint_id or await endpoint_of(rt, principal, project_id, None)
    async with rt.sessions() as session:
        await owned(session, principal, project_id, endpoint_id)
        query = select(MetricsSnapshot).where(
            MetricsSnapshot.endpoint_id == endpoint_id,
            MetricsSnapshot.snapshot_at >= utcnow() - timedelta(hours=hours),
        )
        page = await page_of(session, query, paging, HISTORY_ORDERING)
        return page.map(_snapshot_out)


def _snapshot_out(row: MetricsSnapshot) -> Snapshot:
    return Snapshot(
        snapshot_at=row.snapshot_at,
        connections_total=row.connections_total,
        connections_active=row.connections_active,
        storage_logical_mb=row.storage_logical_mb,
        cache_hit_ratio=row.cache_hit_ratio,
        compute_cpu_seconds=row.compute_cpu_seconds,
        memory_mb=row.memory_mb,
    )
