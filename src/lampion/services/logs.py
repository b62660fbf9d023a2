"""A compute's PostgreSQL log: the tail, without loading the file, without waking it."""

from __future__ import annotations

import asyncio

from lampion.compute.logtail import tail
from lampion.runtime import Runtime
from lampion.schemas.objects import LogTail
from lampion.services import dataplane
from lampion.services.auth import Principal


async def read_tail(
    rt: Runtime, principal: Principal, project_id: str, endpoint_id: str, lines: int
) -> LogTail:
    compute = await dataplane.open_compute(rt, principal, project_id, endpoint_id, wake=False)
    found = await asyncio.to_thread(tail, rt.compute.log_path(compute.endpoint.id), lines)
    return LogTail(lines=found, count=len(found))
