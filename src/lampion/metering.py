"""Per-endpoint byte counters and activity, flushed to the store every few seconds."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import select

from lampion.store.engine import Sessions
from lampion.store.models import Endpoint, Project, TransferRecord
from lampion.store.types import utcnow


class SessionBytes(Protocol):
    """A session whose bytes are counted outside the meter (e.g. by the kernel)."""

    endpoint_id: str

    def sample(self) -> tuple[int, int]:
        """(bytes in, bytes out) since the last sample."""
        ...


class Meter:
    def __init__(self, sessions: Sessions):
        self._sessions = sessions
        self.bytes_in: defaultdict[str, int] = defaultdict(int)
        self.bytes_out: defaultdict[str, int] = defaultdict(int)
        self.open_connections: defaultdict[str, int] = defaultdict(int)
        self._touched: set[str] = set()
        self._sampled: set[SessionBytes] = set()

    def track(self, counter: SessionBytes) -> None:
        """Reads ``counter`` at every flush until it is untracked."""
        self._sampled.add(counter)

    def untrack(self, counter: SessionBytes) -> None:
        self._add(counter)
        self._sampled.discard(counter)

    def _add(self, counter: SessionBytes) -> None:
        received, sent = counter.sample()
        self.bytes_in[counter.endpoint_id] += received
        self.bytes_out[counter.endpoint_id] += sent

    def touch(self, endpoint_id: str) -> None:
        """Activity that is not a proxied connection (an API call running SQL)."""
        self._touched.add(endpoint_id)

    def count_out(self, endpoint_id: str, size: int) -> None:
        self.bytes_out[endpoint_id] += size

    def connected(self, endpoint_id: str) -> None:
        self.open_connections[endpoint_id] += 1
        self._touched.add(endpoint_id)

    def disconnected(self, endpoint_id: str) -> None:
        self.open_connections[endpoint_id] -= 1
        self._touched.add(endpoint_id)
        if self.open_connections[endpoint_id] <= 0:
            del self.open_connections[endpoint_id]

    def counter(self, table: defaultdict[str, int], endpoint_id: str) -> Callable[[int], None]:
        def add(size: int) -> None:
            table[endpoint_id] += size

        return add

    async def flush(self) -> None:
        """Writes the bytes counted since the last flush and marks active endpoints."""
        for counter in self._sampled:
            self._add(counter)
        counted_in, counted_out = dict(self.bytes_in), dict(self.bytes_out)
        self.bytes_in.clear()
        self.bytes_out.clear()
        active = self._touched | set(self.open_connections)
        self._touched = set()
        ids = set(counted_in) | set(counted_out) | active
        if not ids:
            return
        now = utcnow()
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(Endpoint, Project.org_id)
                    .join(Project, Project.id == Endpoint.project_id)
                    .where(Endpoint.id.in_(ids))
                )
            ).all()
            for endpoint, org_id in rows:
                if endpoint.id in active:
                    endpoint.last_active_at = now
                received, sent = counted_in.get(endpoint.id, 0), counted_out.get(endpoint.id, 0)
                if received or sent:
                    session.add(
                        TransferRecord(
                            org_id=org_id,
                            project_id=endpoint.project_id,
                            endpoint_id=endpoint.id,
                            bytes_in=received,
                            bytes_out=sent,
                            recorded_at=now,
                        )
                    )
