"""Carry out steps over a transport: each call's answer, parsed into its model, is sent back
into the flow; an API error is raised into it (or answers None where the call tolerates it)."""

from __future__ import annotations

from typing import Any, TypeVar

from lampion.client.calls import Call, Flow, Steps
from lampion.client.errors import LampionAPIError
from lampion.client.transport import AsyncTransport, SyncTransport

T = TypeVar("T")


def _advance(flow: Flow[Any], call: Call[Any], data: Any, error: LampionAPIError | None) -> Any:
    """Feeds a call's outcome to the flow and returns its next call (StopIteration carries
    the flow's answer)."""
    if error is None:
        return flow.send(call.parse(data))
    if call.tolerates(error):
        return flow.send(None)
    return flow.throw(error)


class SyncRunner:
    def __init__(self, transport: SyncTransport) -> None:
        self.transport = transport

    def __call__(self, steps: Steps[T]) -> T:
        flow = iter(steps)
        try:
            call = next(flow)
            while True:
                try:
                    data = self.transport.request(call.method, call.path, **call.options())
                except LampionAPIError as exc:
                    call = _advance(flow, call, None, exc)
                else:
                    call = _advance(flow, call, data, None)
        except StopIteration as done:
            answer: T = done.value
            return answer


class AsyncRunner:
    def __init__(self, transport: AsyncTransport) -> None:
        self.transport = transport

    async def __call__(self, steps: Steps[T]) -> T:
        flow = iter(steps)
        try:
            call = next(flow)
            while True:
                try:
                    data = await self.transport.request(call.method, call.path, **call.options())
                except LampionAPIError as exc:
                    call = _advance(flow, call, None, exc)
                else:
                    call = _advance(flow, call, data, None)
        except StopIteration as done:
            answer: T = done.value
            return answer
