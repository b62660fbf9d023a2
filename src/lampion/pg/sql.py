"""Running a user's SQL script on one connection, statement by statement, within limits."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from lampion.pg import values
from lampion.pg.unreachable import why_unreachable

_FETCH_BATCH = 500
_PROTOCOL_VIOLATION = "08P01"
"""What PostgreSQL itself answers to a bind that does not fit the statement."""
_ROW_QUERY_COMMANDS = {"WITH": "SELECT", "VALUES": "SELECT", "TABLE": "SELECT"}


@dataclass(frozen=True)
class Limits:
    statement_timeout_ms: int
    max_rows: int
    max_bytes: int


@dataclass
class StatementResult:
    """Columns as PostgreSQL names them (two may share a name) and rows as lists, in order."""

    command: str
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    row_count: int
    duration_ms: float
    truncated: bool = False


@dataclass
class StatementFailed(Exception):
    index: int
    sqlstate: str
    message: str
    detail: str | None = None
    hint: str | None = None
    position: int | None = None
    results: list[StatementResult] = field(default_factory=list)


@dataclass
class _Budget:
    rows: int
    bytes: int


async def run_script(
    connection: asyncpg.Connection,
    statements: list[str],
    params: list[Any],
    limits: Limits,
) -> list[StatementResult]:
    await connection.execute(f"SET statement_timeout = {int(limits.statement_timeout_ms)}")
    budget = _Budget(limits.max_rows, limits.max_bytes)
    results: list[StatementResult] = []
    for index, sql in enumerate(statements):
        started = time.perf_counter()
        try:
            results.append(await _run_one(connection, sql, params, budget, started))
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            if why_unreachable(exc) is not None:
                raise  # not the statement's fault: the compute went away under it
            if isinstance(exc, asyncpg.InterfaceError):  # e.g. the wrong number of params
                raise StatementFailed(
                    index, _PROTOCOL_VIOLATION, str(exc), results=results
                ) from exc
            position = getattr(exc, "position", None)
            raise StatementFailed(
                index=index,
                sqlstate=exc.sqlstate or "XX000",
                message=str(getattr(exc, "message", None) or exc),
                detail=getattr(exc, "detail", None),
                hint=getattr(exc, "hint", None),
                position=int(position) if position else None,
                results=results,
            ) from exc
        if budget.rows <= 0 or budget.bytes <= 0:
            break
    return results


async def _run_one(
    connection: asyncpg.Connection, sql: str, params: list[Any], budget: _Budget, started: float
) -> StatementResult:
    statement = await values.prepare(connection, sql)
    attributes = statement.get_attributes()
    columns = [a.name for a in attributes]
    types = [a.type.name for a in attributes]
    if not attributes:
        await statement.fetch(*params)
        command, count = parse_status(statement.get_statusmsg() or "")
        return StatementResult(
            command=command,
            columns=[],
            types=[],
            rows=[],
            row_count=count,
            duration_ms=_elapsed(started),
        )
    rows, truncated = await _fetch_within(connection, statement, params, budget)
    first = sql.split(None, 1)[0].upper() if sql.split() else "SELECT"
    return StatementResult(
        command=_ROW_QUERY_COMMANDS.get(first, first),
        columns=columns,
        types=types,
        rows=rows,
        row_count=len(rows),
        duration_ms=_elapsed(started),
        truncated=truncated,
    )


async def _fetch_within(
    connection: asyncpg.Connection,
    statement: asyncpg.prepared_stmt.PreparedStatement,
    params: list[Any],
    budget: _Budget,
) -> tuple[list[list[Any]], bool]:
    """Rows through a cursor, stopping at the row or byte budget: never all in memory."""
    rows: list[list[Any]] = []
    own_transaction = not connection.is_in_transaction()
    transaction = connection.transaction() if own_transaction else None
    if transaction is not None:
        await transaction.start()
    try:
        cursor = await statement.cursor(*params)
        truncated = False
        while not truncated:
            wanted = min(_FETCH_BATCH, budget.rows + 1)
            batch = await cursor.fetch(wanted)
            for record in batch:
                if budget.rows <= 0 or budget.bytes <= 0:
                    truncated = True
                    break
                row = [values.to_json(value) for value in record]
                budget.rows -= 1
                budget.bytes -= sum(values.size_of(v) for v in row)
                rows.append(row)
            if len(batch) < wanted:
                break
    except BaseException:
        if transaction is not None:
            await transaction.rollback()
        raise
    if transaction is not None:
        await transaction.commit()
    return rows, truncated


def _elapsed(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def parse_status(status: str) -> tuple[str, int]:
    """("INSERT", 3) from "INSERT 0 3"; ("CREATE TABLE", 0) from "CREATE TABLE"."""
    words = status.split()
    if not words or not words[-1].isdigit():
        return " ".join(words), 0
    count = int(words[-1])
    return ("INSERT" if words[0] == "INSERT" else " ".join(words[:-1])), count
