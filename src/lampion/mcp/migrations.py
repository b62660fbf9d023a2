"""The migration workflow: try a migration on a temporary branch, review its schema diff,
then apply it to the parent (complete) or drop it (discard).

A pending migration lives only in its temporary branch, so it survives a restart of the
MCP server and is seen by every server of the org: the branch is named `mcp-migration-…`,
its parent is the branch to migrate, and its database `lampion_mcp` keeps the migration's
SQL and target database. The branch expires after a day if left pending."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from lampion.client import AsyncLampion, LampionAPIError, NotFoundError
from lampion.mcp.errors import rolled_back
from lampion.mcp.params import BranchRef, Database, ProjectRef
from lampion.mcp.statements import in_transaction, split, without_transaction_control
from lampion.mcp.toolbox import Effect, ToolSpec, lampion
from lampion.schemas.branches import Branch

BRANCH_PREFIX = "mcp-migration-"
RECORD_DATABASE = "lampion_mcp"
PENDING_FOR = timedelta(days=1)
_RECORD = "CREATE TABLE migration AS SELECT $1::text AS sql, $2::text AS database"

MigrationId = Annotated[
    str,
    Field(
        pattern=r"^prj-[A-Za-z0-9_-]+/br-[A-Za-z0-9_-]+$",
        description="The migration_id prepare_database_migration answered",
    ),
]


async def prepare_database_migration(
    ctx: Context[Any, Any],
    project: ProjectRef,
    sql: Annotated[
        str,
        Field(min_length=1, description="The migration: DDL/DML statements (no BEGIN/COMMIT)"),
    ],
    branch: BranchRef = None,
    database: Database = "postgres",
) -> dict[str, Any]:
    """Step 1 of a safe schema migration: create a temporary branch of `branch` (default
    the primary), apply the migration there as one transaction, and answer the
    `migration_id`, the temporary branch and the schema diff (parent → migrated) to review.
    The parent is not changed. Then call complete_database_migration to apply the same SQL to
    the parent, or discard_database_migration to drop it. Test queries can be run on the
    temporary branch with run_sql first."""
    statements = without_transaction_control(split(sql))
    async with lampion(ctx) as api:
        project_id = await api.resolve_project(project)
        parent = await _branch_or_primary(api, project_id, branch)
        created = await api.branches.create(
            project_id, BRANCH_PREFIX + secrets.token_hex(4), parent=parent.id,
            expires_at=datetime.now(UTC) + PENDING_FOR,
        )  # fmt: skip
        assert created is not None
        try:
            await api.databases.create(project_id, created.compute_id, RECORD_DATABASE)
            await api.data.sql(
                project_id, created.compute_id, _RECORD, database=RECORD_DATABASE,
                params=[sql, database],
            )  # fmt: skip
            try:
                await api.data.sql(
                    project_id, created.compute_id, in_transaction(statements), database=database
                )
            except LampionAPIError as exc:
                raise rolled_back(exc) from None
            compared = await api.branches.compare_schema(
                project_id, created.id, base=parent.id, database=database
            )
        except BaseException:
            await api.branches.delete(project_id, created.id, if_exists=True)
            raise
    return {
        "migration_id": f"{project_id}/{created.id}",
        "temporary_branch": {"id": created.id, "name": created.name},
        "parent_branch": {"id": parent.id, "name": parent.name},
        "database": database,
        "schema_diff": compared.diff,
        "next": "Review schema_diff, then complete_database_migration(migration_id) to apply "
        "it to the parent branch, or discard_database_migration(migration_id).",
    }


async def complete_database_migration(
    ctx: Context[Any, Any], migration_id: MigrationId
) -> dict[str, Any]:
    """Step 2: apply a prepared migration's SQL to its parent branch as one transaction (all
    or nothing), then delete the temporary branch. If it fails on the parent, nothing is
    applied and the temporary branch is kept."""
    project_id, branch_id = migration_id.split("/")
    async with lampion(ctx) as api:
        temporary = await _pending(api, project_id, branch_id, migration_id)
        assert temporary.endpoint_id is not None
        assert temporary.parent_id is not None
        record = await api.data.sql(
            project_id, temporary.endpoint_id, "SELECT sql, database FROM migration",
            database=RECORD_DATABASE,
        )  # fmt: skip
        row = record.rows[0]
        assert isinstance(row, dict)
        sql, database = str(row["sql"]), str(row["database"])
        parent = await api.branches.get(project_id, temporary.parent_id)
        assert parent.endpoint_id is not None
        try:
            await api.data.sql(
                project_id, parent.endpoint_id, in_transaction(split(sql)), database=database
            )
        except LampionAPIError as exc:
            raise rolled_back(exc) from None
        await api.branches.delete(project_id, temporary.id, if_exists=True)
    return {
        "completed": migration_id,
        "applied_to": {"id": parent.id, "name": parent.name},
        "database": database,
        "deleted_temporary_branch": temporary.id,
    }


async def discard_database_migration(
    ctx: Context[Any, Any], migration_id: MigrationId
) -> dict[str, Any]:
    """Drop a prepared migration: delete its temporary branch. The parent was never
    changed."""
    project_id, branch_id = migration_id.split("/")
    async with lampion(ctx) as api:
        temporary = await _pending(api, project_id, branch_id, migration_id)
        await api.branches.delete(project_id, temporary.id, if_exists=True)
    return {"discarded": migration_id, "deleted_temporary_branch": temporary.id}


async def _branch_or_primary(api: AsyncLampion, project_id: str, branch: str | None) -> Branch:
    if branch is not None:
        return await api.branches.get(project_id, branch)
    return next(b for b in await api.branches.list(project_id) if b.is_primary)


async def _pending(api: AsyncLampion, project_id: str, branch_id: str, migration_id: str) -> Branch:
    try:
        found = await api.branches.get(project_id, branch_id)
    except NotFoundError:
        found = None
    if found is None or not found.name.startswith(BRANCH_PREFIX):
        raise ToolError(
            f"No pending migration {migration_id}: it was completed, discarded or has expired"
        )
    return found


TOOLS = [
    ToolSpec(prepare_database_migration, "Prepare a database migration", Effect.WRITES),
    ToolSpec(complete_database_migration, "Complete a database migration", Effect.DESTROYS),
    ToolSpec(
        discard_database_migration,
        "Discard a database migration",
        Effect.DESTROYS,
        idempotent=True,
    ),
]
