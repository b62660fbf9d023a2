from __future__ import annotations

import asyncio
from functools import partial

import pytest

from lampion.singleflight import SingleFlight


async def test_concurrent_callers_with_one_key_share_one_call() -> None:
    flights: SingleFlight[str] = SingleFlight()
    calls: list[str] = []
    release = asyncio.Event()

    async def work(key: str) -> str:
        calls.append(key)
        await release.wait()
        return key * len(calls)

    waiting = [asyncio.create_task(flights.run(k, partial(work, k))) for k in "aab"]
    await asyncio.sleep(0.01)
    release.set()
    assert await asyncio.gather(*waiting) == ["aa", "aa", "bb"]
    assert calls == ["a", "b"]
    assert await flights.run("a", partial(work, "a")) == "aaa"  # a done call is not remembered


async def test_a_cancelled_caller_leaves_the_call_to_the_others() -> None:
    flights: SingleFlight[str] = SingleFlight()
    release = asyncio.Event()

    async def work() -> str:
        await release.wait()
        return "done"

    first = asyncio.create_task(flights.run("k", work))
    second = asyncio.create_task(flights.run("k", work))
    await asyncio.sleep(0)
    first.cancel()
    release.set()
    assert await second == "done"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_every_caller_sees_the_failure() -> None:
    flights: SingleFlight[None] = SingleFlight()

    async def fail() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("boom")

    results = await asyncio.gather(
        flights.run("k", fail), flights.run("k", fail), return_exceptions=True
    )
    assert [str(r) for r in results] == ["boom", "boom"]
