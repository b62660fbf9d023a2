"""Tools that read a database's schema and statistics: tables, one table in detail, the
slowest queries."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from lampion.client import LampionAPIError, NotFoundError
from lampion.mcp.errors import tool_error
from lampion.mcp.params import BranchRef, Database, ProjectRef, SchemaName
from lampion.mcp.toolbox import Effect, ToolSpec, lampion

_DESCRIBE = """
WITH t AS (
  SELECT c.oid, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = $1 AND c.relname = $2
)
SELECT
  (SELECT relkind::text FROM t) AS kind,
  (SELECT json_agg(json_build_object(
      'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
      'nullable', NOT a.attnotnull, 'default', pg_get_expr(d.adbin, d.adrelid)
    ) ORDER BY a.attnum)
   FROM pg_attribute a
   LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attrelid = (SELECT oid FROM t) AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
  (SELECT json_agg(json_build_object(
      'name', i.relname, 'definition', pg_get_indexdef(x.indexrelid),
      'primary', x.indisprimary, 'unique', x.indisunique,
      'size_bytes', pg_relation_size(x.indexrelid)
    ) ORDER BY i.relname)
   FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
   WHERE x.indrelid = (SELECT oid FROM t)) AS indexes,
  (SELECT json_agg(json_build_object(
      'name', k.conname, 'type', k.contype::text, 'definition', pg_get_constraintdef(k.oid)
    ) ORDER BY k.conname)
   FROM pg_constraint k WHERE k.conrelid = (SELECT oid FROM t)) AS constraints,
  pg_total_relation_size((SELECT oid FROM t)) AS total_bytes,
  pg_relation_size((SELECT oid FROM t)) AS table_bytes,
  (SELECT reltuples::bigint FROM pg_class WHERE oid = (SELECT oid FROM t)) AS estimated_rows
"""
_KINDS = {"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view",
          "f": "foreign table"}  # fmt: skip
_CONSTRAINTS = {"p": "primary key", "f": "foreign key", "u": "unique", "c": "check",
                "x": "exclusion", "t": "trigger", "n": "not null"}  # fmt: skip

_SLOWEST = """
SELECT query, calls, round(mean_exec_time::numeric, 3) AS mean_ms,
       round(total_exec_time::numeric, 3) AS total_ms, rows
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY mean_exec_time DESC LIMIT $1
"""
_NOT_AVAILABLE = (
    "This project's PostgreSQL installation does not ship pg_stat_statements (the bundled "
    "PostgreSQL 16/18 builds do not; Debian's packages do), so slow queries cannot be listed "
    "here. Use explain_sql to study one statement."
)
_NOT_PRELOADED = (
    "pg_stat_statements is installed in this database, but this compute was started "
    "without it in shared_preload_libraries, so PostgreSQL records no statement statistics. "
    "Suspend and resume the endpoint to load it, or use explain_sql to study one statement."
)


async def list_tables(
    ctx: Context[Any, Any],
    project: ProjectRef,
    branch: BranchRef = None,
    database: Database = "postgres",
    schema: SchemaName = "public",
) -> dict[str, Any]:
    """List the tables of one schema of a branch's database, each with its columns (name,
    type, nullable, default) and indexes."""
    async with lampion(ctx) as api:
        project_id = await api.resolve_project(project)
        branch_id = (await api.branches.get(project_id, branch)).id if branch else None
        listing = await api.data.schema(
            project_id, database=database, schema=schema, branch_id=branch_id
        )
    return {"schema": schema, "tables": listing.items}


async def describe_table(
    ctx: Context[Any, Any],
    project: ProjectRef,
    table: Annotated[str, Field(min_length=1, description="The table's name (unquoted)")],
    schema: SchemaName = "public",
    branch: BranchRef = None,
    database: Database = "postgres",
) -> dict[str, Any]:
    """Describe one table (or view): its columns (type, nullable, default), indexes (with
    definition and size), constraints (primary key, foreign keys, unique, check) and size
    (table, total with indexes and TOAST, estimated row count)."""
    async with lampion(ctx) as api:
        project_id, endpoint_id = await api.endpoint_of(project, branch)
        try:
            answer = await api.data.sql(
                project_id, endpoint_id, _DESCRIBE, database=database, params=[schema, table]
            )
        except LampionAPIError as exc:
            if exc.status_code != 403:
                raise
            listing = await api.data.schema(
                project_id, database=database, schema=schema, endpoint_id=endpoint_id
            )
            return _from_schema_listing(listing.items, schema, table, database)
    row = answer.rows[0]
    assert isinstance(row, dict)
    if row["kind"] is None:
        raise ToolError(f"No table {schema}.{table} in database {database}")
    return {
        "schema": schema,
        "table": table,
        "kind": _KINDS.get(row["kind"], row["kind"]),
        "columns": row["columns"] or [],
        "indexes": row["indexes"] or [],
        "constraints": [
            {**c, "type": _CONSTRAINTS.get(c["type"], c["type"])} for c in row["constraints"] or []
        ],
        "size": {
            "table_bytes": row["table_bytes"],
            "total_bytes": row["total_bytes"],
            "estimated_rows": row["estimated_rows"],
        },
    }


async def list_slow_queries(
    ctx: Context[Any, Any],
    project: ProjectRef,
    branch: BranchRef = None,
    database: Database = "postgres",
    limit: Annotated[int, Field(ge=1, le=100, description="How many queries")] = 10,
) -> dict[str, Any]:
    """List the slowest statements by mean execution time from pg_stat_statements (calls,
    mean and total milliseconds, rows). Installs the pg_stat_statements extension in the
    database first when it is missing."""
    async with lampion(ctx) as api:
        project_id, endpoint_id = await api.endpoint_of(project, branch)
        installed = await api.extensions.list(project_id, endpoint_id, database=database)
        if not any(e.name == "pg_stat_statements" and e.installed for e in installed):
            try:
                await api.extensions.install(
                    project_id, endpoint_id, "pg_stat_statements", database=database
                )
            except NotFoundError as exc:
                raise ToolError(f"{_NOT_AVAILABLE} ({tool_error(exc)})") from None
        try:
            answer = await api.data.sql(
                project_id, endpoint_id, _SLOWEST, database=database, params=[limit]
            )
        except LampionAPIError as exc:
            if "shared_preload_libraries" in exc.message:
                raise ToolError(f"{_NOT_PRELOADED} ({tool_error(exc)})") from None
            raise
    return {"queries": answer.rows}


def _from_schema_listing(
    items: list[dict[str, Any]], schema: str, table: str, database: str
) -> dict[str, Any]:
    """What the schema API tells of a table, for a key that may not run SQL."""
    found = next((item for item in items if item.get("name") == table), None)
    if found is None:
        raise ToolError(f"No table {schema}.{table} in database {database}")
    return {
        "schema": schema,
        "table": table,
        "kind": found.get("type", "table"),
        "columns": found.get("columns", []),
        "indexes": found.get("indexes", []),
        "constraints": None,
        "size": None,
        "note": "This API key is read_only and may not run SQL: constraints and size are "
        "left out (a developer key with `lampion mcp --read-only` shows them).",
    }


TOOLS = [
    ToolSpec(list_tables, "List tables", Effect.READS),
    ToolSpec(describe_table, "Describe a table", Effect.READS),
    ToolSpec(list_slow_queries, "List slow queries", Effect.WRITES, idempotent=True),
]
