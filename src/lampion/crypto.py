"""Key hashing, secret encryption at rest, and SCRAM-SHA-256 verifiers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stringprep
import unicodedata
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

SCRAM_ITERATIONS = 4096


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(key), stored_hash)


class SecretBox:
    """Encrypts secrets that must be read back (compute passwords, webhook secrets)."""

    def __init__(self, master_key: str):
        self._fernet = Fernet(master_key.encode())
        self._key = master_key.encode()

    def derive(self, label: str) -> bytes:
        """A key for ``label`` that only this master key gives."""
        return hmac.new(self._key, label.encode(), hashlib.sha256).digest()

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("secret cannot be decrypted with this master key") from exc


def load_or_create_master_key(configured: str | None, data_dir: Path) -> str:
    if configured:
        Fernet(configured.encode())  # fails early on a malformed key
        return configured
    path = data_dir / "master.key"
    if path.exists():
        return path.read_text().strip()
    key = Fernet.generate_key().decode()
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def scram_sha256_verifier(password: str, *, salt: bytes | None = None) -> str:
    """The verifier PostgreSQL stores for ``password`` (RFC 5802 / RFC 7677).

    Computed here so that only the verifier, never the password, reaches the server.
    """
    salt = salt if salt is not None else os.urandom(16)
    normalized = saslprep(password).encode()
    salted = hashlib.pbkdf2_hmac("sha256", normalized, salt, SCRAM_ITERATIONS)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = base64.b64encode
    return (
        f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt).decode()}"
        f"${b64(stored_key).decode()}:{b64(server_key).decode()}"
    )


def saslprep(text: str) -> str:
    """SASLprep (RFC 4013) as PostgreSQL applies it: a string it rejects is used unchanged."""
    mapped = "".join(
        " " if stringprep.in_table_c12(c) else c for c in text if not stringprep.in_table_b1(c)
    )
    normalized = unicodedata.normalize("NFKC", mapped)
    if not normalized:
        return text
    prohibited = (
        stringprep.in_table_c12,
        stringprep.in_table_c21_c22,
        stringprep.in_table_c3,
        stringprep.in_table_c4,
        stringprep.in_table_c5,
        stringprep.in_table_c6,
        stringprep.in_table_c7,
        stringprep.in_table_c8,
        stringprep.in_table_c9,
        stringprep.in_table_a1,
    )
    if any(check(c) for c in normalized for check in prohibited):
        return text
    if any(stringprep.in_table_d1(c) for c in normalized) and (
        any(stringprep.in_table_d2(c) for c in normalized)
        or not stringprep.in_table_d1(normalized[0])
        or not stringprep.in_table_d1(normalized[-1])
    ):
        return text
    return normalized
