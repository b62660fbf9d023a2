"""Authentication at the proxy: the client proves its password to the proxy (SCRAM-SHA-256,
with channel binding over TLS) against the verifier the control plane holds, before
anything wakes; only then is the compute woken and logged in to, with the ClientKey the
client's proof revealed.

The client sees one authentication: the proxy's SASL exchange, then AuthenticationOk once
the upstream has accepted the same key, then the upstream's own ParameterStatus,
BackendKeyData and ReadyForQuery (relayed by the server).
"""

from __future__ import annotations

import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from lampion.proxy import protocol, scram, tls
from lampion.proxy.connection import Conn
from lampion.proxy.protocol import ProtocolError, StartupMessage
from lampion.proxy.throttle import Throttle
from lampion.runtime import Runtime
from lampion.services import verifiers

AUTHENTICATION = b"R"
SASL_RESPONSE = b"p"
AUTH_OK = 0
AUTH_SASL = 10
AUTH_SASL_CONTINUE = 11
AUTH_SASL_FINAL = 12
_MAX_CLIENT_MESSAGE = 10000
UNKNOWN_ENDPOINT_LABEL = "unknown"
_PROTOCOL_VIOLATION = "08P01"


@dataclass(frozen=True)
class Target:
    """The endpoint a connection routed to, as far as authentication cares."""

    endpoint_id: str
    exists: bool
    running: bool


class Authenticator:
    def __init__(self, rt: Runtime):
        self.rt = rt
        settings = rt.settings
        self.throttle = Throttle(
            settings.proxy_auth_failures_per_address,
            settings.proxy_auth_failures_per_endpoint,
            settings.proxy_auth_failure_window,
        )
        self._fake_secret = rt.secrets.derive("proxy-unknown-role-salt")

    async def login(
        self,
        client: Conn,
        startup: StartupMessage,
        target: Target,
        encrypted: bool,
        connect: Callable[[], Awaitable[Conn]],
    ) -> Conn | None:
        """Authenticates the client and returns the upstream, its startup message sent and
        (when the proxy verified the client) its authentication done, with AuthenticationOk
        sent to the client. Without a verifier, the upstream authenticates the client itself
        through the relay. None when the upstream refused (its error was forwarded)."""
        user = startup.params.get("user", "")
        address = client.peer_address[0]
        refusal = self.throttle.refusal(address, target.endpoint_id)
        if refusal is not None:
            self._count_failure(target)
            raise ProtocolError(refusal, "53300")
        known = await verifiers.lookup(self.rt, target.endpoint_id, user)
        if target.exists and known.verifier is None and (known.role_known or target.running):
            return await self._forward(startup, target, known, connect)
        if target.exists and known.verifier is None and not known.endpoint_known:
            raise _unverifiable(user)  # kept from before the proxy held verifiers
        verifier = (
            scram.parse_verifier(known.verifier)
            if known.verifier is not None
            else scram.fake_verifier(self._fake_secret, f"{target.endpoint_id}\0{user}")
        )
        outcome, server_final = await self._exchange(client, verifier, encrypted)
        if not target.exists or known.verifier is None or outcome.client_key is None:
            self.throttle.failed(address, target.endpoint_id)
            self._count_failure(target)
            raise ProtocolError(f'password authentication failed for user "{user}"', "28P01")
        upstream = await connect()
        upstream.write(startup.encode())
        refused = await login_upstream(upstream, outcome.client_key, verifier.server_key)
        if refused is not None:
            client.write(refused)
            return None
        client.write(_authentication(AUTH_SASL_FINAL, server_final.encode()))
        client.write(_authentication(AUTH_OK))
        return upstream

    async def _forward(
        self,
        startup: StartupMessage,
        target: Target,
        known: verifiers.Known,
        connect: Callable[[], Awaitable[Conn]],
    ) -> Conn:
        """A role the proxy cannot verify: the running compute authenticates it."""
        if not target.running:
            raise _unverifiable(startup.params.get("user", ""))
        upstream = await connect()
        upstream.write(startup.encode())
        return upstream

    async def _exchange(
        self, client: Conn, verifier: scram.Verifier, encrypted: bool
    ) -> tuple[scram.ServerOutcome, str]:
        """The server side of SCRAM with the client; the outcome and the server-final message."""
        mechanisms = [scram.MECHANISM_PLUS, scram.MECHANISM] if encrypted else [scram.MECHANISM]
        client.write(
            _authentication(AUTH_SASL, b"".join(m.encode() + b"\0" for m in mechanisms) + b"\0")
        )
        mechanism, data = _initial_response(await _client_message(client))
        if mechanism not in mechanisms:
            raise ProtocolError("client selected an invalid SASL authentication mechanism", "28000")
        try:
            first = scram.parse_client_first(data.decode())
            if (mechanism == scram.MECHANISM_PLUS) != (first.cbind_name is not None):
                raise scram.ScramError("SCRAM channel binding negotiation error")
            if first.gs2_header.startswith("y") and encrypted:
                raise scram.ScramError(  # the client thinks we offered no binding: downgraded
                    "SCRAM channel binding negotiation error"
                )
            server_first = scram.server_first(first, verifier, scram.nonce())
            client.write(_authentication(AUTH_SASL_CONTINUE, server_first.encode()))
            final = (await _client_message(client)).decode()
            binding = self._end_point_hash if first.cbind_name is not None else b""
            outcome = scram.verify_client_final(first, server_first, final, verifier, binding)
        except (scram.ScramError, UnicodeDecodeError) as exc:
            raise ProtocolError(str(exc), "08P01") from exc
        return outcome, outcome.server_final or ""

    @cached_property
    def _end_point_hash(self) -> bytes:
        """``tls-server-end-point`` data of the proxy's certificate (the first in its file)."""
        settings = self.rt.settings
        cert, _ = tls.certificate_files(settings.tls_cert, settings.tls_key, settings.data_dir)
        pem = cert.read_bytes()
        certificate = x509.load_pem_x509_certificates(pem)[0]
        return scram.end_point_hash(certificate.public_bytes(Encoding.DER))

    def _count_failure(self, target: Target) -> None:
        label = target.endpoint_id if target.exists else UNKNOWN_ENDPOINT_LABEL
        self.rt.telemetry.proxy_auth_failures.labels(label).inc()


