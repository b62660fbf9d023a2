"""What a compute says about itself: sessions, cache hits, logical size."""

from __future__ import annotations

from dataclasses import dataclass

from lampion.compute.base import AdminTarget
from lampion.pg.connection import APPLICATION_NAME, admin_connection


@dataclass(frozen=True)
class ComputeStatistics:
    connections_total: int
    connections_active: int
    blocks_hit: int
    blocks_read: int
    storage_bytes: int

    @property
    def cache_hit_ratio(self) -> float:
        """Percent of block reads served from shared buffers (pg_stat_database)."""
        total = self.blocks_hit + self.blocks_read
        return round(100.0 * self.blocks_hit / total, 2) if total else 0.0


async def collect(target: AdminTarget) -> ComputeStatistics:
    async with admin_connection(target) as connection:
        row = await connection.fetchrow(
            "SELECT "
            "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
            " AND application_name IS DISTINCT FROM $1) AS total, "
            "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
            " AND state = 'active' AND application_name IS DISTINCT FROM $1) AS active, "
            "(SELECT coalesce(sum(blks_hit), 0) FROM pg_stat_database) AS hit, "
            "(SELECT coalesce(sum(blks_read), 0) FROM pg_stat_database) AS read, "
            "(SELECT coalesce(sum(pg_database_size(oid)), 0) FROM pg_database "
            " WHERE datallowconn) AS size",
            APPLICATION_NAME,
        )
    return ComputeStatistics(
        connections_total=int(row["total"]),
        connections_active=int(row["active"]),
        blocks_hit=int(row["hit"]),
        blocks_read=int(row["read"]),
        storage_bytes=int(row["size"]),
    )
