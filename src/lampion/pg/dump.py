"""pg_dump, streamed as it is produced (memory stays flat whatever the database's size)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from lampion.compute.base import AdminTarget
from lampion.compute.installations import PgInstall
from lampion.pg.connection import client_environment
from lampion.pg.quoting import quote_ident

_CHUNK = 64 * 1024


class DumpFailed(RuntimeError):
    pass


def table_pattern(schema: str | None, table: str) -> str:
    """A pg_dump -t pattern matching exactly one table: quoted names take no wildcards."""
    quoted = quote_ident(table)
    return f"{quote_ident(schema)}.{quoted}" if schema else quoted


async def stream_dump(
    install: PgInstall, target: AdminTarget, database: str, table_pattern: str | None
) -> AsyncIterator[bytes]:
    args = [str(install.tool("pg_dump")), "--no-password", "--format=plain"]
    if table_pattern:
        args += ["--strict-names", f"--table={table_pattern}"]
    process = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=client_environment(target, database),
    )
    assert process.stdout is not None
    assert process.stderr is not None
    stderr_task = asyncio.ensure_future(process.stderr.read())
    try:
        while chunk := await process.stdout.read(_CHUNK):
            yield chunk
        await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    errors = (await stderr_task).decode(errors="replace").strip()
    if process.returncode != 0:
        raise DumpFailed(errors.splitlines()[-1] if errors else f"exit {process.returncode}")


_VARYING_LINE = re.compile(
    r"^(\\restrict |\\unrestrict |-- Dumped (from|by) |-- Started on |-- Completed on )"
)
"""Lines that differ between two dumps of the same schema: newer pg_dump's random
``\\restrict`` keys, and version or time comments."""


async def schema_text(install: PgInstall, target: AdminTarget, database: str) -> str:
    """The whole schema-only dump of a database, without the lines that always differ."""
    process = await asyncio.create_subprocess_exec(
        str(install.tool("pg_dump")),
        "--no-password",
        "--format=plain",
        "--schema-only",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=client_environment(target, database),
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        errors = err.decode(errors="replace").strip()
        raise DumpFailed(errors.splitlines()[-1] if errors else f"exit {process.returncode}")
    lines = out.decode(errors="replace").splitlines(keepends=True)
    return "".join(line for line in lines if not _VARYING_LINE.match(line))
