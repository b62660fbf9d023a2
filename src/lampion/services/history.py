"""Branch history as the API sees it: the window of points a branch can be branched at, a
new branch's base, a data dir recovered to a point of a parent's history, and the upkeep
(further base snapshots, pruning) the history worker runs."""

from __future__ import annotations

import asyncio
import time
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lampion.compute.base import AdminTarget, ComputeSpec
from lampion.errors import Conflict, InvalidRequest, ServiceUnavailable
from lampion.pg import recovery
from lampion.pg.backup import PgOnlineBackup
from lampion.runtime import Runtime
from lampion.services import computes, plans, wal_check
from lampion.states import BranchState, EndpointStatus, ProjectState
from lampion.storage.history import BaseMark, History, Pruned, RecoveryTarget
from lampion.storage.queued import QueuedStorage
from lampion.store.models import Branch, Endpoint, Project
from lampion.store.types import utcnow

log = structlog.get_logger(__name__)

ARCHIVE_WAIT_SECONDS = 30.0


def of(rt: Runtime) -> History:
    return History(rt.settings.branches_dir, rt.user, reflink=rt.storage.name == "reflink")


async def retention(rt: Runtime, session: AsyncSession, project: Project) -> timedelta:
    """The project's own retention, else the server's, capped by the plan."""
    plan = await plans.plan_of(session, project.org_id)
    wanted = project.history_retention_seconds or rt.settings.history_retention
    return timedelta(seconds=min(wanted, plan.max_history_retention_seconds))


def earliest_restore_time(rt: Runtime, branch_id: str, keep: timedelta) -> datetime | None:
    """The oldest point the branch can be branched or restored at: where its own history
    begins, its oldest base (pruning moves it on) or the retention's start, the latest."""
    start = _start(of(rt), branch_id)
    if start is None:
        return None
    return max(start.time, utcnow() - keep)


def _start(history: History, branch_id: str) -> BaseMark | None:
    """Where the branch's restorable history begins: its mark, or its oldest base once
    pruning has removed the bases before the mark."""
    mark = history.mark(branch_id)
    if mark is None:
        return None
    oldest = history.oldest_base(branch_id)
    if oldest is None:
        return mark
    return BaseMark(max(mark.lsn, oldest.lsn, key=recovery.lsn_value), max(mark.time, oldest.time))


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
    mark = _start(of(rt), parent_id)
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
    await wal_check.require_complete(of(rt), parent_id, target, fields)


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


@dataclass(frozen=True)
class Tended:
    snapshots: int = 0
    pruned_bases: int = 0
    pruned_segments: int = 0


async def tend(rt: Runtime, project_id: str | None = None) -> Tended:
    """One pass over every ready branch (of ``project_id`` only, when given): a further base
    when one is due, then the pruning of what fell out of its window. A branch another
    operation holds is left for the next pass."""
    snapshots = bases = segments = 0
    for branch_id, spec, keep in await _tended_branches(rt, project_id):
        if rt.locks.busy(branch_id) or rt.locks.busy(spec.endpoint_id):
            continue
        try:
            snapshots += await snapshot_if_due(rt, branch_id, spec)
            pruned = await prune(rt, branch_id, keep)
        except Conflict:
            continue
        except Exception as exc:  # one branch's failure must not stop the others' upkeep
            log.error(
                "history.upkeep_failed",
                branch_id=branch_id,
                error_type=type(exc).__name__,
                error=str(exc),
            )
            continue
        bases += pruned.bases
        segments += pruned.segments
    return Tended(snapshots, bases, segments)


async def _tended_branches(
    rt: Runtime, project_id: str | None
) -> list[tuple[str, ComputeSpec, timedelta]]:
    query = (
        select(Branch, Endpoint, Project)
        .join(Project, Project.id == Branch.project_id)
        .join(Endpoint, Endpoint.branch_id == Branch.id)
        .where(
            Branch.state == BranchState.READY,
            Project.state == ProjectState.ACTIVE,
            Endpoint.status.in_((EndpointStatus.RUNNING, EndpointStatus.SUSPENDED)),
        )
        .order_by(Branch.id)
    )
    if project_id is not None:
        query = query.where(Project.id == project_id)
    found = []
    async with rt.sessions() as session:
        keeps: dict[str, timedelta] = {}
        for branch, endpoint, project in (await session.execute(query)).all():
            if project.id not in keeps:
                keeps[project.id] = await retention(rt, session, project)
            spec = computes.spec_for(rt, endpoint, project.pg_version)
            found.append((branch.id, spec, keeps[project.id]))
    return found


