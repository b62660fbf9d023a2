"""Coordination between control-plane replicas sharing one PostgreSQL store."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@asynccontextmanager
async def exclusive_pass(engine: AsyncEngine, name: str) -> AsyncIterator[bool]:
    """True when this process may run the pass: on PostgreSQL, it holds a session advisory
    lock until the pass ends; SQLite stores serve a single process, which always may."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    async with engine.connect() as connection:
        key = _lock_key(name)
        acquired = bool(
            (await connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})).scalar()
        )
        await connection.commit()
        try:
            yield acquired
        finally:
            if acquired:
                await connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                await connection.commit()
