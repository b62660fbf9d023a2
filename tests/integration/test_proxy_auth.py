"""Authentication at the proxy: passwords are checked before anything wakes, strangers learn
nothing about which endpoints exist, and guessing is throttled."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import psycopg
import pytest
from fastapi import FastAPI

from lampion.config import Settings
from lampion.proxy.server import ProxyServer
from lampion.proxy.throttle import Throttle
from lampion.runtime import Runtime
from tests.support.pg import apsql, connect, fetchval
from tests.support.waiting import eventually

pytestmark = pytest.mark.compute


@pytest.fixture
async def project(api: httpx.AsyncClient) -> AsyncIterator[dict[str, Any]]:
    response = await api.post("/v1/projects", json={"name": "proxy-auth"})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    yield created
    await api.delete(f"/v1/projects/{created['id']}")


def _dsn(project: dict[str, Any], *, user: str = "cloud_admin", password: str | None = None) -> str:
    """The project's connection string with another role or password."""
    password = project["pg_password"] if password is None else password
    original = project["connection_string"]
    _, rest = original.split("@", 1)
    return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{rest}"


async def _login_error(dsn: str) -> asyncpg.PostgresError:
    with pytest.raises(asyncpg.PostgresError) as caught:
        await connect(dsn)
    return caught.value


async def test_passwords_are_checked_before_anything_wakes(
    api: httpx.AsyncClient, project: dict[str, Any], app: FastAPI
) -> None:
    runtime: Runtime = app.state.runtime
    endpoint_id = project["endpoint_id"]
    endpoint_url = f"/v1/projects/{project['id']}/endpoints/{endpoint_id}"
    await fetchval(project["connection_string"], "CREATE ROLE made_by_sql LOGIN PASSWORD 'sql-pw'")
    assert (await api.post(f"{endpoint_url}/suspend")).status_code == 200

    started = time.monotonic()
    wrong = await _login_error(_dsn(project, password="wrong"))
    assert time.monotonic() - started < 2
    assert wrong.sqlstate == "28P01"
    assert str(wrong) == 'password authentication failed for user "cloud_admin"'
    assert (await api.get(endpoint_url)).json()["status"] == "suspended"
    assert endpoint_id not in await runtime.compute.running_endpoints()

    # an endpoint that does not exist answers exactly as a wrong password does
    stranger = await _login_error(_dsn(project).replace(endpoint_id, "ep-doesnotexist00"))
    assert (stranger.sqlstate, str(stranger)) == (wrong.sqlstate, str(wrong))
    unknown_role = await _login_error(_dsn(project, user="nobody", password="x"))
    assert unknown_role.sqlstate == "28P01"

    # the role made with SQL was harvested at suspend; it logs in and wakes the compute
    as_sql_role = await fetchval(_dsn(project, user="made_by_sql", password="sql-pw"), "SELECT 1")
    assert as_sql_role == 1
    assert (await api.get(endpoint_url)).json()["status"] == "running"

    # SCRAM with channel binding (libpq's channel_binding=require over TLS) and without;
    # the client's parameters reach the compute
    bound = await apsql(
        _dsn(project) + "&channel_binding=require&application_name=bound-app",
        "SELECT current_setting('application_name')",
    )
    assert bound.returncode == 0, bound.stderr
    assert bound.stdout.strip() == "bound-app"
    async with await psycopg.AsyncConnection.connect(
        _dsn(project) + "&channel_binding=require"
    ) as bound_psycopg:  # libpq 18 (psycopg's own), not the system's psql
        cursor = await bound_psycopg.execute("SELECT current_user")
        assert await cursor.fetchone() == ("cloud_admin",)
    plain = await apsql(
        _dsn(project).replace("sslmode=require", "sslmode=disable") + "&channel_binding=disable",
        "SELECT current_user",
    )
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == "cloud_admin"
    unbound_over_plain = await apsql(
        _dsn(project).replace("sslmode=require", "sslmode=disable") + "&channel_binding=require",
        "SELECT 1",
    )
    assert unbound_over_plain.returncode == 2

    failures = runtime.telemetry.registry.get_sample_value(
        "lampion_proxy_auth_failures_total", {"endpoint_id": endpoint_id}
    )
    assert failures is not None
    assert failures >= 2


async def test_guessing_is_throttled_per_address(
    shared_project: dict[str, Any], app: FastAPI, settings: Settings
) -> None:
    proxy: ProxyServer = app.state.proxy
    saved = proxy.auth.throttle
    proxy.auth.throttle = Throttle(per_address=3, per_endpoint=100, window=2.0)
    port = settings.proxy_port
    try:
        for _ in range(3):
            assert (await _login_error(_dsn(shared_project, password="guess"))).sqlstate == "28P01"
        refused = await _login_error(_dsn(shared_project))  # even the right password, for now
        assert refused.sqlstate == "53300"
        assert "too many failed logins" in str(refused)

        async with _from_address("127.0.0.3", port) as relay_port:
            elsewhere = _dsn(shared_project).replace(f":{port}/", f":{relay_port}/")
            assert await fetchval(elsewhere, "SELECT 'unaffected'") == "unaffected"

        async def released() -> bool:
            try:
                return bool(await fetchval(_dsn(shared_project), "SELECT true"))
            except asyncpg.TooManyConnectionsError:
                return False

        await eventually(released, timeout=10, what="the window to pass")
    finally:
        proxy.auth.throttle = saved


@contextlib.asynccontextmanager
async def _from_address(source: str, proxy_port: int) -> AsyncIterator[int]:
    """A local port whose connections reach the proxy from ``source`` (another client)."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(
            "127.0.0.1", proxy_port, local_addr=(source, 0)
        )
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
