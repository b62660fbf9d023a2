"""Polling for outcomes that land asynchronously (workers, delivery bookkeeping)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol


class Reconciling(Protocol):
    async def run_once(self, *, startup: bool = False) -> bool: ...


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        await asyncio.sleep(0.05)


async def reconcile(reconciler: Reconciling, *, startup: bool = False) -> None:
    """One whole reconciler pass, waiting out the app's own loop if it holds the pass."""
    deadline = time.monotonic() + 30
    while not await reconciler.run_once(startup=startup):
        assert time.monotonic() < deadline, "the reconciler pass stayed taken"
        await asyncio.sleep(0.05)
