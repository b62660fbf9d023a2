"""How a resource's described calls become methods: run at once (`Lampion`), awaitable
(`AsyncLampion`), or left as steps (`Described`, how flows compose other calls). A resource is
written once; its mode decides what its methods return, precisely typed for each mode."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, Generic, ParamSpec, TypeAlias, TypeVar, overload

from lampion.client.calls import Steps

P = ParamSpec("P")
T = TypeVar("T")


class Sync:
    """Methods run their calls and return the answer."""


class Async:
    """Methods return an awaitable of the answer."""


class Described:
    """Methods return their steps unrun, for a flow to ``yield from``."""


M = TypeVar("M", Sync, Async, Described)
Run: TypeAlias = Callable[[Steps[Any]], Any]


class Resource(Generic[M]):
    def __init__(self, run: Run) -> None:
        self._run = run


class Operation(Generic[P, T]):
    """A method that describes its calls; reading it from a resource binds it to the
    resource's way of running them."""

    def __init__(self, describe: Callable[Concatenate[Any, P], Steps[T]]) -> None:
        self._describe = describe
        self.__doc__ = describe.__doc__

    @overload
    def __get__(self, resource: None, owner: type[Any]) -> Operation[P, T]: ...
    @overload
    def __get__(self, resource: Resource[Sync], owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(self, resource: Resource[Async], owner: type[Any]) -> Callable[P, Awaitable[T]]: ...
    @overload
    def __get__(self, resource: Resource[Described], owner: type[Any]) -> Callable[P, Steps[T]]: ...
    def __get__(self, resource: Resource[Any] | None, owner: type[Any]) -> Any:
        if resource is None:
            return self
        describe, run = self._describe, resource._run

        @functools.wraps(describe)
        def bound(*args: P.args, **kwargs: P.kwargs) -> Any:
            return run(describe(resource, *args, **kwargs))

        return bound


def operation(describe: Callable[Concatenate[Any, P], Steps[T]]) -> Operation[P, T]:
    return Operation(describe)


def unrun(steps: Steps[Any]) -> Steps[Any]:
    """The `Described` mode's runner."""
    return steps
