"""`lampion sql`: run SQL on a branch's compute."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from lampion.cli.connect import connect
from lampion.cli.options import BranchOption, KeyOption, OutputOption, ProjectOption, UrlOption
from lampion.cli.output import emit


def sql(
    project: ProjectOption,
    query: Annotated[str | None, typer.Argument(help="SQL or a psql meta-command")] = None,
    file: Annotated[typer.FileText | None, typer.Option("--file", "-f", help="A script")] = None,
    branch: BranchOption = None,
    database: Annotated[str, typer.Option(help="Database")] = "postgres",
    output: OutputOption = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Run SQL: a query argument, a --file, or standard input."""
    text = query if query is not None else (file.read() if file else sys.stdin.read())
    with connect(api_url, api_key) as api:
        result = api.data.sql(*api.endpoint_of(project, branch), text, database=database)
        emit(result.rows if result.columns else result, output, result.columns or None)
