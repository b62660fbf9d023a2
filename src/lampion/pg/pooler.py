"""What a compute's PgBouncer needs inside postgres: a role to look up passwords with, and
the one function that hands it a role's verifier.

PgBouncer checks a client's SCRAM proof against the verifier ``auth_query`` returns, and
logs in to postgres over the compute's private unix socket. ``lampion_pooler`` has no
password, so it cannot log in over TCP (scram-sha-256 there). ``lampion_pooler_auth`` runs
as its owner (SECURITY DEFINER) and returns a login role's verifier only to a session of
``lampion_pooler`` (``session_user``, which no one but a superuser can change) over the unix
socket (so even a password someone gave the role would not do over TCP). PgBouncer 1.18
runs ``auth_query`` in the database a client asks for, so the function lives in every
database (template1 included, so that new databases have it). It lives in ``pg_catalog``
with its default privileges, so ``pg_dump`` leaves it out: a dump of a compute's database
restores anywhere, a compute included.
"""

from __future__ import annotations

import asyncpg

from lampion.compute.base import AdminTarget
from lampion.pg.connection import admin_connection

POOLER_ROLE = "lampion_pooler"
"""(Spelled out in the SQL below.)"""
AUTH_QUERY = "SELECT usename, passwd FROM pg_catalog.lampion_pooler_auth($1)"

_CREATE_ROLE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lampion_pooler') THEN
        CREATE ROLE lampion_pooler LOGIN NOINHERIT;
    END IF;
END
$$
"""

_CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION pg_catalog.lampion_pooler_auth(p_usename text)
    RETURNS TABLE (usename name, passwd text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT rolname, rolpassword FROM pg_catalog.pg_authid
    WHERE session_user = 'lampion_pooler' AND pg_catalog.inet_client_addr() IS NULL
      AND rolname = p_usename AND rolcanlogin AND rolname <> 'lampion_pooler'
      AND (rolvaliduntil IS NULL OR rolvaliduntil > now())
$fn$
"""

_HAS_FUNCTION = "SELECT to_regprocedure('pg_catalog.lampion_pooler_auth(text)') IS NOT NULL"


async def install(target: AdminTarget) -> None:
    """Creates the role and, in each database that lacks it, the function (idempotent)."""
    async with admin_connection(target) as connection:
        if await connection.fetchval("SELECT pg_is_in_recovery()"):
            return  # read-only: what its primary had, it has
        await connection.execute(_CREATE_ROLE)
        databases: list[str] = [
            row["datname"]
            for row in await connection.fetch(
                "SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname"
            )
        ]
        await _install_function(connection)
    for database in databases:
        if database == "postgres":
            continue
        try:
            async with admin_connection(target, database) as connection:
                await _install_function(connection)
        except asyncpg.InvalidCatalogNameError:
            continue  # dropped meanwhile


async def _install_function(connection: asyncpg.Connection) -> None:
    if not await connection.fetchval(_HAS_FUNCTION):
        await connection.execute(_CREATE_FUNCTION)
