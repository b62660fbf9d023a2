"""The connection proxy: one port for every compute, as clients really use it."""

from __future__ import annotations

import asyncio
import ssl
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from lampion.config import Settings
from lampion.proxy.server import ProxyServer
from lampion.runtime import Runtime
from lampion.store.models import Event, TransferRecord
from tests.support.apps import client_for, make_settings, running_app
from tests.support.orgs import make_key
from tests.support.pg import (
    apsql,
    assert_a_timed_out_query_is_cancelled,
    connect,
    direct_dsn,
    fetchval,
    psql,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.compute


@pytest.fixture
async def project(api: httpx.AsyncClient) -> AsyncIterator[dict[str, Any]]:
    response = await api.post("/v1/projects", json={"name": "proxied"})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    yield created
    await api.delete(f"/v1/projects/{created['id']}")


def _proxy_params(project: dict[str, Any], settings: Settings, **extra: str) -> str:
    params = {
        "host": "127.0.0.1",
        "port": str(settings.proxy_port),
        "user": "cloud_admin",
        "password": project["pg_password"],
        "dbname": "postgres",
        **extra,
    }
    return " ".join(f"{k}={v}" for k, v in params.items())


@pytest.mark.parametrize("sslmode", ["require", "disable"])
async def test_psql_and_asyncpg_through_the_proxy(
    shared_project: dict[str, Any], sslmode: str
) -> None:
    dsn = shared_project["connection_string"].replace("sslmode=require", f"sslmode={sslmode}")
    result = await apsql(dsn, "SELECT current_database() || ' ' || current_user")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "postgres cloud_admin"
    connection = await connect(dsn)
    try:
        assert await connection.fetchval("SELECT 41 + 1") == 42
        encrypted = connection._transport.get_extra_info("sslcontext") is not None
        assert encrypted == (sslmode == "require")
    finally:
        await connection.close()


async def test_routing_by_dbname_options_and_sni(
    shared_project: dict[str, Any], settings: Settings
) -> None:
    endpoint = shared_project["endpoint_id"]
    await fetchval(shared_project["connection_string"], "CREATE DATABASE appdb")
    by_prefix = await apsql(
        _proxy_params(shared_project, settings, dbname=f"{endpoint}.appdb", sslmode="disable"),
        "SELECT current_database()",
    )
    by_options = await apsql(
        _proxy_params(shared_project, settings, options=f"endpoint={endpoint}", sslmode="disable"),
        "SELECT current_database()",
    )
    by_sni = await apsql(
        _proxy_params(
            shared_project,
            settings,
            host=f"{endpoint}.lampion.test",
            hostaddr="127.0.0.1",
            sslmode="require",
        ),
        "SELECT current_database()",
    )
    assert (by_prefix.stdout.strip(), by_prefix.returncode) == ("appdb", 0), by_prefix.stderr
    assert (by_options.stdout.strip(), by_options.returncode) == ("postgres", 0), by_options.stderr
    assert (by_sni.stdout.strip(), by_sni.returncode) == ("postgres", 0), by_sni.stderr
    connection = await asyncpg.connect(
        host="127.0.0.1",
        port=settings.proxy_port,
        user="cloud_admin",
        password=shared_project["pg_password"],
        database="postgres",
        server_settings={"options": f"-c endpoint={endpoint} -c work_mem=5MB"},
        ssl=False,
    )
    try:
        assert await connection.fetchval("SHOW work_mem") == "5MB"  # other options survive
    finally:
        await connection.close()


@pytest.mark.parametrize(
    ("dbname", "message"),
    [
        # an unknown endpoint looks like a wrong password (see test_proxy_auth.py)
        ("ep-doesnotexist.postgres", 'password authentication failed for user "x"'),
        ("postgres", "Endpoint not specified"),
    ],
)
async def test_unknown_or_missing_endpoint_is_a_postgres_error(
    settings: Settings, dbname: str, message: str
) -> None:
    result = await asyncio.to_thread(
        psql,
        f"host=127.0.0.1 port={settings.proxy_port} user=x password=y dbname={dbname} "
        "sslmode=require",
        "SELECT 1",
    )
    assert result.returncode == 2
    assert f"FATAL:  {message}" in result.stderr


async def test_wake_on_connect_resumes_once(
    api: httpx.AsyncClient, project: dict[str, Any], app: FastAPI
) -> None:
    runtime: Runtime = app.state.runtime
    endpoint_url = f"/v1/projects/{project['id']}/endpoints/{project['endpoint_id']}"
    await fetchval(project["connection_string"], "CREATE TABLE t AS SELECT 'awake' AS v")
    assert (await api.post(f"{endpoint_url}/suspend")).status_code == 200

    started = time.monotonic()
    answers = await asyncio.gather(
        *(fetchval(project["connection_string"], "SELECT v FROM t") for _ in range(20))
    )
    assert answers == ["awake"] * 20
    assert time.monotonic() - started < 10
    assert (await api.get(endpoint_url)).json()["status"] == "running"
    async with runtime.sessions() as session:
        resumes = await session.scalar(
            select(func.count())
            .select_from(Event)
            .where(
                Event.type == "endpoint.resumed",
                Event.payload["data"]["id"].as_string() == project["endpoint_id"],
            )
        )
    assert resumes == 1


async def test_cancel_reaches_the_right_compute(shared_project: dict[str, Any]) -> None:
    connection = await connect(shared_project["connection_string"])
    try:
        await assert_a_timed_out_query_is_cancelled(connection)
    finally:
        await connection.close()
    direct = direct_dsn(shared_project["pg_password"], shared_project["pg_port"])
    sleeping = await fetchval(
        direct, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'"
    )
    assert sleeping == 0


async def test_bytes_are_counted_per_endpoint(project: dict[str, Any], app: FastAPI) -> None:
    runtime: Runtime = app.state.runtime
    proxy: ProxyServer = app.state.proxy
    await proxy.meter.flush()
    await fetchval(project["connection_string"], "SELECT repeat('x', 1000000)")
    await fetchval(project["connection_string"], "SELECT $$" + "y" * 200_000 + "$$")
    await proxy.meter.flush()
    async with runtime.sessions() as session:
        sent, received = (
            await session.execute(
                select(func.sum(TransferRecord.bytes_out), func.sum(TransferRecord.bytes_in)).where(
                    TransferRecord.endpoint_id == project["endpoint_id"]
                )
            )
        ).one()
    assert 1_200_000 < sent < 1_300_000  # both results, the second echoes its 200 kB
    assert 200_000 < received < 300_000


async def _raw_exchange(port: int, payload: bytes, read: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 5) if read else b""
    finally:
        writer.close()


def _startup(version: int, **params: str) -> bytes:
    body = struct.pack("!i", version)
    for key, value in params.items():
        body += key.encode() + b"\0" + value.encode() + b"\0"
    body += b"\0"
    return struct.pack("!i", len(body) + 4) + body


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", b"invalid length of startup packet"),
        (struct.pack("!ii", 20000, 196608) + b"\0" * 100, b"invalid length of startup packet"),
        (_startup(2 << 16, user="x", database="ep-x.postgres"), b"unsupported frontend protocol"),
        (struct.pack("!ii", 12, 196608) + b"ab\0\0", b"invalid startup packet layout"),
        (_startup(196608, user="x"), b"Endpoint not specified"),
    ],
)
async def test_malformed_input_gets_an_error_and_a_close(
    settings: Settings, shared_project: dict[str, Any], payload: bytes, expected: bytes
) -> None:
    answer = await _raw_exchange(settings.proxy_port, payload)
    assert answer[:1] == b"E"
    assert expected in answer
    assert await fetchval(shared_project["connection_string"], "SELECT 1") == 1


