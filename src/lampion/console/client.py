"""The console acts through the public API: `lampion.client` calls into the very app that
serves the console, in process, with the signed-in key, so every rule, permission and error
is the one `/v1` applies. Its requests are marked as the console's: its reads (page loads,
live badges, log follow) are not counted against the key's rate limit, its writes are."""

from __future__ import annotations

from starlette.types import ASGIApp

from lampion.api.deps import CONSOLE_MARK
from lampion.client import AsyncLampion
from lampion.client.in_process import in_process


def api_for(app: ASGIApp, api_key: str) -> AsyncLampion:
    return in_process(app, api_key, **{CONSOLE_MARK: True})
