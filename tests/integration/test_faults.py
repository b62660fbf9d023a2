"""The right status for every fault (issue 14): a transient fault is a 503 with Retry-After
and a message saying what is happening, a full filesystem a clean refusal, bad input a 400
naming the field; never a 500. On real computes and both metadata stores."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from lampion.client.transport import AsyncTransport
from lampion.runtime import Runtime
from lampion.store.models import Webhook
from lampion.workers.reconciler import Reconciler
from tests.support.apps import (
    client_for,
    free_port,
    kill_computes_under,
    make_settings,
    new_store_url,
    running_app,
)
from tests.support.metadata_pg import MetadataServer
from tests.support.orgs import make_key
from tests.support.waiting import eventually, reconcile

pytestmark = pytest.mark.compute


def _unavailable(response: httpx.Response, *words: str) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "service_unavailable"
    assert int(response.headers["Retry-After"]) >= 1
    message = response.json()["error"]["message"]
    assert any(word in message for word in words), message


async def _sql(api: httpx.AsyncClient, project: dict[str, Any], query: str) -> httpx.Response:
    url = f"/v1/projects/{project['id']}/endpoints/{project['endpoint_id']}/sql"
    return await api.post(url, json={"query": query})


async def _kill_postmaster(runtime: Runtime, endpoint_id: str) -> None:
    pid = (await runtime.compute.running_endpoints())[endpoint_id]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the postmaster outlived SIGKILL"
        await asyncio.sleep(0.05)


# --- a compute that is not reachable ---------------------------------------------------


async def test_killed_compute_is_503_until_it_is_back(
    api: httpx.AsyncClient, api_project: dict[str, Any], runtime: Runtime
) -> None:
    project = api_project
    assert (await _sql(api, project, "SELECT 1 AS one")).status_code == 200  # pool warmed
    await _kill_postmaster(runtime, str(project["endpoint_id"]))

    down = await _sql(api, project, "SELECT 1 AS one")
    _unavailable(down, "compute")
    base = f"/v1/projects/{project['id']}/endpoints/{project['endpoint_id']}"
    for path in ("/databases", "/roles", "/extensions", "/dump"):
        _unavailable(await api.get(base + path), "compute")
    _unavailable(await api.get(f"/v1/projects/{project['id']}/schema"), "compute")
    _unavailable(await _sql(api, project, "\\dt"), "compute")
    metrics = await api.get(f"/v1/projects/{project['id']}/metrics")
    assert metrics.status_code == 200, metrics.text  # from the last sample

    await reconcile(Reconciler(runtime))

    async def back() -> bool:
        response = await _sql(api, project, "SELECT 1 AS one")
        assert response.status_code in (200, 503), response.text
        return response.status_code == 200

    await eventually(back, 30, "the SQL API answers again once the compute is back")
    assert (await _sql(api, project, "SELECT 1 AS one")).json()["rows"] == [{"one": 1}]


async def test_the_client_retries_a_real_503(
    app: FastAPI, admin_key: str, api_project: dict[str, Any], runtime: Runtime
) -> None:
    project = api_project
    await _kill_postmaster(runtime, str(project["endpoint_id"]))
    client = AsyncTransport("http://lampion.test", admin_key, retries=6)
    client.http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://lampion.test", timeout=60
    )
    seen: list[int] = []

    async def record(response: httpx.Response) -> None:
        seen.append(response.status_code)

    client.http.event_hooks["response"] = [record]

    async def restart_later() -> None:
        while 503 not in seen:
            await asyncio.sleep(0.05)
        await reconcile(Reconciler(runtime))

    restarting = asyncio.create_task(restart_later())
    try:
        path = f"/v1/projects/{project['id']}/endpoints/{project['endpoint_id']}/sql"
        answer = await client.request("POST", path, json={"query": "SELECT 2 AS two"})
    finally:
        await restarting
        await client.close()
    assert answer["rows"] == [{"two": 2}]
    assert seen[0] == 503
    assert seen[-1] == 200


@pytest.mark.parametrize("operation", ["suspend", "delete"])
async def test_a_query_cut_by_suspend_or_delete_is_not_a_500(
    api: httpx.AsyncClient, operation: str
) -> None:
    project = (await api.post("/v1/projects", json={"name": f"cut-{operation}"})).json()
    try:
        running = asyncio.create_task(_sql(api, project, "SELECT pg_sleep(5)"))
        await asyncio.sleep(1.5)  # the statement is in flight
        if operation == "suspend":
            url = f"/v1/projects/{project['id']}/endpoints/{project['endpoint_id']}/suspend"
            assert (await api.post(url)).status_code in (200, 409)
        else:
            assert (await api.delete(f"/v1/projects/{project['id']}")).status_code in (204, 409)
        cut = await running
        assert cut.status_code in (409, 503), cut.text
        if cut.status_code == 503:
            _unavailable(cut, "compute")
    finally:
        await api.delete(f"/v1/projects/{project['id']}")


# --- the metadata store unreachable -----------------------------------------------------


@pytest.fixture
async def own_store_app(workdir: Path, templates_dir: Path) -> AsyncIterator[FastAPI]:
    """An app on a PostgreSQL store of its own: the test stops and starts that server."""
    server = MetadataServer(workdir / f"metadata-own-{free_port()}", templates_dir, free_port())
    try:
        url = await server.create_database("lampion_faults")
        settings = make_settings(workdir / "data-store-down", templates_dir, database_url=url)
        async with running_app(settings) as app:
            app.state.metadata_server = server
            yield app
        kill_computes_under(settings.data_dir)
    finally:
        await server.close()


async def test_a_stopped_postgresql_store_is_503_then_recovers(own_store_app: FastAPI) -> None:
    server: MetadataServer = own_store_app.state.metadata_server
    key = await make_key(own_store_app.state.runtime.sessions, "org-store-down")
    async with client_for(own_store_app, key) as client:
        assert (await client.get("/v1/projects")).status_code == 200
        await server.stop()
        try:
            for response in await asyncio.gather(
                client.get("/v1/projects"),
                client.get("/v1/plans"),
                client.post("/v1/projects", json={"name": "nope"}),
                client.post(
                    "/v1/projects", json={"name": "keyed"}, headers={"Idempotency-Key": "k1"}
                ),
                client.get("/v1/orgs/webhooks"),
            ):
                _unavailable(response, "metadata store")
            assert (await client.get("/readyz")).status_code == 503
        finally:
            await server.start()

        async def recovered() -> bool:
            response = await client.get("/v1/projects")
            assert response.status_code in (200, 503), response.text
            return response.status_code == 200

        await eventually(recovered, 30, "the API answers again once the store is back")
        assert (await client.get("/readyz")).status_code == 200


# --- a full filesystem ------------------------------------------------------------------


class MountUnavailable(Exception):
    pass


@contextlib.contextmanager
def small_filesystem(root: Path, size: str) -> Iterator[Path]:
    if os.geteuid() != 0:
        raise MountUnavailable("mounting a tmpfs needs root")
    root.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(root)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        raise MountUnavailable(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield root
    finally:
        kill_computes_under(root)
        subprocess.run(["umount", "-l", str(root)], check=False)


def fill(directory: Path, leave: int = 0) -> Path:
    """Fills the filesystem of ``directory`` but ``leave`` bytes."""
    filler = directory / f"filler-{time.monotonic_ns()}"
    with filler.open("wb") as out:
        chunk = b"\0" * (1 << 20)
        while True:
            free = os.statvfs(directory).f_bavail * os.statvfs(directory).f_frsize
            if free <= leave:
                break
            try:
                out.write(chunk[: max(4096, min(len(chunk), free - leave))])
                out.flush()
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
    return filler


@pytest.fixture
async def full_fs_app(
    workdir: Path, templates_dir: Path, store_kind: str, metadata_pg: MetadataServer
) -> AsyncIterator[FastAPI]:
    """An app whose data dir has a small filesystem of its own, shared with its store when
    that is SQLite."""
    try:
        with small_filesystem(workdir / f"small-fs-{free_port()}", "400m") as root:
            store = root / "store.db"
            url = (
                f"sqlite+aiosqlite:///{store}"
                if store_kind == "sqlite"
                else await new_store_url(store_kind, workdir, metadata_pg)
            )
            settings = make_settings(
                root / "data",
                templates_dir,
                database_url=url,
                reconcile_interval=0,
                autosuspend_interval=0,
                metrics_interval=0,
                webhook_interval=0,
            )
            async with running_app(settings) as app:
                app.state.store_file = store
                yield app
    except MountUnavailable as exc:
        pytest.skip(f"the full-filesystem test needs a small mount: {exc}")


async def test_a_full_filesystem_keeps_reads_and_refuses_writes_cleanly(
    full_fs_app: FastAPI,
) -> None:
    rt: Runtime = full_fs_app.state.runtime
    key = await make_key(rt.sessions, "org-full")
    async with client_for(full_fs_app, key) as client:
        created = await client.post("/v1/projects", json={"name": "before"})
        assert created.status_code == 201, created.text
        project = created.json()
        branches_before = sorted(p.name for p in rt.settings.branches_dir.iterdir())
        store: Path = full_fs_app.state.store_file
        if store.exists():  # an empty WAL: any write to the SQLite store needs new space
            with sqlite3.connect(store) as checkpoint:
                checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        filler = fill(store.parent)

        reads = [
            "/v1/projects",
            f"/v1/projects/{project['id']}",
            f"/v1/projects/{project['id']}/branches",
            f"/v1/projects/{project['id']}/endpoints",
            "/v1/plans",
        ]
        for path in reads:
            response = await client.get(path)
            assert response.status_code == 200, (path, response.text)

        async def refused(response: httpx.Response) -> None:
            assert response.status_code in (503, 507), response.text
            assert "storage is full" in response.json()["error"]["message"].lower()
            assert response.json()["error"]["code"] in (
                "insufficient_storage",
                "service_unavailable",
            )

        await refused(await client.post("/v1/projects", json={"name": "full"}))
        branch_url = f"/v1/projects/{project['id']}/branches"
        await refused(await client.post(branch_url, json={"name": "full"}))

        # Space for the store's rows, not for a data dir: the copy itself fails.
        filler.unlink()
        filler = fill(store.parent, leave=4 << 20)
        await refused(await client.post("/v1/projects", json={"name": "copy-fails"}))
        await refused(await client.post(branch_url, json={"name": "copy-fails"}))

        listed = (await client.get("/v1/projects")).json()
        assert [p["id"] for p in listed] == [project["id"]]  # nothing half-made
        assert len((await client.get(branch_url)).json()) == 1
        assert sorted(p.name for p in rt.settings.branches_dir.iterdir()) == branches_before

        filler.unlink()
        await reconcile(Reconciler(rt))  # restarts a compute that died of the full disk
        after = await client.post("/v1/projects", json={"name": "after"})
        assert after.status_code == 201, after.text

        # The parent's postgres may still be in crash recovery from the full disk: a 503 that
        # passes, as a client retrying it sees.
        async def branched() -> bool:
            answer = await client.post(branch_url, json={"name": "dev"})
            assert answer.status_code in (201, 503), answer.text
            return answer.status_code == 201

        await eventually(branched, 60, "a branch once the parent's compute recovered")


# --- bad input is a 400 naming the field, never a 500 ----------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://x.example.com:99999/",
        "https://x.example.com:0/",
        "https://x.example.com:port/",
        "https://[::1/",
        "https://a\x01b.example.com/",
        "https://hook.example.com/\x00",
        "https://hook.example.com/a\tb",
        "https://ex\u00e4mple.com/",
        "https://127.0.0.1/h",
        "http://[::1]:8080/h",
        "https://localhost/h",
    ],
)
async def test_bad_webhook_urls_are_400(api: httpx.AsyncClient, url: str) -> None:
    created = await api.post("/v1/orgs/webhooks", json={"url": url, "events": ["*"]})
    assert created.status_code == 400, created.text
    error = created.json()["error"]
    assert error["details"].get("field") == "url" or error["details"]["errors"][0]["field"] == (
        "body.url"
    )


async def test_a_webhook_url_that_does_not_resolve_yet_is_accepted(
    api: httpx.AsyncClient,
) -> None:
    created = await api.post(
        "/v1/orgs/webhooks", json={"url": "https://hook.example.com", "events": ["*"]}
    )
    assert created.status_code == 201, created.text
    hook = created.json()
    moved = await api.patch(
        f"/v1/orgs/webhooks/{hook['id']}", json={"url": "https://not-yet.example.com/h"}
    )
    assert moved.status_code == 200, moved.text
    assert (await api.delete(f"/v1/orgs/webhooks/{hook['id']}")).status_code == 204


async def test_the_worker_counts_an_unparseable_url_and_waits(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    """A URL stored before validation was strict: the delivery is an attempt that failed,
    retried on the schedule, not a delivery picked up again on every pass."""
    hook = (
        await api.post(
            "/v1/orgs/webhooks", json={"url": "https://hook.example.com", "events": ["*"]}
        )
    ).json()
    try:
        async with runtime.sessions() as session, session.begin():
            await session.execute(
                update(Webhook)
                .where(Webhook.id == hook["id"])
                .values(url="https://x.example.com:99999/")
            )
        sent = await api.post(f"/v1/orgs/webhooks/{hook['id']}/test")
        assert sent.status_code == 202, sent.text
        deliveries_url = f"/v1/orgs/webhooks/{hook['id']}/deliveries"

        async def delivery() -> dict[str, Any]:
            rows = (await api.get(deliveries_url)).json()
            (row,) = [d for d in rows if d["id"] == sent.json()["delivery_id"]]
            found: dict[str, Any] = row
            return found

        async def attempted() -> bool:
            return int((await delivery())["attempt"]) >= 1

        await eventually(attempted, 20, "the unparseable URL counted as an attempt")
        first = await delivery()
        assert "parsed" in (first["error"] or "")
        assert first["next_attempt_at"] is not None
        await asyncio.sleep(2.5)  # several worker passes (1 s apart), all before the retry
        assert (await delivery())["attempt"] == 1
    finally:
        await api.delete(f"/v1/orgs/webhooks/{hook['id']}")


@pytest.mark.parametrize("period", ["0000-01", "9999-13", "10000-01", "2026-1", "abcd-01"])
async def test_usage_periods_out_of_range_are_400(
    api: httpx.AsyncClient, shared_project: dict[str, Any], period: str
) -> None:
    for path in (f"/v1/projects/{shared_project['id']}/usage", "/v1/usage"):
        response = await api.get(path, params={"period": period})
        assert response.status_code == 400, (path, response.text)
        details = response.json()["error"]["details"]
        assert details.get("field") == "period" or details["errors"][0]["field"] == "query.period"


async def test_the_last_month_there_is_has_a_usage(
    api: httpx.AsyncClient, shared_project: dict[str, Any]
) -> None:
    for period in ("9999-12", "0001-01"):
        response = await api.get("/v1/usage", params={"period": period})
        assert response.status_code == 200, response.text
        assert response.json()["period"] == period


async def test_too_many_sql_params_is_400(
    api: httpx.AsyncClient, shared_project: dict[str, Any]
) -> None:
    url = f"/v1/projects/{shared_project['id']}/endpoints/{shared_project['endpoint_id']}/sql"
    response = await api.post(url, json={"query": "SELECT $1::int", "params": [1] * 32_768})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"]["errors"][0]["field"] == "body.params"
    mismatched = await api.post(url, json={"query": "SELECT $1::int AS a", "params": [1, 2]})
    assert mismatched.status_code == 400, mismatched.text
    assert mismatched.json()["error"]["code"] == "sql_error"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/projects/prj-%00x",
        "/v1/projects/prj-%00x/branches",
        "/v1/orgs/webhooks/wh-%00",
        "/v1/orgs/webhooks/wh-%00/deliveries",
    ],
)
async def test_a_nul_in_a_path_id_is_a_missing_resource(api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(path)
    assert response.status_code == 404, response.text
    assert (await api.delete("/v1/api_keys/key-%00x")).status_code == 404


async def test_a_nul_in_a_body_or_query_is_400_naming_the_field(
    api: httpx.AsyncClient, shared_project: dict[str, Any]
) -> None:
    branches = f"/v1/projects/{shared_project['id']}/branches"
    response = await api.post(branches, json={"name": "n", "parent_id": "br-\u0000x"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"]["errors"][0]["field"] == "body.parent_id"
    named = await api.post("/v1/projects", json={"name": "a\u0000b"})
    assert named.status_code == 400, named.text
    listed = await api.get("/v1/projects", params={"name": "a\x00b"})
    assert listed.status_code == 400, listed.text
    assert listed.json()["error"]["details"]["field"] == "name"
    assert (await api.get(branches)).status_code == 200
