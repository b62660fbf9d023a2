"""Makes what runs on the machine agree with what the store says should run."""

from __future__ import annotations

import structlog
from sqlalchemy import select

from lampion.runtime import Runtime
from lampion.services import computes, projects
from lampion.store.models import Endpoint, Project

log = structlog.get_logger(__name__)


class Reconciler:
    def __init__(self, rt: Runtime):
        self.rt = rt

    async def run_once(self) -> None:
        await self._finish_interrupted_projects()
        await self._restart_dead_computes()

    async def _finish_interrupted_projects(self) -> None:
        """A create or delete cut short by a crash: undo the create, finish the delete."""
        async with self.rt.sessions() as session:
            stuck = (
                await session.scalars(
                    select(Project).where(Project.state.in_(("provisioning", "deleting")))
                )
            ).all()
        for project in stuck:
            log.info("reconciler.finish_project", project_id=project.id, state=project.state)
            try:
                await projects.finish_delete(self.rt, project.id)
            except Exception as exc:
                log.error("reconciler.finish_failed", project_id=project.id, error=str(exc))

    async def _restart_dead_computes(self) -> None:
        async with self.rt.sessions() as session:
            rows = (
                await session.execute(
                    select(Endpoint, Project.pg_version)
                    .join(Project, Project.id == Endpoint.project_id)
                    .where(Project.state == "active", Endpoint.desired_state == "running")
                )
            ).all()
        for endpoint, pg_version in rows:
            spec = computes.spec_for(self.rt, endpoint, pg_version)
            if (await self.rt.compute.status(spec)).running:
                continue
            log.warning("reconciler.compute_down", endpoint_id=endpoint.id)
            try:
                await self.rt.compute.start(spec)
                status = "running"
            except Exception as exc:
                log.error("reconciler.restart_failed", endpoint_id=endpoint.id, error=str(exc))
                status = "failed"
            async with self.rt.sessions() as session, session.begin():
                row = await session.get(Endpoint, endpoint.id)
                if row is not None:
                    row.status = status
