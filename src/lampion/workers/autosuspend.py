"""Suspends running computes that have had no client connection for `auto_suspend_seconds`.

Activity is a client session open now, or one that came and went since the last check (read
from the compute's log). The control plane's own sessions never count.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import structlog
from sqlalchemy import select

from lampion.errors import LampionError
from lampion.pg.admin import client_connection_count
from lampion.pg.connection import APPLICATION_NAME
from lampion.runtime import Runtime
from lampion.services import computes, endpoints
from lampion.states import EndpointStatus
from lampion.store.models import Endpoint, Project
from lampion.store.types import utcnow

log = structlog.get_logger(__name__)

_AUTHORIZED = b"connection authorized:"
_CONTROL = f"application_name={APPLICATION_NAME}".encode()


class AutoSuspender:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self._log_offsets: dict[str, int] = {}

    async def run_once(self) -> None:
        async with self.rt.sessions() as session:
            rows = (
                await session.execute(
                    select(Endpoint, Project.pg_version)
                    .join(Project, Project.id == Endpoint.project_id)
                    .where(
                        Endpoint.status == EndpointStatus.RUNNING, Endpoint.auto_suspend_seconds > 0
                    )
                )
            ).all()
        now = utcnow()
        for endpoint, pg_version in rows:
            if self.rt.locks.busy(endpoint.id):
                continue
            spec = computes.spec_for(self.rt, endpoint, pg_version)
            try:
                active = self._connected_since_last_check(endpoint.id) or (
                    await client_connection_count(self.rt.compute.admin_target(spec)) > 0
                )
            except OSError:
                continue  # not reachable: the reconciler's business
            if active:
                await self._touch(endpoint.id)
            elif now - (endpoint.last_active_at or now) >= timedelta(
                seconds=endpoint.auto_suspend_seconds
            ):
                try:
                    if await endpoints.suspend_by_id(self.rt, endpoint.id):
                        log.info("autosuspend.suspended", endpoint_id=endpoint.id)
                except LampionError as exc:
                    log.info("autosuspend.skipped", endpoint_id=endpoint.id, reason=exc.message)

    def _connected_since_last_check(self, endpoint_id: str) -> bool:
        path: Path = self.rt.compute.log_path(endpoint_id)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return False
        offset = self._log_offsets.get(endpoint_id)
        self._log_offsets[endpoint_id] = size
        if offset is None or size <= offset:
            return False
        with path.open("rb") as log_file:
            log_file.seek(offset)
            fresh = log_file.read(size - offset)
        return any(_AUTHORIZED in line and _CONTROL not in line for line in fresh.splitlines())

    async def _touch(self, endpoint_id: str) -> None:
        async with self.rt.sessions() as session, session.begin():
            endpoint = await session.get(Endpoint, endpoint_id)
            if endpoint is not None:
                endpoint.last_active_at = utcnow()
