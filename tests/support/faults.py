"""Failures real backends cannot produce on demand, injected around the real ones.

``FaultyStorage(real, {"clone_running": exc})`` raises ``exc`` instead of running the real
driver's ``clone_running`` and hands every other call to the real driver; ``FaultyCompute``
does the same for a compute backend. ``failing_storage(rt, clone_running=exc)`` and
``failing_compute(rt, stop=exc)`` put one in a runtime for the length of a block."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

from lampion.compute.base import ComputeBackend
from lampion.runtime import Runtime
from lampion.storage.base import StorageDriver


class Faulty:
    def __init__(self, real: object, fail_on: Mapping[str, BaseException]):
        self.real = real
        self.fail_on = dict(fail_on)
        self.failed: list[str] = []
        """The operations that raised their fault, in order (proof that the fault was hit)."""

    def __getattr__(self, name: str) -> Any:
        operation = getattr(self.real, name)
        fault = self.fail_on.get(name)
        if fault is None:
            return operation
        return self._failing(name, fault, async_=inspect.iscoroutinefunction(operation))

    def _failing(self, name: str, fault: BaseException, *, async_: bool) -> Callable[..., Any]:
        def fail(*args: object, **kwargs: object) -> Any:
            self.failed.append(name)
            raise fault

        async def fail_async(*args: object, **kwargs: object) -> Any:
            fail()

        return fail_async if async_ else fail


class FaultyStorage(Faulty):
    def __init__(self, real: StorageDriver, fail_on: Mapping[str, BaseException]):
        super().__init__(real, fail_on)


class FaultyCompute(Faulty):
    def __init__(self, real: ComputeBackend, fail_on: Mapping[str, BaseException]):
        super().__init__(real, fail_on)


@contextmanager
def failing_storage(rt: Runtime, **fail_on: BaseException) -> Iterator[FaultyStorage]:
    real = rt.storage
    faulty = FaultyStorage(real, fail_on)
    rt.storage = cast(StorageDriver, faulty)
    try:
        yield faulty
    finally:
        rt.storage = real


@contextmanager
def failing_compute(rt: Runtime, **fail_on: BaseException) -> Iterator[FaultyCompute]:
    real = rt.compute
    faulty = FaultyCompute(real, fail_on)
    rt.compute = cast(ComputeBackend, faulty)
    try:
        yield faulty
    finally:
        rt.compute = real
