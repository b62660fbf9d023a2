"""Waking a suspended compute on demand (a proxied connection, an API call that needs SQL).
Concurrent callers share one resume."""

from __future__ import annotations

import asyncio
import time

import structlog

from lampion.errors import Conflict, ServiceUnavailable
from lampion.runtime import Runtime
from lampion.services import endpoints

log = structlog.get_logger(__name__)


class Waker:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self._pending: dict[str, asyncio.Future[None]] = {}

    async def ensure_running(self, endpoint_id: str) -> None:
        pending = self._pending.get(endpoint_id)
        if pending is None:
            pending = asyncio.ensure_future(self._resume(endpoint_id))
            self._pending[endpoint_id] = pending
            pending.add_done_callback(lambda _: self._pending.pop(endpoint_id, None))
        await asyncio.shield(pending)

    async def _resume(self, endpoint_id: str) -> None:
        started = time.monotonic()
        deadline = started + self.rt.settings.compute_start_timeout
        while True:
            try:
                if await endpoints.resume_by_id(self.rt, endpoint_id):
                    self.rt.telemetry.wakeups.inc()
                    self.rt.telemetry.wakeup_latency.observe(time.monotonic() - started)
                    log.info(
                        "endpoint.woken",
                        endpoint_id=endpoint_id,
                        ms=round((time.monotonic() - started) * 1000),
                    )
                return
            except Conflict as exc:  # another operation holds it (a suspend, a clone): wait
                if time.monotonic() > deadline:
                    raise ServiceUnavailable(f"Endpoint {endpoint_id} is busy") from exc
                await asyncio.sleep(0.05)
