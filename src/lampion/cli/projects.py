"""`lampion projects`: create, list, show and delete projects."""

from __future__ import annotations

from typing import Annotated

import typer

from lampion.cli.connect import connect
from lampion.cli.options import KeyOption, OutputOption, UrlOption
from lampion.cli.output import emit, spinner
from lampion.client import LampionAPIError

app = typer.Typer(help="Create, list and delete projects.", no_args_is_help=True)
ProjectArgument = Annotated[str, typer.Argument(help="Project id or name")]


@app.command("list")
def list_projects(
    output: OutputOption = None, api_url: UrlOption = None, api_key: KeyOption = None
) -> None:
    """List projects."""
    with connect(api_url, api_key) as api:
        emit(api.projects.list(), output, ["id", "name", "region", "pg_version", "created_at"])


@app.command("create")
def create(
    name: Annotated[str, typer.Option(help="Project name")],
    region: Annotated[str | None, typer.Option(help="Region")] = None,
    pg_version: Annotated[int | None, typer.Option(help="PostgreSQL major version")] = None,
    output: OutputOption = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Create a project (waits until its database answers)."""
    with connect(api_url, api_key) as api, spinner(f"Creating project {name}…"):
        created = api.projects.create(name, region=region, pg_version=pg_version)
    emit(created, output, ["id", "name", "endpoint_id", "connection_string"])


@app.command("get")
def get(
    project: ProjectArgument,
    output: OutputOption = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Show a project."""
    with connect(api_url, api_key) as api:
        emit(api.projects.get(api.resolve_project(project)), output)


@app.command("delete")
def delete(
    project: ProjectArgument,
    if_exists: Annotated[bool, typer.Option("--if-exists", help="No error if it is gone")] = False,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Delete a project and all its data."""
    with connect(api_url, api_key) as api:
        try:
            project_id = api.resolve_project(project)
        except LampionAPIError:
            if if_exists:
                return
            raise
        api.projects.delete(project_id, if_exists=if_exists)
