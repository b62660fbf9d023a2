"""A storage driver whose heavy work (copies and deletes) takes its turn in a StorageQueue;
reading paths and listing data dirs never waits."""

from __future__ import annotations

from pathlib import Path

from lampion.compute.installations import PgInstall
from lampion.storage.base import OnlineBackup, StorageDriver
from lampion.storage.queue import StorageQueue


class QueuedStorage:
    def __init__(self, driver: StorageDriver, queue: StorageQueue):
        self.name = driver.name
        self.driver = driver
        self.queue = queue

    def path(self, branch_id: str) -> Path:
        return self.driver.path(branch_id)

    async def create_root(self, branch_id: str, install: PgInstall) -> Path:
        async with self.queue.turn("create_root", branch_id):
            return await self.driver.create_root(branch_id, install)

    async def clone_stopped(self, parent_id: str, child_id: str) -> Path:
        async with self.queue.turn("clone_stopped", child_id):
            return await self.driver.clone_stopped(parent_id, child_id)

    async def clone_running(self, parent_id: str, child_id: str, backup: OnlineBackup) -> Path:
        """The online backup starts once the turn has come, not while waiting for it."""
        async with self.queue.turn("clone_running", child_id):
            return await self.driver.clone_running(parent_id, child_id, backup)

    async def delete(self, branch_id: str) -> None:
        async with self.queue.turn("delete", branch_id):
            await self.driver.delete(branch_id)

    async def branch_ids(self) -> set[str]:
        return await self.driver.branch_ids()

    async def prepare_replacement(self, branch_id: str) -> str:
        async with self.queue.turn("prepare_replacement", branch_id):
            return await self.driver.prepare_replacement(branch_id)

    async def swap(self, branch_id: str) -> None:
        """Renames only: never waits for a turn (the compute is stopped meanwhile)."""
        await self.driver.swap(branch_id)

    async def undo_swap(self, branch_id: str) -> None:
        async with self.queue.turn("undo_swap", branch_id):
            await self.driver.undo_swap(branch_id)

    async def drop_replaced(self, branch_id: str) -> None:
        async with self.queue.turn("delete", branch_id):
            await self.driver.drop_replaced(branch_id)

    async def adopt_replaced(self, branch_id: str, new_branch_id: str) -> None:
        await self.driver.adopt_replaced(branch_id, new_branch_id)
