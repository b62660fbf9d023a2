"""SQL execution and schema introspection."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from lampion.schemas.common import RequestModel

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


class Field_(BaseModel):
    name: str
    type: str = Field(examples=["int4"])


class StatementResult(BaseModel):
    command: str = Field(examples=["SELECT"])
    columns: list[str] = Field(examples=[["id", "name"]])
    fields: list[Field_] = Field(description="Each column with its PostgreSQL type")
    rows: list[dict[str, Any]] = Field(examples=[[{"id": 1, "name": "Alice"}]])
    row_count: int
    duration: float = Field(description="Milliseconds")
    truncated: bool = False


class SqlResponse(StatementResult):
    """The last statement's result at the top level (as in seed 000), every statement's in
    ``results`` for a script. A psql meta-command adds ``title`` and ``footers``."""

    results: list[StatementResult] | None = None
    title: str | None = None
    footers: list[str] | None = None


class SchemaListing(BaseModel):
    type: str = Field(examples=["tables"], description="databases | schemas | tables")
    items: list[dict[str, Any]]
