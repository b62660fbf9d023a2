"""The console acts through the public API: `lampion.client` calls into the very app that
serves the console, in process, with the signed-in key, so every rule, permission and error
is the one `/v1` applies."""

from __future__ import annotations

import httpx
from starlette.types import ASGIApp

from lampion.client import AsyncLampion

IN_PROCESS_URL = "http://lampion.internal"


def api_for(app: ASGIApp, api_key: str) -> AsyncLampion:
    """A client of ``app`` as ``api_key``; not retried, so the browser sees a 503 at once."""
    return AsyncLampion(
        api_url=IN_PROCESS_URL, api_key=api_key, retries=0, transport=httpx.ASGITransport(app)
    )
