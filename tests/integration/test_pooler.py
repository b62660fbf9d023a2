"""Pooled connections: each compute's PgBouncer, reached through the proxy as
``<endpoint_id>-pooler``, with the endpoint's own password."""

from __future__ import annotations

import asyncio
import resource
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import psutil
import pytest
from fastapi import FastAPI

from lampion.compute.pooler_config import pgbouncer_version
from lampion.config import Settings
from tests.support.apps import client_for
from tests.support.pg import (
    apsql,
    assert_a_timed_out_query_is_cancelled,
    connect,
    direct_dsn,
    fetchval,
)

pytestmark = pytest.mark.compute

CLIENTS = 2000


@pytest.fixture(scope="module")
async def pooled_project(app: FastAPI, admin_key: str) -> AsyncIterator[dict[str, Any]]:
    async with client_for(app, admin_key) as client:
        response = await client.post("/v1/projects", json={"name": "pooled"})
        assert response.status_code == 201, response.text
        project: dict[str, Any] = response.json()
        yield project
        await client.delete(f"/v1/projects/{project['id']}")


def _plain(dsn: str) -> str:
    return dsn.replace("sslmode=require", "sslmode=disable")


def _pgbouncers(endpoint_id: str) -> list[psutil.Process]:
    return [
        process
        for process in psutil.process_iter(["name", "cmdline"])
        if process.info["name"] == "pgbouncer"
        and any(f"/{endpoint_id}/" in arg for arg in process.info["cmdline"] or [])
    ]


async def test_pooled_sessions_authenticate_with_the_endpoint_password(
    pooled_project: dict[str, Any], settings: Settings
) -> None:
    dsn = pooled_project["pooled_connection_string"]
    pooler = f"{pooled_project['endpoint_id']}-pooler"
    assert f"options=endpoint%3D{pooler}" in dsn
    assert len(_pgbouncers(pooled_project["endpoint_id"])) == 1
    # postgres sees PgBouncer's server connection, over the compute's unix socket
    query = "SELECT current_user || ' ' || (inet_client_addr() IS NULL)"
    common = (
        f"host=127.0.0.1 port={settings.proxy_port} user=cloud_admin "
        f"password={pooled_project['pg_password']} dbname=postgres"
    )
    for conninfo in (
        dsn,
        f"{common} options=endpoint={pooler} sslmode=disable",
        f"{common.replace('dbname=postgres', f'dbname={pooler}.postgres')} sslmode=disable",
        f"{common} host={pooler}.lampion.test hostaddr=127.0.0.1 sslmode=require",  # SNI
    ):
        result = await apsql(conninfo, query)
        assert (result.stdout.strip(), result.returncode) == ("cloud_admin true", 0), result.stderr
    connection = await connect(_plain(dsn), statement_cache_size=0)
    try:  # asyncpg's CancelRequest goes through the proxy to PgBouncer's socket
        await assert_a_timed_out_query_is_cancelled(connection)
    finally:
        await connection.close()
    wrong = dsn.replace(pooled_project["pg_password"], "not-the-password")
    # the verifiers' function answers PgBouncer's role only, which cannot log in over TCP
    direct = direct_dsn(pooled_project["pg_password"], pooled_project["pg_port"])
    lookup = "SELECT count(*) FROM pg_catalog.lampion_pooler_auth('cloud_admin')"
    assert await fetchval(direct, lookup) == 0
    with pytest.raises(asyncpg.PostgresError, match="authentication failed"):
        await connect(
            direct.replace(f"cloud_admin:{pooled_project['pg_password']}", "lampion_pooler:x")
        )
    # PgBouncer checks the SCRAM proof against the verifier from pg_authid (auth_query)
    with pytest.raises(asyncpg.PostgresError, match="authentication failed"):
        await connect(wrong, statement_cache_size=0)


