"""Which failures on a compute connection mean "the compute cannot be reached right now"
(stopped, killed, restarting, starting up, out of connection slots) rather than "this
request is wrong": the first kind is worth a retry, the second is not."""

from __future__ import annotations

import asyncpg

_CLOSED_WORDS = ("closed", "closing", "released")


def why_unreachable(exc: BaseException) -> str | None:
    """What is happening to the compute, when ``exc`` says it cannot be reached; else None."""
    if isinstance(exc, asyncpg.CannotConnectNowError):  # 57P03
        text = str(exc).lower()
        return "is shutting down" if "shutting down" in text else "is starting up"
    if isinstance(exc, asyncpg.AdminShutdownError):  # 57P01
        return "is shutting down"
    if isinstance(exc, asyncpg.CrashShutdownError):  # 57P02
        return "is restarting after a crash"
    if isinstance(exc, asyncpg.TooManyConnectionsError):  # 53300
        return "has no free connection slot"
    if isinstance(exc, asyncpg.PostgresConnectionError):  # class 08
        return "closed the connection in the middle of the request"
    if isinstance(exc, asyncpg.InterfaceError) and any(word in str(exc) for word in _CLOSED_WORDS):
        return "closed the connection in the middle of the request"
    if isinstance(exc, TimeoutError):
        return "did not answer in time"
    if isinstance(exc, OSError):  # refused, reset, socket gone
        return "is not reachable"
    return None
