"""Webhook signatures: Standard Webhooks (`webhook-signature: v1,…`) and the seed's
`X-Lampion-Signature: sha256=<hex HMAC of the body>`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

PREFIX = "whsec_"
MIN_KEY, MAX_KEY = 24, 64


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signing_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret (what the standardwebhooks library derives)."""
    return base64.b64decode(secret.removeprefix(PREFIX) + "==")


def check_secret(secret: str) -> None:
    if not secret.startswith(PREFIX):
        raise ValueError(f"must start with {PREFIX}")
    try:
        key = base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("must be whsec_ followed by base64") from exc
    if not MIN_KEY <= len(key) <= MAX_KEY:
        raise ValueError(f"must encode {MIN_KEY} to {MAX_KEY} random bytes")


def headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """``webhook-signature`` is keyed with the secret's decoded bytes (``signing_key``) and
    signs ``id.timestamp.body``; ``X-Lampion-Signature`` is keyed with the whole ``whsec_…``
    string's UTF-8 bytes, as shown to the user, and signs the body alone."""
    to_sign = f"{message_id}.{timestamp}.".encode() + body
    standard = hmac.new(signing_key(secret), to_sign, hashlib.sha256).digest()
    seed = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{base64.b64encode(standard).decode()}",
        "X-Lampion-Signature": f"sha256={seed}",
    }
