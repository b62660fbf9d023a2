"""What the SQL editor shows of an answer of the SQL API: each statement's columns (with their
types) and cells (NULL apart from every string), or the failing statement with the position
PostgreSQL reported."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from lampion.client import LampionAPIError
from lampion.pg import script
from lampion.schemas.sql import SqlResponse, StatementResult

PAGE_SIZE = 100
"""Rows shown at a time; the others are in the page, hidden until paged to."""
_COUNTING_COMMANDS = {"INSERT", "UPDATE", "DELETE", "MERGE", "COPY", "SELECT", "MOVE", "FETCH"}


@dataclass(frozen=True)
class Cell:
    text: str
    kind: str  # null | bool | number | json | empty | text: how the cell is styled


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class Statement:
    command: str
    columns: list[Column]
    rows: list[list[Cell]]
    row_count: int
    duration_ms: float
    truncated: bool
    title: str | None = None
    footers: list[str] = field(default_factory=list)

    @property
    def counts_rows(self) -> bool:
        """A command whose status tells how many rows it touched (`UPDATE 3`)."""
        return self.command.split(" ")[0] in _COUNTING_COMMANDS

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.rows) // PAGE_SIZE))


@dataclass(frozen=True)
class Position:
    """The failing statement cut around the character PostgreSQL pointed at (1-based)."""

    before: str
    at: str
    after: str
    line: int
    column: int


@dataclass(frozen=True)
class Failure:
    message: str
    status_code: int
    code: str
    request_id: str | None
    sqlstate: str | None = None
    detail: str | None = None
    hint: str | None = None
    statement_number: int | None = None  # 1-based
    statement_total: int | None = None
    statement: str | None = None
    position: Position | None = None


@dataclass(frozen=True)
class Outcome:
    statements: list[Statement]
    failure: Failure | None = None
    duration_ms: float | None = None


def cell(value: Any) -> Cell:
    if value is None:
        return Cell("NULL", "null")
    if isinstance(value, bool):
        return Cell("true" if value else "false", "bool")
    if isinstance(value, int | float):
        return Cell(str(value), "number")
    if isinstance(value, dict | list):
        return Cell(json.dumps(value, ensure_ascii=False), "json")
    text = str(value)
    return Cell(text, "text" if text else "empty")


def statement(result: StatementResult, *, title: str | None = None,
              footers: list[str] | None = None) -> Statement:  # fmt: skip
    rows = [row if isinstance(row, list) else list(row.values()) for row in result.rows]
    return Statement(
        command=result.command,
        columns=[Column(f.name, f.type) for f in result.fields],
        rows=[[cell(value) for value in row] for row in rows],
        row_count=result.row_count,
        duration_ms=result.duration,
        truncated=result.truncated,
        title=title,
        footers=footers or [],
    )


def succeeded(response: SqlResponse) -> Outcome:
    if response.results is not None:
        statements = [statement(result) for result in response.results]
    else:
        statements = [statement(response, title=response.title, footers=response.footers)]
    return Outcome(statements=statements, duration_ms=response.duration)


def failed(query: str, error: LampionAPIError) -> Outcome:
    """A refused query: for a failing statement (`sql_error`) also the statements before it,
    which ran, and the statement itself as the SQL API split the script."""
    details = error.details
    before = [
        statement(StatementResult.model_validate(result))
        for result in details.get("results") or []
        if isinstance(result, dict)
    ]
    failure = Failure(
        message=error.message,
        status_code=error.status_code,
        code=error.code,
        request_id=error.request_id,
    )
    index = details.get("statement_index")
    if error.code == "sql_error" and isinstance(index, int):
        statements = _split(query)
        text = statements[index] if 0 <= index < len(statements) else None
        position = details.get("position")
        failure = replace(
            failure,
            sqlstate=details.get("sqlstate"),
            detail=details.get("detail"),
            hint=details.get("hint"),
            statement_number=index + 1,
            statement_total=len(statements) or None,
            statement=text,
            position=locate(text, position) if text and isinstance(position, int) else None,
        )
    return Outcome(statements=before, failure=failure)


def _split(query: str) -> list[str]:
    """The statements exactly as the SQL API split them (its own splitter)."""
    try:
        return script.split(query)
    except script.ScriptError:
        return []


def locate(text: str, position: int) -> Position:
    index = min(max(position - 1, 0), len(text))
    before = text[:index]
    line = before.count("\n") + 1
    column = index - (before.rfind("\n") + 1) + 1
    return Position(before, text[index : index + 1], text[index + 1 :], line, column)
