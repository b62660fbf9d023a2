"""Connections from the control plane to a compute (its private unix socket, as superuser)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from lampion.compute.base import AdminTarget

APPLICATION_NAME = "lampion-control"
"""Control-plane sessions carry this name so activity tracking can leave them out."""


def client_environment(target: AdminTarget, database: str) -> dict[str, str]:
    """The environment of a PostgreSQL client program (psql, pg_dump) run as the control
    plane; the database is passed here, where a value is never parsed as a conninfo."""
    return {
        "PGHOST": target.host,
        "PGPORT": str(target.port),
        "PGUSER": target.user,
        "PGDATABASE": database,
        "PGAPPNAME": APPLICATION_NAME,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LC_ALL": "C.UTF-8",
    }


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
