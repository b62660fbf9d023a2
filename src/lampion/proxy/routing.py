"""Which endpoint a connection is for: SNI, then ``options=endpoint=…``, then the dbname prefix."""

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
    params = dict(startup.params)
    endpoint_id = _from_sni(sni) or _take_from_options(params) or _take_from_database(params)
    if endpoint_id is None:
        raise ProtocolError(
            "Endpoint not specified: connect to <endpoint_id>.<database> as the database name, "
            "or with options=endpoint=<endpoint_id>, or to host <endpoint_id>.<host> with TLS",
            sqlstate="08004",
        )
    return Route(endpoint_id, StartupMessage(startup.version, params))


def _from_sni(sni: str | None) -> str | None:
    if not sni:
        return None
    first = sni.split(".", 1)[0].lower()
    return first if _ENDPOINT.match(first) else None


def _take_from_options(params: dict[str, str]) -> str | None:
    """``endpoint=ep-x`` among the options (also ``--endpoint=`` and ``-c endpoint=``)."""
    options = params.get("options")
    if not options:
        return None
    words = options.split()
    kept: list[str] = []
    found: str | None = None
    skip_next = False
    for index, word in enumerate(words):
        if skip_next:
            skip_next = False
            continue
        candidate = word
        if word == "-c" and index + 1 < len(words):
            candidate = words[index + 1]
        name, _, value = candidate.lstrip("-").partition("=")
        if name == "endpoint" and value:
            found = value.lower()
            skip_next = word == "-c"
            continue
        kept.append(word)
    if found is None:
        return None
    if kept:
        params["options"] = " ".join(kept)
    else:
        del params["options"]
    return found


def _take_from_database(params: dict[str, str]) -> str | None:
    database = params.get("database") or ""
    prefix, dot, rest = database.partition(".")
    if not _ENDPOINT.match(prefix.lower()):
        return None
    params["database"] = rest if dot and rest else "postgres"
    return prefix.lower()
