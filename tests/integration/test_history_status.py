"""A branch's history as users see it: its size in the branch and in storage usage, archive
failures surfaced (an event per episode, the branch's status), points whose WAL is missing
refused, and histories without a branch removed by the reconciler."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select

from lampion.runtime import Runtime
from lampion.store.models import Event, StorageSample
from lampion.workers.reconciler import Reconciler
from lampion.workers.sampler import Sampler
from tests.support.pg import connect
from tests.support.waiting import reconcile

pytestmark = pytest.mark.compute


async def _switch_wal(dsn: str, times: int) -> str:
    """Completes ``times`` WAL segments (each with a row); returns the LSN after them."""
    connection = await connect(dsn)
    try:
        await connection.execute("CREATE TABLE IF NOT EXISTS ticks (n int)")
        for n in range(times):
            await connection.execute("INSERT INTO ticks VALUES ($1)", n)
            await connection.execute("SELECT pg_switch_wal()")
        await connection.execute("INSERT INTO ticks VALUES (-1)")
        lsn: str = await connection.fetchval("SELECT pg_current_wal_lsn()::text")
        return lsn
    finally:
        await connection.close()


async def _archiver(dsn: str) -> tuple[int, str | None]:
    connection = await connect(dsn)
    try:
        row = await connection.fetchrow(
            "SELECT failed_count, last_archived_wal FROM pg_stat_archiver"
        )
        return int(row["failed_count"]), row["last_archived_wal"]
    finally:
        await connection.close()


async def _until(check: Any, what: str, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := await check()):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)
    return found


async def _archive_failures(rt: Runtime, branch_id: str) -> int:
    async with rt.sessions() as session:
        payloads = (
            await session.scalars(
                select(Event.payload).where(Event.type == "branch.archive_failed")
            )
        ).all()
    return sum(p["data"]["id"] == branch_id for p in payloads)


async def test_history_size_failures_and_gaps_are_shown_not_hidden(
    api: httpx.AsyncClient, api_project: dict[str, Any], app: FastAPI
) -> None:
    rt: Runtime = app.state.runtime
    project_id, branch_id = api_project["id"], api_project["branch_id"]
    dsn = api_project["connection_string"]
    branch_url = f"/v1/projects/{project_id}/branches/{branch_id}"
    wal = rt.settings.data_dir / "history" / branch_id / "wal"

    # Sizes: the sampler's last values, read without touching the compute.
    lsn = await _switch_wal(dsn, 4)
    await _until(lambda: _archived(dsn, wal), "the WAL was not archived")
    async with rt.sessions() as session, session.begin():  # due for a storage sample now
        await session.execute(
            delete(StorageSample).where(StorageSample.endpoint_id == api_project["endpoint_id"])
        )
    await Sampler(rt).run_once()
    branch = (await api.get(branch_url)).json()
    assert branch["logical_size_bytes"] > 1_000_000
    assert branch["history_bytes"] > 4 * 16 * 1024 * 1024  # four whole segments at least
    assert branch["history_status"] == "ok"
    async with rt.sessions() as session:
        sample = await session.scalar(
            select(StorageSample)
            .where(StorageSample.endpoint_id == api_project["endpoint_id"])
            .order_by(StorageSample.sampled_at.desc())
            .limit(1)
        )
    assert sample is not None
    assert sample.storage_bytes == branch["logical_size_bytes"] + branch["history_bytes"]

    # A point whose WAL is missing from the archive: refused, naming the segments.
    segments = sorted(p.name for p in wal.iterdir() if len(p.name) == 24)
    missing = segments[-3]
    (wal / missing).unlink()
    before = await rt.storage.branch_ids()
    refused = await api.post(
        f"/v1/projects/{project_id}/branches", json={"name": "late", "parent_lsn": lsn}
    )
    assert refused.status_code == 400, refused.text
    details = refused.json()["error"]["details"]
    assert (details["field"], details["missing_from"]) == ("parent_lsn", missing)
    assert missing in refused.json()["error"]["message"]
    restore = await api.post(
        f"{branch_url}/restore", json={"source_timestamp": datetime.now(UTC).isoformat()}
    )
    assert restore.status_code == 400, restore.text
    assert restore.json()["error"]["details"]["field"] == "source_timestamp"
    assert await rt.storage.branch_ids() == before
    listed = (await api.get(f"/v1/projects/{project_id}/branches")).json()
    assert [b["name"] for b in listed] == ["main"]

    # Archiving fails (the archive unwritable): one event per episode, and the status says so.
    wal.chmod(0o500)
    try:
        failures_before = (await _archiver(dsn))[0]
        await _switch_wal(dsn, 1)
        await _until(lambda: _failed_more(dsn, failures_before), "archive_command did not fail")
        await Sampler(rt).run_once()
        await Sampler(rt).run_once()
        failing = (await api.get(branch_url)).json()
        assert failing["history_status"] == "failing"
        assert failing["archive_failed_wal"] is not None
        assert failing["archive_failed_at"] is not None
        assert await _archive_failures(rt, branch_id) == 1
    finally:
        wal.chmod(0o700)
    await _switch_wal(dsn, 1)  # wakes the archiver, which catches up
    await _until(lambda: _caught_up(dsn), "the archive did not catch up", seconds=90)
    await Sampler(rt).run_once()
    assert (await api.get(branch_url)).json()["history_status"] == "ok"
    assert await _archive_failures(rt, branch_id) == 1


async def _archived(dsn: str, wal: Path) -> bool:
    newest = (await _archiver(dsn))[1]
    return newest is not None and (wal / newest).is_file()


async def _failed_more(dsn: str, count: int) -> bool:
    return (await _archiver(dsn))[0] > count


async def _caught_up(dsn: str) -> bool:
    connection = await connect(dsn)
    try:
        return bool(
            await connection.fetchval(
                "SELECT last_archived_time > last_failed_time FROM pg_stat_archiver"
            )
        )
    finally:
        await connection.close()


async def test_the_reconciler_removes_histories_without_a_branch(
    shared_project: dict[str, Any], app: FastAPI
) -> None:
    rt: Runtime = app.state.runtime
    root: Path = rt.settings.data_dir / "history"
    ghost, aside = root / "br-ghost", root / "br-restoring.old"
    for directory in (ghost / "wal", aside / "wal"):
        directory.mkdir(parents=True)
    async with rt.locks.exclusive("br-restoring", "a restore in flight"):
        await reconcile(Reconciler(rt))
        assert not ghost.exists()
        assert aside.is_dir()  # its branch is being restored: the swap decides
    await reconcile(Reconciler(rt))
    assert not aside.exists()
    assert (root / str(shared_project["branch_id"]) / "wal").is_dir()
