"""Administrative operations on a compute."""

from __future__ import annotations

from lampion.compute.base import AdminTarget
from lampion.pg.connection import APPLICATION_NAME, admin_connection
from lampion.pg.quoting import quote_ident, quote_literal


async def set_role_password(target: AdminTarget, role: str, scram_verifier: str) -> None:
    """Sets a password given as a SCRAM verifier: the password itself never reaches postgres."""
    if not scram_verifier.startswith("SCRAM-SHA-256$"):
        raise ValueError("expected a SCRAM-SHA-256 verifier")
    async with admin_connection(target) as connection:
        await connection.execute(
            f"ALTER ROLE {quote_ident(role)} WITH LOGIN PASSWORD {quote_literal(scram_verifier)}"
        )


async def reload_config(target: AdminTarget) -> None:
    """Makes postgres re-read its configuration files (pg_hba.conf among them)."""
    async with admin_connection(target) as connection:
        await connection.execute("SELECT pg_reload_conf()")


async def client_connection_count(target: AdminTarget) -> int:
    """Client sessions on the compute, leaving out the control plane's own."""
    async with admin_connection(target) as connection:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND pid <> pg_backend_pid() AND application_name IS DISTINCT FROM $1",
            APPLICATION_NAME,
        )
    return count
