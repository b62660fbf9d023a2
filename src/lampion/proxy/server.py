"""One PostgreSQL port for every compute.

A connection's startup phase is read here (TLS, routing, allowlist); the client then
authenticates with the proxy before anything wakes (``authenticate.py``), the compute is
woken and logged in to, and after its first ReadyForQuery the proxy only copies bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl

import structlog
from sqlalchemy import select

from lampion.errors import LampionError
from lampion.proxy import authenticate, pooled, protocol, tls
from lampion.proxy.connection import Conn
from lampion.proxy.protocol import ProtocolError
from lampion.proxy.routing import Route, route
from lampion.proxy.sockmap import KernelCounter, SockMap
from lampion.runtime import Runtime
from lampion.services import wake
from lampion.states import EndpointStatus, ProjectState
from lampion.store.models import Endpoint, Project

log = structlog.get_logger(__name__)

_AUTH_TIMEOUT = 60.0


class ProxyServer:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self.meter = rt.meter
        settings = rt.settings
        self._ssl = tls.server_context(
            settings.tls_cert, settings.tls_key, settings.data_dir, settings.public_host
        )
        self.auth = authenticate.Authenticator(rt)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._cancel_keys: dict[tuple[int, bytes], pooled.CancelTarget] = {}
        self._sockmap = SockMap.open() if settings.proxy_kernel_relay else None
        self.kernel_relayed = 0
        """Sessions whose bytes the kernel moved (see ``sockmap.py``)."""

    async def start(self) -> None:
        settings = self.rt.settings
        self._server = await asyncio.get_running_loop().create_server(
            self._accept, settings.proxy_host, settings.proxy_port, reuse_address=True
        )
        log.info("proxy.listening", host=settings.proxy_host, port=settings.proxy_port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._sockmap is not None:
            self._sockmap.close()

    def _accept(self) -> Conn:
        conn = Conn()
        task = asyncio.create_task(self._serve(conn))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)
        return conn

    async def _serve(self, client: Conn) -> None:
        upstream: Conn | None = None
        endpoint_id: str | None = None
        try:
            async with asyncio.timeout(self.rt.settings.proxy_handshake_timeout):
                handshake = await self._negotiate(client)
            if handshake is None:
                return
            startup, sni, encrypted = handshake
            target = route(startup, sni)
            endpoint_id, to_pooler = pooled.split_pooler_suffix(target.endpoint_id)
            async with asyncio.timeout(_AUTH_TIMEOUT):
                upstream = await self._login(client, target, endpoint_id, to_pooler, encrypted)
                if upstream is None:
                    return
                self.meter.connected(endpoint_id)
                client.relay_to(upstream, self.meter.counter(self.meter.bytes_in, endpoint_id))
                ready = await self._relay_startup(upstream, client, endpoint_id)
                if ready is None:
                    return
            upstream.relay_to(client, self.meter.counter(self.meter.bytes_out, endpoint_id))
            if not encrypted:
                self._hand_to_kernel(client, upstream, endpoint_id)
            client.write(ready)  # only now may the client send its first query
            await asyncio.wait({client.closed, upstream.closed}, return_when="FIRST_COMPLETED")
        except ProtocolError as exc:
            client.write(protocol.error_response(str(exc), exc.sqlstate))
        except TimeoutError:
            client.write(protocol.error_response("connection setup timed out", "08006"))
        except (ConnectionError, ssl.SSLError):
            pass
        except Exception as exc:
            log.error("proxy.failed", error_type=type(exc).__name__, error=str(exc))
            client.write(protocol.error_response("internal error in the connection proxy", "XX000"))
        finally:
            client.close()  # counts the kernel-relayed bytes first (before_close)
            if upstream is not None:
                upstream.close()
                self.meter.disconnected(endpoint_id or "")
            self._forget_cancel_keys(upstream)

    async def _negotiate(
        self, client: Conn
    ) -> tuple[protocol.StartupMessage, str | None, bool] | None:
        """Reads packets until the startup message: (message, SNI, encrypted); None when the
        connection was a cancel request."""
        sni: str | None = None
        encrypted = False
        if await client.first_byte() == tls.TLS_HANDSHAKE:
            sni = (await tls.start_tls(client, self._ssl, direct=True)).sni
            encrypted = True
        while True:
            header = await client.read_exactly(4)
            packet = header + await client.read_exactly(protocol.startup_length(header) - 4)
            code = protocol.request_code(packet)
            if code == protocol.SSL_REQUEST and not encrypted:
                sni = (await tls.start_tls(client, self._ssl, direct=False)).sni
                encrypted = True
            elif code == protocol.GSSENC_REQUEST and not encrypted:
                client.write(b"N")
            elif code == protocol.CANCEL_REQUEST:
                await self._forward_cancel(packet)
                return None
            else:
                break
        if self.rt.settings.proxy_require_tls and not encrypted:
            raise ProtocolError("TLS is required: connect with sslmode=require", "28000")
        return protocol.parse_startup(packet), sni, encrypted

    async def _login(
        self, client: Conn, target: Route, endpoint_id: str, to_pooler: bool, encrypted: bool
    ) -> Conn | None:
        """Authenticates the client (see ``authenticate.py``), then the upstream session:
        the compute's, or its pooler's (``to_pooler``)."""
        try:
            port, allowlist, running, pooler_enabled = await self._endpoint(endpoint_id)
        except UnknownEndpoint:
            unknown = authenticate.Target(endpoint_id, exists=False, running=False)
            return await self.auth.login(client, target.startup, unknown, encrypted, _nowhere)
        _check_allowlist(client, endpoint_id, allowlist)

        async def upstream() -> Conn:
            if to_pooler:  # after authentication: a stranger learns nothing of the endpoint
                pooled.check_enabled(endpoint_id, pooler_enabled)
            return await self._open_upstream(endpoint_id, port, running, to_pooler)

        return await self.auth.login(
            client,
            target.startup,
            authenticate.Target(endpoint_id, exists=True, running=running),
            encrypted,
            upstream,
        )

    async def _open_upstream(
        self, endpoint_id: str, port: int, running: bool, to_pooler: bool
    ) -> Conn:
        if not running:
            await self.wake(endpoint_id)
        try:
            return await self._connect(endpoint_id, port, to_pooler)
        except OSError:
            await self.wake(endpoint_id)  # it was stopped under us (e.g. auto-suspended)
            return await self._connect(endpoint_id, port, to_pooler)

    async def _endpoint(self, endpoint_id: str) -> tuple[int, list[str], bool, bool]:
        async with self.rt.sessions() as session:
            row = (
                await session.execute(
                    select(Endpoint, Project.state)
                    .join(Project, Project.id == Endpoint.project_id)
                    .where(Endpoint.id == endpoint_id)
                )
            ).first()
        if row is None:
            raise UnknownEndpoint(f'endpoint "{endpoint_id}" does not exist', "08004")
        endpoint, project_state = row
        if project_state != ProjectState.ACTIVE or endpoint.status == EndpointStatus.PROVISIONING:
            raise ProtocolError(f'endpoint "{endpoint_id}" is not ready yet', "57P03")
        running = endpoint.status == EndpointStatus.RUNNING
        return endpoint.port, list(endpoint.allowlist), running, endpoint.pooler_enabled

    async def _connect(self, endpoint_id: str, port: int, to_pooler: bool = False) -> Conn:
        if to_pooler:
            return await pooled.connect(self.rt, endpoint_id, port)
        host, port = await self.rt.compute.address(endpoint_id, port)
        # on loopback, connections come from their own address, which the computes' pg_hba
        # trusts (the proxy checks the allowlist on the client's address itself)
        source = (self.rt.settings.proxy_source_host, 0) if _is_loopback(host) else None
        _, upstream = await asyncio.get_running_loop().create_connection(
            Conn, host, port, local_addr=source
        )
        return upstream

    async def wake(self, endpoint_id: str) -> None:
        try:
            await wake.ensure_running(self.rt, endpoint_id)
        except LampionError as exc:
            raise ProtocolError(f'endpoint "{endpoint_id}" could not be started', "57P03") from exc

    async def _relay_startup(self, upstream: Conn, client: Conn, endpoint_id: str) -> bytes | None:
        """Forwards the compute's messages until it is ready for queries, keeping the cancel
        key it hands out. Returns the ReadyForQuery message, not yet forwarded; None when
        the compute refused the connection."""
        count = self.meter.counter(self.meter.bytes_out, endpoint_id)
        while True:
            header = await upstream.read_exactly(5)
            body = await upstream.read_exactly(protocol.message_length(header))
            count(len(header) + len(body))
            kind = header[:1]
            if kind == protocol.READY_FOR_QUERY:
                return header + body
            client.write(header + body)
            if kind == protocol.BACKEND_KEY_DATA:
                upstream.cancel_key = protocol.backend_key(body)
                self._cancel_keys[upstream.cancel_key] = pooled.cancel_target(upstream)
            elif kind == protocol.ERROR_RESPONSE:
                return None

    def _hand_to_kernel(self, client: Conn, upstream: Conn, endpoint_id: str) -> None:
        """Lets the kernel copy the session's bytes from now on, where it can."""
        if self._sockmap is None:
            return
        assert client.transport is not None
        assert upstream.transport is not None
        a = client.transport.get_extra_info("socket")
        b = upstream.transport.get_extra_info("socket")
        if a is None or b is None or a.family != socket.AF_INET or b.family != socket.AF_INET:
            return
        counter = KernelCounter(endpoint_id, a)  # baseline before the first relayed byte
        self.meter.track(counter)
        if not self._sockmap.join(a, b):
            self.meter.untrack(counter)
            return
        self.kernel_relayed += 1
        client.before_close = lambda: self.meter.untrack(counter)

    async def _forward_cancel(self, packet: bytes) -> None:
        target = self._cancel_keys.get(protocol.cancel_key(packet))
        if target is not None:
            await pooled.send_cancel(target, packet)

    def _forget_cancel_keys(self, upstream: Conn | None) -> None:
        if upstream is not None and upstream.cancel_key is not None:
            self._cancel_keys.pop(upstream.cancel_key, None)


class UnknownEndpoint(ProtocolError):
    """No endpoint has the id a connection routed to."""


async def _nowhere() -> Conn:
    raise AssertionError("an unknown endpoint is never connected to")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _check_allowlist(client: Conn, endpoint_id: str, allowlist: list[str]) -> None:
    if not allowlist:
        return
    assert client.transport is not None
    peer = client.transport.get_extra_info("peername")
    address = ipaddress.ip_address(peer[0]) if peer else None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address is None or not any(
        address in ipaddress.ip_network(entry, strict=False) for entry in allowlist
    ):
        raise ProtocolError(
            f'address {address} is not allowed to connect to endpoint "{endpoint_id}" '
            "(see its IP allowlist)",
            "28000",
        )
