"""Schema diff against a point of the base's history: a throwaway compute recovered to the
point is dumped, then removed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from lampion.compute.layout import wal_archive_dir
from lampion.runtime import Runtime
from lampion.services import point_compute
from lampion.services.point_compute import NAME_PREFIX, temporary_name
from lampion.storage.history import RecoveryTarget
from lampion.workers.reconciler import Reconciler
from tests.integration import test_docker_backend as docker_backend
from tests.support.pg import connect
from tests.support.waiting import reconcile

pytestmark = pytest.mark.compute


@pytest.fixture
async def project(branching_client: httpx.AsyncClient) -> AsyncIterator[dict[str, Any]]:
    response = await branching_client.post("/v1/projects", json={"name": "diff-at-point"})
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    yield made
    await branching_client.delete(f"/v1/projects/{made['id']}")


async def test_compare_with_the_base_as_it_was_shows_a_column_added_since(
    branching_client: httpx.AsyncClient, branching_app: FastAPI, project: dict[str, Any]
) -> None:
    """On the copy and the reflink driver."""
    api, runtime = branching_client, branching_app.state.runtime
    connection = await connect(str(project["connection_string"]))
    try:
        await connection.execute("CREATE TABLE items (id int)")
        t1 = await connection.fetchrow(
            "SELECT clock_timestamp() AS time, pg_current_wal_lsn()::text AS lsn"
        )
        await asyncio.sleep(0.05)
        await connection.execute("ALTER TABLE items ADD COLUMN extra integer")
    finally:
        await connection.close()
    url = f"/v1/projects/{project['id']}/branches/main/compare_schema"

    for point in ({"base_timestamp": t1["time"].isoformat()}, {"base_lsn": t1["lsn"]}):
        response = await api.get(url, params={"base_branch_id": "main", **point})
        assert response.status_code == 200, response.text
        diff = response.json()["diff"]
        assert diff.startswith("--- a/main\n+++ b/main\n"), diff
        changed = [line for line in diff.splitlines() if line[:1] in "+-"][2:]
        assert "+    extra integer" in changed, diff
        assert not [line for line in changed if "items" in line], diff  # the table was there

    now = await api.get(url, params={"base_branch_id": "main"})
    assert now.json() == {"diff": ""}

    both = await api.get(
        url,
        params={
            "base_branch_id": "main",
            "base_timestamp": t1["time"].isoformat(),
            "base_lsn": t1["lsn"],
        },
    )
    assert both.status_code == 400, both.text
    assert both.json()["error"]["details"]["field"] == "base_lsn"
    too_early = await api.get(
        url,
        params={
            "base_branch_id": "main",
            "base_timestamp": (t1["time"] - timedelta(days=3)).isoformat(),
        },
    )
    assert too_early.status_code == 400, too_early.text
    details = too_early.json()["error"]["details"]
    assert details["field"] == "base_timestamp"
    assert details["earliest"]
    assert details["latest"]

    gone_then = await api.get(
        url,
        params={"base_branch_id": "main", "base_lsn": t1["lsn"], "database": "later"},
    )
    assert gone_then.status_code == 404, gone_then.text

    started = asyncio.Event()

    async def read_until_cancelled() -> None:
        install = runtime.install_for(project["pg_version"])
        point = RecoveryTarget(lsn=t1["lsn"].upper())
        async with point_compute.at_point(runtime, project["branch_id"], install, point):
            started.set()
            await asyncio.sleep(60)

    reading = asyncio.create_task(read_until_cancelled())
    await asyncio.wait_for(started.wait(), 60)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading

    for segment in wal_archive_dir(runtime.storage.path(project["branch_id"])).iterdir():
        if not segment.name.endswith(".history"):
            segment.unlink()  # WAL lost: the point cannot be reached
    lost = await api.get(url, params={"base_branch_id": "main", "base_lsn": t1["lsn"]})
    assert lost.status_code == 503, lost.text
    assert "could not be recovered to that point" in lost.json()["error"]["message"]
    assert lost.headers["Retry-After"]

    leftovers = {n for n in await runtime.storage.branch_ids() if n.startswith(NAME_PREFIX)}
    running = {n for n in await runtime.compute.running_endpoints() if n.startswith(NAME_PREFIX)}
    assert leftovers == set()
    assert running == set()


async def test_a_point_compute_left_by_a_dead_process_is_an_orphan_unless_in_use(
    runtime: Runtime,
) -> None:
    name = temporary_name()
    runtime.storage.path(name).mkdir()
    async with runtime.locks.exclusive(name, "a point compute"):
        await reconcile(Reconciler(runtime))
        assert runtime.storage.path(name).exists()
    await reconcile(Reconciler(runtime))
    assert not runtime.storage.path(name).exists()


@pytest.fixture(scope="module")
async def docker_client(workdir: Path, templates_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An app on the docker backend: a container sees only its own archive dir."""
    async with docker_backend.client_of_an_app(workdir, templates_dir, "docker-diff") as client:
        yield client


async def test_compare_at_a_point_on_the_docker_backend(docker_client: httpx.AsyncClient) -> None:
    created = await docker_client.post("/v1/projects", json={"name": "diff-at-point"})
    assert created.status_code == 201, created.text
    project = created.json()
    try:
        connection = await connect(project["connection_string"])
        try:
            await connection.execute("CREATE TABLE items (id int)")
            lsn = await connection.fetchval("SELECT pg_current_wal_lsn()::text")
            await connection.execute("ALTER TABLE items ADD COLUMN extra integer")
        finally:
            await connection.close()
        response = await docker_client.get(
            f"/v1/projects/{project['id']}/branches/main/compare_schema",
            params={"base_branch_id": "main", "base_lsn": lsn},
        )
        assert response.status_code == 200, response.text
        assert "+    extra integer" in response.json()["diff"].splitlines()
    finally:
        await docker_client.delete(f"/v1/projects/{project['id']}")
