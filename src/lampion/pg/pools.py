"""A small pool of connections per (endpoint, database) for the SQL API, not a connect per
request. Pools of a compute that was stopped are dropped and made again on next use."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from lampion.compute.base import AdminTarget
from lampion.pg import values
from lampion.pg.connection import APPLICATION_NAME

_BROKEN = (
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.AdminShutdownError,
    asyncpg.CannotConnectNowError,
    ConnectionError,
    OSError,
)


class Pools:
    def __init__(self, max_size: int = 4):
        self._pools: dict[tuple[str, str], asyncpg.Pool] = {}
        self._max_size = max_size

    async def _pool(self, endpoint_id: str, target: AdminTarget, database: str) -> asyncpg.Pool:
        key = (endpoint_id, database)
        pool = self._pools.get(key)
        if pool is None:
            pool = await asyncpg.create_pool(
                host=target.host,
                port=target.port,
                user=target.user,
                database=database,
                min_size=0,
                max_size=self._max_size,
                max_inactive_connection_lifetime=60,
                init=values.configure,
                server_settings={"application_name": APPLICATION_NAME},
            )
            self._pools[key] = pool
        return pool

    @asynccontextmanager
    async def connection(
        self, endpoint_id: str, target: AdminTarget, database: str
    ) -> AsyncIterator[asyncpg.Connection]:
        pool = await self._pool(endpoint_id, target, database)
        try:
            connection = await pool.acquire(timeout=10)
            await connection.execute("SELECT 1")
        except _BROKEN:
            await self.drop(endpoint_id)  # the compute restarted since: start afresh
            pool = await self._pool(endpoint_id, target, database)
            connection = await pool.acquire(timeout=10)
        try:
            yield connection
        finally:
            if not connection.is_closed() and connection.is_in_transaction():
                with contextlib.suppress(*_BROKEN, asyncpg.InterfaceError):
                    await connection.execute("ROLLBACK")
            # The pool may have been dropped under the request (the compute was suspended
            # or deleted): then there is nothing to give the connection back to.
            with contextlib.suppress(*_BROKEN, asyncpg.InterfaceError):
                await pool.release(connection)

    async def drop(self, endpoint_id: str, database: str | None = None) -> None:
        for key in [k for k in self._pools if k[0] == endpoint_id]:
            if database is None or key[1] == database:
                self._pools.pop(key).terminate()

    async def close(self) -> None:
        for pool in self._pools.values():
            pool.terminate()
        self._pools.clear()
