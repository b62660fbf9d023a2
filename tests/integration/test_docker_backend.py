"""The docker backend: the process backend's lifecycle scenarios, with every compute a real
container of an image built from this machine's PostgreSQL (no registry needed)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiodocker
import httpx
import psutil
import pytest
from fastapi import FastAPI

from lampion.compute.installations import discover
from lampion.compute.osuser import resolve
from lampion.config import Settings
from lampion.runtime import Runtime, StartupError
from lampion.store.models import Branch, Endpoint, Project
from tests.support.apps import client_for, make_settings, running_app
from tests.support.docker import engine_or_skip, ensure_image
from tests.support.orgs import make_key
from tests.support.pg import apsql, direct_dsn, fetchval
from tests.support.waiting import eventually

pytestmark = pytest.mark.compute

GIB = 1024**3


@pytest.fixture(scope="module")
async def docker() -> AsyncIterator[aiodocker.Docker]:
    engine = await engine_or_skip()
    yield engine
    await engine.close()


@pytest.fixture(scope="module")
async def image(docker: aiodocker.Docker) -> str:
    user = resolve(None)
    return await ensure_image(docker, discover(None, user)[0], user.name)


def docker_settings(data_dir: Path, templates_dir: Path, image: str) -> Settings:
    return make_settings(
        data_dir,
        templates_dir,
        compute_backend="docker",
        compute_image=image,
        reconcile_interval=0.5,
    )


async def containers_of(docker: aiodocker.Docker, endpoint_id: str) -> list[dict[str, Any]]:
    """Every container (running or not) of an endpoint, inspected."""
    listed = await docker.containers.list(
        all=True, filters=json.dumps({"label": [f"lampion.endpoint_id={endpoint_id}"]})
    )
    return [await container.show() for container in listed]


async def remove_containers_under(docker: aiodocker.Docker, data_dir: Path) -> None:
    for container in await docker.containers.list(
        all=True, filters='{"label": ["lampion.instance"]}'
    ):
        mounts = (await container.show())["Mounts"]
        if any(m["Source"].startswith(str(data_dir)) for m in mounts):
            await container.delete(force=True)


@contextlib.asynccontextmanager
async def client_of_an_app(
    workdir: Path, templates_dir: Path, name: str
) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client of an app on the docker backend (data under ``data-<name>``, org
    ``org-<name>``), its containers removed afterwards."""
    engine = await engine_or_skip()
    try:
        user = resolve(None)
        image = await ensure_image(engine, discover(None, user)[0], user.name)
        settings = docker_settings(workdir / f"data-{name}", templates_dir, image)
        async with running_app(settings) as app:
            key = await make_key(app.state.runtime.sessions, f"org-{name}")
            async with client_for(app, key) as client:
                yield client
        await remove_containers_under(engine, settings.data_dir)
    finally:
        await engine.close()


@pytest.fixture(scope="module")
async def docker_app(
    docker: aiodocker.Docker, image: str, workdir: Path, templates_dir: Path
) -> AsyncIterator[FastAPI]:
    settings = docker_settings(workdir / "data-docker", templates_dir, image)
    async with running_app(settings) as app:
        yield app
    await remove_containers_under(docker, settings.data_dir)


