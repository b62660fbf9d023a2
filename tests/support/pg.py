"""Talking to a compute the way a user does: with its connection string."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from typing import Any

import asyncpg
import pytest


async def connect(connection_string: str, **kwargs: Any) -> asyncpg.Connection:
    return await asyncpg.connect(connection_string, timeout=10, **kwargs)


async def fetchval(connection_string: str, query: str) -> Any:
    connection = await connect(connection_string)
    try:
        return await connection.fetchval(query)
    finally:
        await connection.close()


def psql(connection_string: str, command: str) -> subprocess.CompletedProcess[str]:
    """Runs the real psql binary (no password prompt: it is in the string)."""
    return subprocess.run(
        ["psql", connection_string, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", command],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
        check=False,
    )


async def apsql(connection_string: str, command: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(psql, connection_string, command)


def direct_dsn(password: str, pg_port: int, database: str = "postgres") -> str:
    """Straight to the compute's own port, around the connection proxy."""
    return f"postgresql://cloud_admin:{password}@127.0.0.1:{pg_port}/{database}"


async def assert_a_timed_out_query_is_cancelled(connection: asyncpg.Connection) -> None:
    """asyncpg sends a CancelRequest when a query's timeout passes: the query ends at once
    and the session stays usable."""
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await connection.fetchval("SELECT pg_sleep(30)", timeout=0.5)
    assert await connection.fetchval("SELECT 'usable'") == "usable"
    assert time.monotonic() - started < 5
