from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest

from lampion import ids
from lampion.crypto import (
    SecretBox,
    api_key_matches,
    hash_api_key,
    load_or_create_master_key,
    saslprep,
    scram_sha256_verifier,
)


def test_api_key_format() -> None:
    key = ids.api_key()
    assert re.fullmatch(r"lmp_live_[a-z0-9]{32}", key)
    assert ids.is_api_key_shaped(key)
    assert not ids.is_api_key_shaped(key + "x")
    assert not ids.is_api_key_shaped(key.upper())
    assert len({ids.api_key() for _ in range(100)}) == 100


def test_api_key_hash_and_compare() -> None:
    key = ids.api_key()
    digest = hash_api_key(key)
    assert digest == hashlib.sha256(key.encode()).hexdigest()
    assert api_key_matches(key, digest)
    assert not api_key_matches(ids.api_key(), digest)


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (ids.project_id, r"prj-[a-z0-9]{12}"),
        (ids.branch_id, r"br-[a-z0-9]{12}"),
        (ids.endpoint_id, r"ep-[a-z0-9]{12}"),
        (ids.event_id, r"evt_[a-z0-9]{24}"),
    ],
)
def test_ids_are_dns_label_safe(make, pattern: str) -> None:
    assert re.fullmatch(pattern, make())


def test_scram_verifier_follows_rfc_5802() -> None:
    salt = b"0123456789abcdef"
    verifier = scram_sha256_verifier("pencil", salt=salt)
    method, rest = verifier.split("$", 1)
    iterations_salt, keys = rest.split("$")
    iterations, salt_b64 = iterations_salt.split(":")
    stored_b64, server_b64 = keys.split(":")
    assert method == "SCRAM-SHA-256"
    assert iterations == "4096"
    assert base64.b64decode(salt_b64) == salt
    salted = hashlib.pbkdf2_hmac("sha256", b"pencil", salt, 4096)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    assert base64.b64decode(stored_b64) == hashlib.sha256(client_key).digest()
    assert base64.b64decode(server_b64) == hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    assert "pencil" not in verifier
    assert scram_sha256_verifier("pencil") != scram_sha256_verifier("pencil")


def test_saslprep_as_postgres_applies_it() -> None:
    assert saslprep("I\u00adX") == "IX"  # soft hyphen maps to nothing
    assert saslprep("\u2168") == "IX"  # NFKC
    assert saslprep("a\u00a0b") == "a b"  # non-ASCII space maps to space
    assert saslprep("a\u0007b") == "a\u0007b"  # prohibited: used as is, like postgres


def test_secret_box_round_trip(tmp_path) -> None:
    key = load_or_create_master_key(None, tmp_path)
    assert (tmp_path / "master.key").stat().st_mode & 0o777 == 0o600
    assert load_or_create_master_key(None, tmp_path) == key
    box = SecretBox(key)
    token = box.encrypt("hunter2")
    assert "hunter2" not in token
    assert box.decrypt(token) == "hunter2"
    with pytest.raises(ValueError, match="master key"):
        SecretBox(load_or_create_master_key(None, tmp_path / "other")).decrypt(token)
