"""The storage queue: at most ``limit`` at once, the others in arrival order, and a caller
cancelled while waiting leaves no trace."""

from __future__ import annotations

import asyncio

import pytest

from lampion.storage.queue import StorageQueue


class Recorder:
    def __init__(self) -> None:
        self.changes: list[tuple[int, int]] = []
        self.waits: list[str] = []
        self.works: list[str] = []

    def storage_queue_changed(self, waiting: int, running: int) -> None:
        self.changes.append((waiting, running))

    def storage_waited(self, operation: str, seconds: float) -> None:
        self.waits.append(operation)

    def storage_worked(self, operation: str, seconds: float) -> None:
        self.works.append(operation)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_callers_run_in_arrival_order_and_never_more_than_the_limit() -> None:
    queue = StorageQueue(2)
    release = asyncio.Event()
    started: list[int] = []
    most = 0

    async def work(n: int) -> None:
        nonlocal most
        async with queue.turn("clone", f"br-{n}"):
            started.append(n)
            most = max(most, queue.running)
            await release.wait()

    tasks = []
    for n in range(6):
        tasks.append(asyncio.create_task(work(n)))
        await settle()
    assert started == [0, 1]
    assert (queue.running, queue.waiting) == (2, 4)
    release.set()
    await asyncio.gather(*tasks)
    assert started == list(range(6))
    assert most == 2
    assert (queue.running, queue.waiting) == (0, 0)


async def test_one_at_a_time_runs_each_after_the_other() -> None:
    queue = StorageQueue(1)
    events: list[str] = []

    async def work(name: str) -> None:
        async with queue.turn("clone", name):
            events.append(f"start {name}")
            await asyncio.sleep(0.01)
            events.append(f"end {name}")

    await asyncio.gather(work("a"), work("b"), work("c"))
    assert events == ["start a", "end a", "start b", "end b", "start c", "end c"]


async def test_a_caller_cancelled_while_waiting_gives_up_its_place() -> None:
    queue = StorageQueue(1)
    release = asyncio.Event()
    ran: list[str] = []

    async def work(name: str) -> None:
        async with queue.turn("delete", name):
            ran.append(name)
            await release.wait()

    first = asyncio.create_task(work("first"))
    await settle()
    dropped = asyncio.create_task(work("dropped"))
    last = asyncio.create_task(work("last"))
    await settle()
    assert queue.waiting == 2
    dropped.cancel()
    await settle()
    assert queue.waiting == 1
    release.set()
    await asyncio.gather(first, last)
    assert dropped.cancelled()
    assert ran == ["first", "last"]
    assert (queue.running, queue.waiting) == (0, 0)


async def test_a_caller_cancelled_as_its_turn_comes_passes_the_place_on() -> None:
    queue = StorageQueue(1)
    release = asyncio.Event()
    ran: list[str] = []

    async def work(name: str) -> None:
        async with queue.turn("clone", name):
            ran.append(name)
            await release.wait()

    first = asyncio.create_task(work("first"))
    await settle()
    handed = asyncio.create_task(work("handed"))
    last = asyncio.create_task(work("last"))
    await settle()
    release.set()
    await asyncio.sleep(0)  # "first" leaves and hands its place to "handed", not yet resumed
    handed.cancel()
    await asyncio.gather(first, last, handed, return_exceptions=True)
    assert "last" in ran
    assert (queue.running, queue.waiting) == (0, 0)


async def test_an_error_inside_the_turn_frees_the_place() -> None:
    queue = StorageQueue(1)
    with pytest.raises(RuntimeError):
        async with queue.turn("clone", "br-1"):
            raise RuntimeError("copy failed")
    async with queue.turn("clone", "br-2"):
        assert queue.running == 1
    assert queue.running == 0


async def test_the_observer_sees_waits_and_work() -> None:
    recorder = Recorder()
    queue = StorageQueue(1, recorder)
    release = asyncio.Event()

    async def work(operation: str) -> None:
        async with queue.turn(operation, "br"):
            await release.wait()

    tasks = [asyncio.create_task(work("clone_running")), asyncio.create_task(work("delete"))]
    await settle()
    assert recorder.changes[-1] == (1, 1)
    release.set()
    await asyncio.gather(*tasks)
    assert recorder.waits == ["clone_running", "delete"]
    assert recorder.works == ["clone_running", "delete"]
    assert recorder.changes[-1] == (0, 0)


def test_a_queue_needs_room() -> None:
    with pytest.raises(ValueError, match="at least one"):
        StorageQueue(0)
