"""Further base snapshots and pruning: a point is recovered from the newest base before it,
and what fell out of a branch's window goes while every point inside stays restorable.

Runs on the default filesystem (copy driver) and on XFS (reflink)."""

from __future__ import annotations

import asyncio
import shutil
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from lampion import clock
from lampion.runtime import Runtime
from lampion.services import branches, computes, history
from lampion.storage import wal
from lampion.storage.history import RecoveryTarget
from lampion.store.models import Project
from lampion.workers.history import HistoryWorker
from tests.support.pg import connect

pytestmark = pytest.mark.compute


async def _moment(dsn: str, row: int) -> Any:
    """Inserts ``row``; returns the time and LSN just after its commit."""
    connection = await connect(dsn)
    try:
        await asyncio.sleep(0.05)
        await connection.execute("CREATE TABLE IF NOT EXISTS moments (id int PRIMARY KEY)")
        await connection.execute("INSERT INTO moments VALUES ($1)", row)
        point = await connection.fetchrow(
            "SELECT clock_timestamp() AS time, pg_current_wal_lsn()::text AS lsn"
        )
        await asyncio.sleep(0.05)
        return point
    finally:
        await connection.close()


async def _ids(dsn: str) -> list[int]:
    connection = await connect(dsn)
    try:
        return [r[0] for r in await connection.fetch("SELECT id FROM moments ORDER BY id")]
    finally:
        await connection.close()


async def _history_pass(rt: Runtime, project_id: str) -> history.Tended:
    """The worker's pass, run by hand (retried while the app's own loop holds it)."""
    for _ in range(100):
        done = await HistoryWorker(rt).run_once(project_id)
        if done is not None:
            return done
        await asyncio.sleep(0.1)
    raise AssertionError("the history pass never ran")


async def _archive_newest(rt: Runtime, project_id: str, branch_id: str) -> None:
    async with rt.sessions() as session:
        project = await session.get(Project, project_id)
        endpoint = await branches.endpoint_of(session, branch_id)
        assert project is not None
        assert endpoint is not None
        spec = computes.spec_for(rt, endpoint, project.pg_version)
    await history.archive_newest(rt, spec, branch_id)


async def _retention(rt: Runtime, project_id: str) -> timedelta:
    async with rt.sessions() as session:
        project = await session.get(Project, project_id)
        assert project is not None
        return await history.retention(rt, session, project)


