"""The login roles of a compute and how their passwords are stored: ``pg_authid``."""

from __future__ import annotations

from lampion.compute.base import AdminTarget
from lampion.pg.connection import admin_connection

SCRAM_PREFIX = "SCRAM-SHA-256$"


async def login_verifiers(target: AdminTarget) -> dict[str, str | None]:
    """Each role that can log in: its SCRAM-SHA-256 verifier, or None when it has another
    kind of password (md5) or none."""
    async with admin_connection(target) as connection:
        rows = await connection.fetch(
            "SELECT rolname, rolpassword FROM pg_authid WHERE rolcanlogin ORDER BY rolname"
        )
    return {
        str(row["rolname"]): (
            str(row["rolpassword"])
            if row["rolpassword"] is not None and str(row["rolpassword"]).startswith(SCRAM_PREFIX)
            else None
        )
        for row in rows
    }
