"""What every storage driver does: own branch data directories."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from lampion.compute.installations import PgInstall


class StorageDriver(Protocol):
    name: str

    def path(self, branch_id: str) -> Path: ...

    async def create_root(self, branch_id: str, install: PgInstall) -> Path:
        """A new data dir for a project's first branch, copied from the version's template."""
        ...

    async def delete(self, branch_id: str) -> None: ...

    async def branch_ids(self) -> set[str]:
        """Every branch that has a data dir on disk."""
        ...
