"""What point-in-time work asks of a compute: its WAL position, a WAL switch so that the
newest WAL reaches the archive, and whether a recovering compute has been promoted."""

from __future__ import annotations

from lampion.compute.base import AdminTarget
from lampion.pg.connection import admin_connection

RECOVERY_SETTINGS = (
    "restore_command",
    "recovery_target_lsn",
    "recovery_target_time",
    "recovery_target_inclusive",
    "recovery_target_action",
)


async def current_lsn(target: AdminTarget) -> str:
    async with admin_connection(target) as connection:
        lsn: str = await connection.fetchval("SELECT pg_current_wal_lsn()::text")
    return lsn


async def close_segment(target: AdminTarget) -> str:
    """Commits a transaction with an xid (a commit record stamped now, which a time target
    up to now needs to be reached), then switches WAL files. Returns the name of the file
    just completed: once it is archived, everything up to now is."""
    async with admin_connection(target) as connection:
        await connection.execute("SELECT txid_current()")
        name: str = await connection.fetchval("SELECT pg_walfile_name(pg_switch_wal())")
    return name


async def in_recovery(target: AdminTarget) -> bool:
    async with admin_connection(target) as connection:
        recovering: bool = await connection.fetchval("SELECT pg_is_in_recovery()")
    return recovering


async def archiving(target: AdminTarget) -> bool:
    """Whether the compute archives its WAL (one started before history existed does not)."""
    async with admin_connection(target) as connection:
        mode: str = await connection.fetchval("SELECT current_setting('archive_mode')")
    return mode != "off"


async def forget_recovery_settings(target: AdminTarget) -> None:
    """Removes a point-in-time start's settings from ``postgresql.auto.conf`` once it has
    promoted, so that they never mix with a later recovery's."""
    async with admin_connection(target) as connection:
        for name in RECOVERY_SETTINGS:
            await connection.execute(f"ALTER SYSTEM RESET {name}")


def lsn_value(lsn: str) -> int:
    """``0/16B3748`` as a number; ValueError when malformed."""
    high, low = lsn.split("/")
    if not (1 <= len(high) <= 8 and 1 <= len(low) <= 8):
        raise ValueError(lsn)
    return (int(high, 16) << 32) | int(low, 16)
