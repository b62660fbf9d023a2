"""Projects on real computes: create, connect, use, delete."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import psutil
import pytest

from lampion.runtime import Runtime
from tests.support.pg import apsql, connect, fetchval

pytestmark = pytest.mark.compute

SEED_CREATE_FIELDS = {
    "id",
    "name",
    "endpoint_id",
    "connection_string",
    "pg_password",
    "host",
    "port",
}


def _postmaster_pids(data_dir: Path) -> list[int]:
    return [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if "-D" in (p.info["cmdline"] or []) and str(data_dir) in p.info["cmdline"]
    ]


async def test_create_connect_use_and_delete(api: httpx.AsyncClient, runtime: Runtime) -> None:
    response = await api.post("/v1/projects", json={"name": "my-app", "region": "fr-par-1"})
    assert response.status_code == 201, response.text
    project = response.json()
    assert SEED_CREATE_FIELDS | {"region", "branch_id", "pg_version", "created_at"} <= set(project)
    assert project["name"] == "my-app"
    assert project["region"] == "fr-par-1"
    assert re.fullmatch(r"ep-[a-z0-9]+", project["endpoint_id"])
    assert project["connection_string"].startswith("postgresql://cloud_admin:")
    assert project["pg_password"] in project["connection_string"]

    dsn = project["connection_string"]
    connection = await connect(dsn)
    try:
        await connection.execute("CREATE TABLE users (id int PRIMARY KEY, name text)")
        await connection.execute("INSERT INTO users VALUES (1, 'Alice'), (2, 'Bob')")
        assert await connection.fetch("SELECT name FROM users ORDER BY id") == [
            ("Alice",),
            ("Bob",),
        ]
        assert await connection.fetchval("SELECT current_user") == "cloud_admin"
    finally:
        await connection.close()

    result = await apsql(dsn, "SELECT string_agg(name, ',' ORDER BY id) FROM users")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Alice,Bob"

    listed = (await api.get("/v1/projects")).json()
    assert any(p["id"] == project["id"] and p["region"] == "fr-par-1" for p in listed)
    got = await api.get(f"/v1/projects/{project['id']}")
    assert got.status_code == 200
    assert got.json()["name"] == "my-app"

    data_dir = runtime.storage.path(project["branch_id"])
    assert data_dir.is_dir()
    assert _postmaster_pids(data_dir)

    deleted = await api.delete(f"/v1/projects/{project['id']}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert not data_dir.exists()
    assert _postmaster_pids(data_dir) == []
    assert (await api.get(f"/v1/projects/{project['id']}")).status_code == 404
    with pytest.raises((OSError, Exception)):
        await fetchval(dsn, "SELECT 1")


async def test_wrong_password_is_refused(shared_project: dict[str, str]) -> None:
    dsn = shared_project["connection_string"].replace(shared_project["pg_password"], "wrong")
    with pytest.raises(Exception, match="password authentication failed"):
        await fetchval(dsn, "SELECT 1")


async def test_password_never_reaches_compute_log(
    shared_project: dict[str, str], runtime: Runtime
) -> None:
    log_text = runtime.compute.log_path(shared_project["endpoint_id"]).read_text()
    assert "connection authorized" in log_text or "ready to accept" in log_text
    assert shared_project["pg_password"] not in log_text


async def test_pg_version_is_chosen_from_installations(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    oldest = runtime.installs[-1]
    response = await api.post("/v1/projects", json={"name": "old", "pg_version": oldest.major})
    assert response.status_code == 201, response.text
    project = response.json()
    try:
        assert project["pg_version"] == oldest.major
        version = await fetchval(project["connection_string"], "SHOW server_version_num")
        assert int(version) // 10000 == oldest.major
    finally:
        await api.delete(f"/v1/projects/{project['id']}")


async def test_default_pg_version_is_the_newest(
    shared_project: dict[str, object], runtime: Runtime
) -> None:
    assert shared_project["pg_version"] == runtime.installs[0].major


async def test_other_org_gets_404(
    shared_project: dict[str, str], other_api: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    project_id = shared_project["id"]
    get = await other_api.get(f"/v1/projects/{project_id}")
    delete = await other_api.delete(f"/v1/projects/{project_id}")
    missing = await other_api.get("/v1/projects/prj-doesnotexist")
    assert get.status_code == delete.status_code == 404
    assert get.json()["error"]["code"] == "not_found"
    assert get.json()["error"]["message"].replace(project_id, "X") == missing.json()["error"][
        "message"
    ].replace("prj-doesnotexist", "X")
    assert all(p["id"] != project_id for p in (await other_api.get("/v1/projects")).json())
    assert (await api.get(f"/v1/projects/{project_id}")).status_code == 200
    assert await fetchval(shared_project["connection_string"], "SELECT 1") == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body.name"),
        ({"name": 123}, "body.name"),
        ({"name": ""}, "body.name"),
        ({"name": "x" * 65}, "body.name"),
        ({"name": "tab\there"}, "body.name"),
        ({"name": "   "}, "body.name"),
        ({"name": "ok", "region": 5}, "body.region"),
        ({"name": "ok", "pg_version": "16"}, "body.pg_version"),
        ({"name": "ok", "regoin": "fr-par-1"}, "body.regoin"),
    ],
)
async def test_invalid_bodies_are_400_with_the_field(
    api: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    before = (await api.get("/v1/projects")).json()
    response = await api.post("/v1/projects", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in [e["field"] for e in error["details"]["errors"]]
    assert (await api.get("/v1/projects")).json() == before


async def test_unknown_region_lists_allowed_values(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/projects", json={"name": "x", "region": "mars-1"})
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert details["field"] == "region"
    assert details["allowed_values"] == ["fr-par-1"]


async def test_unknown_pg_version_lists_available(api: httpx.AsyncClient, runtime: Runtime) -> None:
    response = await api.post("/v1/projects", json={"name": "x", "pg_version": 9})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["allowed_values"] == [
        i.major for i in runtime.installs
    ]


async def test_curl_style_form_content_type_is_read_as_json(
    api: httpx.AsyncClient,
) -> None:
    """`curl -d '{...}'` sends application/x-www-form-urlencoded; the seed's examples do that."""
    response = await api.post(
        "/v1/projects",
        content=b'{"name": 1}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"]["errors"][0]["field"] == "body.name"


async def test_malformed_json_is_400(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/projects", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
