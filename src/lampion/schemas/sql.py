"""SQL execution and schema introspection."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from lampion.schemas.common import RequestModel

RowMode = Literal["object", "array"]
MAX_PARAMS = 32_767
"""PostgreSQL's limit on the bind parameters of one statement (a 16-bit count)."""


class SqlRequest(RequestModel):
    query: str = Field(min_length=1, max_length=1_000_000, examples=["SELECT * FROM users LIMIT 5"])
    database: str = Field("postgres", min_length=1, max_length=63)
    params: list[Any] | None = Field(
        None,
        max_length=MAX_PARAMS,
        description="Bind parameters ($1, $2…); only with a single statement; at most 32,767 "
        "(PostgreSQL's limit)",
    )
    statement_timeout_ms: int | None = Field(
        None, ge=1, le=300_000, description="Default from LAMPION_SQL_STATEMENT_TIMEOUT (30 s)"
    )
    row_mode: RowMode = Field(
        "object",
        description="`object`: each row an object keyed by `columns`; `array`: each row a list "
        "of values in column order",
    )


class Field_(BaseModel):
    name: str = Field(description="The column's name as PostgreSQL gives it (may repeat)")
    type: str = Field(examples=["int4"])


class StatementResult(BaseModel):
    command: str = Field(examples=["SELECT"])
    columns: list[str] = Field(
        examples=[["id", "name"]],
        description="The rows' keys, in column order: each column's name, except that a name "
        "already used by an earlier column gets the first free suffix `_1`, `_2`… (a free key "
        "is one no column is named): `SELECT 1 AS a, 2 AS a, 3 AS a_1` has columns "
        "`a`, `a_2`, `a_1`",
    )
    fields: list[Field_] = Field(
        description="Each column with its name as PostgreSQL gives it and its PostgreSQL type"
    )
    rows: list[dict[str, Any]] | list[list[Any]] = Field(
        examples=[[{"id": 1, "name": "Alice"}]],
        description="Objects keyed by `columns` (default), or lists in column order with "
        '`"row_mode": "array"`. Values are JSON numbers, booleans, null, arrays and json/jsonb '
        "as JSON; every other type (numeric, dates and times, ranges, multiranges, composite "
        "values, uuid, bytea…) as PostgreSQL's text form, as psql prints it",
    )
    row_count: int
    duration: float = Field(description="Milliseconds")
    truncated: bool = False


class SqlResponse(StatementResult):
    """The last statement's result at the top level (as in seed 000), every statement's in
    ``results`` for a script. A psql meta-command adds ``title`` and ``footers``."""

    results: list[StatementResult] | None = None
    title: str | None = Field(
        None,
        description="A meta-command's title as psql prints it, or psql's message when the "
        'listing found nothing (`Did not find any relation named "x*".`)',
    )
    footers: list[str] | None = None


class SchemaListing(BaseModel):
    type: str = Field(examples=["tables"], description="databases | schemas | tables")
    items: list[dict[str, Any]]
