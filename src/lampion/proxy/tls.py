"""The proxy's TLS: a configured certificate, or a self-signed one made on first start; and
turning a client connection into a TLS one, after SSLRequest or directly (PostgreSQL 17's
``sslnegotiation=direct``)."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from lampion.proxy.connection import Conn
from lampion.proxy.protocol import ProtocolError
from lampion.storage.tls import write_self_signed

ALPN = "postgresql"
TLS_HANDSHAKE = 0x16
"""The first byte of a TLS ClientHello: a client negotiating TLS directly."""


@dataclass(frozen=True)
class Negotiated:
    sni: str | None


def certificate_files(cert: Path | None, key: Path | None, data_dir: Path) -> tuple[Path, Path]:
    """The configured certificate and key, else the self-signed pair under ``DATA_DIR/tls``."""
    if cert is None or key is None:
        return data_dir / "tls" / "proxy.crt", data_dir / "tls" / "proxy.key"
    return cert, key


def server_context(
    cert: Path | None, key: Path | None, data_dir: Path, public_host: str
) -> ssl.SSLContext:
    configured = cert is not None and key is not None
    cert, key = certificate_files(cert, key, data_dir)
    if not configured and not (cert.exists() and key.exists()):
        cert.parent.mkdir(parents=True, exist_ok=True)
        cert.parent.chmod(0o700)
        write_self_signed(cert, key, public_host)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols([ALPN])
    context.sni_callback = _remember_sni
    return context


async def start_tls(client: Conn, context: ssl.SSLContext, *, direct: bool) -> Negotiated:
    """Runs the server side of the handshake on ``client``'s connection: after an SSLRequest
    (answered ``S`` here), or ``direct`` when the client's ClientHello is already in
    ``client``'s buffer; then, as PostgreSQL 17 does, the client must have asked for ALPN
    ``postgresql``."""
    loop = asyncio.get_running_loop()
    assert client.transport is not None
    raw = client.transport
    hello = client.take_buffered() if direct else b""
    if not direct:
        if client.has_buffered():
            raise ProtocolError("received unencrypted data after SSL request")
        client.write(b"S")
    if hello:
        # start_tls swaps its TLS protocol in and schedules that protocol's connection_made
        # before its first await; the ClientHello read before then goes to it right after
        loop.call_soon(loop.call_soon, lambda: _feed(raw.get_protocol(), hello))
    transport = await loop.start_tls(raw, client, context, server_side=True)
    assert transport is not None
    client.set_tls_transport(transport)
    ssl_object = transport.get_extra_info("ssl_object")
    if direct and ssl_object.selected_alpn_protocol() != ALPN:
        raise ProtocolError(
            "received direct SSL connection request without ALPN protocol negotiation "
            f'extension: direct TLS needs ALPN "{ALPN}" (PostgreSQL 17+ clients send it)'
        )
    return Negotiated(sni=getattr(ssl_object, "lampion_sni", None))


def _feed(protocol: asyncio.BaseProtocol, data: bytes) -> None:
    """Hands bytes to a protocol as if its transport had just read them."""
    if not hasattr(protocol, "buffer_updated"):
        cast(asyncio.Protocol, protocol).data_received(data)
        return
    buffered = cast(asyncio.BufferedProtocol, protocol)
    view = memoryview(data)
    while view:
        buffer = memoryview(buffered.get_buffer(len(view)))
        size = min(len(buffer), len(view))
        buffer[:size] = view[:size]
        buffered.buffer_updated(size)
        view = view[size:]


def _remember_sni(ssl_object: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
    ssl_object.lampion_sni = server_name  # type: ignore[attr-defined]
