"""Running intervals: when each compute ran and at what size (usage is computed from them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lampion.store.models import Endpoint, RunningInterval


async def open_interval(
    session: AsyncSession, endpoint: Endpoint, org_id: str, at: datetime
) -> None:
    await close_interval(session, endpoint.id, at)
    session.add(
        RunningInterval(
            org_id=org_id,
            project_id=endpoint.project_id,
            endpoint_id=endpoint.id,
            compute_units=endpoint.compute_units,
            started_at=at,
        )
    )


async def close_interval(session: AsyncSession, endpoint_id: str, at: datetime) -> None:
    rows = await session.scalars(
        select(RunningInterval).where(
            RunningInterval.endpoint_id == endpoint_id, RunningInterval.ended_at.is_(None)
        )
    )
    for interval in rows:
        interval.ended_at = max(at, interval.started_at)
