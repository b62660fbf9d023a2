"""Background workers: asyncio tasks started by the app's lifespan, each on its own period."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)


class Workers:
    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    def every(self, name: str, seconds: float, job: Callable[[], Awaitable[object]]) -> None:
        if seconds > 0:
            self._tasks.append(asyncio.create_task(_loop(name, seconds, job), name=name))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()


async def _loop(name: str, seconds: float, job: Callable[[], Awaitable[object]]) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed pass is retried on the next period
            log.error("worker.failed", worker=name, error_type=type(exc).__name__, error=str(exc))
