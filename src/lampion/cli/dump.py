"""`lampion dump`: pg_dump a branch's database to a file."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

from lampion.cli.connect import connect
from lampion.cli.options import BranchOption, KeyOption, ProjectOption, UrlOption


def dump(
    project: ProjectOption,
    to: Annotated[typer.FileBinaryWrite, typer.Option("--to", help="Output file (- for stdout)")],
    branch: BranchOption = None,
    database: Annotated[str, typer.Option(help="Database")] = "postgres",
    table: Annotated[str | None, typer.Option(help="One table (name or schema.name)")] = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """pg_dump a database (or one table) to a file, with progress on a terminal."""
    from rich.progress import DownloadColumn, Progress, SpinnerColumn, TransferSpeedColumn

    with connect(api_url, api_key) as api:
        if not sys.stderr.isatty():
            api.dump(project, to, branch=branch, database=database, table=table)
            return
        with Progress(
            SpinnerColumn(), DownloadColumn(), TransferSpeedColumn(), console=Console(stderr=True)
        ) as bar:
            task = bar.add_task("dump", total=None)
            api.dump(
                project, to, branch=branch, database=database, table=table,
                progress=lambda n: bar.update(task, completed=n),
            )  # fmt: skip
