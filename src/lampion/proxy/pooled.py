"""Pooled connections: ``<endpoint_id>-pooler`` in any routing form names an endpoint's
PgBouncer, reached over its unix socket instead of postgres's port. Everything else about
the connection (allowlist, wake-on-connect, metering) is the endpoint's own."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from lampion.compute.pooler_config import POOLER_SUFFIX, split_pooler_suffix
from lampion.proxy.connection import Conn
from lampion.proxy.protocol import ProtocolError
from lampion.runtime import Runtime
from lampion.services import endpoints

_CANCEL_FORWARD_TIMEOUT = 5.0

CancelTarget = tuple[str, int] | str
"""Where a cancel request goes: a TCP address, or a unix socket's path."""

__all__ = [
    "POOLER_SUFFIX",
    "CancelTarget",
    "PoolerUnavailable",
    "cancel_target",
    "check_enabled",
    "connect",
    "send_cancel",
    "split_pooler_suffix",
]


def check_enabled(endpoint_id: str, enabled: bool) -> None:
    if not enabled:
        raise ProtocolError(
            f'connection pooling is disabled for endpoint "{endpoint_id}": enable it '
            f'(pooler_enabled) or connect to "{endpoint_id}" without "{POOLER_SUFFIX}"',
            "08004",
        )


class PoolerUnavailable(ProtocolError, OSError):
    """No PgBouncer listens: an OSError to the proxy (which wakes the compute and tries
    once more), then the client's error."""


async def connect(rt: Runtime, endpoint_id: str, port: int) -> Conn:
    """A connection to the endpoint's PgBouncer, started again first if it died on a
    running compute; PoolerUnavailable when none listens."""
    path = rt.compute.pooler_socket(endpoint_id, port)
    loop = asyncio.get_running_loop()
    try:
        _, upstream = await loop.create_unix_connection(Conn, path)
        return upstream
    except OSError:
        await endpoints.restart_dead_pooler(rt, endpoint_id)
    try:
        _, upstream = await loop.create_unix_connection(Conn, path)
    except OSError as exc:
        raise PoolerUnavailable(
            f'the connection pooler of endpoint "{endpoint_id}" is not running: connect '
            f'without "{POOLER_SUFFIX}", or try again later',
            "57P03",
        ) from exc
    return upstream


def cancel_target(upstream: Conn) -> CancelTarget:
    assert upstream.transport is not None
    sock = upstream.transport.get_extra_info("socket")
    if sock is not None and sock.family == socket.AF_UNIX:
        return str(upstream.transport.get_extra_info("peername"))
    return upstream.peer_address


async def send_cancel(target: CancelTarget, packet: bytes) -> None:
    with contextlib.suppress(OSError, TimeoutError):
        if isinstance(target, str):
            reader, writer = await asyncio.open_unix_connection(target)
        else:
            reader, writer = await asyncio.open_connection(*target)
        try:
            writer.write(packet)
            await writer.drain()
            if isinstance(target, str):
                # PgBouncer before 1.19.1 exits (FATAL "bad client state: 0") when a cancel
                # request's connection closes before it has forwarded the request: wait for
                # it to close the connection itself.
                async with asyncio.timeout(_CANCEL_FORWARD_TIMEOUT):
                    await reader.read()
        finally:
            writer.close()
