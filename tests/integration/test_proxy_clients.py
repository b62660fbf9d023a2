"""Third-party clients through the proxy, behaving as they do on a direct connection: psycopg's
large results over TLS, direct TLS, every routing form, psql's ``\\c`` and Django's test
runner (which switches databases)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import struct
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from lampion.config import Settings
from tests.support.pg import apsql

pytestmark = pytest.mark.compute

DJANGO_APP = Path(__file__).parent.parent / "support" / "django_app"
TLS_APPLICATION_DATA = 0x17
MAX_RECORD_PLAINTEXT = 8192
RECORD_OVERHEAD = 256  # the most a TLS record's encryption may add (RFC 8446 5.2)


class TlsRecordWatch:
    """A TCP relay in front of the proxy that reads the TLS record headers the proxy sends
    (after its one-byte answer to SSLRequest)."""

    def __init__(self, proxy_port: int):
        self.proxy_port = proxy_port
        self.sizes: list[int] = []
        self._pending = bytearray()
        self._answered = False

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[int]:
        server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        try:
            yield server.sockets[0].getsockname()[1]
        finally:
            server.close()

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        proxy_r, proxy_w = await asyncio.open_connection("127.0.0.1", self.proxy_port)
        await asyncio.gather(
            self._pump(client_r, proxy_w, None), self._pump(proxy_r, client_w, self._watch)
        )

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        watch: Callable[[bytes], None] | None,
    ) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                if watch is not None:
                    watch(data)
                writer.write(data)
                await writer.drain()
        writer.close()

    def _watch(self, data: bytes) -> None:
        if not self._answered:
            assert data[:1] == b"S"
            self._answered, data = True, data[1:]
        self._pending += data
        while len(self._pending) >= 5:
            kind, _, length = struct.unpack("!BHH", self._pending[:5])
            if len(self._pending) < 5 + length:
                return
            if kind == TLS_APPLICATION_DATA:
                self.sizes.append(length)
            del self._pending[: 5 + length]


def _conninfo(project: dict[str, Any], **params: str) -> str:
    """The API's connection string, with libpq parameters added or replaced."""
    return psycopg.conninfo.make_conninfo(project["connection_string"], **params)


async def test_large_results_over_tls_come_in_postgres_sized_records(
    shared_project: dict[str, Any], settings: Settings
) -> None:
    watch = TlsRecordWatch(settings.proxy_port)
    async with watch.running() as port:
        conninfo = _conninfo(shared_project, port=str(port), gssencmode="disable")
        async with await psycopg.AsyncConnection.connect(conninfo, connect_timeout=10) as conn:
            copied = 0
            async with conn.cursor() as cursor:
                copy_sql = "COPY (SELECT repeat('x', 1000) FROM generate_series(1, 3000)) TO STDOUT"
                async with cursor.copy(copy_sql) as copy:
                    async for chunk in copy:
                        copied += len(chunk)
                await cursor.execute("SELECT i, repeat('y', 500) FROM generate_series(1, 6000) i")
                rows = await cursor.fetchall()
    assert copied == 3000 * 1001
    assert len(rows) == 6000
    assert rows[-1] == (6000, "y" * 500)
    assert sum(watch.sizes) > 5_000_000
    assert max(watch.sizes) <= MAX_RECORD_PLAINTEXT + RECORD_OVERHEAD


async def test_direct_tls_needs_the_postgresql_alpn(
    shared_project: dict[str, Any], settings: Settings
) -> None:
    conninfo = _conninfo(shared_project, sslnegotiation="direct")
    async with await psycopg.AsyncConnection.connect(conninfo, connect_timeout=10) as conn:
        cursor = await conn.execute("SELECT current_database()")
        assert await cursor.fetchone() == ("postgres",)
        assert conn.pgconn.ssl_in_use

    answer = await asyncio.to_thread(_direct_tls_without_alpn, settings.proxy_port)
    assert answer.startswith(b"E")
    assert b"ALPN" in answer


def _direct_tls_without_alpn(port: int) -> bytes:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw) as tls,
    ):
        return tls.recv(4096)


async def test_routing_forms_agree(shared_project: dict[str, Any], settings: Settings) -> None:
    endpoint = shared_project["endpoint_id"]
    base = (
        f"host=127.0.0.1 port={settings.proxy_port} user=cloud_admin "
        f"password={shared_project['pg_password']} sslmode=require"
    )
    forms = {
        "-cendpoint=": f"{base} dbname=template1 options='-cendpoint={endpoint} -cwork_mem=5MB'",
        "options and prefix": f"{base} dbname={endpoint}.template1 options=endpoint={endpoint}",
        "SNI and prefix": (
            f"{base} host={endpoint}.lampion.test hostaddr=127.0.0.1 dbname={endpoint}.template1"
        ),
    }
    answers = await asyncio.gather(
        *(apsql(dsn, "SELECT current_database() || ' ' || current_setting('work_mem')")
          for dsn in forms.values())
    )  # fmt: skip
    for form, answer in zip(forms, answers, strict=True):
        assert answer.returncode == 0, (form, answer.stderr)
        assert answer.stdout.split()[0] == "template1", form
    assert answers[0].stdout.split()[1] == "5MB"  # other options still reach the compute

    conflicting = await apsql(
        f"{base} dbname={endpoint}.template1 options=endpoint=ep-other", "SELECT 1"
    )
    assert conflicting.returncode == 2
    assert "two different endpoints" in conflicting.stderr
    # the database-name prefix alone still routes (old connection strings keep working)
    by_prefix = await apsql(f"{base} dbname={endpoint}.template1", "SELECT current_database()")
    assert by_prefix.stdout.strip() == "template1", by_prefix.stderr


async def test_psql_reconnect_to_another_database_keeps_the_endpoint(
    shared_project: dict[str, Any],
) -> None:
    script = "\\c template1\nSELECT current_database();\n\\c postgres\nSELECT current_database();\n"
    result = await asyncio.to_thread(
        subprocess.run,
        [
            "psql",
            shared_project["connection_string"],
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
        ],
        input=script,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["template1", "postgres"]


async def test_django_test_runner_through_the_proxy(shared_project: dict[str, Any]) -> None:
    """Django connects to ``postgres`` to create ``test_postgres``, runs in it, drops it."""
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "django", "test", "--noinput", "-v", "2", "notes"],
        cwd=DJANGO_APP,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "settings",
            "PYTHONPATH": str(DJANGO_APP),
            "LAMPION_DSN": shared_project["connection_string"],
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Ran 1 test" in result.stderr
    assert "Destroying test database" in result.stderr
    gone = await apsql(
        shared_project["connection_string"],
        "SELECT count(*) FROM pg_database WHERE datname = 'test_postgres'",
    )
    assert gone.stdout.strip() == "0", gone.stderr
