"""Failures leave nothing behind; a restarted control plane restarts dead computes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from lampion.config import Settings
from lampion.runtime import Runtime
from lampion.states import BranchState, ProjectState
from lampion.storage.templates import Templates
from tests.support.apps import client_for, make_settings, running_app
from tests.support.faults import failing_storage
from tests.support.orgs import make_key
from tests.support.pg import fetchval

pytestmark = pytest.mark.compute


async def _broken_templates(root: Path, runtime: Runtime) -> Path:
    """Real templates whose postgresql.conf postgres rejects at start."""
    templates = Templates(root, runtime.user)
    for install in runtime.installs:
        path = await templates.ensure(install)
        with (path / "postgresql.conf").open("a") as conf:
            conf.write("\nshared_buffers = 'not-a-size'\n")
    return root


async def test_failed_provisioning_is_undone(settings: Settings, runtime: Runtime) -> None:
    base = settings.data_dir.parent / "data-broken"
    broken = make_settings(
        base,
        await _broken_templates(base / "templates", runtime),
        database_url=None,
        compute_start_timeout=10,
    )
    async with running_app(broken) as app:
        rt: Runtime = app.state.runtime
        key = await make_key(rt.sessions, "org-broken")
        async with client_for(app, key) as client:
            response = await client.post("/v1/projects", json={"name": "doomed"})
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "service_unavailable"
            assert "shared_buffers" not in response.text
            assert (await client.get("/v1/projects")).json() == []
        assert list(broken.branches_dir.iterdir()) == []
        assert await rt.compute.running_endpoints() == {}
        assert not [
            p
            for p in psutil.process_iter(["cmdline"])
            if str(base) in " ".join(p.info["cmdline"] or [])
        ]


async def test_rows_stay_until_the_data_is_removed(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    project = (await api.post("/v1/projects", json={"name": "sticky"})).json()
    url = f"/v1/projects/{project['id']}"
    with failing_storage(runtime, delete=OSError("Device or resource busy")) as storage:
        failed = await api.delete(url)
    assert storage.failed == ["delete"]
    assert failed.status_code == 500, failed.text
    assert (await api.get(url)).status_code == 200  # its rows tell what is left to remove
    assert runtime.storage.path(project["branch_id"]).exists()
    assert (await api.delete(url)).status_code == 204
    assert (await api.get(url)).status_code == 404
    assert not runtime.storage.path(project["branch_id"]).exists()


async def test_restart_brings_back_a_killed_compute(
    settings: Settings, templates_dir: Path
) -> None:
    own = make_settings(settings.data_dir.parent / "data-restart", templates_dir, database_url=None)
    async with running_app(own) as app:
        rt: Runtime = app.state.runtime
        key = await make_key(rt.sessions, "org-restart")
        async with client_for(app, key) as client:
            project = (await client.post("/v1/projects", json={"name": "survivor"})).json()
        dsn = project["connection_string"]
        await fetchval(dsn, "CREATE TABLE kept AS SELECT 42 AS answer")
        pid = (await rt.compute.running_endpoints())[project["endpoint_id"]]
    # The control plane is down; its compute keeps running, until it is killed.
    assert psutil.pid_exists(pid)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline
        time.sleep(0.05)

    async with running_app(own) as app:
        rt = app.state.runtime
        assert project["endpoint_id"] in await rt.compute.running_endpoints()
        assert await fetchval(dsn, "SELECT answer FROM kept") == 42
        async with client_for(app, key) as client:
            assert (await client.delete(f"/v1/projects/{project['id']}")).status_code == 204


async def test_restart_finishes_an_interrupted_create(
    settings: Settings, templates_dir: Path
) -> None:
    """A crash between writing rows and finishing provisioning leaves nothing after restart."""
    own = make_settings(settings.data_dir.parent / "data-crash", templates_dir, database_url=None)
    async with running_app(own) as app:
        rt: Runtime = app.state.runtime
        key = await make_key(rt.sessions, "org-crash")
        async with client_for(app, key) as client:
            project = (await client.post("/v1/projects", json={"name": "half"})).json()
        from lampion.store.models import Project

        async with rt.sessions() as session, session.begin():
            row = await session.get(Project, project["id"])
            assert row is not None
            row.state = ProjectState.PROVISIONING  # as if the process died before marking it ready
    async with running_app(own) as app:
        rt = app.state.runtime
        async with client_for(app, key) as client:
            assert (await client.get(f"/v1/projects/{project['id']}")).status_code == 404
        assert await rt.compute.running_endpoints() == {}
        assert not rt.storage.path(project["branch_id"]).exists()


async def test_concurrent_creates_get_distinct_ports(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    import asyncio

    responses = await asyncio.gather(
        *(api.post("/v1/projects", json={"name": f"c{i}"}) for i in range(4))
    )
    projects = [r.json() for r in responses]
    try:
        assert [r.status_code for r in responses] == [201] * 4
        assert len({p["pg_port"] for p in projects}) == 4
        for project in projects:
            assert await fetchval(project["connection_string"], "SELECT 1") == 1
    finally:
        for project in projects:
            if "id" in project:
                await api.delete(f"/v1/projects/{project['id']}")


async def test_running_intervals_are_recorded(api: httpx.AsyncClient, runtime: Runtime) -> None:
    from sqlalchemy import select

    from lampion.store.models import RunningInterval

    project = (await api.post("/v1/projects", json={"name": "metered"})).json()
    endpoint = f"/v1/projects/{project['id']}/endpoints/{project['endpoint_id']}"
    await api.post(f"{endpoint}/suspend")
    await api.post(f"{endpoint}/resume")
    await api.patch(endpoint, json={"compute_units": 2})
    await api.delete(f"/v1/projects/{project['id']}")
    async with runtime.sessions() as session:
        intervals = (
            await session.scalars(
                select(RunningInterval)
                .where(RunningInterval.endpoint_id == project["endpoint_id"])
                .order_by(RunningInterval.started_at, RunningInterval.id)
            )
        ).all()
    assert [i.compute_units for i in intervals] == [1, 1, 2]
    assert all(i.ended_at is not None and i.ended_at >= i.started_at for i in intervals)
    assert intervals[0].ended_at is not None
    assert intervals[1].started_at >= intervals[0].ended_at  # suspended time is not counted


async def test_restart_removes_a_half_created_branch(
    settings: Settings, templates_dir: Path
) -> None:
    own = make_settings(settings.data_dir.parent / "data-halfbranch", templates_dir)
    async with running_app(own) as app:
        rt: Runtime = app.state.runtime
        key = await make_key(rt.sessions, "org-halfbranch")
        async with client_for(app, key) as client:
            project = (await client.post("/v1/projects", json={"name": "p"})).json()
            branch = (
                await client.post(f"/v1/projects/{project['id']}/branches", json={"name": "b"})
            ).json()
        from lampion.store.models import Branch

        async with rt.sessions() as session, session.begin():
            row = await session.get(Branch, branch["id"])
            assert row is not None
            row.state = BranchState.PROVISIONING  # as if the process died mid-create
    async with running_app(own) as app:
        rt = app.state.runtime
        assert branch["compute_id"] not in await rt.compute.running_endpoints()
        assert not rt.storage.path(branch["id"]).exists()
        async with client_for(app, key) as client:
            names = [
                b["name"]
                for b in (await client.get(f"/v1/projects/{project['id']}/branches")).json()
            ]
            assert names == ["main"]
            assert await fetchval(project["connection_string"], "SELECT 1") == 1
            await client.delete(f"/v1/projects/{project['id']}")
