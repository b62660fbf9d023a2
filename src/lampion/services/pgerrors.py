"""PostgreSQL errors from an administrative operation, as the API's errors."""

from __future__ import annotations

import asyncpg

from lampion.errors import Conflict, Forbidden, InvalidRequest, LampionError, NotFound

_CONFLICT = {"42P04", "42710", "23505", "2BP01", "55006", "42P06", "25001"}
_NOT_FOUND = {"3D000", "42704", "42883", "3F000", "42P01"}
_FORBIDDEN = {"42501"}


def translate(exc: asyncpg.PostgresError) -> LampionError:
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
