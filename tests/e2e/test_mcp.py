"""The MCP server as an agent uses it, through the SDK's own client: `lampion mcp` over stdio
and /mcp over streamable HTTP, against one real `lampion serve` and one project."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx
import httpx2
import pytest
from jsonschema import Draft202012Validator
from mcp import Client, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from tests.e2e.conftest import environment, new_key, serving

pytestmark = [pytest.mark.e2e, pytest.mark.compute]

MUTATING = {
    "create_project", "delete_project", "create_branch", "delete_branch",
    "reset_branch_to_parent", "restore_branch", "suspend_endpoint", "resume_endpoint",
    "run_sql", "run_sql_transaction", "list_slow_queries", "prepare_database_migration",
    "complete_database_migration", "discard_database_migration",
}  # fmt: skip
READING = {
    "list_projects", "describe_project", "list_branches", "describe_branch",
    "compare_schemas", "get_connection_string", "list_endpoints", "explain_sql",
    "list_tables", "describe_table", "get_usage",
}  # fmt: skip
DESTRUCTIVE = {
    "delete_project", "delete_branch", "reset_branch_to_parent", "restore_branch", "run_sql",
    "run_sql_transaction", "complete_database_migration", "discard_database_migration",
}  # fmt: skip


@dataclass(frozen=True)
class McpServer:
    url: str
    env: dict[str, str]
    key: str
    read_only_key: str
    errlog: TextIO

    def stdio(self, key: str, *args: str) -> Client:
        """`lampion mcp` spawned as an MCP client would, its stderr kept in a file."""
        env = {**self.env, "LAMPION_API_URL": self.url, "LAMPION_API_KEY": key}
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "lampion", "mcp", *args], env=env
        )
        return Client(stdio_client(params, errlog=self.errlog), read_timeout_seconds=120)

    def http(self, key: str) -> Client:
        headers = {"Authorization": f"Bearer {key}"}
        http_client = httpx2.AsyncClient(headers=headers, timeout=120)
        return Client(streamable_http_client(f"{self.url}/mcp", http_client=http_client))


@pytest.fixture(scope="module")
def mcp_server(workdir: Path, templates_dir: Path) -> Iterator[McpServer]:
    env = environment(workdir / "mcp", templates_dir, rate_limit_enabled="false")
    errlog_path = workdir / "mcp-stdio.err"
    with serving(env, workdir / "mcp-server.log"), errlog_path.open("w+") as errlog:
        yield McpServer(
            url=f"http://127.0.0.1:{env['LAMPION_API_PORT']}",
            env=env,
            key=new_key(env, "mcp-org", "--plan", "pro"),
            read_only_key=new_key(env, "mcp-org", "--permission", "read_only"),
            errlog=errlog,
        )


@asynccontextmanager
async def connected(client: Client) -> AsyncIterator[Client]:
    async with client:
        yield client


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return dict(result.structured_content)


async def refused(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error
    return text_of(result)


def text_of(result: CallToolResult) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


@pytest.fixture(scope="module")
async def project(mcp_server: McpServer) -> dict[str, Any]:
    """One project, made with the create_project tool over HTTP."""
    async with connected(mcp_server.http(mcp_server.key)) as client:
        created = await call(client, "create_project", name="mcp-demo")
    return dict(created["project"])


async def test_stdio_lists_typed_tools_and_runs_sql_on_a_new_project(
    mcp_server: McpServer, project: dict[str, Any]
) -> None:
    assert project["name"] == "mcp-demo"
    assert "connection_string" not in project
    assert "pg_password" not in project
    async with connected(mcp_server.stdio(mcp_server.key)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) == MUTATING | READING
        for tool in tools.values():
            assert tool.description
            Draft202012Validator.check_schema(tool.input_schema)
            if tool.output_schema is not None:
                Draft202012Validator.check_schema(tool.output_schema)
            assert tool.annotations is not None
            assert tool.annotations.read_only_hint is (tool.name in READING)
            assert tool.annotations.destructive_hint is (tool.name in DESTRUCTIVE)
        assert "project" in tools["run_sql"].input_schema["required"]

        script = (
            "CREATE TABLE pets (id int PRIMARY KEY, name text NOT NULL UNIQUE, "
            "born date DEFAULT now());\nINSERT INTO pets (id, name) VALUES (1, 'Rex'), (2, 'Tom')"
        )
        ran = await call(client, "run_sql", project="mcp-demo", sql=script)
        assert ran["command"] == "INSERT"
        assert ran["row_count"] == 2
        table = await call(client, "describe_table", project=project["id"], table="pets")
        assert [c["name"] for c in table["columns"]] == ["id", "name", "born"]
        assert table["columns"][1] == {
            "name": "name", "type": "text", "nullable": False, "default": None
        }  # fmt: skip
        assert {c["type"] for c in table["constraints"]} >= {"primary key", "unique"}
        assert {i["name"] for i in table["indexes"]} == {"pets_pkey", "pets_name_key"}
        assert table["size"]["total_bytes"] > 0
        listed = await call(client, "list_tables", project="mcp-demo")
        assert [t["name"] for t in listed["tables"]] == ["pets"]

        # All or nothing: the failing third statement leaves neither table nor row.
        failed = await refused(
            client, "run_sql_transaction", project="mcp-demo",
            statements=["CREATE TABLE toys (id int)", "INSERT INTO pets VALUES (3, 'Kit')",
                        "INSERT INTO pets VALUES (1, 'Dup')"],
        )  # fmt: skip
        assert "duplicate key" in failed
        assert '"statement_index": 2' in failed
        assert "request id req_" in failed
        assert "rolled back" in failed
        after = await call(
            client, "run_sql", project="mcp-demo",
            sql="SELECT count(*) AS pets, to_regclass('toys') IS NULL AS no_toys FROM pets",
        )  # fmt: skip
        assert after["rows"] == [{"pets": 2, "no_toys": True}]
        done = await call(
            client, "run_sql_transaction", project="mcp-demo",
            statements=["INSERT INTO pets VALUES (3, 'Kit');", "SELECT count(*) AS n FROM pets"],
        )  # fmt: skip
        assert done["results"][-1]["rows"] == [{"n": 3}]

        # EXPLAIN ANALYZE of a write executes it, then rolls it back.
        plan = await call(
            client, "explain_sql", project="mcp-demo", analyze=True,
            sql="DELETE FROM pets WHERE id = 3",
        )  # fmt: skip
        assert plan["plan"][0]["Plan"]["Node Type"] == "ModifyTable"
        assert "Actual Total Time" in plan["plan"][0]["Plan"]
        count = await call(client, "run_sql", project="mcp-demo", sql="SELECT count(*) FROM pets")
        assert count["rows"] == [{"count": 3}]

        # Errors are tool errors with the API's message and request id.
        missing = await refused(client, "run_sql", project="mcp-demo", sql="SELECT * FROM nope")
        assert 'relation "nope" does not exist' in missing
        assert "request id req_" in missing
        unknown = await refused(client, "describe_project", project="no-such-project")
        assert "not_found" in unknown

        # Only get_connection_string shows the password.
        described = await call(client, "describe_project", project="mcp-demo")
        connection = await call(client, "get_connection_string", project="mcp-demo")
        password = connection["connection_string"].split("://", 1)[1].split("@")[0].split(":")[1]
        assert len(password) > 8
        assert password not in json.dumps(described)
        slow = await client.call_tool("list_slow_queries", {"project": "mcp-demo"})
        ships = Path(f"/usr/lib/postgresql/{project['pg_version']}/lib/pg_stat_statements.so")
        if not ships.exists():  # the wheel's builds: said plainly, as a tool error
            assert slow.is_error
            assert "does not ship pg_stat_statements" in text_of(slow)


async def test_http_migration_is_tried_on_a_branch_then_completed_or_discarded(
    mcp_server: McpServer, project: dict[str, Any]
) -> None:
    async with connected(mcp_server.http(mcp_server.key)) as client:
        await call(client, "run_sql", project=project["id"], sql="CREATE TABLE notes (id int)")
        prepared = await call(
            client, "prepare_database_migration", project="mcp-demo",
            sql="ALTER TABLE notes ADD COLUMN body text NOT NULL DEFAULT '';",
        )  # fmt: skip
        assert "+    body text DEFAULT ''::text NOT NULL" in prepared["schema_diff"]
        temporary = prepared["temporary_branch"]["name"]
        assert temporary.startswith("mcp-migration-")

        async def columns(branch: str | None = None) -> list[str]:
            table = await call(
                client, "describe_table", project="mcp-demo", table="notes", branch=branch
            )
            return [c["name"] for c in table["columns"]]

        assert await columns() == ["id"]  # the parent is unchanged until completion
        assert await columns(temporary) == ["id", "body"]
        completed = await call(
            client, "complete_database_migration", migration_id=prepared["migration_id"]
        )
        assert completed["applied_to"]["name"] == "main"
        assert await columns() == ["id", "body"]
        branches = await call(client, "list_branches", project="mcp-demo")
        assert [b["name"] for b in branches["branches"]] == ["main"]
        again = await refused(
            client, "complete_database_migration", migration_id=prepared["migration_id"]
        )
        assert "No pending migration" in again

        discarded = await call(
            client, "prepare_database_migration", project="mcp-demo",
            sql="DROP TABLE notes",
        )  # fmt: skip
        assert "-CREATE TABLE public.notes" in discarded["schema_diff"]
        await call(client, "discard_database_migration", migration_id=discarded["migration_id"])
        assert await columns() == ["id", "body"]
        branches = await call(client, "list_branches", project="mcp-demo")
        assert [b["name"] for b in branches["branches"]] == ["main"]


async def test_read_only_servers_offer_and_run_only_tools_that_change_nothing(
    mcp_server: McpServer, project: dict[str, Any]
) -> None:
    flagged = mcp_server.stdio(mcp_server.key, "--read-only")
    for client in (
        flagged,
        mcp_server.stdio(mcp_server.read_only_key),
        mcp_server.http(mcp_server.read_only_key),
    ):
        async with connected(client):
            tools = (await client.list_tools()).tools
            assert {t.name for t in tools} == READING
            assert all(t.annotations and t.annotations.read_only_hint for t in tools)
            listed = await call(client, "list_projects")
            assert [p["name"] for p in listed["projects"]] == ["mcp-demo"]
            message = await refused(client, "delete_project", project="mcp-demo")
            assert "read-only" in message
            message = await refused(client, "run_sql", project="mcp-demo", sql="DROP TABLE pets")
            assert "read-only" in message
            if client is flagged:  # a developer key: the SQL API answers, in a READ ONLY block
                plan = await refused(
                    client, "explain_sql", project="mcp-demo", analyze=True,
                    sql="DELETE FROM pets",
                )  # fmt: skip
                assert "read-only transaction" in plan
            else:  # a read_only key: no SQL, so the table is described from the schema API
                table = await call(client, "describe_table", project="mcp-demo", table="pets")
                assert [c["name"] for c in table["columns"]] == ["id", "name", "born"]
                assert {i["name"] for i in table["indexes"]} == {"pets_pkey", "pets_name_key"}
                assert table["constraints"] is None
                assert "read_only" in table["note"]


async def test_a_bad_key_fails_cleanly(mcp_server: McpServer) -> None:
    for headers in ({}, {"Authorization": "Bearer lmp_live_not-a-real-key"}):
        answer = httpx.post(f"{mcp_server.url}/mcp", json={}, headers=headers, timeout=30)
        assert answer.status_code == 401
        body = answer.json()
        assert body["success"] is False
        assert body["error"]["code"] == "authentication_failed"
        assert body["metadata"]["request_id"] == answer.headers["X-Request-Id"]

    errlog = mcp_server.errlog
    errlog.seek(0, os.SEEK_END)
    start = errlog.tell()
    async with connected(mcp_server.stdio("lmp_live_not-a-real-key")) as client:
        message = await refused(client, "list_projects")
    assert "authentication_failed" in message
    assert "request id req_" in message
    errlog.seek(start)
    assert "Traceback" not in errlog.read()


def _installation_with_query_statistics() -> int | None:
    """A Debian PostgreSQL major whose contrib ships pg_stat_statements (computes preload it
    there), or None."""
    shipped = sorted(Path("/usr/lib/postgresql").glob("*/lib/pg_stat_statements.so"))
    return int(shipped[-1].parts[-3]) if shipped else None


async def test_slow_queries_are_listed_where_postgres_ships_the_statistics(
    mcp_server: McpServer,
) -> None:
    major = _installation_with_query_statistics()
    if major is None:
        pytest.skip("no PostgreSQL installation here ships pg_stat_statements")
    async with connected(mcp_server.http(mcp_server.key)) as client:
        created = await call(client, "create_project", name="mcp-stats", pg_version=major)
        try:
            await call(client, "list_slow_queries", project="mcp-stats")  # installs it
            await call(
                client, "run_sql", project="mcp-stats",
                sql="SELECT count(*) FROM generate_series(1, 200000) AS slow_series",
            )  # fmt: skip
            slow = await call(client, "list_slow_queries", project="mcp-stats", limit=50)
            assert any("slow_series" in q["query"] for q in slow["queries"]), slow
            assert all({"calls", "mean_ms", "total_ms"} <= set(q) for q in slow["queries"])
        finally:
            await call(client, "delete_project", project=created["project"]["id"])
