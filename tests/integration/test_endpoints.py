"""Endpoints: suspend/resume, size, settings validation, allowlists, org isolation."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import psutil
import pytest

from lampion.runtime import Runtime
from tests.support.faults import failing_compute
from tests.support.pg import connect, direct_dsn, fetchval

pytestmark = pytest.mark.compute

REFUSED = r"Connect call failed|[Cc]onnection refused"
NO_HBA = r"no pg_hba\.conf entry"


def _base(project: dict[str, Any]) -> str:
    return f"/v1/projects/{project['id']}/endpoints/{project['endpoint_id']}"


@pytest.fixture
async def project(api: httpx.AsyncClient):
    response = await api.post("/v1/projects", json={"name": "computes"})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    yield created
    await api.delete(f"/v1/projects/{created['id']}")


async def test_list_endpoints_has_seed_fields(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    listed = (await api.get(f"/v1/projects/{project['id']}/endpoints")).json()
    assert len(listed) == 1
    endpoint = listed[0]
    assert endpoint["id"] == project["endpoint_id"]
    assert endpoint["branch_id"] == project["branch_id"]
    assert endpoint["status"] == "running"
    assert endpoint["connection_string"] == project["connection_string"]
    assert endpoint["pg_password"] == project["pg_password"]
    assert endpoint["auto_suspend_seconds"] == 300
    assert endpoint["compute_units"] == 1
    assert endpoint["last_active_at"] is not None
    assert endpoint["pg_port"] == project["pg_port"]
    assert endpoint["port"] == project["port"]  # the connection proxy's
    assert endpoint["connection_string"].endswith(
        f":{project['port']}/postgres?sslmode=require&options=endpoint%3D{project['endpoint_id']}"
    )


async def test_suspend_and_resume_keep_data(
    api: httpx.AsyncClient, project: dict[str, Any], runtime: Runtime
) -> None:
    dsn = project["connection_string"]
    await fetchval(dsn, "CREATE TABLE kept AS SELECT 'still here'::text AS v")
    pid = (await runtime.compute.running_endpoints())[project["endpoint_id"]]

    first = await api.post(f"{_base(project)}/suspend")
    again = await api.post(f"{_base(project)}/suspend")
    assert first.status_code == again.status_code == 200
    assert first.json() == {"id": project["endpoint_id"], "status": "suspended"}
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert project["endpoint_id"] not in await runtime.compute.running_endpoints()
    assert (await api.get(_base(project))).json()["status"] == "suspended"
    with pytest.raises(OSError, match=REFUSED):
        await fetchval(direct_dsn(project["pg_password"], project["pg_port"]), "SELECT 1")

    resumed = await api.post(f"{_base(project)}/resume")
    assert resumed.json() == {"id": project["endpoint_id"], "status": "running"}
    assert (await api.post(f"{_base(project)}/resume")).status_code == 200
    assert await fetchval(dsn, "SELECT v FROM kept") == "still here"
    assert (await api.get(_base(project))).json()["status"] == "running"


async def test_a_failed_suspend_keeps_the_endpoint_running_and_can_be_retried(
    api: httpx.AsyncClient, project: dict[str, Any], runtime: Runtime
) -> None:
    with failing_compute(runtime, stop=OSError("the engine went away")) as compute:
        failed = await api.post(f"{_base(project)}/suspend")
    assert compute.failed == ["stop"]
    assert failed.status_code == 500, failed.text
    assert "engine" not in failed.text
    assert (await api.get(_base(project))).json()["status"] == "running"
    assert await fetchval(project["connection_string"], "SELECT 1") == 1
    retried = await api.post(f"{_base(project)}/suspend")  # the endpoint's lock was released
    assert retried.json() == {"id": project["endpoint_id"], "status": "suspended"}


async def test_patch_settings_and_size(api: httpx.AsyncClient, project: dict[str, Any]) -> None:
    patched = await api.patch(_base(project), json={"auto_suspend_seconds": 600})
    assert patched.status_code == 200, patched.text
    assert patched.json()["auto_suspend_seconds"] == 600
    assert patched.json()["id"] == project["endpoint_id"]
    assert (await api.patch(_base(project), json={"auto_suspend_seconds": 0})).status_code == 200

    assert await fetchval(project["connection_string"], "SHOW shared_buffers") == "128MB"
    resized = await api.patch(_base(project), json={"compute_units": 0.5})
    assert resized.status_code == 200, resized.text
    assert resized.json()["compute_units"] == 0.5
    assert resized.json()["status"] == "running"
    assert await fetchval(project["connection_string"], "SHOW shared_buffers") == "64MB"
    assert await fetchval(project["connection_string"], "SHOW max_connections") == "50"


@pytest.mark.parametrize(
    "body",
    [
        {"auto_suspend_seconds": 5},
        {"auto_suspend_seconds": 604801},
        {"auto_suspend_seconds": -1},
        {"auto_suspend_seconds": "600"},
        {"compute_units": 3},
        {"compute_units": 0},
        {"unknown": 1},
        {},
    ],
)
async def test_patch_rejects_bad_values(
    api: httpx.AsyncClient, shared_project: dict[str, Any], body: dict[str, Any]
) -> None:
    before = (await api.get(_base(shared_project))).json()
    response = await api.patch(_base(shared_project), json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    assert (await api.get(_base(shared_project))).json() == before


async def test_allowlist_is_enforced_by_the_compute(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    url = f"{_base(project)}/allowlist"
    proxied = project["connection_string"]
    dsn = direct_dsn(project["pg_password"], project["pg_port"])
    assert (await api.get(url)).json() == []

    locked = await api.put(url, json={"allowlist": ["10.0.0.0/8", "203.0.113.7"]})
    assert locked.status_code == 200, locked.text
    assert locked.json() == ["10.0.0.0/8", "203.0.113.7"]
    assert (await api.get(url)).json() == ["10.0.0.0/8", "203.0.113.7"]
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match=NO_HBA):
        await fetchval(dsn, "SELECT 1")
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match="not allowed"):
        await fetchval(proxied, "SELECT 1")

    opened = await api.put(url, json={"allowlist": ["10.0.0.0/8", "127.0.0.0/8"]})
    assert opened.status_code == 200
    assert await fetchval(dsn, "SELECT 1") == 1
    assert await fetchval(proxied, "SELECT 1") == 1

    assert (await api.put(url, json={"allowlist": []})).json() == []
    assert await fetchval(dsn, "SELECT 1") == 1


async def test_allowlist_survives_suspend_and_is_inherited_by_branches(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    url = f"{_base(project)}/allowlist"
    await api.put(url, json={"allowlist": ["192.0.2.0/24"]})
    await api.post(f"{_base(project)}/suspend")
    await api.post(f"{_base(project)}/resume")
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError):
        await fetchval(project["connection_string"], "SELECT 1")
    branch = (
        await api.post(f"/v1/projects/{project['id']}/branches", json={"name": "locked-too"})
    ).json()
    child_url = f"/v1/projects/{project['id']}/endpoints/{branch['compute_id']}/allowlist"
    assert (await api.get(child_url)).json() == ["192.0.2.0/24"]
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError):
        await fetchval(branch["connection_string"], "SELECT 1")


@pytest.mark.parametrize(
    "entries", [["not-an-ip"], ["10.0.0.0/33"], ["300.1.1.1"], [""], ["10.0.0.1", 5]]
)
async def test_allowlist_rejects_invalid_entries(
    api: httpx.AsyncClient, shared_project: dict[str, Any], entries: list[Any]
) -> None:
    url = f"{_base(shared_project)}/allowlist"
    response = await api.put(url, json={"allowlist": entries})
    assert response.status_code == 400, response.text
    assert (await api.get(url)).json() == []


async def test_allowlist_normalizes_networks(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    url = f"{_base(project)}/allowlist"
    response = await api.put(url, json={"allowlist": [" 10.1.2.3/8", "10.0.0.0/8", "::1"]})
    assert response.json() == ["10.0.0.0/8", "::1"]


async def test_other_org_gets_404_on_every_route(
    other_api: httpx.AsyncClient, shared_project: dict[str, Any]
) -> None:
    project_id, endpoint_id = shared_project["id"], shared_project["endpoint_id"]
    branch_id = shared_project["branch_id"]
    base = f"/v1/projects/{project_id}"
    attempts = [
        other_api.get(f"{base}/branches"),
        other_api.get(f"{base}/branches/{branch_id}"),
        other_api.post(f"{base}/branches", json={"name": "steal"}),
        other_api.delete(f"{base}/branches/{branch_id}"),
        other_api.get(f"{base}/endpoints"),
        other_api.get(f"{base}/endpoints/{endpoint_id}"),
        other_api.patch(f"{base}/endpoints/{endpoint_id}", json={"auto_suspend_seconds": 0}),
        other_api.post(f"{base}/endpoints/{endpoint_id}/suspend"),
        other_api.post(f"{base}/endpoints/{endpoint_id}/resume"),
        other_api.get(f"{base}/endpoints/{endpoint_id}/allowlist"),
        other_api.put(f"{base}/endpoints/{endpoint_id}/allowlist", json={"allowlist": []}),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 404, (response.request.url, response.text)
        assert response.json()["error"]["code"] == "not_found"
    assert await fetchval(shared_project["connection_string"], "SELECT 1") == 1


async def test_held_connection_is_not_disturbed_by_reads(
    api: httpx.AsyncClient, shared_project: dict[str, Any]
) -> None:
    connection = await connect(shared_project["connection_string"])
    try:
        await api.get(f"/v1/projects/{shared_project['id']}/endpoints")
        assert await connection.fetchval("SELECT 1") == 1
    finally:
        await connection.close()