async def snapshot_if_due(rt: Runtime, branch_id: str, spec: ComputeSpec) -> bool:
    """Takes a further base of the branch when enough WAL (or, on reflink storage, enough
    time with some WAL) has gone by since its newest one: an online backup of a running
    compute, a plain copy of a suspended one's data dir. Holds the branch and its compute
    (shared) only while it takes one: Conflict when another operation holds either."""
    history = of(rt)
    bases = history.bases(branch_id)
    mark = history.mark(branch_id)
    first = mark is None and not bases  # a branch made before history existed
    if not first and (mark is None or not bases):
        return False  # a history still being made (a point-in-time branch before its seal)
    running = (await rt.compute.status(spec)).running
    target = rt.compute.admin_target(spec)
    if first and running and not await recovery.archiving(target):
        return False  # its WAL from here would be missing: a base once it restarts or sleeps
    if not first:
        newest = bases[-1]
        if running:
            written = recovery.lsn_value(await recovery.current_lsn(target)) - newest.lsn_value
        else:
            written = history.archived_end(branch_id) - newest.lsn_value
        if not _due(rt, newest.time, written):
            return False
    data_dir = rt.storage.path(branch_id)
    async with (
        rt.locks.shared(branch_id, f"branch {branch_id}"),
        rt.locks.shared(spec.endpoint_id, f"endpoint {spec.endpoint_id}"),
        _storage_turn(rt, branch_id),
    ):
        running = (await rt.compute.status(spec)).running  # held now: stays so meanwhile
        if running:
            backup = PgOnlineBackup(target, label=f"snapshot {branch_id}")
            base = await history.snapshot_running(
                branch_id, data_dir, backup, lambda: _consistent_point(target)
            )
        else:
            base = await history.snapshot_stopped(branch_id, data_dir, utcnow())
        if first:
            await history.write_mark(branch_id, BaseMark(base.lsn, base.time))
    log.info("history.snapshot", branch_id=branch_id, lsn=base.lsn, running=running, first=first)
    return True


def _due(rt: Runtime, newest: datetime, written: int) -> bool:
    settings = rt.settings
    if written <= 0:
        return False
    threshold = _wal_threshold(rt)
    if threshold and written >= threshold:
        return True
    return (
        rt.storage.name == "reflink"
        and settings.snapshot_interval > 0
        and utcnow() - newest >= timedelta(seconds=settings.snapshot_interval)
    )


def _wal_threshold(rt: Runtime) -> int:
    """WAL bytes since the newest base that call for a snapshot (0: WAL never does)."""
    settings = rt.settings
    limits = [settings.snapshot_wal_bytes]
    if rt.storage.name == "reflink":
        limits.append(settings.reflink_snapshot_wal_bytes)
    return min((limit for limit in limits if limit > 0), default=0)


async def _consistent_point(target: AdminTarget) -> BaseMark:
    """Read once an online backup has stopped: every commit before it lies before this."""
    return BaseMark(await recovery.current_lsn(target), utcnow())


def _storage_turn(rt: Runtime, branch_id: str) -> AbstractAsyncContextManager[None]:
    """A copy waits its turn among the data-dir copies."""
    if isinstance(rt.storage, QueuedStorage):
        return rt.storage.queue.turn("snapshot", branch_id)
    return nullcontext()


async def prune(rt: Runtime, branch_id: str, keep: timedelta) -> Pruned:
    """Removes the bases and WAL of the branch's history that no point of its window
    (from :func:`earliest_restore_time` on) needs, holding the branch (shared) meanwhile."""
    history = of(rt)
    mark = history.mark(branch_id)
    if mark is None:
        return Pruned()
    window_start = max(mark.time, utcnow() - keep)
    if not history.prunable(branch_id, window_start):
        return Pruned()
    async with rt.locks.shared(branch_id, f"branch {branch_id}"):
        pruned = await history.prune(branch_id, window_start)
    if pruned.bases or pruned.segments:
        log.info(
            "history.pruned", branch_id=branch_id, bases=pruned.bases, segments=pruned.segments
        )
    return pruned
