"""Alembic environment. Runs on a connection handed in by ``lampion.store.migrate``,
or on its own engine when called as ``alembic`` from a checkout."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from lampion.store.engine import make_engine
from lampion.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_standalone() -> None:
    from lampion.config import Settings

    engine = make_engine(config.get_main_option("sqlalchemy.url") or Settings().store_url)
    async with engine.begin() as connection:
        await connection.run_sync(run_on)
    await engine.dispose()


given = config.attributes.get("connection")
if given is not None:
    run_on(given)
else:
    asyncio.run(run_standalone())
