"""Schema diff of two branches: the unified diff of their schema-only dumps; the base may be
read as it was at a point of its history (a throwaway compute recovered to it)."""

from __future__ import annotations

import difflib
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lampion.compute.base import ComputeSpec
from lampion.errors import InvalidRequest, LampionError, NotFound, ServiceUnavailable
from lampion.pg import catalog
from lampion.pg import dump as pgdump
from lampion.pg.connection import admin_connection
from lampion.runtime import Runtime
from lampion.services import branches, computes, dataplane, history, point_compute, wake
from lampion.services.auth import Principal
from lampion.services.projects import get_owned as get_owned_project
from lampion.storage.history import RecoveryTarget
from lampion.store.models import Branch, Endpoint

log = structlog.get_logger(__name__)


async def compare(
    rt: Runtime,
    principal: Principal,
    project_id: str,
    branch_ref: str,
    base_ref: str | None,
    database: str,
    *,
    base_timestamp: datetime | None = None,
    base_lsn: str | None = None,
) -> str:
    """The diff from the base branch (default: the branch's parent), as it is or as it was
    at ``base_timestamp`` or ``base_lsn`` of its history, to the branch; empty when their
    schemas are equal. Suspended computes are woken."""
    base_point = _point(base_timestamp, base_lsn)
    async with rt.sessions() as session:
        project = await get_owned_project(session, principal, project_id)
        branch = await branches.find(session, project.id, branch_ref)
        if branch is None:
            raise NotFound(f"Branch {branch_ref} not found")
        if base_ref is None and branch.parent_id is None:
            raise InvalidRequest(
                f"Branch {branch.name} has no parent; name the base branch",
                details={"field": "base_branch_id"},
            )
        base = await branches.find(session, project.id, base_ref or str(branch.parent_id))
        if base is None:
            raise InvalidRequest(
                f"Base branch {base_ref} not found in this project",
                details={"field": "base_branch_id", "value": base_ref},
            )
        base_endpoint = await branches.endpoint_of(session, base.id)
        endpoint = await _endpoint_id(session, branch.id)
        keep = await history.retention(rt, session, project)
    base_endpoint_id = base_endpoint.id if base_endpoint else None
    if base_point is None:
        base_text = await _schema(rt, principal, project.id, base, base_endpoint_id, database)
    else:
        if base_endpoint is None:
            raise ServiceUnavailable(f"Branch {base.name} has no compute yet")
        spec = computes.spec_for(rt, base_endpoint, project.pg_version)
        base_text = await _schema_at(rt, base, spec, database, base_point, keep)
    text = await _schema(rt, principal, project.id, branch, endpoint, database)
    return "".join(
        difflib.unified_diff(
            base_text.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"a/{base.name}",
            tofile=f"b/{branch.name}",
        )
    )


def _point(base_timestamp: datetime | None, base_lsn: str | None) -> RecoveryTarget | None:
    if base_timestamp is not None and base_lsn is not None:
        raise InvalidRequest(
            "Give base_timestamp or base_lsn, not both", details={"field": "base_lsn"}
        )
    if base_lsn is not None:
        return RecoveryTarget(lsn=base_lsn.upper())
    if base_timestamp is not None:
        return RecoveryTarget(time=base_timestamp)
    return None


async def _endpoint_id(session: AsyncSession, branch_id: str) -> str | None:
    endpoint_id: str | None = await session.scalar(
        select(Endpoint.id).where(Endpoint.branch_id == branch_id)
    )
    return endpoint_id


async def _schema(
    rt: Runtime,
    principal: Principal,
    project_id: str,
    branch: Branch,
    endpoint_id: str | None,
    database: str,
) -> str:
    if endpoint_id is None:
        raise ServiceUnavailable(f"Branch {branch.name} has no compute yet")
    compute = await dataplane.open_compute(rt, principal, project_id, endpoint_id)
    async with dataplane.connection(rt, compute, database):
        pass  # a missing database is a 404 here, not a failed pg_dump
    try:
        return await pgdump.schema_text(compute.install, compute.target, database)
    except pgdump.DumpFailed as exc:
        log.error("schema_diff.dump_failed", endpoint_id=endpoint_id, error=str(exc))
        raise ServiceUnavailable(f"pg_dump of branch {branch.name} failed: {exc}") from exc


async def _schema_at(
    rt: Runtime,
    base: Branch,
    spec: ComputeSpec,
    database: str,
    point: RecoveryTarget,
    keep: timedelta,
) -> str:
    """The base's schema as it was at ``point``: dumped from a throwaway compute recovered
    to it. The base is held (shared) meanwhile: a restore would move its history away."""
    await wake.ensure_running(rt, spec.endpoint_id)  # its newest WAL gets archived
    await history.check_point(rt, base.id, spec, keep, point, fields="base")
    async with rt.locks.shared(base.id, f"branch {base.name}"):
        await history.archive_newest(rt, spec, base.id)
        async with point_compute.at_point(rt, base.id, spec.install, point) as at_point:
            try:
                return await _dump_if_there(rt, at_point, database, base.name)
            except LampionError:
                raise
            except Exception as exc:  # the throwaway compute failed under the dump
                log.error("schema_diff.dump_at_point_failed", branch_id=base.id, error=str(exc))
                raise ServiceUnavailable(
                    f"Reading branch {base.name} at that point failed: {exc}"
                ) from exc


async def _dump_if_there(rt: Runtime, spec: ComputeSpec, database: str, branch_name: str) -> str:
    target = rt.compute.admin_target(spec)
    async with admin_connection(target) as connection:
        if not await catalog.database_exists(connection, database):
            raise NotFound(
                f"Database {database!r} did not exist in branch {branch_name} at that point"
            )
    return await pgdump.schema_text(spec.install, target, database)
