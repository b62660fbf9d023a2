"""Wake-ups across replicas on a PostgreSQL store: `NOTIFY` in a transaction reaches every
connection that `LISTEN`s on the channel when (and only if) it commits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

log = structlog.get_logger(__name__)

EVENTS_CHANNEL = "lampion_events"
_RETRY = (1.0, 2.0, 5.0, 10.0)
_CHECK_EVERY = 5.0


def supported(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


def notify(connection: Connection, channel: str) -> None:
    """Queues a notification on ``channel``; PostgreSQL sends it when the transaction commits
    (other stores: nothing to do)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"NOTIFY {channel}")


async def listen(engine: AsyncEngine, channel: str, on_notify: Callable[[], None]) -> None:
    """Calls ``on_notify`` for every notification on ``channel`` until cancelled, on a
    connection of its own, reconnecting when it is lost (the store restarted, say). It also
    calls it after each (re)connection: what was notified meanwhile reached nobody."""
    failures = 0
    while True:
        listening = asyncio.Event()
        try:
            await _listen_once(engine, channel, on_notify, listening, restored=failures > 0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if listening.is_set():
                failures = 0
            if failures == 0:
                log.warning("store.listen_lost", channel=channel, error=str(exc)[:300])
            await asyncio.sleep(_RETRY[min(failures, len(_RETRY) - 1)])
            failures += 1


async def _listen_once(
    engine: AsyncEngine,
    channel: str,
    on_notify: Callable[[], None],
    listening: asyncio.Event,
    restored: bool,
) -> None:
    lost = asyncio.Event()

    def received(*_: Any) -> None:
        on_notify()

    async with engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        raw.add_termination_listener(lambda _: lost.set())
        try:
            await raw.add_listener(channel, received)
            listening.set()
            if restored:
                log.info("store.listen_restored", channel=channel)
            on_notify()
            while not lost.is_set() and not raw.is_closed():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), _CHECK_EVERY)
            raise ConnectionError("the store closed the listening connection")
        finally:
            await connection.invalidate()  # closed, never back to the pool still listening