async def test_a_snapshot_shortens_replay_and_pruning_keeps_exactly_the_window(
    branching_client: httpx.AsyncClient,
    branching_app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rt: Runtime = branching_app.state.runtime
    response = await branching_client.post("/v1/projects", json={"name": "snapshots"})
    assert response.status_code == 201, response.text
    project = response.json()
    pid, dsn = project["id"], project["connection_string"]
    try:
        main = (await branching_client.get(f"/v1/projects/{pid}/branches/main")).json()
        records = history.of(rt)
        t1 = await _moment(dsn, 1)
        await _archive_newest(rt, pid, main["id"])  # row 1's segment complete and archived

        monkeypatch.setattr(rt.settings, "snapshot_wal_bytes", 1)
        assert (await _history_pass(rt, pid)).snapshots == 1
        monkeypatch.setattr(rt.settings, "snapshot_wal_bytes", 1024**3)
        first, snapshot = records.bases(main["id"])
        assert first.path == records.base_dir(main["id"])
        assert snapshot.time > t1["time"]
        t2 = await _moment(dsn, 2)
        # A point after the snapshot recovers from it; one before, from the first base.
        assert records.base_for(main["id"], RecoveryTarget(time=t2["time"])) == snapshot
        assert records.base_for(main["id"], RecoveryTarget(lsn=t1["lsn"].upper())) == first

        # Pruning, a retention later than the snapshot: the window starts between it and t2.
        window_start = snapshot.time + (t2["time"] - snapshot.time) / 2
        now = window_start + await _retention(rt, pid)
        monkeypatch.setattr(rt.settings, "snapshot_interval", 0)
        previous = clock.set_source(lambda: now)
        try:
            pruned = await _history_pass(rt, pid)
        finally:
            clock.set_source(previous)
        assert pruned.pruned_bases == 1, pruned
        assert pruned.pruned_segments >= 1, pruned
        assert records.bases(main["id"]) == [snapshot]
        assert not records.base_dir(main["id"]).exists()
        start = snapshot.start()
        for segment in records.wal_dir(main["id"]).iterdir():
            position = wal.segment_position(segment.name)
            assert position is None or position >= start, segment.name

        # The window now starts at the snapshot: t1 lies before it, t2 inside.
        listed = (await branching_client.get(f"/v1/projects/{pid}/branches/main")).json()
        earliest = datetime.fromisoformat(listed["earliest_restore_time"])
        assert t1["time"] < earliest <= t2["time"]
        for body in ({"parent_timestamp": t1["time"].isoformat()}, {"parent_lsn": t1["lsn"]}):
            refused = await branching_client.post(
                f"/v1/projects/{pid}/branches", json={"name": "too-old", **body}
            )
            assert refused.status_code == 400, refused.text
            assert refused.json()["error"]["details"]["earliest"]
        at_t2 = await branching_client.post(
            f"/v1/projects/{pid}/branches",
            json={"name": "at-t2", "parent_timestamp": t2["time"].isoformat()},
        )
        assert at_t2.status_code == 201, at_t2.text
        assert await _ids(at_t2.json()["connection_string"]) == [1, 2]
        # Recovered from the snapshot (an online backup: its label was used), which the
        # child's history now links.
        child = at_t2.json()["id"]
        assert (rt.storage.path(child) / "backup_label.old").is_file()
        assert [b.path.name for b in records.bases(child)] == [snapshot.path.name]

        # A suspended compute's further base is a copy of its stopped data dir.
        suspend = f"/v1/projects/{pid}/endpoints/{main['endpoint_id']}/suspend"
        assert (await branching_client.post(suspend)).status_code == 200
        monkeypatch.setattr(rt.settings, "snapshot_wal_bytes", 1)
        assert (await _history_pass(rt, pid)).snapshots == 2  # main's, and at-t2's
        monkeypatch.setattr(rt.settings, "snapshot_wal_bytes", 1024**3)
        stopped = records.bases(main["id"])[-1]
        assert stopped.lsn_value > snapshot.lsn_value
        assert stopped.time > t2["time"]
        after_stop = await branching_client.post(
            f"/v1/projects/{pid}/branches",
            json={"name": "after-stop", "parent_timestamp": stopped.time.isoformat()},
        )
        assert after_stop.status_code == 201, after_stop.text
        assert await _ids(after_stop.json()["connection_string"]) == [1, 2]
        assert not (rt.storage.path(after_stop.json()["id"]) / "backup_label.old").exists()

        # Restored in place to t2: recovered from the snapshot before t2; its new history
        # links that base, not the later one (on the timeline the restore leaves).
        restored = await branching_client.post(
            f"/v1/projects/{pid}/branches/main/restore",
            json={"source_timestamp": t2["time"].isoformat()},
        )
        assert restored.status_code == 200, restored.text
        assert await _ids(dsn) == [1, 2]
        assert [b.path.name for b in records.bases(main["id"])] == [snapshot.path.name]
    finally:
        await branching_client.delete(f"/v1/projects/{pid}")


async def test_a_branch_made_before_history_existed_gets_a_first_base(
    api: httpx.AsyncClient, api_project: dict[str, Any], runtime: Runtime
) -> None:
    """Its compute archives from its next start, and the history pass gives it a first
    base: from then on it can be branched at a point."""
    pid, branch_id = api_project["id"], api_project["branch_id"]
    url = f"/v1/projects/{pid}/endpoints/{api_project['endpoint_id']}/suspend"
    assert (await api.post(url)).status_code == 200
    shutil.rmtree(history.of(runtime).dir(branch_id))  # as on a Lampion before history
    branch_url = f"/v1/projects/{pid}/branches/{branch_id}"
    assert (await api.get(branch_url)).json()["earliest_restore_time"] is None

    assert (await _history_pass(runtime, pid)).snapshots == 1
    assert (await api.get(branch_url)).json()["earliest_restore_time"] is not None
    moment = await _moment(api_project["connection_string"], 1)  # wakes it: archiving again
    response = await api.post(
        f"/v1/projects/{pid}/branches",
        json={"name": "after-upgrade", "parent_timestamp": moment["time"].isoformat()},
    )
    assert response.status_code == 201, response.text
    assert await _ids(response.json()["connection_string"]) == [1]
