"""Branch data dirs on a local filesystem: `copy` (portable, O(size)) or `reflink`
(XFS/btrfs FICLONE, O(metadata)). One class: the drivers differ only in how a file is copied.
Copies and deletes run in child processes (``copier.py``), off the event loop and the GIL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from lampion.compute.installations import PgInstall
from lampion.compute.osuser import OsUser
from lampion.storage import copier
from lampion.storage.base import (
    REPLACED_SUFFIX,
    REPLACEMENT_SUFFIX,
    OnlineBackup,
    StorageError,
)
from lampion.storage.templates import Templates
from lampion.storage.tree import supports_reflink
from lampion.storage.wal import start_segment, write_backup_files

log = structlog.get_logger(__name__)


class LocalStorage:
    def __init__(self, branches_dir: Path, templates: Templates, user: OsUser, *, reflink: bool):
        self.name = "reflink" if reflink else "copy"
        self._dir = branches_dir
        self._templates = templates
        self._user = user
        self._reflink = reflink
        self._dir.mkdir(parents=True, exist_ok=True)
        self._dir.chmod(0o755)

    @staticmethod
    def can_reflink(branches_dir: Path) -> bool:
        return supports_reflink(branches_dir)

    def path(self, branch_id: str) -> Path:
        return self._dir / branch_id

    async def create_root(self, branch_id: str, install: PgInstall) -> Path:
        template = await self._templates.ensure(install)
        return await self._copy(template, branch_id)

    async def clone_stopped(self, parent_id: str, child_id: str) -> Path:
        return await self._copy(self.path(parent_id), child_id)

    async def clone_running(self, parent_id: str, child_id: str, backup: OnlineBackup) -> Path:
        source, target = self.path(parent_id), self.path(child_id)
        self._check_free(target)
        try:
            async with backup:
                await copier.copy_tree(
                    source, target, self._user, reflink=self._reflink, skip_wal=True
                )
                files = await backup.stop()
                # The session still pins the WAL (temporary slot): copy it before letting go.
                await copier.copy_wal(
                    source,
                    target,
                    self._user,
                    start_segment(files.backup_label),
                    reflink=self._reflink,
                )
            await asyncio.to_thread(write_backup_files, target, files, self._user)
        except BaseException:
            await self.delete(child_id)
            raise
        return target

    async def _copy(self, source: Path, branch_id: str) -> Path:
        target = self.path(branch_id)
        self._check_free(target)
        try:
            await copier.copy_tree(source, target, self._user, reflink=self._reflink)
        except BaseException:
            await self.delete(branch_id)
            raise
        return target

    @staticmethod
    def _check_free(target: Path) -> None:
        if target.exists():
            raise StorageError(f"data dir for {target.name} already exists")

    async def delete(self, branch_id: str) -> None:
        await copier.remove_tree(self.path(branch_id))

    async def branch_ids(self) -> set[str]:
        return await asyncio.to_thread(self._branch_ids)

    def _branch_ids(self) -> set[str]:
        return {p.name for p in self._dir.iterdir() if p.is_dir()}

    async def prepare_replacement(self, branch_id: str) -> str:
        name = branch_id + REPLACEMENT_SUFFIX
        await self.delete(name)
        return name

    async def swap(self, branch_id: str) -> None:
        await asyncio.to_thread(self._swap, branch_id)

    def _swap(self, branch_id: str) -> None:
        current, new, old = self._swap_paths(branch_id)
        if not new.is_dir():
            raise StorageError(f"no replacement data for {branch_id}")
        if old.exists():
            raise StorageError(f"an earlier swap of {branch_id} was not settled")
        current.rename(old)
        new.rename(current)

    async def undo_swap(self, branch_id: str) -> None:
        await asyncio.to_thread(self._unswap, branch_id)
        await self.delete(branch_id + REPLACEMENT_SUFFIX)

    def _unswap(self, branch_id: str) -> None:
        current, new, old = self._swap_paths(branch_id)
        if not old.exists():
            return  # never swapped (or already settled): the current data stays
        if current.exists():
            if new.exists():
                raise StorageError(f"{branch_id} has current, new and old data at once")
            current.rename(new)
        old.rename(current)

    async def drop_replaced(self, branch_id: str) -> None:
        await self.delete(branch_id + REPLACED_SUFFIX)

    async def adopt_replaced(self, branch_id: str, new_branch_id: str) -> None:
        await asyncio.to_thread(self._adopt, branch_id, new_branch_id)

    def _adopt(self, branch_id: str, new_branch_id: str) -> None:
        old, target = self.path(branch_id + REPLACED_SUFFIX), self.path(new_branch_id)
        self._check_free(target)
        old.rename(target)

    def _swap_paths(self, branch_id: str) -> tuple[Path, Path, Path]:
        return (
            self.path(branch_id),
            self.path(branch_id + REPLACEMENT_SUFFIX),
            self.path(branch_id + REPLACED_SUFFIX),
        )
