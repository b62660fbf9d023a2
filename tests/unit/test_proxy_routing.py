"""Which endpoint a connection names, in every form the proxy accepts, and the connection
strings the API hands out in each form."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from pydantic import ValidationError

from lampion.client.api import _with_database
from lampion.config import Settings
from lampion.proxy.protocol import ProtocolError, StartupMessage
from lampion.proxy.routing import route
from lampion.services.computes import connection_string


def _route(sni: str | None = None, **params: str) -> tuple[str, dict[str, str]]:
    routed = route(StartupMessage(3 << 16, {"user": "u", **params}), sni)
    return routed.endpoint_id, routed.startup.params


@pytest.mark.parametrize(
    ("sni", "params", "database", "options"),
    [
        (None, {"database": "ep-a.app"}, "app", None),
        (None, {"database": "ep-a"}, "postgres", None),
        (None, {"database": "app", "options": "endpoint=ep-a"}, "app", None),
        (None, {"database": "app", "options": "--endpoint=ep-a"}, "app", None),
        (None, {"database": "app", "options": "-c endpoint=ep-a -c work_mem=5MB"}, "app",
         "-c work_mem=5MB"),
        (None, {"database": "app", "options": "-cendpoint=ep-a -cwork_mem=5MB"}, "app",
         "-cwork_mem=5MB"),
        (None, {"database": "ep-a.app", "options": "endpoint=ep-a"}, "app", None),
        ("ep-a.db.example", {"database": "app"}, "app", None),
        ("ep-a.db.example", {"database": "ep-a.app"}, "app", None),
        ("ep-a.db.example", {"database": "app", "options": "endpoint=ep-a"}, "app", None),
    ],
)  # fmt: skip
def test_every_form_names_the_endpoint_and_is_removed(
    sni: str | None, params: dict[str, str], database: str, options: str | None
) -> None:
    endpoint, sent = _route(sni, **params)
    assert endpoint == "ep-a"
    assert sent["database"] == database
    assert sent.get("options") == options


def test_two_different_endpoints_or_none_are_refused() -> None:
    with pytest.raises(ProtocolError, match="two different endpoints"):
        _route("ep-a.db.example", database="ep-b.app")
    with pytest.raises(ProtocolError, match="two different endpoints"):
        _route("ep-a.db.example", database="app", options="endpoint=ep-b")
    with pytest.raises(ProtocolError, match="Endpoint not specified"):
        _route("db.example", database="app")


@pytest.mark.parametrize(
    ("routing", "host", "dbname", "options"),
    [
        ("options", "db.example", "app", "endpoint=ep-a"),
        ("sni", "ep-a.db.example", "app", None),
        ("database", "db.example", "ep-a.app", None),
    ],
)
def test_connection_strings_in_each_form(
    tmp_path: Path, routing: str, host: str, dbname: str, options: str | None
) -> None:
    settings = Settings(
        data_dir=tmp_path, public_host="db.example", connection_routing=routing, proxy_port=5432
    )
    parsed = psycopg.conninfo.conninfo_to_dict(
        connection_string(settings, "ep-a", "p@ss", database="app", role="reader")
    )
    assert parsed == {
        "host": host,
        "port": "5432",
        "user": "reader",
        "password": "p@ss",
        "dbname": dbname,
        "sslmode": "require",
        **({"options": options} if options else {}),
    }
    endpoint, _ = _route(
        host if routing == "sni" else None,
        database=dbname,
        **({"options": options} if options else {}),
    )
    assert endpoint == "ep-a"


def test_sni_routing_needs_a_host_name(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="wildcard"):
        Settings(data_dir=tmp_path, connection_routing="sni", public_host="127.0.0.1")


@pytest.mark.parametrize("routing", ["options", "sni", "database"])
def test_the_sdk_changes_database_and_role_in_every_form(tmp_path: Path, routing: str) -> None:
    settings = Settings(data_dir=tmp_path, public_host="db.example", connection_routing=routing)
    given = connection_string(settings, "ep-a", "pw")
    expected = connection_string(settings, "ep-a", "pw", database="app", role="reader")
    assert _with_database(given, "app", "reader") == expected.replace(":pw@", "@")
