"""Infrastructure failures as the answers a client can act on, in one place for every
route: the metadata store unreachable or busy is a 503 with Retry-After (retry), a full
filesystem is a 507 (free space, then retry), whatever operation hit it."""

from __future__ import annotations

import errno
import shutil
import traceback
from collections.abc import Iterator
from pathlib import Path

import asyncpg
from sqlalchemy import exc as sa

from lampion.errors import InsufficientStorage, InvalidRequest, LampionError, ServiceUnavailable

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_FULL_TEXTS = ("no space left on device", "database or disk is full", "disk quota exceeded")
_DISK_FULL_SQLSTATE = "53100"
_FULL_BELOW = 16 << 20
_NUL_SQLSTATE = "22021"
_STORE_GONE = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,
    OSError,
)


def as_fault(exc: BaseException) -> LampionError | None:
    """The API error for an exception no route turned into one, or None (a real bug: 500)."""
    if isinstance(exc, LampionError):
        return None
    if storage_full(exc):
        return InsufficientStorage()
    if isinstance(exc, sa.DBAPIError):
        if _sqlstate(exc.orig) == _NUL_SQLSTATE or "0x00" in str(exc.orig):
            return InvalidRequest("A value holds a NUL character, which cannot be stored")
        if exc.connection_invalidated or isinstance(exc, sa.OperationalError | sa.InterfaceError):
            return store_unavailable(exc)
        return None
    if isinstance(exc, sa.TimeoutError):
        return store_unavailable(exc)
    if isinstance(exc, _STORE_GONE) and _through_store(exc):
        return store_unavailable(exc)
    if isinstance(exc, ConnectionError):
        return ServiceUnavailable(
            "A service Lampion depends on is not reachable; retry in a few seconds",
            details={"reason": "dependency_unreachable"},
        )
    return None


def unhandled(exc: BaseException, data_dir: Path | None) -> LampionError | None:
    """The answer for an exception that escaped every route (:func:`as_fault`), or the 507
    when the data dir is full: then that is what broke it."""
    fault = as_fault(exc)
    if fault is None and data_dir is not None and data_dir_full(data_dir):
        return InsufficientStorage()
    return fault


def remapped(exc: LampionError, data_dir: Path | None = None) -> LampionError:
    """A server-side error (5xx) whose cause was a full filesystem becomes the 507: said by
    the error itself, or by the data dir having no room left (a compute that could not
    write its WAL dies with a lost connection that names no cause)."""
    if exc.status_code < 500 or isinstance(exc, InsufficientStorage):
        return exc
    if storage_full(exc) or (data_dir is not None and data_dir_full(data_dir)):
        return InsufficientStorage()
    return exc


def data_dir_full(data_dir: Path) -> bool:
    """Less room than one WAL segment: no compute on it can go on writing."""
    try:
        return shutil.disk_usage(data_dir).free < _FULL_BELOW
    except OSError:
        return False


def store_unavailable(exc: BaseException) -> ServiceUnavailable:
    busy = "locked" in str(exc).lower() or isinstance(exc, sa.TimeoutError)
    what = "is busy" if busy else "is not reachable"
    return ServiceUnavailable(
        f"The metadata store {what}; retry in a few seconds",
        details={"reason": "store_unavailable"},
    )


def storage_full(exc: BaseException) -> bool:
    """Whether ``exc`` or what caused it says a filesystem (or the store) is full."""
    for link in _chain(exc):
        if isinstance(link, OSError) and link.errno in _FULL_ERRNOS:
            return True
        if _sqlstate(link) == _DISK_FULL_SQLSTATE:
            return True
        if any(text in str(link).lower() for text in _FULL_TEXTS):
            return True
    return False


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        if isinstance(link, sa.DBAPIError) and link.orig is not None:
            yield link.orig
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)


def _sqlstate(exc: BaseException | None) -> str | None:
    for name in ("sqlstate", "pgcode"):
        value = getattr(exc, name, None)
        if isinstance(value, str):
            return value
    return None


def _through_store(exc: BaseException) -> bool:
    """Raised under SQLAlchemy, i.e. by the metadata store (compute connections are pooled
    by asyncpg directly and turned into their own 503 by the data plane)."""
    return any(
        str(frame.f_globals.get("__name__", "")).startswith("sqlalchemy")
        for link in _chain(exc)
        for frame, _ in traceback.walk_tb(link.__traceback__)
    )
