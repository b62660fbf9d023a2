"""Making and removing what a project or a branch holds: computes, data dirs and rows.

Rows come first (state ``provisioning``, each compute with its port), then the data, then
the running compute; removal goes the other way, data before rows. So a compute or a data
dir without a row is an orphan, and a row that a crash left ``provisioning`` or
``deleting`` is finished by :func:`destroy`. The steps are public so that swapping a
branch's data under the same endpoint (restore, reset) reuses them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import structlog
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from lampion.compute.base import ComputeSpec
from lampion.compute.installations import PgInstall
from lampion.errors import ProvisioningFailed
from lampion.event_types import EventType
from lampion.pg.backup import PgOnlineBackup
from lampion.runtime import Runtime
from lampion.services import computes, events, history, intervals
from lampion.states import EndpointStatus
from lampion.storage.templates import Templates
from lampion.store.models import Branch, Endpoint, Project
from lampion.store.types import utcnow

log = structlog.get_logger(__name__)

MakeData = Callable[[], Awaitable[object]]
"""Makes a data dir for the new compute: a template's copy, or a clone of a parent."""

MarkReady = Callable[[AsyncSession], Awaitable[None]]
"""In one transaction: the rows' states, the running interval (:func:`mark_running`) and
the ``*.created`` event."""


@dataclass(frozen=True)
class Event:
    org_id: str
    type: EventType
    data: dict[str, Any]


@dataclass(frozen=True)
class Footprint:
    """What a project or a branch holds: computes and data dirs (named after their branches)
    on the machine, rows in the store."""

    specs: Sequence[ComputeSpec]
    branch_ids: Sequence[str]
    project_id: str | None = None
    """Set when the project's own row goes too."""
    deleted_event: Event | None = field(default=None, kw_only=True)
    """Emitted with the rows' removal; only when the deletion was announced (an interrupted
    create never was)."""


class Resource(Protocol):
    """A project or a branch, as provisioning sees it."""

    @property
    def kind(self) -> str:
        """``project`` or ``branch``: names its log lines."""

    @property
    def id(self) -> str: ...

    async def footprint(self, rt: Runtime, session: AsyncSession) -> Footprint | None:
        """What it holds now; None once its rows are gone."""


async def provision(
    rt: Runtime,
    resource: Resource,
    made: Footprint,
    *,
    password: str,
    make_data: MakeData,
    mark_ready: MarkReady,
) -> None:
    """Brings up the computes of freshly written rows (``made``): data (kept as the
    branches' bases), start, superuser password, ready. On any failure, cancellation
    included, removes the computes, the data and the rows again; an error becomes
    ProvisioningFailed, a cancellation stays one."""
    try:
        await make_data()
        for branch_id in made.branch_ids:
            await history.record_base(rt, branch_id)
        for spec in made.specs:
            await rt.compute.start(spec)
            await history.seal(rt, spec)  # a point-in-time start has promoted
            await computes.set_superuser_password(rt, spec, password)
        async with rt.sessions() as session, session.begin():
            await mark_ready(session)
    except BaseException as exc:
        log.error(
            f"{resource.kind}.provisioning_failed",
            error_type=type(exc).__name__,
            error=str(exc),
            **{f"{resource.kind}_id": resource.id},
        )
        await discard(rt, made)
        await _delete_rows_soon(rt, made)
        if isinstance(exc, Exception):
            raise ProvisioningFailed() from exc
        raise


async def destroy(rt: Runtime, resource: Resource) -> None:
    """Stops and removes a resource's computes and data, then deletes its rows (with its
    ``*.deleted`` event once announced) in one transaction. Safe to run again after a
    crash; also undoes a create that a crash interrupted."""
    async with rt.sessions() as session:
        held = await resource.footprint(rt, session)
    if held is None:
        return
    await discard(rt, held)
    async with rt.sessions() as session, session.begin():
        held = await resource.footprint(rt, session)
        if held is None:
            return
        if held.deleted_event is not None:
            event = held.deleted_event
            events.emit(session, event.org_id, event.type, event.data)
        await _delete_rows(session, held)


async def clone_data(rt: Runtime, source: ComputeSpec, source_branch_id: str, target: str) -> None:
    """A consistent copy of a branch's data: an online backup while its compute runs, a
    plain copy while it is suspended."""
    if (await rt.compute.status(source)).running:
        backup = PgOnlineBackup(rt.compute.admin_target(source), label=target)
        await rt.storage.clone_running(source_branch_id, target, backup)
    else:
        await rt.storage.clone_stopped(source_branch_id, target)


async def root_data(rt: Runtime, branch_id: str, install: PgInstall) -> None:
    """A project's first data dir, from the version's template; the template (immutable)
    is its base too, by hard links."""
    await rt.storage.create_root(branch_id, install)
    await history.of(rt).link_base(
        branch_id, Templates(rt.settings.template_root, rt.user).path(install)
    )


async def start(rt: Runtime, spec: ComputeSpec, password: str) -> None:
    """Starts postgres over new data and gives its superuser the compute's password (the
    template's or the parent's data carries another)."""
    await rt.compute.start(spec)
    await computes.set_superuser_password(rt, spec, password)


async def mark_running(
    session: AsyncSession, endpoint: Endpoint, org_id: str, now: datetime
) -> None:
    """The compute's row says it runs, and its usage counts from ``now``."""
    endpoint.status = EndpointStatus.RUNNING
    endpoint.last_active_at = now
    await intervals.open_interval(session, endpoint, org_id, now)


async def discard(rt: Runtime, held: Footprint) -> None:
    """Removes the computes, then the data dirs and their history."""
    for spec in held.specs:
        try:
            await computes.destroy(rt, spec)
        except Exception as exc:  # the reconciler removes a compute that no row owns
            log.error("compute.destroy_failed", endpoint_id=spec.endpoint_id, error=str(exc))
    for branch_id in held.branch_ids:
        await rt.storage.delete(branch_id)
        await history.of(rt).delete(branch_id)


async def _delete_rows(session: AsyncSession, held: Footprint) -> None:
    now = utcnow()
    endpoint_ids = [spec.endpoint_id for spec in held.specs]
    for endpoint_id in endpoint_ids:
        await intervals.close_interval(session, endpoint_id, now)
    await session.execute(delete(Endpoint).where(Endpoint.id.in_(endpoint_ids)))
    await session.execute(delete(Branch).where(Branch.id.in_(held.branch_ids)))
    if held.project_id is not None:
        await session.execute(delete(Project).where(Project.id == held.project_id))


_UNDO_RETRIES = (0.1, 0.3, 1.0, 2.0)


async def _delete_rows_soon(rt: Runtime, made: Footprint) -> None:
    """The rows of a failed create go too. A full disk may refuse the store's write for a
    moment (a killed copy's files are freed once its process has exited): try again a few
    times; after that the reconciler undoes the create once its grace period is over."""
    for pause in (*_UNDO_RETRIES, None):
        try:
            async with rt.sessions() as session, session.begin():
                await _delete_rows(session, made)
            return
        except Exception as exc:
            if pause is None:
                log.error("provisioning.undo_rows_failed", error=str(exc)[:300])
                return
            await asyncio.sleep(pause)
