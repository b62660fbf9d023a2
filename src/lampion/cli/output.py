"""How client commands show answers: JSON when piped, a table on a terminal (or as asked),
a spinner on stderr while waiting."""

from __future__ import annotations

import json
import sys
from contextlib import AbstractContextManager, nullcontext
from enum import StrEnum
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table


class Output(StrEnum):
    json = "json"
    yaml = "yaml"
    table = "table"


def plain(value: Any) -> Any:
    """Models (or lists of them) as JSON-ready data."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def emit(value: Any, output: Output | None, columns: list[str] | None = None) -> None:
    data = plain(value)
    chosen = output or (Output.table if sys.stdout.isatty() else Output.json)
    if chosen is Output.json:
        typer.echo(json.dumps(data, indent=2))
    elif chosen is Output.yaml:
        import yaml

        typer.echo(yaml.safe_dump(data, sort_keys=False).rstrip())
    else:
        rows = data if isinstance(data, list) else [data]
        names = columns or (list(rows[0]) if rows else [])
        table = Table(*names)
        for row in rows:
            table.add_row(*("" if row.get(n) is None else str(row.get(n)) for n in names))
        Console().print(table)


def spinner(message: str) -> AbstractContextManager[Any]:
    return Console(stderr=True).status(message) if sys.stderr.isatty() else nullcontext()
