"""Branches at a point of the parent's history: its base + archived WAL, recovered to the
point and promoted. Runs on the default filesystem (copy driver) and on XFS (reflink)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.integration import test_docker_backend as docker_backend
from tests.support.pg import connect

pytestmark = pytest.mark.compute


@pytest.fixture
async def timeline(branching_client: httpx.AsyncClient) -> AsyncIterator[dict[str, Any]]:
    made = await _write_timeline(branching_client)
    yield made
    await branching_client.delete(f"/v1/projects/{made['project']['id']}")


async def _write_timeline(client: httpx.AsyncClient) -> dict[str, Any]:
    """A project whose table got row 1 at t1, row 2 at t2, row 3 at t3 (each committed, each
    point recorded just after its commit)."""
    response = await client.post("/v1/projects", json={"name": "history"})
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()
    connection = await connect(project["connection_string"])
    try:
        await connection.execute("CREATE TABLE moments (id int PRIMARY KEY)")
        points = []
        for row in (1, 2, 3):
            await asyncio.sleep(0.05)
            await connection.execute("INSERT INTO moments VALUES ($1)", row)
            points.append(
                await connection.fetchrow(
                    "SELECT clock_timestamp() AS time, pg_current_wal_lsn()::text AS lsn"
                )
            )
            await asyncio.sleep(0.05)
    finally:
        await connection.close()
    return {"project": project, "points": points}


async def _ids(dsn: str) -> list[int]:
    connection = await connect(dsn)
    try:
        return [r[0] for r in await connection.fetch("SELECT id FROM moments ORDER BY id")]
    finally:
        await connection.close()


async def _branch(client: httpx.AsyncClient, project_id: str, **body: Any) -> httpx.Response:
    return await client.post(f"/v1/projects/{project_id}/branches", json=body)


async def test_a_branch_at_a_time_or_an_lsn_holds_exactly_that_state(
    branching_client: httpx.AsyncClient, branching_app: FastAPI, timeline: dict[str, Any]
) -> None:
    project, points = timeline["project"], timeline["points"]
    t2 = points[1]["time"].isoformat()
    by_time = await _branch(branching_client, project["id"], name="at-t2", parent_timestamp=t2)
    assert by_time.status_code == 201, by_time.text
    assert by_time.json()["parent_timestamp"] is not None
    assert by_time.json()["earliest_restore_time"] is not None
    assert await _ids(by_time.json()["connection_string"]) == [1, 2]

    by_lsn = await _branch(
        branching_client, project["id"], name="at-lsn2", parent_lsn=points[1]["lsn"]
    )
    assert by_lsn.status_code == 201, by_lsn.text
    assert by_lsn.json()["parent_lsn"] == points[1]["lsn"].upper()
    assert await _ids(by_lsn.json()["connection_string"]) == [1, 2]

    # The parent is untouched, and the point-in-time branch is an ordinary, writable branch.
    assert await _ids(project["connection_string"]) == [1, 2, 3]
    connection = await connect(by_time.json()["connection_string"])
    try:
        await connection.execute("INSERT INTO moments VALUES (20)")
        assert await connection.fetchval("SELECT pg_is_in_recovery()") is False
    finally:
        await connection.close()
    listed = await branching_client.get(f"/v1/projects/{project['id']}/branches/at-t2")
    assert listed.json()["parent_timestamp"] is not None

    # A branch of that branch, at a point of its own history (after its promotion).
    connection = await connect(by_time.json()["connection_string"])
    try:
        await connection.execute("INSERT INTO moments VALUES (21)")
        mark = await connection.fetchval("SELECT pg_current_wal_lsn()::text")
        await connection.execute("INSERT INTO moments VALUES (22)")
    finally:
        await connection.close()
    grandchild = await _branch(
        branching_client, project["id"], name="at-t2-later", parent_id="at-t2", parent_lsn=mark
    )
    assert grandchild.status_code == 201, grandchild.text
    assert await _ids(grandchild.json()["connection_string"]) == [1, 2, 20, 21]

    # Deleting a branch deletes its history; its parent's stays whole.
    history = branching_app.state.runtime.settings.data_dir / "history"
    gone = grandchild.json()["id"]
    assert (history / gone / "wal").is_dir()
    deleted = await branching_client.delete(f"/v1/projects/{project['id']}/branches/{gone}")
    assert deleted.status_code == 204, deleted.text
    assert not (history / gone).exists()
    assert (history / by_time.json()["id"] / "base" / "PG_VERSION").is_file()


async def test_points_outside_the_window_are_refused_with_the_window(
    branching_client: httpx.AsyncClient, timeline: dict[str, Any]
) -> None:
    project, points = timeline["project"], timeline["points"]
    future = (points[2]["time"] + timedelta(hours=1)).isoformat()
    past = (points[0]["time"] - timedelta(days=3)).isoformat()
    for body in (
        {"parent_timestamp": future},
        {"parent_timestamp": past},
        {"parent_lsn": "0/10"},
        {"parent_lsn": "FF/0"},
    ):
        response = await _branch(branching_client, project["id"], name="nowhere", **body)
        assert response.status_code == 400, response.text
        details = response.json()["error"]["details"]
        assert details["earliest"], details
        assert details["latest"], details
    both = await _branch(
        branching_client,
        project["id"],
        name="nowhere",
        parent_timestamp=points[1]["time"].isoformat(),
        parent_lsn=points[1]["lsn"],
    )
    assert both.status_code == 400
    listed = await branching_client.get(f"/v1/projects/{project['id']}/branches")
    assert [b["name"] for b in listed.json()] == ["main"]


@pytest.fixture(scope="module")
async def docker_client(workdir: Path, templates_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An app on the docker backend: computes archive from inside their containers."""
    async with docker_backend.client_of_an_app(workdir, templates_dir, "docker-history") as client:
        yield client


