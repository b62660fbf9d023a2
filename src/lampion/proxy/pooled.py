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

CancelTarget = tuple[str, int] | str
"""Where a cancel request goes: a TCP address, or a unix socket's path."""

__all__ = [
    "POOLER_SUFFIX",
    "CancelTarget",
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


async def connect(rt: Runtime, endpoint_id: str, port: int) -> Conn:
    """A connection to the endpoint's PgBouncer; OSError when none listens."""
    path = rt.compute.pooler_socket(endpoint_id, port)
    _, upstream = await asyncio.get_running_loop().create_unix_connection(Conn, path)
    return upstream


def cancel_target(upstream: Conn) -> CancelTarget:
    assert upstream.transport is not None
    sock = upstream.transport.get_extra_info("socket")
    if sock is not None and sock.family == socket.AF_UNIX:
        return str(upstream.transport.get_extra_info("peername"))
    return upstream.peer_address


async def send_cancel(target: CancelTarget, packet: bytes) -> None:
    with contextlib.suppress(OSError):
        if isinstance(target, str):
            _, writer = await asyncio.open_unix_connection(target)
        else:
            _, writer = await asyncio.open_connection(*target)
        writer.write(packet)
        await writer.drain()
        writer.close()
