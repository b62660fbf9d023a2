"""A throwaway PostgreSQL server for the metadata store, started by the tests themselves
(only when a test asks for the PostgreSQL store)."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg

from lampion.compute.base import ComputeSpec
from lampion.compute.installations import discover
from lampion.compute.osuser import resolve
from lampion.compute.process import ProcessBackend
from lampion.storage.local import LocalStorage
from lampion.storage.templates import Templates


class MetadataServer:
    def __init__(self, workdir: Path, templates_dir: Path, port: int):
        user = resolve(None)
        self._install = discover(None, user)[0]
        self._storage = LocalStorage(
            workdir / "branches", Templates(templates_dir, user), user, reflink=False
        )
        self._backend = ProcessBackend(workdir / "computes", user, "127.0.0.1", 30)
        self._port = port
        self._spec: ComputeSpec | None = None

    async def _started(self) -> ComputeSpec:
        if self._spec is None:
            name = f"metadata-{os.getpid()}"
            data_dir = await self._storage.create_root(name, self._install)
            spec = ComputeSpec(name, data_dir, self._port, self._install)
            await self._backend.start(spec)
            self._spec = spec
        return self._spec

    async def create_database(self, name: str) -> str:
        spec = await self._started()
        socket_dir = self._backend.admin_target(spec).host
        connection = await asyncpg.connect(
            host=socket_dir, port=self._port, user="cloud_admin", database="postgres"
        )
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return f"postgresql+asyncpg://cloud_admin@/{name}?host={socket_dir}&port={self._port}"

    async def stop(self) -> None:
        """Stops the server (as an operator would), keeping its data for :meth:`start`."""
        await self._backend.stop(await self._started())

    async def start(self) -> None:
        await self._backend.start(await self._started())

    async def close(self) -> None:
        if self._spec is not None:
            await self._backend.destroy(self._spec)
