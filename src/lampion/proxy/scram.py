"""SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it: the messages and the math,
for both sides, without any I/O.

The server side checks a client's proof against a stored verifier and recovers the
client's ClientKey from it; the client side proves itself with a ClientKey (never a
password), which is how the proxy logs in upstream for a client it has verified.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes

MECHANISM = "SCRAM-SHA-256"
MECHANISM_PLUS = "SCRAM-SHA-256-PLUS"
CHANNEL_BINDING = "tls-server-end-point"
NONCE_BYTES = 18


class ScramError(Exception):
    """A message that breaks the exchange (malformed, or a nonce or binding that differs)."""


@dataclass(frozen=True)
class Verifier:
    iterations: int
    salt: bytes
    stored_key: bytes
    server_key: bytes


def parse_verifier(text: str) -> Verifier:
    """``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` as in ``pg_authid``."""
    try:
        scheme, params, keys = text.split("$")
        iterations, salt = params.split(":")
        stored_key, server_key = keys.split(":")
        if scheme != MECHANISM:
            raise ValueError(scheme)
        return Verifier(int(iterations), _b64d(salt), _b64d(stored_key), _b64d(server_key))
    except ValueError as exc:
        raise ScramError("not a SCRAM-SHA-256 verifier") from exc


def fake_verifier(secret: bytes, name: str, iterations: int = 4096) -> Verifier:
    """A verifier no password matches, the same for the same ``name`` every time (so that
    repeated attempts see a stable salt, as for a real role)."""
    seed = hmac.new(secret, name.encode(), hashlib.sha256).digest()
    return Verifier(
        iterations,
        seed[:16],
        _hmac(seed, b"stored"),
        _hmac(seed, b"server"),
    )


def nonce() -> str:
    return base64.b64encode(os.urandom(NONCE_BYTES)).decode()


# -- server side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientFirst:
    gs2_header: str
    """``n,,``, ``y,,`` or ``p=tls-server-end-point,,``: what the client-final's ``c=`` repeats."""
    cbind_name: str | None
    bare: str
    nonce: str


def parse_client_first(message: str) -> ClientFirst:
    parts = message.split(",", 2)
    if len(parts) != 3:
        raise ScramError("malformed SCRAM client-first-message")
    flag, authzid, bare = parts
    if authzid:
        raise ScramError("client uses authorization identity, which is not supported")
    cbind_name: str | None = None
    if flag.startswith("p="):
        cbind_name = flag[2:]
        if cbind_name != CHANNEL_BINDING:
            raise ScramError(f'unsupported SCRAM channel-binding type "{cbind_name}"')
    elif flag not in ("n", "y"):
        raise ScramError("malformed SCRAM client-first-message: unexpected channel-binding flag")
    attributes = _attributes(bare)
    if "r" not in attributes or "m" in attributes:
        raise ScramError("malformed SCRAM client-first-message: no nonce")
    return ClientFirst(f"{flag},{authzid},", cbind_name, bare, attributes["r"])


def server_first(client: ClientFirst, verifier: Verifier, server_nonce: str) -> str:
    salt = base64.b64encode(verifier.salt).decode()
    return f"r={client.nonce}{server_nonce},s={salt},i={verifier.iterations}"


@dataclass(frozen=True)
class ServerOutcome:
    ok: bool
    client_key: bytes | None
    """Recovered from the client's proof (only when ``ok``)."""
    server_final: str | None


def verify_client_final(
    client: ClientFirst,
    server_first_message: str,
    message: str,
    verifier: Verifier,
    binding_data: bytes,
) -> ServerOutcome:
    """Checks the proof; ``binding_data`` is the channel-binding hash (empty without one)."""
    without_proof, sep, proof_b64 = message.rpartition(",p=")
    if not sep:
        raise ScramError("malformed SCRAM client-final-message: no proof")
    attributes = _attributes(without_proof)
    expected_nonce = _attributes(server_first_message)["r"]
    if attributes.get("r") != expected_nonce:
        raise ScramError("SCRAM nonce does not match")
    expected_binding = client.gs2_header.encode() + (
        binding_data if client.cbind_name is not None else b""
    )
    if not hmac.compare_digest(_b64d(attributes.get("c", "")), expected_binding):
        raise ScramError("SCRAM channel binding check failed")
    proof = _b64d(proof_b64)
    auth_message = f"{client.bare},{server_first_message},{without_proof}".encode()
    client_signature = _hmac(verifier.stored_key, auth_message)
    if len(proof) != len(client_signature):
        raise ScramError("malformed SCRAM proof")
    client_key = _xor(proof, client_signature)
    if not hmac.compare_digest(hashlib.sha256(client_key).digest(), verifier.stored_key):
        return ServerOutcome(False, None, None)
    server_signature = _hmac(verifier.server_key, auth_message)
    return ServerOutcome(True, client_key, "v=" + base64.b64encode(server_signature).decode())


# -- client side ----------------------------------------------------------------------------


class ClientExchange:
    """Logs in to a SCRAM server with a ClientKey (and the ServerKey to check it back)."""

    GS2_HEADER = "n,,"

    def __init__(
        self,
        client_key: bytes,
        server_key: bytes,
        *,
        user: str = "",
        client_nonce: str | None = None,
    ):
        self._client_key = client_key
        self._user = user.replace("=", "=3D").replace(",", "=2C")
        self._server_key = server_key
        self._nonce = client_nonce or nonce()
        self._auth_message = b""

    def first(self) -> str:
        return f"{self.GS2_HEADER}{self._bare()}"

    def final(self, server_first_message: str) -> str:
        attributes = _attributes(server_first_message)
        combined = attributes.get("r", "")
        if not combined.startswith(self._nonce) or len(combined) <= len(self._nonce):
            raise ScramError("server's SCRAM nonce does not extend ours")
        channel = base64.b64encode(self.GS2_HEADER.encode()).decode()
        without_proof = f"c={channel},r={combined}"
        self._auth_message = f"{self._bare()},{server_first_message},{without_proof}".encode()
        stored_key = hashlib.sha256(self._client_key).digest()
        proof = _xor(self._client_key, _hmac(stored_key, self._auth_message))
        return f"{without_proof},p={base64.b64encode(proof).decode()}"

    def check_server_final(self, message: str) -> None:
        attributes = _attributes(message)
        if "e" in attributes:
            raise ScramError(f"server refused the SCRAM proof: {attributes['e']}")
        expected = _hmac(self._server_key, self._auth_message)
        if not hmac.compare_digest(_b64d(attributes.get("v", "")), expected):
            raise ScramError("server's SCRAM signature does not match")

    def _bare(self) -> str:
        return f"n={self._user},r={self._nonce}"


def end_point_hash(certificate_der: bytes) -> bytes:
    """``tls-server-end-point`` binding data (RFC 5929): the certificate hashed with its
    signature's hash, SHA-256 in place of MD5 and SHA-1 (and of none, as for Ed25519)."""
    certificate = x509.load_der_x509_certificate(certificate_der)
    algorithm = certificate.signature_hash_algorithm
    if algorithm is None or algorithm.name in ("md5", "sha1"):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(certificate_der)
    return digest.finalize()


# -- helpers --------------------------------------------------------------------------------


def _attributes(message: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for part in message.split(","):
        name, sep, value = part.partition("=")
        if not sep or len(name) != 1:
            raise ScramError("malformed SCRAM message")
        result.setdefault(name, value)
    return result


def _b64d(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise ScramError("malformed base64 in SCRAM message") from exc


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))
