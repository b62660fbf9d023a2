"""SCRAM-SHA-256 at the proxy, checked against RFC 7677's example exchange."""

from __future__ import annotations

import base64

import pytest

from lampion.crypto import scram_sha256_verifier
from lampion.proxy import scram

CLIENT_FIRST = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
SERVER_FIRST = (
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
)
CLIENT_FINAL = (
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def _verifier() -> scram.Verifier:
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    return scram.parse_verifier(scram_sha256_verifier("pencil", salt=salt))


def test_server_side_accepts_rfc_7677_exchange() -> None:
    verifier = _verifier()
    first = scram.parse_client_first(CLIENT_FIRST)
    assert scram.server_first(first, verifier, SERVER_NONCE) == SERVER_FIRST
    outcome = scram.verify_client_final(first, SERVER_FIRST, CLIENT_FINAL, verifier, b"")
    assert outcome.ok
    assert outcome.server_final == SERVER_FINAL
    assert outcome.client_key is not None


def test_client_side_reproduces_rfc_7677_exchange_from_the_client_key() -> None:
    verifier = _verifier()
    first = scram.parse_client_first(CLIENT_FIRST)
    outcome = scram.verify_client_final(first, SERVER_FIRST, CLIENT_FINAL, verifier, b"")
    assert outcome.client_key is not None
    client = scram.ClientExchange(
        outcome.client_key, verifier.server_key, user="user", client_nonce="rOprNGfwEbeRWgbNEkqO"
    )
    assert client.first() == CLIENT_FIRST
    assert client.final(SERVER_FIRST) == CLIENT_FINAL
    client.check_server_final(SERVER_FINAL)
    with pytest.raises(scram.ScramError):
        client.check_server_final("v=" + base64.b64encode(b"x" * 32).decode())


def test_wrong_proof_fails_and_a_fake_verifier_is_stable() -> None:
    verifier = _verifier()
    first = scram.parse_client_first(CLIENT_FIRST)
    wrong = CLIENT_FINAL.replace("p=dHzb", "p=eHzb")
    assert not scram.verify_client_final(first, SERVER_FIRST, wrong, verifier, b"").ok
    fake = scram.fake_verifier(b"secret", "ep-x\0user")
    assert fake == scram.fake_verifier(b"secret", "ep-x\0user")
    assert fake.salt != scram.fake_verifier(b"secret", "ep-y\0user").salt
    assert not scram.verify_client_final(first, SERVER_FIRST, CLIENT_FINAL, fake, b"").ok


def test_channel_binding_must_match() -> None:
    verifier = _verifier()
    header = "p=tls-server-end-point,,"
    first = scram.parse_client_first(header + "n=,r=abc")
    server_first = scram.server_first(first, verifier, "def")
    binding = base64.b64encode(header.encode() + b"other-cert").decode()
    final = f"c={binding},r=abcdef,p=AAAA"
    with pytest.raises(scram.ScramError, match="channel binding"):
        scram.verify_client_final(first, server_first, final, verifier, b"c")
    with pytest.raises(scram.ScramError, match="channel-binding type"):
        scram.parse_client_first("p=tls-unique,,n=,r=abc")
