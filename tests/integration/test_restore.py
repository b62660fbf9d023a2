"""Restore and reset replace a branch's data in place: same endpoint, same connection string;
the old data is never lost before the new runs, whatever fails or crashes.

Runs on the default filesystem (copy driver) and on XFS (reflink driver)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from lampion.runtime import Runtime
from lampion.services import computes, provisioning
from lampion.states import BranchState
from lampion.store.models import Branch, Endpoint, Event, Project
from lampion.workers.reconciler import Reconciler
from tests.support.faults import FaultyCompute
from tests.support.pg import apsql, connect, fetchval
from tests.support.waiting import reconcile

pytestmark = pytest.mark.compute


@pytest.fixture
async def project(branching_client: httpx.AsyncClient) -> AsyncIterator[dict[str, Any]]:
    response = await branching_client.post("/v1/projects", json={"name": "restorable"})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    await fetchval(created["connection_string"], "CREATE TABLE items (id int PRIMARY KEY)")
    await fetchval(created["connection_string"], "INSERT INTO items VALUES (1), (2) RETURNING 1")
    yield created
    await branching_client.delete(f"/v1/projects/{created['id']}")


async def _rows(dsn: str) -> list[int]:
    connection = await connect(dsn)
    try:
        return [r[0] for r in await connection.fetch("SELECT id FROM items ORDER BY id")]
    finally:
        await connection.close()


async def _branch(client: httpx.AsyncClient, project: dict[str, Any], name: str) -> dict[str, Any]:
    response = await client.post(f"/v1/projects/{project['id']}/branches", json={"name": name})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _endpoint(client: httpx.AsyncClient, project: dict[str, Any], eid: str) -> Any:
    return (await client.get(f"/v1/projects/{project['id']}/endpoints/{eid}")).json()


def _leftovers(rt: Runtime, branch_id: str) -> list[str]:
    return [s for s in (".new", ".old") if rt.storage.path(branch_id + s).exists()]


async def _events(rt: Runtime, type_: str) -> list[str]:
    async with rt.sessions() as session:
        rows = (await session.scalars(select(Event).where(Event.type == type_))).all()
        return [str(row.payload) for row in rows]


async def test_reset_to_parent_keeps_the_connection_string(
    branching_client: httpx.AsyncClient, project: dict[str, Any], branching_app: FastAPI
) -> None:
    rt: Runtime = branching_app.state.runtime
    base = f"/v1/projects/{project['id']}/branches"
    dev = await _branch(branching_client, project, "dev")
    dsn = dev["connection_string"]
    await fetchval(dsn, "INSERT INTO items VALUES (100) RETURNING 1")
    await fetchval(project["connection_string"], "INSERT INTO items VALUES (3) RETURNING 1")
    before = await _endpoint(branching_client, project, dev["compute_id"])

    reset = await branching_client.post(f"{base}/{dev['id']}/reset_to_parent")
    assert reset.status_code == 200, reset.text
    assert reset.json()["id"] == dev["id"]
    assert reset.json()["state"] == "ready"
    assert reset.json()["endpoint_id"] == dev["compute_id"]
    assert await _rows(dsn) == [1, 2, 3]  # the same connection string, the parent's rows
    result = await apsql(dsn, "SELECT count(*) FROM items")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3"
    after = await _endpoint(branching_client, project, dev["compute_id"])
    assert (after["pg_port"], after["status"]) == (before["pg_port"], "running")
    assert await _rows(project["connection_string"]) == [1, 2, 3]
    assert _leftovers(rt, dev["id"]) == []
    assert any(dev["id"] in e for e in await _events(rt, "branch.reset"))

    # A suspended compute stays suspended; the next connection wakes it on the new data.
    suspended = await branching_client.post(
        f"/v1/projects/{project['id']}/endpoints/{dev['compute_id']}/suspend"
    )
    assert suspended.status_code == 200, suspended.text
    await fetchval(project["connection_string"], "INSERT INTO items VALUES (4) RETURNING 1")
    reset = await branching_client.post(f"{base}/dev/reset_to_parent")
    assert reset.status_code == 200, reset.text
    assert (await _endpoint(branching_client, project, dev["compute_id"]))["status"] == "suspended"
    assert await _rows(dsn) == [1, 2, 3, 4]

    primary = await branching_client.post(f"{base}/main/reset_to_parent")
    assert primary.status_code == 409, primary.text


async def test_restore_from_another_branch_preserving_the_old_state(
    branching_client: httpx.AsyncClient, project: dict[str, Any], branching_app: FastAPI
) -> None:
    rt: Runtime = branching_app.state.runtime
    base = f"/v1/projects/{project['id']}/branches"
    target = await _branch(branching_client, project, "target")
    other = await _branch(branching_client, project, "other")
    await fetchval(target["connection_string"], "INSERT INTO items VALUES (10) RETURNING 1")
    await fetchval(other["connection_string"], "INSERT INTO items VALUES (20) RETURNING 1")

    restored = await branching_client.post(
        f"{base}/target/restore",
        json={"source_branch_id": other["id"], "preserve_under_name": "target-before"},
    )
    assert restored.status_code == 200, restored.text
    assert await _rows(target["connection_string"]) == [1, 2, 20]
    assert await _rows(other["connection_string"]) == [1, 2, 20]

    kept = (await branching_client.get(f"{base}/target-before")).json()
    assert kept["parent_id"] == target["id"]
    assert kept["state"] == "ready"
    kept_endpoint = await _endpoint(branching_client, project, kept["endpoint_id"])
    assert kept_endpoint["status"] == "running"
    assert await _rows(kept_endpoint["connection_string"]) == [1, 2, 10]
    assert _leftovers(rt, target["id"]) == []
    assert any(other["id"] in e for e in await _events(rt, "branch.restored"))

    again = await branching_client.post(
        f"{base}/target/restore",
        json={"source_branch_id": "main", "preserve_under_name": "target-before"},
    )
    assert again.status_code == 409, again.text  # the name is taken
    for body, field in (
        ({}, "source_branch_id"),
        ({"source_branch_id": "target"}, "source_branch_id"),
        ({"source_branch_id": "br-nope"}, "source_branch_id"),
        ({"source_timestamp": "2026-01-01T00:00:00Z"}, "source_timestamp"),
        ({"source_lsn": "0/1"}, "source_lsn"),  # before the branch's history began
    ):
        refused = await branching_client.post(f"{base}/target/restore", json=body)
        assert refused.status_code == 400, (body, refused.text)
        assert field in str(refused.json()["error"]["details"]), refused.text
    assert await _rows(target["connection_string"]) == [1, 2, 20]


async def test_protected_branches_refuse(
    branching_client: httpx.AsyncClient, project: dict[str, Any], branching_app: FastAPI
) -> None:
    rt: Runtime = branching_app.state.runtime
    base = f"/v1/projects/{project['id']}/branches"
    dev = await _branch(branching_client, project, "dev")
    async with rt.sessions() as session, session.begin():
        row = await session.get(Branch, dev["id"])
        assert row is not None
        row.protected = True
    reset = await branching_client.post(f"{base}/dev/reset_to_parent")
    restore = await branching_client.post(f"{base}/dev/restore", json={"source_branch_id": "main"})
    for refused in (reset, restore):
        assert refused.status_code == 409, refused.text
        assert "protected" in refused.json()["error"]["message"]


class _FirstStartFails(FaultyCompute):
    """Fails the next ``start`` only: the new data's, not the old data's restart."""

    def __getattr__(self, name: str) -> Any:
        operation = super().__getattr__(name)
        if name != "start":
            return operation

        async def once(*args: object, **kwargs: object) -> Any:
            self.fail_on.pop("start", None)
            return await operation(*args, **kwargs)

        return once


async def test_a_failed_start_on_the_new_data_keeps_the_old(
    branching_client: httpx.AsyncClient, project: dict[str, Any], branching_app: FastAPI
) -> None:
    rt: Runtime = branching_app.state.runtime
    dev = await _branch(branching_client, project, "dev")
    await fetchval(dev["connection_string"], "INSERT INTO items VALUES (100) RETURNING 1")
    real = rt.compute
    faulty = _FirstStartFails(real, {"start": RuntimeError("postgres exited with code 1")})
    rt.compute = faulty
    try:
        response = await branching_client.post(
            f"/v1/projects/{project['id']}/branches/dev/reset_to_parent"
        )
    finally:
        rt.compute = real
    assert faulty.failed == ["start"]
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "service_unavailable"
    assert "Retry-After" in response.headers
    assert "code 1" not in response.text
    assert await _rows(dev["connection_string"]) == [1, 2, 100]
    branch = (await branching_client.get(f"/v1/projects/{project['id']}/branches/dev")).json()
    assert branch["state"] == "ready"
    assert _leftovers(rt, dev["id"]) == []


async def test_concurrent_operations_on_a_restoring_branch_conflict(
    branching_client: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    base = f"/v1/projects/{project['id']}/branches"
    dev = await _branch(branching_client, project, "dev")
    first, second = await asyncio.gather(
        branching_client.post(f"{base}/dev/reset_to_parent"),
        branching_client.post(f"{base}/dev/restore", json={"source_branch_id": "main"}),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409], (first, second)
    assert await _rows(dev["connection_string"]) == [1, 2]


async def _interrupt(rt: Runtime, dev: dict[str, Any], parent_id: str, step: str) -> None:
    """Leaves the disk as a restore killed after ``step`` would, the branch ``restoring``."""
    async with rt.sessions() as session, session.begin():
        row = await session.get(Branch, dev["id"])
        assert row is not None
        row.state = BranchState.RESTORING
        endpoints = {
            e.branch_id: e
            for e in (await session.scalars(select(Endpoint))).all()
            if e.branch_id in (dev["id"], parent_id)
        }
        project = await session.get(Project, row.project_id)
        assert project is not None
    spec = computes.spec_for(rt, endpoints[dev["id"]], project.pg_version)
    parent_spec = computes.spec_for(rt, endpoints[parent_id], project.pg_version)
    name = await rt.storage.prepare_replacement(dev["id"])
    await provisioning.clone_data(rt, parent_spec, parent_id, name)
    if step == "cloned":
        return
    await computes.stop(rt, spec)
    if step == "half_swapped":
        rt.storage.path(dev["id"]).rename(rt.storage.path(dev["id"] + ".old"))
        return
    await rt.storage.swap(dev["id"])
    await provisioning.start(rt, spec, dev["pg_password"])  # the new data runs
    if step == "swapped":
        return
    await rt.storage.drop_replaced(dev["id"])  # "let_go": the old data is gone


@pytest.mark.parametrize(
    ("step", "expected"),
    [("cloned", "old"), ("half_swapped", "old"), ("swapped", "old"), ("let_go", "new")],
)
async def test_an_interrupted_restore_ends_in_the_old_or_the_new_state(
    branching_client: httpx.AsyncClient,
    project: dict[str, Any],
    branching_app: FastAPI,
    step: str,
    expected: str,
) -> None:
    rt: Runtime = branching_app.state.runtime
    dev = await _branch(branching_client, project, "dev")
    await fetchval(dev["connection_string"], "INSERT INTO items VALUES (100) RETURNING 1")
    await fetchval(project["connection_string"], "INSERT INTO items VALUES (3) RETURNING 1")
    async with rt.locks.exclusive(dev["id"], "test"):  # the background reconciler waits
        await _interrupt(rt, dev, project["branch_id"], step)

    await reconcile(Reconciler(rt), startup=True)

    branch = (await branching_client.get(f"/v1/projects/{project['id']}/branches/dev")).json()
    assert branch["state"] == "ready"
    assert _leftovers(rt, dev["id"]) == []
    assert await _rows(dev["connection_string"]) == (
        [1, 2, 100] if expected == "old" else [1, 2, 3]
    )


async def test_leftovers_of_a_ready_branch_go_and_its_data_stays(
    branching_client: httpx.AsyncClient, project: dict[str, Any], branching_app: FastAPI
) -> None:
    """``<branch>.new`` and ``<branch>.old`` are kept while a restore of the branch is in
    flight; once none is (a crash after the restore was recorded), nothing owns them."""
    rt: Runtime = branching_app.state.runtime
    dev = await _branch(branching_client, project, "dev")
    await fetchval(dev["connection_string"], "INSERT INTO items VALUES (100) RETURNING 1")
    async with rt.locks.exclusive(dev["id"], "test"):
        name = await rt.storage.prepare_replacement(dev["id"])
        await rt.storage.clone_stopped(project["branch_id"], name)  # a copy: any content does
        rt.storage.path(name).rename(rt.storage.path(dev["id"] + ".old"))
        await rt.storage.prepare_replacement(dev["id"])
        await rt.storage.clone_stopped(project["branch_id"], name)
        await reconcile(Reconciler(rt), startup=True)  # as if a restore were still in flight
        assert sorted(_leftovers(rt, dev["id"])) == [".new", ".old"]

    await reconcile(Reconciler(rt), startup=True)

    assert _leftovers(rt, dev["id"]) == []
    assert await _rows(dev["connection_string"]) == [1, 2, 100]
