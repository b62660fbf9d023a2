"""The API client a command uses, and its exit codes: 2 for a usage error (no API key),
1 for an error the API answered (its message and request id on stderr)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from lampion.client import Lampion, LampionAPIError


@contextmanager
def connect(api_url: str | None, api_key: str | None) -> Iterator[Lampion]:
    try:
        client = Lampion(api_url=api_url, api_key=api_key)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        yield client
    except LampionAPIError as exc:
        where = f" (request {exc.request_id})" if exc.request_id else ""
        typer.echo(f"error: {exc.message}{where}", err=True)
        raise typer.Exit(1) from None
    finally:
        client.close()
