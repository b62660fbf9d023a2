"""Whether a compute's WAL archiving works: ``pg_stat_archiver``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lampion.compute.base import AdminTarget
from lampion.pg.connection import admin_connection


@dataclass(frozen=True)
class ArchiverStatus:
    failed_count: int
    last_failed_wal: str | None
    last_failed_time: datetime | None
    last_archived_time: datetime | None

    @property
    def failing(self) -> bool:
        """The newest attempt failed (the archiver retries the same file until it succeeds)."""
        if self.last_failed_time is None:
            return False
        return self.last_archived_time is None or self.last_failed_time > self.last_archived_time


async def archiver_status(target: AdminTarget) -> ArchiverStatus:
    async with admin_connection(target) as connection:
        row = await connection.fetchrow(
            "SELECT failed_count, last_failed_wal, last_failed_time, last_archived_time "
            "FROM pg_stat_archiver"
        )
    return ArchiverStatus(
        failed_count=int(row["failed_count"]),
        last_failed_wal=row["last_failed_wal"],
        last_failed_time=row["last_failed_time"],
        last_archived_time=row["last_archived_time"],
    )
