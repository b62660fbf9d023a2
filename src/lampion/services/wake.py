"""Waking a suspended compute on demand (a proxied connection, an API call that needs SQL).
Concurrent callers share one resume (``rt.resumes``)."""

from __future__ import annotations

import asyncio
import time

import structlog

from lampion.errors import Conflict, ServiceUnavailable
from lampion.runtime import Runtime
from lampion.services import endpoints

log = structlog.get_logger(__name__)


async def ensure_running(rt: Runtime, endpoint_id: str) -> None:
    await rt.resumes.run(endpoint_id, lambda: _resume(rt, endpoint_id))


async def _resume(rt: Runtime, endpoint_id: str) -> None:
    started = time.monotonic()
    deadline = started + rt.settings.compute_start_timeout
    while True:
        try:
            if await endpoints.resume_by_id(rt, endpoint_id):
                rt.telemetry.wakeups.inc()
                rt.telemetry.wakeup_latency.observe(time.monotonic() - started)
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
