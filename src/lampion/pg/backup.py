"""Non-exclusive online base backups: what lets storage copy a running compute consistently."""

from __future__ import annotations

import asyncpg

from lampion.compute.base import AdminTarget
from lampion.pg.connection import APPLICATION_NAME
from lampion.storage.base import BackupFiles


class PgOnlineBackup:
    """``pg_backup_start`` on enter, ``pg_backup_stop`` on :meth:`stop`, and a temporary
    physical replication slot that keeps every WAL segment the copy needs until exit."""

    def __init__(self, target: AdminTarget, label: str):
        self._target = target
        self._label = label
        self._slot = "lampion_" + "".join(c if c.isalnum() else "_" for c in label.lower())
        self._connection: asyncpg.Connection | None = None

    async def __aenter__(self) -> PgOnlineBackup:
        self._connection = await asyncpg.connect(
            host=self._target.host,
            port=self._target.port,
            user=self._target.user,
            database="postgres",
            timeout=10,
            server_settings={"application_name": APPLICATION_NAME},
        )
        try:
            await self._connection.execute(
                "SELECT pg_create_physical_replication_slot($1, true, true)", self._slot
            )
            await self._connection.execute("SELECT pg_backup_start($1, true)", self._label)
        except BaseException:
            await self._connection.close()
            raise
        return self

    async def stop(self) -> BackupFiles:
        assert self._connection is not None, "stop() outside of the backup"
        row = await self._connection.fetchrow(
            "SELECT labelfile, spcmapfile FROM pg_backup_stop(false)"
        )
        return BackupFiles(backup_label=row["labelfile"], tablespace_map=row["spcmapfile"] or "")

    async def __aexit__(self, *exc: object) -> None:
        if self._connection is not None:
            await self._connection.close()  # ends an unfinished backup; drops the slot
            self._connection = None
