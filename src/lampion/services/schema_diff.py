"""Schema diff of two branches: the unified diff of their schema-only dumps."""

from __future__ import annotations

import difflib

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lampion.errors import InvalidRequest, NotFound, ServiceUnavailable
from lampion.pg import dump as pgdump
from lampion.runtime import Runtime
from lampion.services import branches, dataplane
from lampion.services.auth import Principal
from lampion.services.projects import get_owned as get_owned_project
from lampion.store.models import Branch, Endpoint

log = structlog.get_logger(__name__)


async def compare(
    rt: Runtime,
    principal: Principal,
    project_id: str,
    branch_ref: str,
    base_ref: str | None,
    database: str,
) -> str:
    """The diff from the base branch (default: the branch's parent) to the branch; empty
    when their schemas are equal. Suspended computes are woken."""
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
        base_endpoint = await _endpoint_id(session, base.id)
        endpoint = await _endpoint_id(session, branch.id)
    base_text = await _schema(rt, principal, project.id, base, base_endpoint, database)
    text = await _schema(rt, principal, project.id, branch, endpoint, database)
    return "".join(
        difflib.unified_diff(
            base_text.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"a/{base.name}",
            tofile=f"b/{branch.name}",
        )
    )


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
