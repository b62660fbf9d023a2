"""`lampion`: the server's commands (serve, proxy, migrate, keys) and the API's client
commands (projects, branches, endpoints, sql, dump, …), one module per command group."""

from __future__ import annotations

import typer

from lampion import __version__
from lampion.cli import (
    branches,
    connection,
    console,
    dump,
    endpoints,
    keys,
    mcp,
    projects,
    server,
    sql,
    usage,
    webhooks,
)

app = typer.Typer(
    help="Lampion: a self-hostable control plane for serverless PostgreSQL.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(server.serve)
app.command()(server.proxy)
app.command()(server.migrate)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


app.command("console-link")(console.console_link)
app.command("connection-string")(connection.connection_string)
app.command("sql")(sql.sql)
app.command("dump")(dump.dump)
app.command("usage")(usage.usage)
app.command("mcp")(mcp.mcp)
app.add_typer(keys.app, name="keys")
app.add_typer(projects.app, name="projects")
app.add_typer(branches.app, name="branches")
app.add_typer(endpoints.app, name="endpoints")
app.add_typer(webhooks.app, name="webhooks")


def main() -> None:
    app()
