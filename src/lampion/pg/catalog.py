"""Introspection and DDL for databases, schemas, tables, roles and extensions.
Every name is quoted as an identifier; values are bind parameters where PostgreSQL allows."""

from __future__ import annotations

from typing import Any

import asyncpg

from lampion.pg.quoting import quote_ident, quote_literal

# -- introspection ---------------------------------------------------------------------------


async def list_databases(connection: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await connection.fetch(
        "SELECT d.datname AS name, pg_encoding_to_char(d.encoding) AS encoding, "
        "pg_database_size(d.oid) AS size_bytes, pg_get_userbyid(d.datdba) AS owner "
        "FROM pg_database d WHERE NOT d.datistemplate AND d.datallowconn ORDER BY d.datname"
    )
    return [dict(r) for r in rows]


async def database_exists(connection: asyncpg.Connection, name: str) -> bool:
    return bool(await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))


async def list_schemas(connection: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await connection.fetch(
        "SELECT n.nspname AS name, pg_get_userbyid(n.nspowner) AS owner FROM pg_namespace n "
        "WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' "
        "ORDER BY n.nspname"
    )
    return [dict(r) for r in rows]


async def relation_exists(connection: asyncpg.Connection, qualified: str) -> bool:
    """``qualified`` is a quoted (possibly schema-qualified) name."""
    return await connection.fetchval("SELECT to_regclass($1) IS NOT NULL", qualified) is True


async def schema_exists(connection: asyncpg.Connection, name: str) -> bool:
    return bool(await connection.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", name))


async def list_tables(connection: asyncpg.Connection, schema: str) -> list[dict[str, Any]]:
    """Tables, views and materialized views of a schema with their columns and indexes."""
    relations = await connection.fetch(
        "SELECT c.oid, c.relname AS name, CASE c.relkind WHEN 'r' THEN 'table' "
        "WHEN 'p' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' "
        "WHEN 'f' THEN 'foreign table' END AS kind, c.reltuples::bigint AS estimated_rows "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY c.relname",
        schema,
    )
    columns = await connection.fetch(
        "SELECT a.attrelid AS oid, a.attname AS name, "
        "format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable, "
        "pg_get_expr(d.adbin, d.adrelid) AS default "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE n.nspname = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        schema,
    )
    indexes = await connection.fetch(
        "SELECT i.indrelid AS oid, ic.relname AS name, "
        "pg_get_indexdef(i.indexrelid) AS definition, i.indisprimary AS is_primary, "
        "i.indisunique AS is_unique "
        "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = ic.relnamespace WHERE n.nspname = $1 ORDER BY ic.relname",
        schema,
    )
    by_oid: dict[int, dict[str, Any]] = {}
    for relation in relations:
        by_oid[relation["oid"]] = {
            "name": relation["name"],
            "type": relation["kind"],
            "estimated_rows": max(relation["estimated_rows"], 0),
            "columns": [],
            "indexes": [],
        }
    for column in columns:
        if column["oid"] in by_oid:
            by_oid[column["oid"]]["columns"].append(
                {k: column[k] for k in ("name", "type", "nullable", "default")}
            )
    for index in indexes:
        if index["oid"] in by_oid:
            by_oid[index["oid"]]["indexes"].append(
                {k: index[k] for k in ("name", "definition", "is_primary", "is_unique")}
            )
    return list(by_oid.values())


# -- databases -------------------------------------------------------------------------------


async def create_database(connection: asyncpg.Connection, name: str, owner: str | None) -> None:
    sql = f"CREATE DATABASE {quote_ident(name)}"
    if owner:
        sql += f" OWNER {quote_ident(owner)}"
    await connection.execute(sql)


async def drop_database(connection: asyncpg.Connection, name: str) -> None:
    await connection.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = $1 AND pid <> pg_backend_pid()",
        name,
    )
    await connection.execute(f"DROP DATABASE {quote_ident(name)} WITH (FORCE)")


# -- roles -----------------------------------------------------------------------------------


async def list_roles(connection: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await connection.fetch(
        "SELECT rolname AS name, rolsuper AS is_superuser, rolcanlogin AS can_login, "
        "rolcreatedb AS can_create_db FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%' "
        "ORDER BY rolname"
    )
    return [dict(r) for r in rows]


async def role_exists(connection: asyncpg.Connection, name: str) -> bool:
    return bool(await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name))


async def create_role(
    connection: asyncpg.Connection, name: str, scram_verifier: str | None, can_login: bool
) -> None:
    sql = f"CREATE ROLE {quote_ident(name)} {'LOGIN' if can_login else 'NOLOGIN'}"
    if scram_verifier:
        sql += f" PASSWORD {quote_literal(scram_verifier)}"
    await connection.execute(sql)


async def drop_role(connection: asyncpg.Connection, name: str) -> None:
    """Drops a role, reassigning what it owns in this database to the superuser first."""
    await connection.execute(f"REASSIGN OWNED BY {quote_ident(name)} TO CURRENT_USER")
    await connection.execute(f"DROP OWNED BY {quote_ident(name)}")
    await connection.execute(f"DROP ROLE {quote_ident(name)}")


# -- extensions ------------------------------------------------------------------------------


async def list_extensions(connection: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await connection.fetch(
        "SELECT name, installed_version IS NOT NULL AS installed, installed_version AS version, "
        "default_version, comment FROM pg_available_extensions ORDER BY name"
    )
    return [dict(r) for r in rows]


async def create_extension(connection: asyncpg.Connection, name: str) -> str:
    await connection.execute(f"CREATE EXTENSION IF NOT EXISTS {quote_ident(name)}")
    version: str = await connection.fetchval(
        "SELECT extversion FROM pg_extension WHERE extname = $1", name
    )
    return version


async def drop_extension(connection: asyncpg.Connection, name: str) -> bool:
    if not await connection.fetchval("SELECT 1 FROM pg_extension WHERE extname = $1", name):
        return False
    await connection.execute(f"DROP EXTENSION {quote_ident(name)}")
    return True
