"""`lampion mcp`: Lampion's tools for AI agents (Claude Desktop, IDEs…) over stdio."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer


def mcp(
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Offer only the tools that change nothing")
    ] = False,
) -> None:
    """Serve the MCP server over stdio for an AI agent, acting through the API at
    LAMPION_API_URL as LAMPION_API_KEY (a read_only key makes it read-only too)."""
    from lampion.mcp.stdio import serve

    try:
        asyncio.run(serve(read_only=read_only))
    except ValueError as exc:  # no API key
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        pass
