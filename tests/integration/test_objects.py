"""Databases, roles, extensions, logs and dump of an endpoint, on a real compute."""

from __future__ import annotations

import asyncio
import subprocess
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from lampion.runtime import Runtime
from tests.support.pg import connect, fetchval

pytestmark = pytest.mark.compute

HOSTILE = [
    'x"; DROP DATABASE postgres; --',
    "it's",
    "with space",
    "ünïcödé-名前",
    "Mixed.Case",
    "a" * 63,
    "é" * 31,  # 62 bytes
]
TOO_LONG = ["a" * 64, "é" * 32]


def base(project: dict[str, Any]) -> str:
    return f"/v1/projects/{project['id']}/endpoints/{project['endpoint_id']}"


async def names(api: httpx.AsyncClient, url: str) -> list[str]:
    return [item["name"] for item in (await api.get(url)).json()]


async def test_databases(api: httpx.AsyncClient, api_project: dict[str, Any]) -> None:
    url = f"{base(api_project)}/databases"
    listed = (await api.get(url)).json()
    assert [d["name"] for d in listed] == ["postgres"]
    assert listed[0]["encoding"] == "UTF8"
    assert listed[0]["size_bytes"] > 1_000_000
    assert listed[0]["owner"] == "cloud_admin"

    created = await api.post(url, json={"name": "myapp"})
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "myapp"
    assert (await api.post(url, json={"name": "myapp"})).status_code == 409
    dsn = api_project["connection_string"].replace("postgres?", "myapp?")
    held = await connect(dsn)  # dropping terminates its connections first
    assert (await api.delete(f"{url}/myapp")).status_code == 204
    assert held.is_closed() or await _closed(held)
    assert await names(api, url) == ["postgres"]
    assert (await api.delete(f"{url}/myapp")).status_code == 404
    protected = await api.delete(f"{url}/postgres")
    assert protected.status_code == 409


async def _closed(connection: asyncpg.Connection) -> bool:
    try:
        await connection.fetchval("SELECT 1")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        return True
    return False


@pytest.mark.parametrize("name", HOSTILE + TOO_LONG)
async def test_hostile_database_names(
    api: httpx.AsyncClient, shared_project: dict[str, Any], name: str
) -> None:
    url = f"{base(shared_project)}/databases"
    before = await names(api, url)
    response = await api.post(url, json={"name": name})
    if name in TOO_LONG:
        assert response.status_code == 400
        assert await names(api, url) == before
        return
    assert response.status_code == 201, response.text
    assert sorted(await names(api, url)) == sorted([*before, name])
    assert (await api.delete(f"{url}/{quote(name, safe='')}")).status_code == 204
    assert await names(api, url) == before


async def test_roles(api: httpx.AsyncClient, api_project: dict[str, Any]) -> None:
    url = f"{base(api_project)}/roles"
    listed = (await api.get(url)).json()
    assert {"name": "cloud_admin", "is_superuser": True, "can_login": True}.items() <= listed[
        0
    ].items()
    assert not any(r["name"].startswith("pg_") for r in listed)

    chosen = await api.post(
        url, json={"name": "appuser", "password": "S3cret-pass", "can_login": True}
    )
    assert chosen.status_code == 201, chosen.text
    assert chosen.json() == {"name": "appuser", "can_login": True}
    generated = await api.post(url, json={"name": "robot"})
    password = generated.json()["password"]
    assert len(password) >= 24
    for role, secret in (("appuser", "S3cret-pass"), ("robot", password)):
        dsn = api_project["connection_string"].replace(
            f"cloud_admin:{api_project['pg_password']}", f"{role}:{quote(secret)}"
        )
        assert await fetchval(dsn, "SELECT current_user") == role
    nologin = await api.post(url, json={"name": "group_role", "can_login": False})
    assert "password" not in nologin.json()

    assert (await api.post(url, json={"name": "robot"})).status_code == 409
    assert (await api.delete(f"{url}/robot")).status_code == 204
    assert "robot" not in await names(api, url)
    assert (await api.delete(f"{url}/robot")).status_code == 404
    assert (await api.delete(f"{url}/cloud_admin")).status_code == 409


@pytest.mark.parametrize("name", HOSTILE + TOO_LONG)
async def test_hostile_role_names(
    api: httpx.AsyncClient, shared_project: dict[str, Any], name: str
) -> None:
    url = f"{base(shared_project)}/roles"
    before = await names(api, url)
    response = await api.post(url, json={"name": name, "can_login": False})
    if name in TOO_LONG:
        assert response.status_code == 400
        assert await names(api, url) == before
        return
    assert response.status_code == 201, response.text
    assert name in await names(api, url)
    assert (await api.delete(f"{url}/{quote(name, safe='')}")).status_code == 204
    assert await names(api, url) == before


async def test_extensions(api: httpx.AsyncClient, api_project: dict[str, Any]) -> None:
    url = f"{base(api_project)}/extensions"
    listed = {e["name"]: e for e in (await api.get(url)).json()}
    assert listed["plpgsql"]["installed"] is True
    assert listed["plpgsql"]["version"]
    assert {"name", "installed", "version", "default_version"} <= set(listed["plpgsql"])
    if "vector" in listed:
        installed = await api.post(url, json={"name": "pgvector"})
        assert installed.status_code == 201, installed.text
        assert installed.json()["name"] == "pgvector"
        assert installed.json()["installed"] is True
        assert (
            await fetchval(
                api_project["connection_string"], "SELECT '[1,2]'::vector <-> '[1,3]'::vector"
            )
            == 1.0
        )
        assert (await api.delete(f"{url}/pgvector")).status_code == 204
    unknown = await api.post(url, json={"name": "no_such_ext"})
    assert unknown.status_code == 404
    assert "plpgsql" in unknown.json()["error"]["details"]["available"]
    assert (await api.delete(f"{url}/no_such_ext")).status_code == 404


