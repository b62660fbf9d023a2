"""A first-come, first-served queue for heavy storage work: at most ``limit`` copies or
deletes run at once, the others wait in arrival order. Each wait is logged with the caller's
position and reported to an observer (the Prometheus metrics)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

import structlog

log = structlog.get_logger(__name__)


class QueueObserver(Protocol):
    def storage_queue_changed(self, waiting: int, running: int) -> None: ...

    def storage_waited(self, operation: str, seconds: float) -> None: ...

    def storage_worked(self, operation: str, seconds: float) -> None: ...


class StorageQueue:
    def __init__(self, limit: int, observer: QueueObserver | None = None):
        if limit < 1:
            raise ValueError("a storage queue needs room for at least one operation")
        self.limit = limit
        self._observer = observer
        self._running = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return sum(1 for waiter in self._waiters if not waiter.done())

    @asynccontextmanager
    async def turn(self, operation: str, branch_id: str) -> AsyncIterator[None]:
        """Holds one of the ``limit`` places while the block runs, after those who came first."""
        queued_at = time.monotonic()
        if self._running < self.limit and not self._waiters:
            self._running += 1
            self._changed()
        else:
            await self._wait(operation, branch_id)
        waited = time.monotonic() - queued_at
        if self._observer is not None:
            self._observer.storage_waited(operation, waited)
        if waited >= 0.001:
            log.info("storage.dequeued", operation=operation, branch_id=branch_id, waited=waited)
        started = time.monotonic()
        try:
            yield
        finally:
            self._release()
            if self._observer is not None:
                self._observer.storage_worked(operation, time.monotonic() - started)

    async def _wait(self, operation: str, branch_id: str) -> None:
        """Waits until a finishing operation hands its place over (``_running`` unchanged)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        log.info(
            "storage.queued",
            operation=operation,
            branch_id=branch_id,
            position=self.waiting,
            running=self._running,
        )
        self._changed()
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed a place just as we were cancelled: pass it on
            else:
                self._waiters.remove(waiter)
                self._changed()
            raise

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self._changed()
                return
        self._running -= 1
        self._changed()

    def _changed(self) -> None:
        if self._observer is not None:
            self._observer.storage_queue_changed(self.waiting, self._running)
