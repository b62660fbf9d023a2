"""Per-resource locks held in this process's memory: a conflicting operation gets 409 at once
instead of waiting or corrupting anything. Several clones may read a parent at once (shared);
a suspend, resume, update or delete needs it alone (exclusive).

Only operations served by this process are covered: another control-plane replica does not see
these locks. What holds across replicas lives in the store: unique constraints (ports, branch
names, idempotency keys), the reconciler's advisory lock (``store/locking.py``: one replica
reconciles at a time) and ``SELECT … FOR UPDATE SKIP LOCKED`` for webhook deliveries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from lampion.errors import Conflict


class LocalLocks:
    def __init__(self) -> None:
        self._exclusive: set[str] = set()
        self._shared: dict[str, int] = {}

    def busy(self, key: str) -> bool:
        return key in self._exclusive or self._shared.get(key, 0) > 0

    @asynccontextmanager
    async def exclusive(self, key: str, what: str) -> AsyncIterator[None]:
        if self.busy(key):
            raise Conflict(f"Another operation on {what} is in progress; retry when it is done")
        self._exclusive.add(key)
        try:
            yield
        finally:
            self._exclusive.discard(key)

    @asynccontextmanager
    async def shared(self, key: str, what: str) -> AsyncIterator[None]:
        if key in self._exclusive:
            raise Conflict(f"Another operation on {what} is in progress; retry when it is done")
        self._shared[key] = self._shared.get(key, 0) + 1
        try:
            yield
        finally:
            self._shared[key] -= 1
            if not self._shared[key]:
                del self._shared[key]
