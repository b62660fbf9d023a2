"""What the sampler learns about a branch's history: whether its compute's WAL archiving
works (one ``branch.archive_failed`` event per failure episode, and the branch's
``history_status``), and how big its history is."""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from lampion.event_types import EventType
from lampion.pg.archiver import ArchiverStatus
from lampion.runtime import Runtime
from lampion.services import events, history
from lampion.services.branches import branch_summary
from lampion.storage import history_usage
from lampion.store.models import Branch

log = structlog.get_logger(__name__)


def note_archiver(
    session: AsyncSession, org_id: str, branch: Branch, endpoint_id: str, status: ArchiverStatus
) -> None:
    """Records ``status`` on the branch row; the first failure of an episode (archiving
    worked, or was never seen failing, before) emits ``branch.archive_failed``."""
    if not status.failing:
        if branch.archive_failed_at is not None:
            log.info("history.archive_recovered", branch_id=branch.id)
        branch.archive_failed_at = branch.archive_failed_wal = None
        return
    if branch.archive_failed_at is None:
        log.warning("history.archive_failed", branch_id=branch.id, wal=status.last_failed_wal)
        events.emit(
            session,
            org_id,
            EventType.BRANCH_ARCHIVE_FAILED,
            {
                **branch_summary(branch, endpoint_id),
                "last_failed_wal": status.last_failed_wal,
                "last_failed_time": status.last_failed_time.isoformat()
                if status.last_failed_time
                else None,
                "failed_count": status.failed_count,
            },
        )
    branch.archive_failed_at = status.last_failed_time
    branch.archive_failed_wal = status.last_failed_wal


async def measure(rt: Runtime, branch_ids: list[str]) -> dict[str, history_usage.HistorySize]:
    """The history sizes of one project's branches, oldest first (see
    :func:`lampion.storage.history_usage.measure`)."""
    store = history.of(rt)
    return await history_usage.measure(
        {branch_id: store.dir(branch_id) for branch_id in branch_ids}
    )
