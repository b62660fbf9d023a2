"""The `copy` driver: portable, O(size) copies with ``cp -a`` (owner and modes kept)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from lampion.compute.installations import PgInstall
from lampion.storage.templates import Templates


class StorageError(RuntimeError):
    pass


class CopyDriver:
    name = "copy"
    cp_flags: tuple[str, ...] = ("-a",)

    def __init__(self, branches_dir: Path, templates: Templates):
        self._dir = branches_dir
        self._templates = templates
        self._dir.mkdir(parents=True, exist_ok=True)
        self._dir.chmod(0o755)

    def path(self, branch_id: str) -> Path:
        return self._dir / branch_id

    async def create_root(self, branch_id: str, install: PgInstall) -> Path:
        template = await self._templates.ensure(install)
        target = self.path(branch_id)
        await self._copy(template, target)
        return target

    async def _copy(self, source: Path, target: Path) -> None:
        if target.exists():
            raise StorageError(f"data dir for {target.name} already exists")
        process = await asyncio.create_subprocess_exec(
            "cp",
            *self.cp_flags,
            str(source),
            str(target),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await process.communicate()
        if process.returncode != 0:
            shutil.rmtree(target, ignore_errors=True)
            raise StorageError(f"copy failed: {stderr.decode(errors='replace').strip()}")

    async def delete(self, branch_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self.path(branch_id), True)

    async def branch_ids(self) -> set[str]:
        return {p.name for p in self._dir.iterdir() if p.is_dir()}