@pytest.fixture
async def docker_client(docker_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    key = await make_key(docker_app.state.runtime.sessions, "org-docker")
    async with client_for(docker_app, key) as client:
        yield client


async def answers(connection_string: str, query: str, expected: object) -> bool:
    try:
        return bool(await fetchval(connection_string, query) == expected)
    except (OSError, Exception):
        return False


async def test_a_project_is_a_container_sized_by_its_compute_units(
    docker_client: httpx.AsyncClient, docker: aiodocker.Docker
) -> None:
    project = (await docker_client.post("/v1/projects", json={"name": "boxed"})).json()
    endpoint_url = f"/v1/projects/{project['id']}/endpoints/{project['endpoint_id']}"
    result = await apsql(project["connection_string"], "SELECT current_setting('cluster_name')")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == project["endpoint_id"]

    (container,) = await containers_of(docker, project["endpoint_id"])
    assert container["State"]["Running"]
    assert container["Config"]["Labels"]["lampion.pg_version"] == str(project["pg_version"])
    assert container["HostConfig"]["NanoCpus"] == 1_000_000_000
    assert container["HostConfig"]["Memory"] == 4 * GIB
    assert container["Config"]["User"] == f"{resolve(None).uid}:{resolve(None).gid}"

    resized = await docker_client.patch(endpoint_url, json={"compute_units": 0.5})
    assert resized.status_code == 200, resized.text
    (container,) = await containers_of(docker, project["endpoint_id"])
    assert container["HostConfig"]["NanoCpus"] == 500_000_000
    assert container["HostConfig"]["Memory"] == 2 * GIB
    assert await fetchval(project["connection_string"], "SHOW shared_buffers") == "64MB"

    metrics = (await docker_client.get(f"/v1/projects/{project['id']}/metrics")).json()
    assert metrics["status"] == "running"
    assert metrics["memory_mb"] > 1  # the container's cgroup, as the engine accounts it
    assert metrics["compute_cpu_seconds"] > 0

    assert (await docker_client.delete(f"/v1/projects/{project['id']}")).status_code == 204
    assert await containers_of(docker, project["endpoint_id"]) == []


async def test_branch_suspend_resume_and_wake_on_connect(
    docker_client: httpx.AsyncClient, docker: aiodocker.Docker
) -> None:
    project = (await docker_client.post("/v1/projects", json={"name": "forked"})).json()
    await fetchval(project["connection_string"], "CREATE TABLE t AS SELECT 1 AS x")
    branch = (
        await docker_client.post(f"/v1/projects/{project['id']}/branches", json={"name": "dev"})
    ).json()
    assert await fetchval(branch["connection_string"], "SELECT x FROM t") == 1
    await fetchval(branch["connection_string"], "INSERT INTO t VALUES (2)")
    assert await fetchval(project["connection_string"], "SELECT count(*) FROM t") == 1

    endpoint_url = f"/v1/projects/{project['id']}/endpoints/{branch['compute_id']}"
    suspended = await docker_client.post(f"{endpoint_url}/suspend")
    assert suspended.json()["status"] == "suspended"
    assert await containers_of(docker, branch["compute_id"]) == []
    with pytest.raises(OSError, match=r"Connect call failed|[Cc]onnection refused"):
        await fetchval(direct_dsn(branch["pg_password"], branch["pg_port"]), "SELECT 1")

    resumed = await docker_client.post(f"{endpoint_url}/resume")
    assert resumed.json()["status"] == "running"
    assert await fetchval(branch["connection_string"], "SELECT count(*) FROM t") == 2

    await docker_client.post(f"{endpoint_url}/suspend")
    # a client's connection wakes the suspended compute: a new container
    assert await fetchval(branch["connection_string"], "SELECT sum(x) FROM t") == 3
    (container,) = await containers_of(docker, branch["compute_id"])
    assert container["State"]["Running"]

    # its PgBouncer runs in the container, and a pooled connection wakes it as well
    await docker_client.post(f"{endpoint_url}/suspend")
    pooled = branch["pooled_connection_string"].replace("sslmode=require", "sslmode=disable")
    assert await fetchval(pooled, "SELECT sum(x) FROM t WHERE inet_client_addr() IS NULL") == 3
    (container,) = await containers_of(docker, branch["compute_id"])
    (pgbouncer,) = [
        p
        for p in psutil.process_iter(["name", "cmdline"])
        if p.info["name"] == "pgbouncer"
        and f"/{branch['compute_id']}/" in " ".join(p.info["cmdline"])
    ]
    assert container["Id"] in Path(f"/proc/{pgbouncer.pid}/cgroup").read_text()
    await docker_client.delete(f"/v1/projects/{project['id']}")


async def test_a_killed_container_is_replaced_by_the_reconciler(
    docker_client: httpx.AsyncClient, docker: aiodocker.Docker
) -> None:
    project = (await docker_client.post("/v1/projects", json={"name": "phoenix"})).json()
    await fetchval(project["connection_string"], "CREATE TABLE t AS SELECT 7 AS x")
    (before,) = await containers_of(docker, project["endpoint_id"])
    await docker.containers.container(before["Id"]).kill()

    async def replaced() -> bool:
        return await answers(
            direct_dsn(project["pg_password"], project["pg_port"]), "SELECT x FROM t", 7
        )

    await eventually(replaced, 30, "the reconciler to replace the killed container")
    (after,) = await containers_of(docker, project["endpoint_id"])
    assert after["Id"] != before["Id"]
    assert after["State"]["Running"]
    await docker_client.delete(f"/v1/projects/{project['id']}")


async def test_a_restarted_control_plane_adopts_its_containers(
    docker: aiodocker.Docker, image: str, workdir: Path, templates_dir: Path
) -> None:
    settings = docker_settings(workdir / "data-docker-restart", templates_dir, image)
    try:
        async with running_app(settings) as app:
            runtime: Runtime = app.state.runtime
            key = await make_key(runtime.sessions, "org-adopt")
            async with client_for(app, key) as client:
                kept = (await client.post("/v1/projects", json={"name": "kept"})).json()
                lost = (await client.post("/v1/projects", json={"name": "lost"})).json()
            await fetchval(kept["connection_string"], "CREATE TABLE t AS SELECT 1 AS x")
            async with runtime.sessions() as session, session.begin():  # rows lost in a crash
                for model, field in (
                    (Endpoint, "endpoint_id"),
                    (Branch, "branch_id"),
                    (Project, "id"),
                ):
                    await session.delete(await session.get(model, lost[field]))
                    await session.flush()
        (kept_before,) = await containers_of(docker, kept["endpoint_id"])
        assert kept_before["State"]["Running"]  # computes outlive the control plane

        async with running_app(settings) as app:
            runtime = app.state.runtime
            (kept_after,) = await containers_of(docker, kept["endpoint_id"])
            assert kept_after["Id"] == kept_before["Id"]  # adopted, not replaced
            assert await fetchval(kept["connection_string"], "SELECT x FROM t") == 1
            assert await containers_of(docker, lost["endpoint_id"]) == []  # orphan removed
            assert list(await runtime.compute.running_endpoints()) == [kept["endpoint_id"]]
    finally:
        await remove_containers_under(docker, settings.data_dir)


async def test_a_missing_image_fails_the_create_and_keeps_nothing(
    docker: aiodocker.Docker, workdir: Path, templates_dir: Path
) -> None:
    absent = "lampion-test/absent:{pg_version}"
    settings = docker_settings(workdir / "data-docker-imageless", templates_dir, absent)
    async with running_app(settings) as app:
        runtime: Runtime = app.state.runtime
        async with client_for(app, await make_key(runtime.sessions, "org-imageless")) as client:
            response = await client.post("/v1/projects", json={"name": "imageless"})
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "service_unavailable"
            assert (await client.get("/v1/projects")).json() == []
    assert list((settings.data_dir / "branches").iterdir()) == []


async def test_an_unreachable_engine_stops_the_start_with_a_clear_error(
    workdir: Path, templates_dir: Path
) -> None:
    settings = make_settings(
        workdir / "data-docker-no-engine",
        templates_dir,
        compute_backend="docker",
        docker_host="unix:///nonexistent/docker.sock",
    )
    with pytest.raises(StartupError, match="the Docker engine does not answer"):
        async with running_app(settings):
            pass
