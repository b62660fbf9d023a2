"""The SQL API: scripts split as PostgreSQL would, psql meta-commands, limits."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from lampion.errors import InvalidRequest, SqlError
from lampion.pg import meta, script
from lampion.pg import sql as pgsql
from lampion.runtime import Runtime
from lampion.schemas.sql import Field_, RowMode, SqlRequest, SqlResponse, StatementResult
from lampion.services import dataplane, pgerrors
from lampion.services.auth import Principal


def row_keys(names: Sequence[str]) -> list[str]:
    """A unique key per column: its name, or for a name an earlier column already has, the
    name with the first suffix `_1`, `_2`… that no column is named and no key took
    (`a, a, a_1` → `a, a_2, a_1`), so every value of a row object is reachable."""
    taken = set(names)
    used: set[str] = set()
    keys: list[str] = []
    for name in names:
        key = name
        if name in used:
            n = 1
            while f"{name}_{n}" in taken:
                n += 1
            key = f"{name}_{n}"
            taken.add(key)
        used.add(name)
        keys.append(key)
    return keys


def shape_rows(keys: list[str], rows: list[list[Any]], mode: RowMode) -> list[Any]:
    if mode == "array":
        return rows
    return [dict(zip(keys, row, strict=True)) for row in rows]


def _out(result: pgsql.StatementResult, mode: RowMode) -> StatementResult:
    keys = row_keys(result.columns)
    return StatementResult(
        command=result.command,
        columns=keys,
        fields=[Field_(name=n, type=t) for n, t in zip(result.columns, result.types, strict=True)],
        rows=shape_rows(keys, result.rows, mode),
        row_count=result.row_count,
        duration=result.duration_ms,
        truncated=result.truncated,
    )


async def execute(
    rt: Runtime, principal: Principal, project_id: str, endpoint_id: str, request: SqlRequest
) -> SqlResponse:
    started = time.perf_counter()
    compute = await dataplane.open_compute(rt, principal, project_id, endpoint_id)
    if meta.is_meta_command(request.query):
        response = await _meta(rt, compute, request)
    else:
        response = await _script(rt, compute, request)
    response.duration = round((time.perf_counter() - started) * 1000, 3)
    rt.meter.count_out(compute.endpoint.id, len(response.model_dump_json()))
    return response


async def _script(rt: Runtime, compute: dataplane.Compute, request: SqlRequest) -> SqlResponse:
    try:
        statements = script.split(request.query)
    except script.ScriptError as exc:
        raise InvalidRequest(f"The script cannot be read: {exc}") from exc
    if not statements:
        raise InvalidRequest("The query holds no statement")
    if request.params and len(statements) > 1:
        raise InvalidRequest(
            "params can only be used with a single statement",
            details={"statements": len(statements)},
        )
    timeout_ms = request.statement_timeout_ms or int(rt.settings.sql_statement_timeout * 1000)
    limits = pgsql.Limits(timeout_ms, rt.settings.sql_max_rows, rt.settings.sql_max_bytes)
    async with dataplane.connection(rt, compute, request.database) as connection:
        try:
            results = await pgsql.run_script(connection, statements, request.params or [], limits)
        except pgsql.StatementFailed as failure:
            raise SqlError(
                failure.message,
                details={
                    "statement_index": failure.index,
                    "sqlstate": failure.sqlstate,
                    "detail": failure.detail,
                    "hint": failure.hint,
                    "position": failure.position,
                    "results": [_out(r, request.row_mode).model_dump() for r in failure.results],
                },
            ) from None
    outs = [_out(r, request.row_mode) for r in results]
    last = outs[-1]
    return SqlResponse(
        **last.model_dump(),
        results=outs if len(statements) > 1 else None,
    )


async def _meta(rt: Runtime, compute: dataplane.Compute, request: SqlRequest) -> SqlResponse:
    command = request.query.strip()
    if command.startswith("\\conninfo"):
        message = (
            f'You are connected to database "{request.database}" as user "cloud_admin" on host '
            f'"{rt.settings.public_host}" at port "{rt.settings.proxy_port}".'
        )
        result = meta.MetaResult(command, message, [], [])
    else:
        try:
            result = await meta.run_meta(compute.install, compute.target, request.database, command)
        except meta.MetaCommandError as exc:
            raise pgerrors.client_unreachable(str(exc)) or InvalidRequest(
                str(exc), details={"command": command}
            ) from exc
    keys = row_keys(result.columns)
    return SqlResponse(
        command=command,
        columns=keys,
        fields=[Field_(name=c, type="text") for c in result.columns],
        rows=shape_rows(keys, result.rows, request.row_mode),
        row_count=len(result.rows),
        duration=0,
        title=result.title,
        footers=result.footers,
    )
