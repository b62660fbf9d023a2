from __future__ import annotations

import pytest
from pydantic import ValidationError

from lampion.config import Settings
from lampion.pg.quoting import quote_ident, quote_literal


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("LAMPION_REGIONS", "fr-par-1, nl-ams-1")
    monkeypatch.setenv("LAMPION_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LAMPION_API_PORT", "9000")
    settings = Settings()
    assert settings.regions == ["fr-par-1", "nl-ams-1"]
    assert settings.api_port == 9000
    assert settings.store_url == f"sqlite+aiosqlite:///{tmp_path}/lampion.db"
    assert settings.template_root == tmp_path / "templates"


def test_settings_reject_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMPION_REGIONS", " , ")
    with pytest.raises(ValidationError, match="at least one region"):
        Settings()
    monkeypatch.delenv("LAMPION_REGIONS")
    monkeypatch.setenv("LAMPION_COMPUTE_BACKEND", "vm")
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize(
    ("name", "quoted"),
    [("users", '"users"'), ('x"; DROP DATABASE postgres; --', '"x""; DROP DATABASE postgres; --"')],
)
def test_quote_ident(name: str, quoted: str) -> None:
    assert quote_ident(name) == quoted


def test_quote_literal() -> None:
    assert quote_literal("it's") == "'it''s'"
    assert quote_literal("a\\b") == " E'a\\\\b'"
    with pytest.raises(ValueError, match="NUL"):
        quote_literal("a\x00")
