"""Background workers on real computes: auto-suspend and the reconciler."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from lampion.runtime import Runtime
from tests.support.apps import client_for, make_settings, running_app
from tests.support.orgs import make_key
from tests.support.pg import connect, direct_dsn, fetchval
from tests.support.waiting import eventually

pytestmark = pytest.mark.compute


@pytest.fixture(scope="module")
async def worker_app(workdir: Path, templates_dir: Path) -> AsyncIterator[FastAPI]:
    settings = make_settings(
        workdir / "data-workers",
        templates_dir,
        autosuspend_interval=0.5,
        reconcile_interval=0.5,
    )
    async with running_app(settings) as app:
        yield app


@pytest.fixture
async def worker_client(worker_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    key = await make_key(worker_app.state.runtime.sessions, "org-workers")
    async with client_for(worker_app, key) as client:
        yield client


async def _status(client: httpx.AsyncClient, project: dict[str, Any]) -> str:
    url = f"/v1/projects/{project['id']}/endpoints/{project['endpoint_id']}"
    status: str = (await client.get(url)).json()["status"]
    return status


async def test_auto_suspend_waits_for_idle(worker_client: httpx.AsyncClient) -> None:
    project = (await worker_client.post("/v1/projects", json={"name": "sleepy"})).json()
    url = f"/v1/projects/{project['id']}/endpoints/{project['endpoint_id']}"
    assert (await worker_client.patch(url, json={"auto_suspend_seconds": 10})).status_code == 200

    held = await connect(project["connection_string"])
    await asyncio.sleep(12)  # longer than the timeout, but a client is connected
    assert await _status(worker_client, project) == "running"
    assert await held.fetchval("SELECT 1") == 1
    await held.close()
    released = time.monotonic()

    async def suspended() -> bool:
        return await _status(worker_client, project) == "suspended"

    await eventually(suspended, 20, "auto-suspend after the last client left")
    assert time.monotonic() - released >= 9  # not before the idle timeout
    with pytest.raises(OSError, match=r"Connect call failed|[Cc]onnection refused"):
        await fetchval(direct_dsn(project["pg_password"], project["pg_port"]), "SELECT 1")
    await worker_client.delete(f"/v1/projects/{project['id']}")


async def test_killed_compute_is_restarted(
    worker_client: httpx.AsyncClient, worker_app: FastAPI
) -> None:
    runtime: Runtime = worker_app.state.runtime
    project = (await worker_client.post("/v1/projects", json={"name": "phoenix"})).json()
    await fetchval(project["connection_string"], "CREATE TABLE t AS SELECT 1 AS x")
    pid = (await runtime.compute.running_endpoints())[project["endpoint_id"]]
    os.kill(pid, signal.SIGKILL)

    async def answers() -> bool:
        try:
            return bool(await fetchval(project["connection_string"], "SELECT x FROM t") == 1)
        except (OSError, Exception):
            return False

    await eventually(answers, 20, "the reconciler to restart the killed compute")
    new_pid = (await runtime.compute.running_endpoints())[project["endpoint_id"]]
    assert new_pid != pid
    assert await _status(worker_client, project) == "running"
    await worker_client.delete(f"/v1/projects/{project['id']}")


async def test_orphans_are_removed(worker_client: httpx.AsyncClient, worker_app: FastAPI) -> None:
    """A compute and a data dir that no row owns (left by a crash) are removed."""
    runtime: Runtime = worker_app.state.runtime
    project = (await worker_client.post("/v1/projects", json={"name": "orphaned"})).json()
    from lampion.store.models import Branch, Endpoint, Project

    async with runtime.sessions() as session, session.begin():  # the rows vanish, as if lost
        for model, key in ((Endpoint, "endpoint_id"), (Branch, "branch_id"), (Project, "id")):
            row = await session.get(model, project[key])
            await session.delete(row)
            await session.flush()

    async def gone() -> bool:
        running = await runtime.compute.running_endpoints()
        return (
            project["endpoint_id"] not in running
            and not runtime.storage.path(project["branch_id"]).exists()
        )

    await eventually(gone, 20, "orphan compute and data dir removal")


async def test_restart_keeps_desired_state(workdir: Path, templates_dir: Path) -> None:
    settings = make_settings(workdir / "data-desired", templates_dir)
    async with running_app(settings) as app:
        key = await make_key(app.state.runtime.sessions, "org-desired")
        async with client_for(app, key) as client:
            awake = (await client.post("/v1/projects", json={"name": "awake"})).json()
            asleep = (await client.post("/v1/projects", json={"name": "asleep"})).json()
            url = f"/v1/projects/{asleep['id']}/endpoints/{asleep['endpoint_id']}/suspend"
            assert (await client.post(url)).status_code == 200
    async with running_app(settings) as app:
        runtime: Runtime = app.state.runtime
        running = await runtime.compute.running_endpoints()
        assert awake["endpoint_id"] in running
        assert asleep["endpoint_id"] not in running
        async with client_for(app, key) as client:
            assert await _status(client, awake) == "running"
            assert await _status(client, asleep) == "suspended"
            assert await fetchval(awake["connection_string"], "SELECT 1") == 1
            for project in (awake, asleep):
                await client.delete(f"/v1/projects/{project['id']}")
