"""PostgreSQL errors from an operation on a compute, as the API's errors. A compute that
cannot be reached (stopped, restarting, starting up) is a 503 to retry, never a 400."""

from __future__ import annotations

import asyncpg

from lampion.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    LampionError,
    NotFound,
    ServiceUnavailable,
)
from lampion.pg.unreachable import why_unreachable

_CONFLICT = {"42P04", "42710", "23505", "2BP01", "55006", "42P06", "25001"}
_NOT_FOUND = {"3D000", "42704", "42883", "3F000", "42P01"}
_FORBIDDEN = {"42501"}


def unreachable(exc: BaseException) -> ServiceUnavailable | None:
    """The 503 for a failure that says the compute cannot be reached now; else None."""
    what = why_unreachable(exc)
    if what is None:
        return None
    return ServiceUnavailable(
        f"The compute {what}; retry in a few seconds",
        details={"reason": "compute_unreachable"},
    )


def translate(exc: asyncpg.PostgresError) -> LampionError:
    fault = unreachable(exc)
    if fault is not None:
        return fault
    sqlstate = exc.sqlstate or ""
    message = str(getattr(exc, "message", None) or exc)
    details = {"sqlstate": sqlstate}
    if sqlstate in _CONFLICT:
        return Conflict(message, details)
    if sqlstate in _NOT_FOUND:
        return NotFound(message, details)
    if sqlstate in _FORBIDDEN:
        return Forbidden(message, details)
    return InvalidRequest(message, details)


def client_unreachable(message: str) -> ServiceUnavailable | None:
    """The 503 for a PostgreSQL client program (psql, pg_dump) that could not reach the
    compute, from the first line it printed; else None."""
    text = message.lower()
    if "connection to server" not in text and "the database system is" not in text:
        return None
    if "shutting down" in text:
        what = "is shutting down"
    elif "starting up" in text or "not yet accepting" in text:
        what = "is starting up"
    else:
        what = "is not reachable"
    return ServiceUnavailable(
        f"The compute {what}; retry in a few seconds",
        details={"reason": "compute_unreachable"},
    )
