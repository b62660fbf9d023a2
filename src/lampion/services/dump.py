"""pg_dump of a database or one table, streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog

from lampion.errors import NotFound
from lampion.pg import catalog
from lampion.pg import dump as pgdump
from lampion.runtime import Runtime
from lampion.services import dataplane
from lampion.services.auth import Principal

log = structlog.get_logger(__name__)


async def open_dump(
    rt: Runtime,
    principal: Principal,
    project_id: str,
    endpoint_id: str,
    database: str,
    table: str | None,
) -> AsyncIterator[bytes]:
    """Checks everything up front (so errors are proper 4xx), then returns the stream."""
    compute = await dataplane.open_compute(rt, principal, project_id, endpoint_id)
    pattern = None
    if table is not None:
        schema, _, name = table.rpartition(".") if "." in table else ("", "", table)
        pattern = pgdump.table_pattern(schema or None, name)
    async with dataplane.connection(rt, compute, database) as connection:
        if pattern is not None and not await catalog.relation_exists(connection, pattern):
            raise NotFound(f"Table {table!r} does not exist in database {database!r}")
    return _counted(
        rt, compute, pgdump.stream_dump(compute.install, compute.target, database, pattern)
    )


async def _counted(
    rt: Runtime, compute: dataplane.Compute, stream: AsyncIterator[bytes]
) -> AsyncIterator[bytes]:
    try:
        async for chunk in stream:
            rt.meter.count_out(compute.endpoint.id, len(chunk))
            yield chunk
    except pgdump.DumpFailed as exc:
        log.error("dump.failed", endpoint_id=compute.endpoint.id, error=str(exc))
        raise