async def login_upstream(upstream: Conn, client_key: bytes, server_key: bytes) -> bytes | None:
    """Answers an upstream's authentication (postgres or anything speaking its SCRAM, such as
    PgBouncer) with a ClientKey, checking the server's signature with ServerKey; returns
    once it sent AuthenticationOk, or its ErrorResponse (bytes) when it refused."""
    exchange = scram.ClientExchange(client_key, server_key)
    while True:
        header = await upstream.read_exactly(5)
        body = await upstream.read_exactly(protocol.message_length(header))
        kind = header[:1]
        if kind == protocol.ERROR_RESPONSE:
            return header + body
        if kind != AUTHENTICATION:
            continue  # a NoticeResponse, say
        (code,) = struct.unpack("!i", body[:4])
        data = body[4:]
        try:
            if code == AUTH_OK:
                return None
            if code == AUTH_SASL:
                if scram.MECHANISM.encode() not in data.split(b"\0"):
                    raise scram.ScramError("upstream offers no SCRAM-SHA-256")
                first = exchange.first().encode()
                upstream.write(
                    _frontend(
                        SASL_RESPONSE,
                        scram.MECHANISM.encode() + b"\0" + struct.pack("!i", len(first)) + first,
                    )
                )
            elif code == AUTH_SASL_CONTINUE:
                upstream.write(_frontend(SASL_RESPONSE, exchange.final(data.decode()).encode()))
            elif code == AUTH_SASL_FINAL:
                exchange.check_server_final(data.decode())
            else:
                raise scram.ScramError(f"upstream asks for authentication method {code}")
        except scram.ScramError as exc:
            raise ProtocolError(f"the compute's authentication failed: {exc}", "08006") from exc


def _unverifiable(user: str) -> ProtocolError:
    return ProtocolError(
        f'the password of role "{user}" cannot be verified while the endpoint is suspended; '
        "connect once it runs or set the password through the API",
        "28000",
    )


async def _client_message(client: Conn) -> bytes:
    """The body of the client's next SASL message."""
    header = await client.read_exactly(5)
    if header[:1] != SASL_RESPONSE:
        raise ProtocolError(
            f"expected SASL response, got message type {header[0]}", _PROTOCOL_VIOLATION
        )
    length = protocol.message_length(header)
    if length > _MAX_CLIENT_MESSAGE:
        raise ProtocolError("invalid SASL message length", _PROTOCOL_VIOLATION)
    return await client.read_exactly(length)


def _initial_response(body: bytes) -> tuple[str, bytes]:
    mechanism, sep, rest = body.partition(b"\0")
    if not sep or len(rest) < 4:
        raise ProtocolError("malformed SASLInitialResponse message", _PROTOCOL_VIOLATION)
    (length,) = struct.unpack("!i", rest[:4])
    data = rest[4:]
    if length != len(data):
        raise ProtocolError("malformed SASLInitialResponse message", _PROTOCOL_VIOLATION)
    return mechanism.decode(errors="replace"), data


def _authentication(code: int, data: bytes = b"") -> bytes:
    return AUTHENTICATION + struct.pack("!ii", len(data) + 8, code) + data


def _frontend(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body
