"""What every storage driver does: own branch data directories."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lampion.compute.installations import PgInstall


class StorageError(RuntimeError):
    pass


REPLACEMENT_SUFFIX = ".new"
"""``<branch>.new``: the data a restore is making to take a branch's place."""
REPLACED_SUFFIX = ".old"
"""``<branch>.old``: a branch's data set aside by a swap until the new data runs."""


def owner_of(name: str) -> str:
    """The branch a data dir belongs to: itself, or the branch whose data it replaces or
    replaced (``br-x.new``, ``br-x.old`` → ``br-x``)."""
    for suffix in (REPLACEMENT_SUFFIX, REPLACED_SUFFIX):
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


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
        """Every data dir on disk by name: branch ids, and ``<branch>.new`` / ``<branch>.old``
        while (or after a crash in the middle of) a swap (see :func:`owner_of`)."""
        ...

    # Replacing a branch's data in place (restore, reset): make ``<branch>.new`` with the
    # clone operations above, then swap. Every step is a rename or a delete, so that a crash
    # anywhere leaves the old data or the new data, and :meth:`undo_swap` finds which.

    async def prepare_replacement(self, branch_id: str) -> str:
        """Removes what an earlier attempt left as ``<branch>.new`` and returns that name, for
        ``clone_stopped``/``clone_running`` to fill."""
        ...

    async def swap(self, branch_id: str) -> None:
        """The current data becomes ``<branch>.old``, ``<branch>.new`` the current data."""
        ...

    async def undo_swap(self, branch_id: str) -> None:
        """Back to the old data wherever a swap stopped: ``<branch>.old`` (when there) becomes
        the current data again, ``<branch>.new`` is removed. Safe to repeat."""
        ...

    async def drop_replaced(self, branch_id: str) -> None:
        """Removes ``<branch>.old`` once the new data runs."""
        ...

    async def adopt_replaced(self, branch_id: str, new_branch_id: str) -> None:
        """``<branch>.old`` becomes the data dir of ``new_branch_id`` (no copy)."""
        ...