@pytest.mark.parametrize("name", ['x"; DROP DATABASE postgres; --', "a" * 64])
async def test_hostile_extension_names_change_nothing(
    api: httpx.AsyncClient, shared_project: dict[str, Any], name: str
) -> None:
    response = await api.post(f"{base(shared_project)}/extensions", json={"name": name})
    assert response.status_code in (400, 404)
    assert "postgres" in await names(api, f"{base(shared_project)}/databases")


async def test_protected_names_are_refused_without_waking_the_compute(
    api: httpx.AsyncClient, other_api: httpx.AsyncClient, api_project: dict[str, Any], app: FastAPI
) -> None:
    runtime: Runtime = app.state.runtime
    suspended = await api.post(f"{base(api_project)}/suspend")
    assert suspended.json()["status"] == "suspended", suspended.text
    for url in (
        f"{base(api_project)}/databases/postgres",
        f"{base(api_project)}/roles/cloud_admin",
    ):
        assert (await other_api.delete(url)).status_code == 404  # another org's: as if missing
        refused = await api.delete(url)
        assert refused.status_code == 409, refused.text
    assert (await api.get(base(api_project))).json()["status"] == "suspended"  # not woken
    assert api_project["endpoint_id"] not in await runtime.compute.running_endpoints()


async def test_log_tail(api: httpx.AsyncClient, api_project: dict[str, Any], app: FastAPI) -> None:
    url = f"{base(api_project)}/logs"
    roles = f"{base(api_project)}/roles"
    sql = f"{base(api_project)}/sql"
    await api.post(roles, json={"name": "logged", "password": "Pw-In-Api-123"})
    await api.post(sql, json={"query": "ALTER ROLE logged PASSWORD 'Pw-In-Sql-456'"})
    await api.post(sql, json={"query": "ALTER ROLE missing PASSWORD 'Pw-In-Error-789'"})
    tail = (await api.get(url, params={"lines": 50})).json()
    assert tail["count"] == len(tail["lines"]) <= 50
    assert any("connection authorized" in line for line in tail["lines"])
    runtime: Runtime = app.state.runtime
    whole = runtime.compute.log_path(api_project["endpoint_id"]).read_text()
    for secret in ("Pw-In-Api-123", "Pw-In-Sql-456", "Pw-In-Error-789", api_project["pg_password"]):
        assert secret not in whole
    assert (await api.get(url, params={"lines": 5001})).status_code == 400
    assert (await api.get(url, params={"lines": 0})).status_code == 400
    await api.post(f"{base(api_project)}/suspend")
    cold = (await api.get(url, params={"lines": 5})).json()
    assert cold["count"] == 5
    assert any("shutting down" in line or "shut down" in line for line in cold["lines"])
    assert (await api.get(base(api_project))).json()["status"] == "suspended"  # not woken


async def test_dump_restores_into_a_fresh_project(
    api: httpx.AsyncClient, api_project: dict[str, Any], app: FastAPI
) -> None:
    runtime: Runtime = app.state.runtime
    sql = f"{base(api_project)}/sql"
    await api.post(
        sql,
        json={
            "query": (
                'CREATE TABLE "we""ird" (id int PRIMARY KEY, v text);'
                'INSERT INTO "we""ird" SELECT g, md5(g::text) FROM generate_series(1, 500) g;'
                "CREATE TABLE other (x int); INSERT INTO other VALUES (7)"
            )
        },
    )
    response = await api.get(f"{base(api_project)}/dump")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/sql")
    assert response.headers["content-disposition"].startswith("attachment")
    dump = response.text
    assert "PostgreSQL database dump" in dump

    single = await api.get(f"{base(api_project)}/dump", params={"table": 'public.we"ird'})
    assert single.status_code == 200
    assert 'CREATE TABLE public."we""ird"' in single.text
    assert "other" not in single.text
    missing = await api.get(f"{base(api_project)}/dump", params={"table": "ot*"})
    assert missing.status_code == 404  # a pattern matches nothing: names are taken literally

    target = (await api.post("/v1/projects", json={"name": "restored"})).json()
    try:
        psql = str(runtime.install_for(target["pg_version"]).tool("psql"))
        dsn = target["connection_string"].replace("sslmode=require", "sslmode=disable")
        restored = await asyncio.to_thread(
            subprocess.run,
            [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-", dsn],
            input=dump,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert restored.returncode == 0, restored.stderr
        assert await fetchval(target["connection_string"], 'SELECT count(*) FROM "we""ird"') == 500
        assert await fetchval(target["connection_string"], "SELECT x FROM other") == 7
    finally:
        await api.delete(f"/v1/projects/{target['id']}")


async def test_query_statistics_on_an_installation_that_ships_them(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    """pg_stat_statements is preloaded where the installation has it, so installing the
    extension is all a user (or the MCP slow-queries tool) needs."""
    shipping = [i for i in runtime.installs if i.has_library("pg_stat_statements")]
    if not shipping:
        pytest.skip("no PostgreSQL installation here ships pg_stat_statements")
    created = await api.post(
        "/v1/projects", json={"name": "query-stats", "pg_version": shipping[0].major}
    )
    assert created.status_code == 201, created.text
    project = created.json()
    try:
        installed = await api.post(
            f"{base(project)}/extensions", json={"name": "pg_stat_statements"}
        )
        assert installed.status_code == 201, installed.text
        answer = await api.post(
            f"{base(project)}/sql",
            json={"query": "SELECT count(*) >= 0 AS ok FROM pg_stat_statements"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["rows"] == [{"ok": True}]
    finally:
        await api.delete(f"/v1/projects/{project['id']}")