async def test_a_branch_at_a_point_on_the_docker_backend(
    docker_client: httpx.AsyncClient,
) -> None:
    made = await _write_timeline(docker_client)
    project, points = made["project"], made["points"]
    try:
        branch = await _branch(
            docker_client, project["id"], name="at-lsn2", parent_lsn=points[1]["lsn"]
        )
        assert branch.status_code == 201, branch.text
        assert await _ids(branch.json()["connection_string"]) == [1, 2]
    finally:
        await docker_client.delete(f"/v1/projects/{project['id']}")


async def test_a_reset_branch_keeps_a_history_of_its_new_data(
    branching_client: httpx.AsyncClient, timeline: dict[str, Any]
) -> None:
    """After a reset the branch's WAL belongs to the parent's lineage: it starts a history of
    its own (archiving goes on without clashing with the old WAL), and a point after the reset
    is its new data, not the old base replayed with another lineage's WAL."""
    project = timeline["project"]
    base = f"/v1/projects/{project['id']}/branches"
    child = (await _branch(branching_client, project["id"], name="ci")).json()
    diverge = await connect(child["connection_string"])
    try:  # the child's own WAL, of the same names the parent's will have
        await diverge.execute("INSERT INTO moments SELECT g FROM generate_series(100, 5000) g")
        await diverge.execute("SELECT pg_switch_wal()")
    finally:
        await diverge.close()
    parent = await connect(project["connection_string"])
    try:
        await parent.execute("INSERT INTO moments VALUES (4)")
    finally:
        await parent.close()

    reset = await branching_client.post(f"{base}/{child['id']}/reset_to_parent")
    assert reset.status_code == 200, reset.text
    connection = await connect(child["connection_string"])
    try:
        await connection.execute("INSERT INTO moments VALUES (5)")
        after = await connection.fetchval("SELECT pg_current_wal_lsn()::text")
        await connection.execute("SELECT pg_switch_wal()")
        archived = await connection.fetchrow(
            "SELECT failed_count, last_archived_wal FROM pg_stat_archiver"
        )
    finally:
        await connection.close()
    assert archived["failed_count"] == 0

    at_after = await _branch(
        branching_client, project["id"], name="after-reset", parent_id=child["id"], parent_lsn=after
    )
    assert at_after.status_code == 201, at_after.text
    assert await _ids(at_after.json()["connection_string"]) == [1, 2, 3, 4, 5]


async def test_restore_in_place_to_just_before_a_drop_table(
    branching_client: httpx.AsyncClient, timeline: dict[str, Any]
) -> None:
    """The headline: the table a migration dropped comes back on the same connection string,
    and the state after the drop stays reachable under another name."""
    project = timeline["project"]
    dsn = project["connection_string"]
    base = f"/v1/projects/{project['id']}/branches/{project['branch_id']}"
    connection = await connect(dsn)
    try:
        before = await connection.fetchrow(
            "SELECT clock_timestamp() AS time, pg_current_wal_lsn()::text AS lsn"
        )
        await asyncio.sleep(0.05)
        await connection.execute("DROP TABLE moments")
    finally:
        await connection.close()

    by_lsn = await branching_client.post(
        f"{base}/restore", json={"source_lsn": before["lsn"], "preserve_under_name": "dropped"}
    )
    assert by_lsn.status_code == 200, by_lsn.text
    assert await _ids(dsn) == [1, 2, 3]  # the same connection string, the table back
    listed = (await branching_client.get(f"/v1/projects/{project['id']}/branches")).json()
    dropped = next(b for b in listed if b["name"] == "dropped")
    endpoint = await branching_client.get(
        f"/v1/projects/{project['id']}/endpoints/{dropped['endpoint_id']}"
    )
    gone = await connect(endpoint.json()["connection_string"])
    try:
        assert await gone.fetchval("SELECT to_regclass('moments')") is None
    finally:
        await gone.close()

    writer = await connect(dsn)  # the restored branch goes on, and its history with it
    try:
        await writer.execute("INSERT INTO moments VALUES (4)")
        await asyncio.sleep(0.05)
        after_four = await writer.fetchval("SELECT clock_timestamp()")
        await asyncio.sleep(0.05)
        await writer.execute("INSERT INTO moments VALUES (5)")
    finally:
        await writer.close()
    by_time = await branching_client.post(
        f"{base}/restore", json={"source_timestamp": after_four.isoformat()}
    )
    assert by_time.status_code == 200, by_time.text
    assert await _ids(dsn) == [1, 2, 3, 4]
