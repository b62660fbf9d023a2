"""Which endpoint a connection is for: SNI, ``options=endpoint=…`` or the dbname prefix."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lampion.proxy.protocol import ProtocolError, StartupMessage

_ENDPOINT = re.compile(r"^ep-[a-z0-9-]{1,60}$")


@dataclass(frozen=True)
class Route:
    endpoint_id: str
    startup: StartupMessage
    """The startup message to send to the compute (routing hints removed)."""


def route(startup: StartupMessage, sni: str | None) -> Route:
    """Every form is read (and removed from what the compute sees); a database-name prefix
    naming the endpoint already chosen is stripped too, so a client that keeps it after
    ``\\c`` or that routes two ways at once reaches the database it names."""
    params = dict(startup.params)
    found = {
        "the TLS server name (SNI)": _from_sni(sni),
        "options": _take_from_options(params),
        "the database name": _take_from_database(params),
    }
    named = {source: endpoint for source, endpoint in found.items() if endpoint is not None}
    if not named:
        raise ProtocolError(
            "Endpoint not specified: connect with options=endpoint=<endpoint_id>, to host "
            "<endpoint_id>.<host> with TLS, or to <endpoint_id>.<database> as the database name",
            sqlstate="08004",
        )
    if len(set(named.values())) > 1:
        given = ", ".join(f'"{endpoint}" in {source}' for source, endpoint in named.items())
        raise ProtocolError(f"the connection names two different endpoints: {given}", "08004")
    return Route(next(iter(named.values())), StartupMessage(startup.version, params))


def _from_sni(sni: str | None) -> str | None:
    if not sni:
        return None
    first = sni.split(".", 1)[0].lower()
    return first if _ENDPOINT.match(first) else None


def _take_from_options(params: dict[str, str]) -> str | None:
    """``endpoint=ep-x`` among the options (also ``--endpoint=``, ``-c endpoint=`` and
    ``-cendpoint=``), removed from them."""
    words = params.get("options", "").split()
    kept: list[str] = []
    found: str | None = None
    index = 0
    while index < len(words):
        word, consumed = words[index], 1
        setting = word
        if word == "-c" and index + 1 < len(words):
            setting, consumed = words[index + 1], 2
        elif word.startswith("-c"):
            setting = word[2:]
        name, _, value = setting.lstrip("-").partition("=")
        if name == "endpoint" and value:
            found = value.lower()
        else:
            kept.extend(words[index : index + consumed])
        index += consumed
    if found is None:
        return None
    if kept:
        params["options"] = " ".join(kept)
    else:
        del params["options"]
    return found


def _take_from_database(params: dict[str, str]) -> str | None:
    """An ``<endpoint_id>.`` prefix of the database name, removed from it (alone: ``postgres``)."""
    database = params.get("database") or ""
    prefix, dot, rest = database.partition(".")
    if not _ENDPOINT.match(prefix.lower()):
        return None
    params["database"] = rest if dot and rest else "postgres"
    return prefix.lower()