async def test_prepared_statements_in_transaction_mode(pooled_project: dict[str, Any]) -> None:
    """As PgBouncer documents it: before 1.21, protocol-level named prepared statements
    live on one server connection, so they work inside a transaction and are lost across
    transactions once another client took that server connection; from 1.21 on
    (max_prepared_statements) PgBouncer prepares them on each server connection itself."""
    dsn = _plain(pooled_project["pooled_connection_string"])
    first = await connect(dsn, statement_cache_size=0)
    second = await connect(dsn, statement_cache_size=0)
    try:
        assert await first.fetchval("SELECT $1::int + 1", 41) == 42  # unnamed: always fine
        async with first.transaction():
            statement = await first.prepare("SELECT $1::int * 2", name="times_two")
            assert await statement.fetchval(21) == 42
        prepared = await first.prepare("SELECT $1::int - 1", name="minus_one")
        server = await first.fetchval("SELECT pg_backend_pid()")  # the one it prepared on
        async with second.transaction():
            # PgBouncer hands out its most recently used server connection
            assert await second.fetchval("SELECT pg_backend_pid()") == server
            if pgbouncer_version() >= (1, 21):
                assert await prepared.fetchval(43) == 42
            else:
                with pytest.raises(asyncpg.InvalidSQLStatementNameError):
                    await prepared.fetchval(43)
    finally:
        await first.close()
        await second.close()


async def test_many_clients_queue_for_a_small_compute(pooled_project: dict[str, Any]) -> None:
    """2,000 sessions at once against max_connections 100: all are answered (PgBouncer
    queues them for its server connections); directly, most would be refused."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4 * CLIENTS + 1000:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * CLIENTS + 1000), hard))
    direct = direct_dsn(pooled_project["pg_password"], pooled_project["pg_port"])
    assert int(await fetchval(direct, "SHOW max_connections")) == 100
    dsn = _plain(pooled_project["pooled_connection_string"])
    opening = asyncio.Semaphore(200)

    async def open_one() -> asyncpg.Connection:
        async with opening:
            return await connect(dsn, statement_cache_size=0)

    connections = await asyncio.gather(*(open_one() for _ in range(CLIENTS)))
    try:
        answers = await asyncio.gather(
            *(
                c.fetchval("SELECT $1::int FROM pg_sleep(0.01)", i)
                for i, c in enumerate(connections)
            )
        )
        assert answers == list(range(CLIENTS))
        servers = await fetchval(
            direct, "SELECT count(*) FROM pg_stat_activity WHERE client_addr IS NULL"
        )
        assert servers < 100
    finally:
        await asyncio.gather(*(c.close() for c in connections))


async def test_session_mode_wake_and_disable(
    api: httpx.AsyncClient, pooled_project: dict[str, Any]
) -> None:
    endpoint_id = pooled_project["endpoint_id"]
    url = f"/v1/projects/{pooled_project['id']}/endpoints/{endpoint_id}"
    dsn = _plain(pooled_project["pooled_connection_string"])

    response = await api.patch(url, json={"pooler_mode": "session"})
    assert response.status_code == 200, response.text
    assert response.json()["pooler_mode"] == "session"
    connection = await connect(dsn, statement_cache_size=0)
    try:  # a session keeps its server connection: prepared statements outlive transactions
        prepared = await connection.prepare("SELECT $1::int - 1", name="minus_one")
        async with connection.transaction():
            await connection.execute("SELECT 1")
        assert await prepared.fetchval(43) == 42
    finally:
        await connection.close()

    assert (await api.post(f"{url}/suspend")).status_code == 200
    assert _pgbouncers(endpoint_id) == []
    assert await fetchval(dsn, "SELECT 'woken through the pooler'") == "woken through the pooler"
    assert (await api.get(url)).json()["status"] == "running"
    (pgbouncer,) = _pgbouncers(endpoint_id)
    pgbouncer.kill()  # a pooler that died is started again by the next pooled connection
    pgbouncer.wait(5)
    assert await fetchval(dsn, "SELECT 'pooler restarted'") == "pooler restarted"
    assert len(_pgbouncers(endpoint_id)) == 1

    response = await api.patch(url, json={"pooler_enabled": False})
    assert response.status_code == 200, response.text
    assert response.json()["pooled_connection_string"] is None
    assert _pgbouncers(endpoint_id) == []
    with pytest.raises(asyncpg.PostgresError, match="connection pooling is disabled"):
        await connect(dsn, statement_cache_size=0)
    branch = await api.post(f"/v1/projects/{pooled_project['id']}/branches", json={"name": "b"})
    assert branch.status_code == 201, branch.text
    assert branch.json()["pooled_connection_string"] is None  # the parent's settings
    await api.delete(f"/v1/projects/{pooled_project['id']}/branches/{branch.json()['id']}")

    response = await api.patch(url, json={"pooler_enabled": True, "pooler_mode": "transaction"})
    assert response.status_code == 200, response.text
    assert await fetchval(dsn, "SELECT 'pooled again'") == "pooled again"

    bad = await api.patch(url, json={"pooler_mode": "statement"})
    assert bad.status_code == 400
    assert "pooler_mode" in bad.text
