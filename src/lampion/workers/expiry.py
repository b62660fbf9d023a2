"""Deletes branches whose `expires_at` has passed, one replica at a time."""

from __future__ import annotations

import structlog

from lampion.runtime import Runtime
from lampion.services import branches
from lampion.store.locking import exclusive_pass

log = structlog.get_logger(__name__)


class ExpiryWorker:
    def __init__(self, rt: Runtime):
        self.rt = rt

    async def run_once(self) -> int:
        """One pass; returns how many branches it deleted (0 when another replica ran it)."""
        async with exclusive_pass(self.rt.engine, "expiry") as mine:
            if not mine:
                return 0
            deleted = await branches.expire_due(self.rt)
        if deleted:
            log.info("expiry.pass", deleted=deleted)
        return deleted
