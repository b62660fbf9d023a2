"""Which failures are transient (503 with Retry-After), which mean storage is full (507),
and which inputs are refused before they reach anything (400)."""

from __future__ import annotations

import asyncio
import errno
import sqlite3
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from lampion.api import faults
from lampion.errors import (
    ERROR_CODES,
    InsufficientStorage,
    InvalidRequest,
    ProvisioningFailed,
    ServiceUnavailable,
    SqlError,
)
from lampion.pg.unreachable import why_unreachable
from lampion.services import pgerrors
from lampion.services.usage import Period
from lampion.webhooks.ssrf import AddressPolicy, Refused, parse


def test_service_unavailable_carries_retry_after() -> None:
    assert ServiceUnavailable().headers["Retry-After"] == "2"
    assert ServiceUnavailable("x", retry_after=7).headers["Retry-After"] == "7"
    assert ProvisioningFailed().headers["Retry-After"] == "2"
    assert ERROR_CODES[507] == "insufficient_storage"


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (asyncpg.CannotConnectNowError("the database system is starting up"), "starting up"),
        (asyncpg.CannotConnectNowError("the database system is shutting down"), "shutting down"),
        (asyncpg.AdminShutdownError("terminating connection"), "shutting down"),
        (asyncpg.CrashShutdownError("crash of another server process"), "restarting"),
        (asyncpg.ConnectionDoesNotExistError("closed in the middle"), "closed the connection"),
        (asyncpg.TooManyConnectionsError("sorry, too many clients"), "connection slot"),
    ],
)
def test_a_compute_that_cannot_be_reached_is_503(exc: asyncpg.PostgresError, words: str) -> None:
    error = pgerrors.translate(exc)
    assert isinstance(error, ServiceUnavailable)
    assert words in error.message
    assert error.headers["Retry-After"]


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
        ConnectionResetError(errno.ECONNRESET, "reset"),
        FileNotFoundError(errno.ENOENT, "no socket"),
        asyncpg.InterfaceError("connection is closed"),
        TimeoutError(),
    ],
)
def test_a_dead_connection_is_unreachable(exc: BaseException) -> None:
    assert isinstance(pgerrors.unreachable(exc), ServiceUnavailable)


def test_ordinary_sql_errors_stay_what_they_were() -> None:
    assert why_unreachable(asyncpg.InterfaceError("the server expects 1 argument")) is None
    assert why_unreachable(asyncpg.QueryCanceledError("statement timeout")) is None
    disk_full = asyncpg.DiskFullError("could not extend file: No space left on device")
    assert type(pgerrors.translate(disk_full)) is InvalidRequest
    assert (
        faults.remapped(SqlError("could not extend file: No space left on device")).status_code
        == 400
    )


def test_psql_that_cannot_connect_is_503() -> None:
    refused = 'connection to server on socket "/x/.s.PGSQL.5" failed: Connection refused'
    assert isinstance(pgerrors.client_unreachable(refused), ServiceUnavailable)
    starting = "connection to server failed: FATAL:  the database system is starting up"
    error = pgerrors.client_unreachable(starting)
    assert error is not None
    assert "starting up" in error.message
    assert pgerrors.client_unreachable('relation "x" does not exist') is None


def test_a_full_disk_under_a_server_error_is_507() -> None:
    failed = ProvisioningFailed()
    failed.__cause__ = OSError(errno.ENOSPC, "No space left on device")
    assert isinstance(faults.remapped(failed), InsufficientStorage)
    copy_failed = RuntimeError("cp: error writing 'x/base/1': No space left on device")
    assert isinstance(faults.as_fault(copy_failed), InsufficientStorage)
    assert faults.as_fault(OSError("Device or resource busy")) is None  # a plain bug: 500


async def _locked_store_error(path: Path) -> BaseException:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x int)")
    holder.execute("BEGIN EXCLUSIVE")
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", connect_args={"timeout": 0.1})
    try:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t VALUES (1)"))
    except Exception as exc:
        return exc
    finally:
        await engine.dispose()
        holder.close()
    raise AssertionError("the write went through a held lock")


def test_a_sqlite_store_locked_beyond_its_timeout_is_503(tmp_path: Path) -> None:
    error = asyncio.run(_locked_store_error(tmp_path / "store.db"))
    fault = faults.as_fault(error)
    assert isinstance(fault, ServiceUnavailable), error
    assert "metadata store is busy" in fault.message


async def _unreachable_store_error() -> BaseException:
    engine = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        return exc
    finally:
        await engine.dispose()
    raise AssertionError("connected to nothing")


def test_an_unreachable_postgresql_store_is_503() -> None:
    fault = faults.as_fault(asyncio.run(_unreachable_store_error()))
    assert isinstance(fault, ServiceUnavailable)
    assert "metadata store is not reachable" in fault.message


@pytest.mark.parametrize(
    "url",
    [
        "https://x.example.com:99999/",
        "https://x.example.com:0/",
        "https://[::1/",
        "https://a\x01b.example.com/",
        "https://a b.example.com/",
        "https://ex\u00e4mple.com/",
        "https://a..b/",
        "ftp://example.com/",
        "https:///path",
    ],
)
def test_urls_that_cannot_be_parsed_are_refused(url: str) -> None:
    with pytest.raises(Refused):
        parse(url)
    with pytest.raises(Refused):
        asyncio.run(AddressPolicy(False, []).resolve(url))  # what a delivery does: no crash


def test_creation_refuses_only_what_is_known_to_be_forbidden() -> None:
    policy = AddressPolicy(False, [])
    asyncio.run(policy.check_creatable("https://hook.example.com"))  # does not resolve (yet)
    for forbidden in ("https://127.0.0.1/h", "https://[::1]:8443/", "http://localhost/"):
        with pytest.raises(Refused):
            asyncio.run(policy.check_creatable(forbidden))
    asyncio.run(AddressPolicy(True, []).check_creatable("http://127.0.0.1:9/"))


@pytest.mark.parametrize("label", ["0000-01", "9999-13", "10000-01", "2026-00", "26-01"])
def test_periods_out_of_range_are_400(label: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        Period.parse(label)
    assert caught.value.details == {"field": "period"}


def test_the_last_period_ends_at_the_last_instant() -> None:
    period = Period.parse("9999-12")
    assert period.start.year == 9999
    assert period.end.year == 9999
    assert period.end > period.start
