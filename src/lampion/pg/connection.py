"""Connections from the control plane to a compute (its private unix socket, as superuser)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from lampion.compute.base import AdminTarget

APPLICATION_NAME = "lampion-control"
"""Control-plane sessions carry this name so activity tracking can leave them out."""


@asynccontextmanager
async def admin_connection(
    target: AdminTarget, database: str = "postgres", timeout: float = 10.0
) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(
        host=target.host,
        port=target.port,
        user=target.user,
        database=database,
        timeout=timeout,
        server_settings={"application_name": APPLICATION_NAME},
    )
    try:
        yield connection
    finally:
        await connection.close()
