"""What every storage driver does: own branch data directories."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lampion.compute.installations import PgInstall


class StorageError(RuntimeError):
    pass


@dataclass(frozen=True)
class BackupFiles:
    """What ``pg_backup_stop`` returns: the files a copy needs to recover consistently."""

    backup_label: str
    tablespace_map: str


class OnlineBackup(Protocol):
    """A non-exclusive base backup held open on a running compute (see ``pg/backup.py``)."""

    async def __aenter__(self) -> OnlineBackup: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def stop(self) -> BackupFiles: ...


class StorageDriver(Protocol):
    name: str

    def path(self, branch_id: str) -> Path: ...

    async def create_root(self, branch_id: str, install: PgInstall) -> Path:
        """A new data dir for a project's first branch, copied from the version's template."""
        ...

    async def clone_stopped(self, parent_id: str, child_id: str) -> Path:
        """A copy of a cleanly stopped data dir."""
        ...

    async def clone_running(self, parent_id: str, child_id: str, backup: OnlineBackup) -> Path:
        """A consistent copy of a running data dir, taken under ``backup``."""
        ...

    async def delete(self, branch_id: str) -> None: ...

    async def branch_ids(self) -> set[str]:
        """Every branch that has a data dir on disk."""
        ...
