"""Heavy storage work runs in child processes and takes its turn in a queue, while the API
keeps answering. The copies are paused (SIGSTOP) at will, so what is asserted is who runs,
who waits and what comes out, never how long anything took."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from fastapi import FastAPI

from lampion.runtime import Runtime
from lampion.storage.queued import QueuedStorage
from tests.support.apps import client_for, make_settings, new_store_url, running_app
from tests.support.metadata_pg import MetadataServer
from tests.support.orgs import make_key
from tests.support.pg import fetchval
from tests.support.waiting import eventually

pytestmark = pytest.mark.compute


@pytest.fixture(scope="module")
async def queue_app(
    store_kind: str, workdir: Path, templates_dir: Path, metadata_pg: MetadataServer
) -> AsyncIterator[FastAPI]:
    """A control plane on the default filesystem (copy driver) with one storage operation at
    a time."""
    settings = make_settings(
        workdir / f"data-queue-{store_kind}",
        templates_dir,
        database_url=await new_store_url(store_kind, workdir, metadata_pg),
        storage_driver="copy",
        storage_concurrency=1,
    )
    async with running_app(settings) as app:
        yield app


@pytest.fixture
async def client(queue_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    key = await make_key(queue_app.state.runtime.sessions, "org-queue")
    async with client_for(queue_app, key) as http:
        yield http


@pytest.fixture
async def parent(client: httpx.AsyncClient) -> AsyncIterator[dict[str, Any]]:
    response = await client.post("/v1/projects", json={"name": "queued"})
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()
    await fetchval(
        project["connection_string"],
        "CREATE TABLE kept AS SELECT 42 AS answer, repeat('x', 200) AS filler "
        "FROM generate_series(1, 50000)",
    )
    yield project
    await client.delete(f"/v1/projects/{project['id']}")


def queued_storage(app: FastAPI) -> QueuedStorage:
    rt: Runtime = app.state.runtime
    assert isinstance(rt.storage, QueuedStorage)
    return rt.storage


def copiers() -> list[psutil.Process]:
    """The copy processes this control plane started."""
    return [
        child
        for child in psutil.Process().children(recursive=True)
        if "lampion.storage.copy_worker" in " ".join(_cmdline(child))
    ]


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


@contextmanager
def resumed_at_exit(processes: list[psutil.Process]) -> Iterator[None]:
    try:
        yield
    finally:
        for process in processes:
            if psutil.pid_exists(process.pid):
                os.kill(process.pid, signal.SIGCONT)


async def paused_copier() -> psutil.Process:
    """Waits for a copy process to start, then stops it where it is (polled often: a small
    copy is over quickly)."""
    deadline = time.monotonic() + 30
    while not (running := copiers()):
        assert time.monotonic() < deadline, "no copy ran in a child process"
        await asyncio.sleep(0.002)
    os.kill(running[0].pid, signal.SIGSTOP)
    return running[0]


async def test_the_api_answers_while_a_copy_runs(
    client: httpx.AsyncClient, parent: dict[str, Any]
) -> None:
    create = asyncio.create_task(
        client.post(f"/v1/projects/{parent['id']}/branches", json={"name": "slow"})
    )
    copier = await paused_copier()
    with resumed_at_exit([copier]):
        for path in (
            f"/v1/projects/{parent['id']}",
            f"/v1/projects/{parent['id']}/branches",
            f"/v1/projects/{parent['id']}/endpoints/{parent['endpoint_id']}",
        ):
            response = await client.get(path)
            assert response.status_code == 200, response.text
        assert not create.done()
        assert copier.status() == psutil.STATUS_STOPPED
    created = await create
    assert created.status_code == 201, created.text
    assert await fetchval(created.json()["connection_string"], "SELECT min(answer) FROM kept") == 42


async def test_clones_wait_their_turn_and_both_succeed(
    client: httpx.AsyncClient, parent: dict[str, Any], queue_app: FastAPI
) -> None:
    storage = queued_storage(queue_app)
    url = f"/v1/projects/{parent['id']}/branches"
    first = asyncio.create_task(client.post(url, json={"name": "first"}))
    copier = await paused_copier()
    with resumed_at_exit([copier]):
        second = asyncio.create_task(client.post(url, json={"name": "second"}))

        async def queued() -> bool:
            return storage.queue.waiting == 1

        await eventually(queued, 30, "the second clone to queue behind the first")
        assert storage.queue.running == 1
        assert copiers() == [copier]  # the second copy has not started
    results = await asyncio.gather(first, second)
    for response in results:
        assert response.status_code == 201, response.text
        dsn = response.json()["connection_string"]
        assert await fetchval(dsn, "SELECT min(answer) FROM kept") == 42
    assert (storage.queue.running, storage.queue.waiting) == (0, 0)
    listed = await client.get(url)
    assert {b["name"] for b in listed.json()} >= {"first", "second"}
    exposed = (await client.get("/metrics")).text
    assert 'lampion_storage_queue_wait_seconds_count{operation="clone_running"}' in exposed
    assert "lampion_storage_queue_waiting 0.0" in exposed


async def test_a_cancelled_copy_leaves_no_data_dir_and_no_process(
    client: httpx.AsyncClient, parent: dict[str, Any], queue_app: FastAPI
) -> None:
    storage = queued_storage(queue_app)
    before = await storage.branch_ids()
    create = asyncio.create_task(
        client.post(f"/v1/projects/{parent['id']}/branches", json={"name": "dropped"})
    )
    copier = await paused_copier()
    with resumed_at_exit([copier]):
        create.cancel()
        with pytest.raises(asyncio.CancelledError):
            await create
    assert not psutil.pid_exists(copier.pid) or copier.status() == psutil.STATUS_ZOMBIE
    assert await storage.branch_ids() == before
    assert (storage.queue.running, storage.queue.waiting) == (0, 0)