async def test_stalled_and_vanishing_clients_do_not_hurt_others(
    settings: Settings, shared_project: dict[str, Any]
) -> None:
    stalled = [await asyncio.open_connection("127.0.0.1", settings.proxy_port) for _ in range(5)]
    for _, writer in stalled:
        writer.write(struct.pack("!i", 80))  # a header, then nothing
    await _raw_exchange(settings.proxy_port, b"\x00\x00", read=False)  # gone mid-header
    assert await fetchval(shared_project["connection_string"], "SELECT 'fine'") == "fine"
    started = time.monotonic()
    for reader, writer in stalled:
        answer = await asyncio.wait_for(reader.read(), 10)
        assert b"timed out" in answer
        writer.close()
    assert time.monotonic() - started < settings.proxy_handshake_timeout + 3


async def test_gssenc_request_is_declined(settings: Settings) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", settings.proxy_port)
    try:
        writer.write(struct.pack("!ii", 8, 80877104))
        assert await asyncio.wait_for(reader.readexactly(1), 5) == b"N"
        writer.write(struct.pack("!ii", 8, 80877103))  # the client goes on with SSL
        assert await asyncio.wait_for(reader.readexactly(1), 5) == b"S"
    finally:
        writer.close()


async def test_tls_can_be_required(settings: Settings, templates_dir) -> None:
    strict = make_settings(
        settings.data_dir.parent / "data-strict-tls", templates_dir, proxy_require_tls=True
    )
    async with running_app(strict) as app:
        key = await make_key(app.state.runtime.sessions, "org-tls")
        async with client_for(app, key) as client:
            project = (await client.post("/v1/projects", json={"name": "tls"})).json()
            dsn = project["connection_string"]
            plain = await apsql(dsn.replace("sslmode=require", "sslmode=disable"), "SELECT 1")
            assert plain.returncode == 2
            assert "TLS is required" in plain.stderr
            encrypted = await apsql(dsn, "SELECT 1")
            assert encrypted.returncode == 0, encrypted.stderr
            await client.delete(f"/v1/projects/{project['id']}")


