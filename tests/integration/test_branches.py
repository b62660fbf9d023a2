"""Branches are real copy-on-write forks: same data at the moment of the call, then apart.

Runs on the default filesystem (copy driver) and on XFS (reflink driver)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import psutil
import pytest
from fastapi import FastAPI

from lampion.runtime import Runtime
from lampion.storage.base import StorageError
from tests.support.faults import failing_storage
from tests.support.pg import apsql, connect, direct_dsn, fetchval
from tests.support.waiting import eventually

pytestmark = pytest.mark.compute


@pytest.fixture
async def project(branching_client: httpx.AsyncClient) -> AsyncIterator[dict[str, Any]]:
    response = await branching_client.post("/v1/projects", json={"name": "branchy"})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    yield created
    await branching_client.delete(f"/v1/projects/{created['id']}")


async def _rows(dsn: str) -> list[int]:
    connection = await connect(dsn)
    try:
        return [r[0] for r in await connection.fetch("SELECT id FROM items ORDER BY id")]
    finally:
        await connection.close()


async def test_branch_of_running_parent_is_a_snapshot(
    branching_client: httpx.AsyncClient, project: dict[str, Any], branching_app: FastAPI
) -> None:
    parent_dsn = project["connection_string"]
    connection = await connect(parent_dsn)
    await connection.execute("CREATE TABLE items (id int PRIMARY KEY, payload text)")
    await connection.execute(
        "INSERT INTO items SELECT g, repeat('x', 100) FROM generate_series(1, 1000) g"
    )
    # An open transaction's writes are not committed at the moment of the call: not copied.
    await connection.execute("BEGIN; INSERT INTO items VALUES (5000, 'uncommitted')")

    response = await branching_client.post(
        f"/v1/projects/{project['id']}/branches", json={"name": "dev"}
    )
    assert response.status_code == 201, response.text
    branch = response.json()
    await connection.execute("ROLLBACK")
    assert {"id", "name", "compute_id", "pg_port", "connection_string", "parent_id"} <= set(branch)
    assert branch["parent_id"] == project["branch_id"]
    assert branch["compute_id"].startswith("ep-")
    assert branch["pg_port"] != project["port"]
    assert branch["is_primary"] is False

    child_dsn = branch["connection_string"]
    assert await _rows(child_dsn) == list(range(1, 1001))

    await connection.execute("INSERT INTO items VALUES (2001, 'parent after')")
    await connection.close()
    await fetchval(child_dsn, "INSERT INTO items VALUES (3001, 'child after') RETURNING id")
    assert 3001 not in await _rows(parent_dsn)
    assert 2001 not in await _rows(child_dsn)
    assert 2001 in await _rows(parent_dsn)
    assert 3001 in await _rows(child_dsn)

    result = await apsql(child_dsn, "SELECT count(*) FROM items")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1001"

    runtime: Runtime = branching_app.state.runtime
    log = runtime.compute.log_path(branch["compute_id"]).read_text()
    assert "redo done" in log or "consistent recovery state reached" in log


async def test_branch_of_suspended_parent(
    branching_client: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    await fetchval(project["connection_string"], "CREATE TABLE items AS SELECT 7 AS id")
    base = f"/v1/projects/{project['id']}"
    suspended = await branching_client.post(f"{base}/endpoints/{project['endpoint_id']}/suspend")
    assert suspended.json() == {"id": project["endpoint_id"], "status": "suspended"}
    branch = (await branching_client.post(f"{base}/branches", json={"name": "from-cold"})).json()
    assert await _rows(branch["connection_string"]) == [7]
    endpoints = {e["id"]: e for e in (await branching_client.get(f"{base}/endpoints")).json()}
    assert endpoints[project["endpoint_id"]]["status"] == "suspended"
    assert endpoints[branch["compute_id"]]["status"] == "running"


async def test_a_failed_clone_keeps_nothing(
    branching_client: httpx.AsyncClient, project: dict[str, Any], branching_app: FastAPI
) -> None:
    runtime: Runtime = branching_app.state.runtime
    base = f"/v1/projects/{project['id']}"
    before = (await branching_client.get(f"{base}/branches")).json()
    data_dirs = await runtime.storage.branch_ids()
    running = set(await runtime.compute.running_endpoints())
    broken = StorageError("Input/output error")  # a full disk is a 507: see test_faults.py
    with failing_storage(runtime, clone_running=broken, clone_stopped=broken) as storage:
        response = await branching_client.post(f"{base}/branches", json={"name": "doomed"})
    assert storage.failed == ["clone_running"]  # the parent runs
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "service_unavailable"
    assert "No space" not in response.text
    assert (await branching_client.get(f"{base}/branches")).json() == before
    assert await runtime.storage.branch_ids() == data_dirs
    assert set(await runtime.compute.running_endpoints()) == running
    assert await fetchval(project["connection_string"], "SELECT 1") == 1
    retried = await branching_client.post(
        f"{base}/branches", json={"name": "doomed"}
    )  # the name is free
    assert retried.status_code == 201, retried.text


async def test_list_get_and_parentage(
    branching_client: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    base = f"/v1/projects/{project['id']}/branches"
    listed = (await branching_client.get(base)).json()
    assert len(listed) == 1
    main = listed[0]
    assert main["name"] == "main"
    assert main["is_primary"] is True
    assert main["parent_id"] is None
    assert main["id"] == project["branch_id"]
    assert main["endpoint_id"] == project["endpoint_id"]

    child = (await branching_client.post(base, json={"name": "child", "parent_id": "main"})).json()
    grandchild = (
        await branching_client.post(base, json={"name": "grandchild", "parent_id": child["id"]})
    ).json()
    assert grandchild["parent_id"] == child["id"]
    assert (await branching_client.get(f"{base}/grandchild")).json()["id"] == grandchild["id"]
    names = [b["name"] for b in (await branching_client.get(base)).json()]
    assert names == ["main", "child", "grandchild"]

    duplicate = await branching_client.post(base, json={"name": "child"})
    assert duplicate.status_code == 409
    missing_parent = await branching_client.post(base, json={"name": "x", "parent_id": "br-nope"})
    assert missing_parent.status_code == 400
    assert missing_parent.json()["error"]["details"]["field"] == "parent_id"


async def test_delete_rules(
    branching_client: httpx.AsyncClient, project: dict[str, Any], branching_app: FastAPI
) -> None:
    runtime: Runtime = branching_app.state.runtime
    base = f"/v1/projects/{project['id']}/branches"
    child = (await branching_client.post(base, json={"name": "child"})).json()
    grandchild = (
        await branching_client.post(base, json={"name": "gc", "parent_id": child["id"]})
    ).json()

    primary = await branching_client.delete(f"{base}/{project['branch_id']}")
    assert primary.status_code == 409
    assert "primary" in primary.json()["error"]["message"]
    with_children = await branching_client.delete(f"{base}/{child['id']}")
    assert with_children.status_code == 409
    assert with_children.json()["error"]["details"]["children"] == ["gc"]

    pid = (await runtime.compute.running_endpoints())[grandchild["compute_id"]]
    assert (await branching_client.delete(f"{base}/{grandchild['id']}")).status_code == 204
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not runtime.storage.path(grandchild["id"]).exists()
    assert (await branching_client.get(f"{base}/{grandchild['id']}")).status_code == 404
    with pytest.raises(asyncpg.PostgresError, match="password authentication failed"):
        await fetchval(grandchild["connection_string"], "SELECT 1")  # as for any stranger
    with pytest.raises(OSError, match=r"Connect call failed|[Cc]onnection refused"):
        await fetchval(direct_dsn(grandchild["pg_password"], grandchild["pg_port"]), "SELECT 1")
    assert (await branching_client.delete(f"{base}/child")).status_code == 204
    assert [b["name"] for b in (await branching_client.get(base)).json()] == ["main"]


async def test_failed_branch_creation_leaves_nothing(
    branching_client: httpx.AsyncClient, project: dict[str, Any], branching_app: FastAPI
) -> None:
    """The clone carries a setting its new postgres refuses at start: the compute, the data
    dir and the rows are all undone, and the parent keeps running."""
    runtime: Runtime = branching_app.state.runtime
    dsn = project["connection_string"]
    await fetchval(dsn, "ALTER SYSTEM SET shared_preload_libraries = 'no_such_library'")
    base = f"/v1/projects/{project['id']}/branches"
    before = await runtime.storage.branch_ids()

    response = await branching_client.post(base, json={"name": "doomed"})
    assert response.status_code == 503, response.text
    assert [b["name"] for b in (await branching_client.get(base)).json()] == ["main"]
    assert await runtime.storage.branch_ids() == before
    assert set(await runtime.compute.running_endpoints()) >= {project["endpoint_id"]}
    assert await fetchval(dsn, "SELECT 1") == 1
    await fetchval(dsn, "ALTER SYSTEM RESET shared_preload_libraries")


async def test_concurrent_branch_creations(
    branching_client: httpx.AsyncClient, project: dict[str, Any], branching_app: FastAPI
) -> None:
    """Ten creations at once, and a delete of the project while they run: the delete is
    refused while any creation holds the project, or (if every creation finished before it
    got there) removes everything; never half of either."""
    runtime: Runtime = branching_app.state.runtime
    await fetchval(project["connection_string"], "CREATE TABLE items AS SELECT 1 AS id")
    base = f"/v1/projects/{project['id']}"
    creations = [
        asyncio.create_task(branching_client.post(f"{base}/branches", json={"name": f"pr-{i}"}))
        for i in range(10)
    ]

    async def all_rows_in() -> bool:
        return (
            len((await branching_client.get(f"{base}/branches", params={"limit": 100})).json())
            == 11
        )

    await eventually(all_rows_in, 30, "every branch creation to insert its row")
    deleting = await branching_client.delete(base)
    responses = await asyncio.gather(*creations)
    assert [r.status_code for r in responses] == [201] * 10, [
        r.text for r in responses if r.status_code != 201
    ]
    branches = [r.json() for r in responses]
    assert len({b["pg_port"] for b in branches}) == 10
    if deleting.status_code == 409:  # the project was busy: refused, nothing broken
        rows = await asyncio.gather(*(_rows(b["connection_string"]) for b in branches))
        assert rows == [[1]] * 10
    else:  # it came after the last creation: all of it is gone
        assert deleting.status_code == 204, deleting.text
        assert (await branching_client.get(base)).status_code == 404
        running = await runtime.compute.running_endpoints()
        assert not {b["compute_id"] for b in branches} & set(running)
        assert not any(runtime.storage.path(b["id"]).exists() for b in branches)
