"""`lampion keys`: bootstrap API keys directly in the metadata store (no API key needed)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from lampion.config import Settings

app = typer.Typer(help="Bootstrap API keys directly in the metadata store.", no_args_is_help=True)


@app.command("create")
def create(
    org: Annotated[str, typer.Option(help="Organization name (created if missing)")],
    plan: Annotated[str | None, typer.Option(help="free | dev | pro (new orgs: free)")] = None,
    name: Annotated[str, typer.Option(help="A label for the key")] = "bootstrap",
    permission: Annotated[str, typer.Option(help="admin | developer | read_only")] = "admin",
) -> None:
    """Create an API key and print it (shown only once)."""
    from lampion.errors import LampionError
    from lampion.runtime import open_store, prepare_data_dir
    from lampion.services import api_keys, orgs

    async def run() -> str:
        settings = Settings()
        prepare_data_dir(settings.data_dir)
        engine, sessions = await open_store(settings)
        try:
            async with sessions() as session, session.begin():
                org_row = await orgs.get_or_create(session, org, plan)
                _, plaintext = await api_keys.create_in(session, org_row.id, name, permission)
                return plaintext
        finally:
            await engine.dispose()

    try:
        typer.echo(asyncio.run(run()))
    except LampionError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
