"""Single flight: concurrent callers with the same key share one in-flight call instead of
each starting their own. A caller that is cancelled leaves the shared call running for the
others. Covers this process only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._in_flight: dict[str, asyncio.Future[T]] = {}

    async def run(self, key: str, call: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """The result of ``call()``, or of the call already running under ``key``."""
        in_flight = self._in_flight.get(key)
        if in_flight is None:
            in_flight = asyncio.ensure_future(call())
            self._in_flight[key] = in_flight
            in_flight.add_done_callback(lambda _: self._in_flight.pop(key, None))
        return await asyncio.shield(in_flight)
