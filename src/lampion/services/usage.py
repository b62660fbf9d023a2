"""Usage for billing, from what was recorded: running intervals (compute), storage samples
(time-weighted), proxy and API byte counts (transfer). Units are decimal (1 GB = 10^9 B)."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import MAXYEAR, UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from lampion.errors import InvalidRequest
from lampion.runtime import Runtime
from lampion.schemas.metrics import Cost, OrgUsage, ProjectUsage, Usage
from lampion.schemas.plans import Plan as PlanOut
from lampion.services import plans
from lampion.services.auth import Principal
from lampion.services.projects import get_owned
from lampion.store.models import Project, RunningInterval, StorageSample, TransferRecord
from lampion.store.types import utcnow

GB = 1_000_000_000
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Period:
    label: str
    start: datetime
    end: datetime

    @classmethod
    def parse(cls, value: str | None) -> Period:
        if value is None:
            now = utcnow()
            value = f"{now.year:04d}-{now.month:02d}"
        match = _PERIOD.match(value)
        year = int(match.group(1)) if match else 0
        if not match or year < 1:
            raise InvalidRequest(
                "period must be YYYY-MM, from 0001-01 to 9999-12", details={"field": "period"}
            )
        month = int(match.group(2))
        start = datetime(year, month, 1, tzinfo=UTC)
        if year == MAXYEAR and month == 12:
            end = datetime.max.replace(tzinfo=UTC)  # the month after is beyond any date
        else:
            end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
        return cls(value, start, end)

    def clip(self, start: datetime, end: datetime | None) -> float:
        """Seconds of [start, end) inside the period (an open end means now)."""
        stop = min(end or utcnow(), self.end, utcnow())
        return max(0.0, (stop - max(start, self.start)).total_seconds())


@dataclass
class Totals:
    compute_hours: float = 0.0
    storage_gb: float = 0.0
    transfer_total_gb: float = 0.0

    def usage(self, period: Period) -> Usage:
        return Usage(
            compute_hours=round(self.compute_hours, 6),
            storage_gb=round(self.storage_gb, 6),
            transfer_total_gb=round(self.transfer_total_gb, 9),
            period=period.label,
        )


async def _totals(
    session: AsyncSession, period: Period, column: str, value: str
) -> dict[str, Totals]:
    """Usage per project, over the rows whose ``column`` (org_id or project_id) is ``value``."""
    totals: defaultdict[str, Totals] = defaultdict(Totals)
    intervals = await session.scalars(
        select(RunningInterval).where(
            getattr(RunningInterval, column) == value,
            RunningInterval.started_at < period.end,
            or_(RunningInterval.ended_at.is_(None), RunningInterval.ended_at > period.start),
        )
    )
    for interval in intervals:
        seconds = period.clip(interval.started_at, interval.ended_at)
        totals[interval.project_id].compute_hours += seconds * interval.compute_units / 3600

    transfers = await session.scalars(
        select(TransferRecord).where(
            getattr(TransferRecord, column) == value,
            TransferRecord.recorded_at >= period.start,
            TransferRecord.recorded_at < period.end,
        )
    )
    for record in transfers:
        totals[record.project_id].transfer_total_gb += (record.bytes_in + record.bytes_out) / GB

    samples = await session.scalars(
        select(StorageSample)
        .where(getattr(StorageSample, column) == value, StorageSample.sampled_at < period.end)
        .order_by(StorageSample.endpoint_id, StorageSample.sampled_at)
    )
    by_endpoint: defaultdict[str, list[StorageSample]] = defaultdict(list)
    for sample in samples:
        by_endpoint[sample.endpoint_id].append(sample)
    for series in by_endpoint.values():
        totals[series[0].project_id].storage_gb += _time_weighted_gb(series, period)
    return totals


def _time_weighted_gb(series: list[StorageSample], period: Period) -> float:
    """Average size over the part of the period the samples cover (each holds until the next)."""
    weighted = covered = 0.0
    for index, sample in enumerate(series):
        until = series[index + 1].sampled_at if index + 1 < len(series) else None
        seconds = period.clip(sample.sampled_at, until)
        weighted += sample.storage_bytes * seconds
        covered += seconds
    return weighted / covered / GB if covered else 0.0


async def project_usage(
    rt: Runtime, principal: Principal, project_id: str, period_label: str | None
) -> Usage:
    period = Period.parse(period_label)
    async with rt.sessions() as session:
        project = await get_owned(session, principal, project_id)
        totals = await _totals(session, period, "project_id", project.id)
    return totals.get(project.id, Totals()).usage(period)


async def org_usage(rt: Runtime, principal: Principal, period_label: str | None) -> OrgUsage:
    period = Period.parse(period_label)
    async with rt.sessions() as session:
        plan = await plans.plan_of(session, principal.org_id)
        totals = await _totals(session, period, "org_id", principal.org_id)
        rows = await session.execute(
            select(Project.id, Project.name).where(Project.org_id == principal.org_id)
        )
        names: dict[str, str | None] = dict(rows.tuples().all())
    overall = Totals(
        compute_hours=sum(t.compute_hours for t in totals.values()),
        storage_gb=sum(t.storage_gb for t in totals.values()),
        transfer_total_gb=sum(t.transfer_total_gb for t in totals.values()),
    )
    for project_id in names:
        totals.setdefault(project_id, Totals())
    compute = overall.compute_hours * plan.cu_hour_usd
    storage = overall.storage_gb * plan.storage_gb_month_usd
    transfer = overall.transfer_total_gb * plan.transfer_gb_usd
    return OrgUsage(
        plan=PlanOut.model_validate(plan).model_dump(),
        period=period.label,
        total=overall.usage(period),
        projects=[
            ProjectUsage(id=pid, name=names.get(pid), **t.usage(period).model_dump())
            for pid, t in sorted(
                totals.items(), key=lambda item: (names.get(item[0]) or "~", item[0])
            )
        ],
        estimated_cost=Cost(
            compute_usd=round(compute, 4),
            storage_usd=round(storage, 4),
            transfer_usd=round(transfer, 4),
            total_usd=round(compute + storage + transfer, 2),
        ),
    )
