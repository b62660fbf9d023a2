"""Identifier formats: short, lowercase, DNS-label safe."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_lowercase + string.digits
_ID_LENGTH = 12

API_KEY_PREFIX = "lmp_live_"
API_KEY_RANDOM_LENGTH = 32
API_KEY_LOOKUP_LENGTH = 8
"""Leading random characters of a key stored in clear to find its row."""


def random_chars(length: int, alphabet: str = _ALPHABET) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _new(prefix: str) -> str:
    return f"{prefix}-{random_chars(_ID_LENGTH)}"


def org_id() -> str:
    return _new("org")


def api_key_id() -> str:
    return _new("key")


def project_id() -> str:
    return _new("prj")


def branch_id() -> str:
    return _new("br")


def endpoint_id() -> str:
    return _new("ep")


def event_id() -> str:
    return f"evt_{random_chars(24)}"


def webhook_id() -> str:
    return _new("wh")


def delivery_id() -> str:
    return f"dlv_{random_chars(24)}"


def request_id() -> str:
    return f"req_{random_chars(20)}"


def api_key() -> str:
    return API_KEY_PREFIX + random_chars(API_KEY_RANDOM_LENGTH)


def is_api_key_shaped(value: str) -> bool:
    body = value.removeprefix(API_KEY_PREFIX)
    return (
        value.startswith(API_KEY_PREFIX)
        and len(body) == API_KEY_RANDOM_LENGTH
        and all(c in _ALPHABET for c in body)
    )


def api_key_lookup(key: str) -> str:
    return key[len(API_KEY_PREFIX) : len(API_KEY_PREFIX) + API_KEY_LOOKUP_LENGTH]


def password(length: int = 32) -> str:
    """A password safe to put in a URL without escaping."""
    return random_chars(length, string.ascii_letters + string.digits)
