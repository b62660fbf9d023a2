"""The MCP server: every tool registered on one SDK server, or only those that change
nothing when it is read-only."""

from __future__ import annotations

from lampion.mcp import branches, endpoints, migrations, projects, sql, tables, usage
from lampion.mcp.access import ApiSource
from lampion.mcp.toolbox import LampionMCP, ToolSpec

TOOLS: list[ToolSpec] = [
    *projects.TOOLS,
    *branches.TOOLS,
    *endpoints.TOOLS,
    *sql.TOOLS,
    *tables.TOOLS,
    *migrations.TOOLS,
    *usage.TOOLS,
]

INSTRUCTIONS = """\
Lampion: serverless PostgreSQL with instant copy-on-write branches. A project is a
database with a primary branch; every branch has its own endpoint (compute). Projects and
branches are named by id or name; the primary branch is the default. To change a schema
safely use prepare_database_migration (tries it on a temporary branch and shows the schema
diff), then complete_database_migration or discard_database_migration. Only
get_connection_string answers a password."""


def build_server(source: ApiSource, *, read_only: bool = False) -> LampionMCP:
    server = LampionMCP(
        source,
        read_only=read_only,
        instructions=INSTRUCTIONS + ("\nThis server is read-only." if read_only else ""),
    )
    for spec in TOOLS:
        server.register(spec)
    return server
