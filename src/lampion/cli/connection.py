"""`lampion connection-string`: what CI exports as DATABASE_URL."""

from __future__ import annotations

from typing import Annotated

import typer

from lampion.cli.connect import connect
from lampion.cli.options import KeyOption, ProjectOption, UrlOption


def connection_string(
    project: ProjectOption,
    branch: Annotated[str | None, typer.Option("--branch", "-b", help="Branch id or name")] = None,
    database: Annotated[str | None, typer.Option(help="Database (default: postgres)")] = None,
    role: Annotated[str | None, typer.Option(help="Role (its password is not included)")] = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Print a connection string, e.g. export DATABASE_URL=$(lampion connection-string …)."""
    with connect(api_url, api_key) as api:
        typer.echo(api.connection_string(project, branch=branch, database=database, role=role))
