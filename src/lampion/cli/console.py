"""`lampion console-link`: a one-time sign-in link to the web console (no API key needed; it
is made directly in the metadata store, like `lampion keys create`)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from lampion.config import Settings


def console_link(
    org: Annotated[str, typer.Option(help="Organization name (created if missing)")],
    plan: Annotated[str | None, typer.Option(help="free | dev | pro (new orgs: free)")] = None,
    url: Annotated[
        str | None, typer.Option(help="The console's base URL (default: the API's address)")
    ] = None,
) -> None:
    """Print a link that signs into the console once, within 15 minutes, as a new admin key
    named "console sign-in link", revoked when that session ends or the link expires unused."""
    from lampion.crypto import SecretBox, load_or_create_master_key
    from lampion.errors import LampionError
    from lampion.runtime import open_store, prepare_data_dir
    from lampion.services import console_sessions, orgs

    settings = Settings()

    async def run() -> str:
        prepare_data_dir(settings.data_dir)
        box = SecretBox(load_or_create_master_key(settings.master_key, settings.data_dir))
        engine, sessions = await open_store(settings)
        try:
            async with sessions() as session, session.begin():
                org_id = (await orgs.get_or_create(session, org, plan)).id
            return await console_sessions.create_link(sessions, box, org_id)
        finally:
            await engine.dispose()

    try:
        token = asyncio.run(run())
    except LampionError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    base = (url or f"http://{settings.api_host}:{settings.api_port}").rstrip("/")
    typer.echo(f"{base}/console/link#{token}")
