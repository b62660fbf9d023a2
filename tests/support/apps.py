"""Building test control planes: settings with their own ports and dirs, a running app, a
metadata store per app, and an HTTP client on the app."""

from __future__ import annotations

import contextlib
import itertools
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psutil
from fastapi import FastAPI

from lampion.app import create_app
from lampion.config import Settings
from tests.support.metadata_pg import MetadataServer

_port_blocks = itertools.count()
_database_names = itertools.count()


def kill_computes_under(root: Path) -> None:
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        is_compute = "-D" in cmdline or Path(cmdline[0] if cmdline else "").name == "pgbouncer"
        if any(str(root) in arg for arg in cmdline) and is_compute:
            with contextlib.suppress(psutil.Error):
                process.kill()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


_PORT_BLOCKS_FROM, _PORT_BLOCKS_TO, _PORT_BLOCK = 20000, 65000, 200


def port_block() -> tuple[int, int]:
    """A compute port range for each app a test session starts, distinct from the last 225
    apps' (the allocator skips any port something already listens on)."""
    blocks = (_PORT_BLOCKS_TO - _PORT_BLOCKS_FROM) // _PORT_BLOCK
    start = _PORT_BLOCKS_FROM + next(_port_blocks) % blocks * _PORT_BLOCK
    return start, start + _PORT_BLOCK - 1


def make_settings(data_dir: Path, templates_dir: Path, **overrides: object) -> Settings:
    start, end = port_block()
    values: dict[str, object] = {
        "data_dir": data_dir,
        "templates_dir": templates_dir,
        "port_range_start": start,
        "port_range_end": end,
        "proxy_port": free_port(),
        "proxy_handshake_timeout": 2,
        "log_json": True,
        "history_interval": 0,  # snapshots and pruning run when a test asks for them
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


async def new_store_url(store_kind: str, workdir: Path, metadata_pg: MetadataServer) -> str:
    if store_kind == "sqlite":
        return f"sqlite+aiosqlite:///{workdir / f'store-{next(_database_names)}.db'}"
    return await metadata_pg.create_database(f"lampion_{next(_database_names)}")


@contextlib.asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def client_for(app: FastAPI, key: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://lampion.test",
        headers=headers,
        timeout=60,
    )
