"""How values leave the SQL API: JSON-native where they can be (numbers, booleans, null,
arrays, json/jsonb as objects), PostgreSQL's own text form otherwise — exactly what psql
prints, because the server writes it: those types are read in text format."""

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
    "pg_snapshot",
    "tid",
    "jsonpath",
)

# Ranges, multiranges and composite values (row types, anonymous records): asyncpg decodes
# them from the binary format with their elements' binary codecs, which the types above do
# not have; read whole, as text, they are PostgreSQL's own form. So is the one-byte "char"
# of the catalogs (pg_class.relkind), which set_type_codec cannot name (its "char" is bpchar).
_TEXT_BY_OID = """
SELECT t.oid, t.typname, n.nspname
FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE (t.typtype IN ('r', 'm', 'c') OR t.oid IN ('pg_catalog.record'::regtype, '"char"'::regtype))
  AND ($1::oid[] IS NULL OR t.oid = ANY($1) OR t.typarray = ANY($1))
"""
_TEXT_KINDS = ("range", "multirange", "composite")
_FIRST_USER_OID = 16384  # PostgreSQL's FirstNormalObjectId: every built-in type is below


async def configure(connection: asyncpg.Connection) -> None:
    for name in AS_TEXT:
        await connection.set_type_codec(
            name, schema="pg_catalog", encoder=str, decoder=str, format="text"
        )
    # float4 as PostgreSQL prints it (the shortest digits that round-trip a float4: 1.1, not
    # the float8 widening 1.100000023841858), kept a JSON number.
    await connection.set_type_codec(
        "float4", schema="pg_catalog", encoder=str, decoder=float, format="text"
    )
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name, schema="pg_catalog", encoder=json.dumps, decoder=json.loads, format="text"
        )
    await _read_as_text(connection, None)


async def prepare(connection: asyncpg.Connection, sql: str) -> Any:
    """A prepared statement whose range, multirange and composite columns are read as text,
    also of types created since the connection was set up."""
    try:
        statement = await connection.prepare(sql)
    except asyncpg.UnsupportedClientFeatureError:  # a new range of a type read as text
        await _read_as_text(connection, None)
        return await connection.prepare(sql)
    new = [
        a.type.oid
        for a in statement.get_attributes()
        if a.type.oid >= _FIRST_USER_OID and a.type.kind in (*_TEXT_KINDS, "array")
    ]
    if new and await _read_as_text(connection, new):
        statement = await connection.prepare(sql)
    return statement


async def _read_as_text(connection: asyncpg.Connection, oids: list[int] | None) -> bool:
    """Registers a text codec on every range, multirange and composite type (or those of
    ``oids`` and their arrays' elements); True when there was any."""
    rows = await connection.fetch(_TEXT_BY_OID, oids)
    # set_type_codec refuses these kinds (asyncpg has no text codec of its own for them),
    # but the codec registry it fills takes one: the same call, without that check.
    settings = connection._protocol.get_settings()
    for row in rows:
        settings.add_python_codec(
            row["oid"], row["typname"], row["nspname"], [], "scalar", str, str, "text"
        )
    return bool(rows)


def to_json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    return value


def size_of(value: Any) -> int:
    """Roughly the bytes a value takes in the response (for the size limit)."""
    if value is None or isinstance(value, bool | int | float):
        return 8
    if isinstance(value, str):
        return len(value)
    return len(json.dumps(value, default=str))
