"""`lampion`: run the server, migrate the store, bootstrap API keys."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

import typer

from lampion import __version__
from lampion.config import Settings

app = typer.Typer(
    help="Lampion: a self-hostable control plane for serverless PostgreSQL.",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(
    help="Bootstrap API keys directly in the metadata store.", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address [LAMPION_API_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port [LAMPION_API_PORT]")] = None,
) -> None:
    """Migrate the store and serve the API."""
    import uvicorn

    from lampion.app import create_app
    from lampion.log import configure

    settings = Settings()
    configure(settings.log_level, settings.log_json)
    uvicorn.run(
        create_app(settings),
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_config=None,
        access_log=False,
    )


@app.command()
def proxy(
    host: Annotated[str | None, typer.Option(help="Listen address [LAMPION_PROXY_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port [LAMPION_PROXY_PORT]")] = None,
) -> None:
    """Run the connection proxy alone (set LAMPION_PROXY_ENABLED=false for `serve` then)."""
    import uvloop

    from lampion.proxy.standalone import run_proxy

    overrides = {k: v for k, v in {"proxy_host": host, "proxy_port": port}.items() if v}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(run_proxy(settings))


@app.command()
def migrate() -> None:
    """Bring the metadata store's schema to the latest version."""
    from lampion.runtime import open_store, prepare_data_dir

    async def run() -> None:
        settings = Settings()
        prepare_data_dir(settings.data_dir)
        engine, _ = await open_store(settings)
        await engine.dispose()

    asyncio.run(run())
    typer.echo("metadata store is up to date")


@keys_app.command("create")
def keys_create(
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


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    from lampion.cli_client import register

    register(app)
    app()
