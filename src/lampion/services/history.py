"""Branch history as the API sees it: the window of points a branch can be branched at, a
new branch's base, and a data dir recovered to a point of a parent's history."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from lampion.compute.base import ComputeSpec
from lampion.errors import InvalidRequest, ServiceUnavailable
from lampion.pg import recovery
from lampion.runtime import Runtime
from lampion.services import plans, wal_check
from lampion.storage.history import BaseMark, History, RecoveryTarget
from lampion.store.models import Project
from lampion.store.types import utcnow

ARCHIVE_WAIT_SECONDS = 30.0


def of(rt: Runtime) -> History:
    return History(rt.settings.branches_dir, rt.user, reflink=rt.storage.name == "reflink")


async def retention(rt: Runtime, session: AsyncSession, project: Project) -> timedelta:
    """The project's own retention, else the server's, capped by the plan."""
    plan = await plans.plan_of(session, project.org_id)
    wanted = project.history_retention_seconds or rt.settings.history_retention
    return timedelta(seconds=min(wanted, plan.max_history_retention_seconds))


def earliest_restore_time(rt: Runtime, branch_id: str, keep: timedelta) -> datetime | None:
    """The branch's first base, or the retention's start, whichever is later."""
    mark = of(rt).mark(branch_id)
    if mark is None:
        return None
    return max(mark.time, utcnow() - keep)


@dataclass(frozen=True)
class Window:
    earliest: str
    latest: str


async def check_point(
    rt: Runtime,
    parent_id: str,
    parent_spec: ComputeSpec,
    keep: timedelta,
    target: RecoveryTarget,
    *,
    fields: str = "parent",
) -> None:
    """400 with the parent's window when ``target`` lies outside it (``fields``: the
    request's names, ``parent_…`` or ``source_…``)."""
    mark = of(rt).mark(parent_id)
    if target.time is not None:
        now = utcnow()
        earliest = max(mark.time, now - keep) if mark else None
        inside = earliest is not None and earliest <= target.time <= now
        window = Window(earliest.isoformat() if earliest else "", now.isoformat())
        field, value = f"{fields}_timestamp", target.time.isoformat()
    else:
        assert target.lsn is not None
        latest = await recovery.current_lsn(rt.compute.admin_target(parent_spec))
        wanted = recovery.lsn_value(target.lsn)
        inside = mark is not None and (
            recovery.lsn_value(mark.lsn) <= wanted <= recovery.lsn_value(latest)
        )
        window = Window(mark.lsn if mark else "", latest)
        field, value = f"{fields}_lsn", target.lsn
    if not inside:
        raise InvalidRequest(
            f"{field} {value} is outside the branch's history "
            f"(from {window.earliest or 'nothing yet'} to {window.latest})",
            details={"field": field, "earliest": window.earliest, "latest": window.latest},
        )
    await wal_check.require_complete(of(rt).dir(parent_id), target, fields)


async def record_base(rt: Runtime, branch_id: str) -> None:
    await of(rt).record_base(branch_id, rt.storage.path(branch_id))


async def seal(rt: Runtime, spec: ComputeSpec) -> None:
    """Once a new compute runs (a point-in-time one promoted): clears the recovery
    settings and marks where the branch's own history begins."""
    history = of(rt)
    branch_id = spec.data_dir.name
    if history.mark(branch_id) is not None:
        return
    target = rt.compute.admin_target(spec)
    deadline = time.monotonic() + rt.settings.compute_start_timeout
    while await recovery.in_recovery(target):
        if time.monotonic() > deadline:
            raise ServiceUnavailable(f"Branch {branch_id} is still replaying its history")
        await asyncio.sleep(0.05)
    if "recovery_target_action" in _auto_conf(spec):
        await recovery.forget_recovery_settings(target)
    await history.write_mark(branch_id, BaseMark(await recovery.current_lsn(target), utcnow()))


def _auto_conf(spec: ComputeSpec) -> str:
    try:
        return (spec.data_dir / "postgresql.auto.conf").read_text()
    except OSError:
        return ""


async def point_in_time_data(
    rt: Runtime, parent_spec: ComputeSpec, parent_id: str, child_id: str, target: RecoveryTarget
) -> None:
    """The child's data dir: the parent's base and archived WAL, set to recover to
    ``target`` and promote. The parent's newest WAL is archived first."""
    await archive_newest(rt, parent_spec, parent_id)
    await of(rt).materialize(parent_id, child_id, rt.storage.path(child_id), target)


async def archive_newest(rt: Runtime, spec: ComputeSpec, branch_id: str) -> None:
    """Waits until a running compute's WAL up to now is in its branch's archive."""
    history = of(rt)
    if (await rt.compute.status(spec)).running:
        segment = await recovery.close_segment(rt.compute.admin_target(spec))
        deadline = time.monotonic() + ARCHIVE_WAIT_SECONDS
        while not history.archived(branch_id, segment):
            if time.monotonic() > deadline:
                raise ServiceUnavailable(
                    f"Branch {branch_id}'s WAL is not archived yet (segment {segment})"
                )
            await asyncio.sleep(0.05)
