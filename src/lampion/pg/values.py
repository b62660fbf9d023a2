"""How values leave the SQL API: JSON-native where they can be (numbers, booleans, null,
arrays, json/jsonb as objects), PostgreSQL's own text form otherwise."""

from __future__ import annotations

import json
import math
from typing import Any

import asyncpg

# Numbers, booleans, text and json decode to JSON-native values; these types asyncpg would
# turn into other Python objects are read as PostgreSQL prints them.
AS_TEXT = (
    "numeric",
    "timestamp",
    "timestamptz",
    "date",
    "time",
    "timetz",
    "interval",
    "uuid",
    "bytea",
    "inet",
    "cidr",
    "macaddr",
    "macaddr8",
    "money",
    "bit",
    "varbit",
    "point",
    "line",
    "lseg",
    "box",
    "path",
    "polygon",
    "circle",
    "tsvector",
    "tsquery",
    "xml",
    "pg_lsn",
    "txid_snapshot",
    "jsonpath",
)


async def configure(connection: asyncpg.Connection) -> None:
    for name in AS_TEXT:
        await connection.set_type_codec(
            name, schema="pg_catalog", encoder=str, decoder=str, format="text"
        )
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name, schema="pg_catalog", encoder=json.dumps, decoder=json.loads, format="text"
        )


def to_json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, asyncpg.Range):  # ranges take no text codec in asyncpg
        return _range_text(value)
    if isinstance(value, asyncpg.Record):  # a composite value
        return {key: to_json(item) for key, item in value.items()}
    return value


def size_of(value: Any) -> int:
    """Roughly the bytes a value takes in the response (for the size limit)."""
    if value is None or isinstance(value, bool | int | float):
        return 8
    if isinstance(value, str):
        return len(value)
    return len(json.dumps(value, default=str))


def _range_text(value: asyncpg.Range) -> str:
    if value.isempty:
        return "empty"
    lower = "" if value.lower is None else str(value.lower)
    upper = "" if value.upper is None else str(value.upper)
    opening = "[" if value.lower_inc else "("
    closing = "]" if value.upper_inc else ")"
    return f"{opening}{lower},{upper}{closing}"
