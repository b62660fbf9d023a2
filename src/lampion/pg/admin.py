"""Administrative operations on a compute."""

from __future__ import annotations

from lampion.compute.base import AdminTarget
from lampion.pg.connection import admin_connection
from lampion.pg.quoting import quote_ident, quote_literal


async def set_role_password(target: AdminTarget, role: str, scram_verifier: str) -> None:
    """Sets a password given as a SCRAM verifier: the password itself never reaches postgres."""
    if not scram_verifier.startswith("SCRAM-SHA-256$"):
        raise ValueError("expected a SCRAM-SHA-256 verifier")
    async with admin_connection(target) as connection:
        await connection.execute(
            f"ALTER ROLE {quote_ident(role)} WITH LOGIN PASSWORD {quote_literal(scram_verifier)}"
        )
