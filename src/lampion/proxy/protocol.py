"""The PostgreSQL wire protocol, as much of it as a routing proxy needs."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
PROTOCOL_MAJOR = 3
MAX_STARTUP_PACKET = 10000  # as postgres' MAX_STARTUP_PACKET_LENGTH

BACKEND_KEY_DATA = b"K"
READY_FOR_QUERY = b"Z"
ERROR_RESPONSE = b"E"


class ProtocolError(Exception):
    """Bytes that are not the PostgreSQL protocol; ``sqlstate`` and message go to the client."""

    def __init__(self, message: str, sqlstate: str = "08P01"):
        super().__init__(message)
        self.sqlstate = sqlstate


@dataclass
class StartupMessage:
    version: int
    params: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        body = struct.pack("!i", self.version)
        for key, value in self.params.items():
            body += key.encode() + b"\0" + value.encode() + b"\0"
        body += b"\0"
        return struct.pack("!i", len(body) + 4) + body


def startup_length(header: bytes) -> int:
    (length,) = struct.unpack("!i", header)
    if length < 8 or length > MAX_STARTUP_PACKET:
        raise ProtocolError("invalid length of startup packet")
    return int(length)


def request_code(packet: bytes) -> int:
    (code,) = struct.unpack("!i", packet[4:8])
    return int(code)


def parse_startup(packet: bytes) -> StartupMessage:
    version = request_code(packet)
    if version >> 16 != PROTOCOL_MAJOR:
        raise ProtocolError(
            f"unsupported frontend protocol {version >> 16}.{version & 0xFFFF}: "
            f"server supports 3.0 to 3.{0xFFFF}",
            sqlstate="0A000",
        )
    fields = packet[8:].split(b"\0")
    if len(fields) < 2 or fields[-1] != b"" or fields[-2] != b"":
        raise ProtocolError("invalid startup packet layout: expected terminator as last byte")
    pairs = fields[:-2]
    if len(pairs) % 2:
        raise ProtocolError("invalid startup packet layout: a parameter has no value")
    try:
        decoded = [item.decode() for item in pairs]
    except UnicodeDecodeError as exc:
        raise ProtocolError("invalid startup packet: parameters are not UTF-8") from exc
    return StartupMessage(version, dict(zip(decoded[::2], decoded[1::2], strict=True)))


def error_response(message: str, sqlstate: str, severity: str = "FATAL") -> bytes:
    body = b""
    for code, value in ((b"S", severity), (b"V", severity), (b"C", sqlstate), (b"M", message)):
        body += code + value.encode() + b"\0"
    body += b"\0"
    return ERROR_RESPONSE + struct.pack("!i", len(body) + 4) + body


def message_length(header: bytes) -> int:
    """Length of a backend message's body from its 5-byte header (type + Int32)."""
    (length,) = struct.unpack("!i", header[1:5])
    if length < 4:
        raise ProtocolError("invalid message length from server")
    return int(length) - 4


def cancel_key(packet: bytes) -> tuple[int, bytes]:
    """(backend pid, secret key) of a CancelRequest (the key is longer in protocol 3.2)."""
    if len(packet) < 16:
        raise ProtocolError("invalid cancel request")
    (pid,) = struct.unpack("!i", packet[8:12])
    return int(pid), packet[12:]


def backend_key(body: bytes) -> tuple[int, bytes]:
    (pid,) = struct.unpack("!i", body[:4])
    return int(pid), body[4:]
