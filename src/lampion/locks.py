"""Per-resource locks: a conflicting operation gets 409 instead of waiting or corrupting."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from lampion.errors import Conflict


class Locks:
    def __init__(self) -> None:
        self._held: set[str] = set()

    @asynccontextmanager
    async def exclusive(self, key: str, what: str) -> AsyncIterator[None]:
        if key in self._held:
            raise Conflict(f"Another operation on {what} is in progress; retry when it is done")
        self._held.add(key)
        try:
            yield
        finally:
            self._held.discard(key)
