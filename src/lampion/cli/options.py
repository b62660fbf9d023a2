"""Options the client commands share."""

from __future__ import annotations

from typing import Annotated

import typer

from lampion.cli.output import Output

OutputOption = Annotated[
    Output | None,
    typer.Option("--output", "-o", help="json | yaml | table (default: table on a terminal)"),
]
ProjectOption = Annotated[str, typer.Option("--project", "-p", help="Project id or name")]
BranchOption = Annotated[
    str | None, typer.Option("--branch", "-b", help="Branch id or name (default: main)")
]
UrlOption = Annotated[
    str | None, typer.Option("--api-url", envvar="LAMPION_API_URL", help="API base URL")
]
KeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="LAMPION_API_KEY", help="API key", show_default=False),
]
