"""Tools that run SQL through the API's SQL endpoint: a script, a script as one transaction,
and EXPLAIN."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from lampion.client import LampionAPIError
from lampion.mcp.errors import rolled_back
from lampion.mcp.params import BranchRef, Database, ProjectRef
from lampion.mcp.statements import in_transaction, split, without_transaction_control
from lampion.mcp.toolbox import Effect, ToolSpec, is_read_only, lampion
from lampion.schemas.sql import SqlResponse, StatementResult

Params = Annotated[
    list[Any] | None,
    Field(description="Bind parameters for $1, $2… (only with a single statement)"),
]


async def run_sql(
    ctx: Context[Any, Any],
    project: ProjectRef,
    sql: Annotated[str, Field(min_length=1, description="One or more SQL statements")],
    branch: BranchRef = None,
    database: Database = "postgres",
    params: Params = None,
) -> dict[str, Any]:
    """Run SQL on a branch's database as its superuser (waking a suspended endpoint).
    Several statements run in order, each committed on its own; a failing one stops the
    script (use run_sql_transaction for all or nothing). Answers the last statement's columns
    and rows (objects keyed by column), with every statement's result in `results` for a
    script; rows beyond the server's limit are cut (`truncated`)."""
    async with lampion(ctx) as api:
        project_id, endpoint_id = await api.endpoint_of(project, branch)
        answer = await api.data.sql(project_id, endpoint_id, sql, database=database, params=params)
    return _result(answer)


async def run_sql_transaction(
    ctx: Context[Any, Any],
    project: ProjectRef,
    statements: Annotated[
        list[str],
        Field(min_length=1, description="The statements, in order (no BEGIN/COMMIT)"),
    ],
    branch: BranchRef = None,
    database: Database = "postgres",
) -> dict[str, Any]:
    """Run several SQL statements as one transaction: all of them are committed, or, when
    one fails, none (the error names the failing statement's index). Statements that
    cannot run inside a transaction block (CREATE DATABASE, VACUUM, CREATE INDEX
    CONCURRENTLY) fail. Answers each statement's result."""
    parts = without_transaction_control([s for text in statements for s in split(text)])
    async with lampion(ctx) as api:
        project_id, endpoint_id = await api.endpoint_of(project, branch)
        try:
            answer = await api.data.sql(
                project_id, endpoint_id, in_transaction(parts), database=database
            )
        except LampionAPIError as exc:
            raise rolled_back(exc) from None
    results = (answer.results or [])[1:-1]  # not BEGIN's and COMMIT's
    return {"committed": True, "results": [_statement(r) for r in results]}


async def explain_sql(
    ctx: Context[Any, Any],
    project: ProjectRef,
    sql: Annotated[str, Field(min_length=1, description="One SQL statement to explain")],
    branch: BranchRef = None,
    database: Database = "postgres",
    analyze: Annotated[
        bool,
        Field(
            description="Also execute it (EXPLAIN ANALYZE) for real timings and row counts, "
            "inside a transaction that is rolled back"
        ),
    ] = False,
) -> dict[str, Any]:
    """Show a statement's query plan as JSON (EXPLAIN (FORMAT JSON)). With `analyze` the
    statement is executed, inside a transaction that is always rolled back, so even an
    INSERT/UPDATE/DELETE leaves no change (sequences and other non-transactional effects
    excepted); on a read-only MCP server that transaction is READ ONLY, so a writing
    statement is refused. Consider a branch for heavy statements."""
    statements = split(sql)
    if len(statements) != 1:
        raise ToolError(f"explain_sql takes one statement, not {len(statements)}")
    options = "ANALYZE, BUFFERS, FORMAT JSON" if analyze else "FORMAT JSON"
    writable = analyze and not is_read_only(ctx)
    script = in_transaction(
        [f"EXPLAIN ({options}) {statements[0]}"],
        begin="BEGIN" if writable else "BEGIN TRANSACTION READ ONLY",
        end="ROLLBACK",
    )
    async with lampion(ctx) as api:
        project_id, endpoint_id = await api.endpoint_of(project, branch)
        try:
            answer = await api.data.sql(project_id, endpoint_id, script, database=database)
        except LampionAPIError as exc:
            raise rolled_back(exc) from None
    explained = (answer.results or [])[1]
    plan = explained.rows[0]
    value = plan["QUERY PLAN"] if isinstance(plan, dict) else plan[0]
    return {"analyzed": analyze, "plan": value}


def _statement(result: StatementResult) -> dict[str, Any]:
    return result.model_dump(mode="json", exclude={"fields", "duration"})


def _result(answer: SqlResponse) -> dict[str, Any]:
    out = answer.model_dump(
        mode="json", exclude={"fields", "duration", "results"}, exclude_none=True
    )
    if answer.results is not None:
        out["results"] = [_statement(r) for r in answer.results]
    return out


TOOLS = [
    ToolSpec(run_sql, "Run SQL", Effect.DESTROYS),
    ToolSpec(run_sql_transaction, "Run SQL as one transaction", Effect.DESTROYS),
    ToolSpec(explain_sql, "Explain a statement", Effect.READS),
]
