"""Failed logins per (client address, endpoint) and per endpoint over a sliding window.

Held in memory by each proxy process (a restart forgets them; several proxies count apart).
Only addresses that failed are ever refused: a correct password from an address with no
failures in the window is let through even while the endpoint as a whole is over its limit.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

_SWEEP_EVERY = 1024


class Throttle:
    def __init__(
        self,
        per_address: int,
        per_endpoint: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.per_address = per_address
        self.per_endpoint = per_endpoint
        self.window = window
        self._clock = clock
        self._by_address: dict[tuple[str, str], deque[float]] = {}
        self._by_endpoint: dict[str, deque[float]] = {}
        self._calls = 0

    def refusal(self, address: str, endpoint_id: str) -> str | None:
        """Why this address may not try now (None: it may)."""
        now = self._clock()
        self._maybe_sweep(now)
        mine = self._recent(self._by_address, (address, endpoint_id), now)
        if not mine:
            return None
        wait = max(1, round(mine[0] + self.window - now))
        if len(mine) >= self.per_address:
            return (
                f'too many failed logins to endpoint "{endpoint_id}" from {address}; '
                f"try again in {wait} s"
            )
        if len(self._recent(self._by_endpoint, endpoint_id, now)) >= self.per_endpoint:
            return f'too many failed logins to endpoint "{endpoint_id}"; try again in {wait} s'
        return None

    def failed(self, address: str, endpoint_id: str) -> None:
        now = self._clock()
        self._by_address.setdefault((address, endpoint_id), deque()).append(now)
        self._by_endpoint.setdefault(endpoint_id, deque()).append(now)

    def _recent(self, table: dict[K, deque[float]], key: K, now: float) -> deque[float]:
        times = table.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del table[key]
        return times

    def _maybe_sweep(self, now: float) -> None:
        """Drops keys whose failures all left the window (strangers come and go)."""
        self._calls += 1
        if self._calls % _SWEEP_EVERY:
            return
        for address_key in list(self._by_address):
            self._recent(self._by_address, address_key, now)
        for endpoint_key in list(self._by_endpoint):
            self._recent(self._by_endpoint, endpoint_key, now)
