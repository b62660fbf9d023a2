"""Server commands: serve the API, run the connection proxy alone, migrate the store."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

import typer

from lampion.config import Settings


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


def proxy(
    host: Annotated[str | None, typer.Option(help="Listen address [LAMPION_PROXY_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port [LAMPION_PROXY_PORT]")] = None,
) -> None:
    """Run the connection proxy alone (set LAMPION_PROXY_ENABLED=false for `serve` then)."""
    import uvloop

    from lampion.proxy.standalone import run_proxy

    overrides: dict[str, Any] = {
        name: value for name, value in {"proxy_host": host, "proxy_port": port}.items() if value
    }
    settings = Settings(**overrides)
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(run_proxy(settings))


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
