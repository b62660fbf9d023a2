"""Keeps branch histories short to replay and within their windows: further base snapshots
when due, then pruning, one replica at a time."""

from __future__ import annotations

import structlog

from lampion.runtime import Runtime
from lampion.services import history
from lampion.store.locking import exclusive_pass

log = structlog.get_logger(__name__)


class HistoryWorker:
    def __init__(self, rt: Runtime):
        self.rt = rt

    async def run_once(self, project_id: str | None = None) -> history.Tended | None:
        """One pass (over ``project_id``'s branches only, when given); None when another
        replica ran it."""
        async with exclusive_pass(self.rt.engine, "history") as mine:
            if not mine:
                return None
            done = await history.tend(self.rt, project_id)
        if done != history.Tended():
            log.info(
                "history.pass",
                snapshots=done.snapshots,
                pruned_bases=done.pruned_bases,
                pruned_segments=done.pruned_segments,
            )
        return done