async def test_proxy_certificate_is_served(settings: Settings) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection("127.0.0.1", settings.proxy_port)
    writer.write(struct.pack("!ii", 8, 80877103))
    assert await reader.readexactly(1) == b"S"
    await writer.start_tls(context, server_hostname="ep-abc.lampion.test")
    certificate = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    assert certificate
    writer.close()


@pytest.mark.parametrize("sslmode", ["disable", "require"])
async def test_bytes_are_counted_on_both_relay_paths(
    project: dict[str, Any], app: FastAPI, sslmode: str
) -> None:
    """Plaintext sessions are relayed by the kernel where it allows (counted from TCP_INFO),
    TLS sessions by the proxy itself; both are metered alike."""
    runtime: Runtime = app.state.runtime
    proxy: ProxyServer = app.state.proxy
    dsn = project["connection_string"].replace("sslmode=require", f"sslmode={sslmode}")
    await proxy.meter.flush()
    kernel_before = proxy.kernel_relayed
    connection = await connect(dsn)
    try:
        for _ in range(3):
            assert len(await connection.fetchval("SELECT repeat('z', 300000)")) == 300_000
        await proxy.meter.flush()  # a flush while the session is open counts what passed
        assert len(await connection.fetchval("SELECT repeat('z', 100000)")) == 100_000
    finally:
        await connection.close()
    sent = 0

    async def all_counted() -> bool:  # the relay counts a session's tail when it closes
        nonlocal sent
        await proxy.meter.flush()
        async with runtime.sessions() as session:
            sent = (
                await session.scalar(
                    select(func.sum(TransferRecord.bytes_out)).where(
                        TransferRecord.endpoint_id == project["endpoint_id"]
                    )
                )
                or 0
            )
        return sent > 1_000_000

    await eventually(all_counted, 10, "the closed session's bytes to be metered")
    assert sent < 1_100_000
    if sslmode == "disable" and proxy._sockmap is not None:
        assert proxy.kernel_relayed == kernel_before + 1
    else:
        assert proxy.kernel_relayed == kernel_before
