"""`lampion proxy`: the connection proxy as its own process."""

from __future__ import annotations

import asyncio

from lampion.config import Settings
from lampion.proxy.server import ProxyServer
from lampion.runtime import Runtime
from lampion.workers.runner import Workers


async def run_proxy(settings: Settings) -> None:
    runtime = await Runtime.open(settings)
    meter = runtime.meter
    proxy = ProxyServer(runtime)
    workers = Workers()
    try:
        await proxy.start()
        workers.every("meter", settings.meter_flush_interval, meter.flush)
        await asyncio.Event().wait()  # until interrupted
    finally:
        await proxy.stop()
        await workers.stop()
        await meter.flush()
        await runtime.close()
