"""`lampion usage`: the organization's usage and estimated cost."""

from __future__ import annotations

from typing import Annotated

import typer

from lampion.cli.connect import connect
from lampion.cli.options import KeyOption, OutputOption, UrlOption
from lampion.cli.output import emit


def usage(
    period: Annotated[str | None, typer.Option(help="YYYY-MM (default: this month)")] = None,
    output: OutputOption = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """The organization's usage and estimated cost."""
    with connect(api_url, api_key) as api:
        emit(api.usage.org(period=period), output, ["period", "total", "estimated_cost"])
