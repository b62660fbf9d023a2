"""One side of a proxied connection: reads framed bytes during the handshake, then relays
everything to its peer with flow control, counting bytes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from lampion.proxy.protocol import ProtocolError

TLS_RECORD_PLAINTEXT = 8192
"""The most plaintext one TLS record toward a client carries, as PostgreSQL's own server
writes: libpq before 18.6 in non-blocking mode (psycopg 3) stalls on 16 KiB records."""


class Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._chunk: int | None = None
        """Set on TLS transports: the largest single write (one TLS record's plaintext)."""
        self._buffer = bytearray()
        self._waiter: asyncio.Future[None] | None = None
        self._eof = False
        self._peer: Conn | None = None
        self._count: Callable[[int], None] | None = None
        self.before_close: Callable[[], None] | None = None
        """Runs once while the socket is still open, at EOF or before closing it."""
        self.cancel_key: tuple[int, bytes] | None = None
        """The compute's (pid, secret) for this session, on the upstream side."""
        self.closed = asyncio.get_running_loop().create_future()

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        if self._peer is not None:
            if self._count is not None:
                self._count(len(data))
            self._peer.send(data)
            return
        self._buffer += data
        self._wake()

    def eof_received(self) -> bool | None:
        """The protocol has no use for half-closed sessions: one side done, both done."""
        self._run_before_close()
        self._eof = True
        self._wake()
        if self._peer is not None:
            self._peer.close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._wake()
        if not self.closed.done():
            self.closed.set_result(None)
        if self._peer is not None:
            self._peer.close()

    def pause_writing(self) -> None:
        if self._peer is not None and self._peer.transport is not None:
            self._peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self._peer is not None and self._peer.transport is not None:
            self._peer.transport.resume_reading()

    # -- handshake ------------------------------------------------------------------------

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _fill(self, size: int) -> None:
        while len(self._buffer) < size:
            if self._eof:
                raise ProtocolError("connection closed mid-message")
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter

    async def read_exactly(self, size: int) -> bytes:
        await self._fill(size)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    @property
    def peer_address(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("peername")[:2]
        return str(host), int(port)

    def has_buffered(self) -> bool:
        return bool(self._buffer)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.send(data)

    def send(self, data: bytes) -> None:
        """Writes to the transport; on TLS, in pieces that each become one record."""
        assert self.transport is not None
        if self._chunk is None or len(data) <= self._chunk:
            self.transport.write(data)
            return
        view = memoryview(data)
        # asyncio's and uvloop's TLS transports encrypt each item as its own record(s), and
        # send them all at once
        self.transport.writelines(
            [view[start : start + self._chunk] for start in range(0, len(view), self._chunk)]
        )

    def relay_to(self, peer: Conn, count: Callable[[int], None]) -> None:
        """From now on every byte read is written to ``peer`` (after what is buffered)."""
        self._peer = peer
        self._count = count
        if self._buffer:
            data, self._buffer = bytes(self._buffer), bytearray()
            count(len(data))
            peer.send(data)
        if self._eof:
            peer.close()

    def close(self) -> None:
        self._run_before_close()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _run_before_close(self) -> None:
        hook, self.before_close = self.before_close, None
        if hook is not None:
            hook()

    def take_buffered(self) -> bytes:
        data, self._buffer = bytes(self._buffer), bytearray()
        return data

    async def first_byte(self) -> int:
        """The first unread byte, left unread."""
        await self._fill(1)
        return self._buffer[0]

    def set_tls_transport(self, transport: asyncio.Transport) -> None:
        """After STARTTLS the same protocol reads from the TLS transport."""
        self.transport = transport
        self._chunk = TLS_RECORD_PLAINTEXT
