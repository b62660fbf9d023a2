"""The process backend on its own: it must never touch another server's processes."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from lampion.compute.base import ComputeSpec
from lampion.compute.installations import discover
from lampion.compute.osuser import resolve
from lampion.compute.process import ProcessBackend
from lampion.storage.local import LocalStorage
from lampion.storage.templates import Templates
from tests.support.apps import free_port

pytestmark = pytest.mark.compute


async def test_starting_a_compute_leaves_a_live_namesake_alone(
    workdir: Path, templates_dir: Path
) -> None:
    """Two control planes on one machine may hold the same endpoint id; starting one's
    compute used to kill the other's live backends as if they were orphans."""
    user = resolve(None)
    install = discover(None, user)[0]
    specs, backends = [], []
    for side in ("a", "b"):
        root = workdir / f"namesake-{side}"
        storage = LocalStorage(
            root / "branches", Templates(templates_dir, user), user, reflink=False
        )
        data_dir = await storage.create_root("br-same", install)
        specs.append(ComputeSpec("ep-namesake", data_dir, free_port(), install))
        backends.append(ProcessBackend(root / "computes", user, "127.0.0.1", 30))
    await backends[0].start(specs[0])
    try:
        target = backends[0].admin_target(specs[0])
        connection = await asyncpg.connect(
            host=target.host, port=target.port, user=target.user, database="postgres"
        )
        await backends[1].start(specs[1])
        assert await connection.fetchval("SELECT 1") == 1
        await connection.close()
    finally:
        for backend, spec in zip(backends, specs, strict=True):
            await backend.destroy(spec)
