"""What an API call is, as data: a method, a path, what to send, and the model the answer
parses into. Resources describe calls; runners (sync, async) carry them out."""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeAlias, TypeVar
from urllib.parse import quote

from pydantic import TypeAdapter

from lampion.client.errors import LampionAPIError

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True)
class Call(Generic[T_co]):
    method: str
    path: str
    result: type[T_co] | None = None
    """The model the answer parses into; None for calls that answer nothing (deletes)."""
    params: Mapping[str, Any] | None = None
    json: Any = None
    tolerate: type[LampionAPIError] | None = None
    """An API error that means "nothing to do" (--if-exists, --if-not-exists): answers None."""

    def options(self) -> dict[str, Any]:
        sent = {"params": self.params, "json": self.json}
        return {name: value for name, value in sent.items() if value is not None}

    def parse(self, data: Any) -> T_co:
        if self.result is None or data is None:
            nothing: T_co = data
            return nothing
        return _adapter(self.result).validate_python(data)

    def tolerates(self, error: LampionAPIError) -> bool:
        return self.tolerate is not None and isinstance(error, self.tolerate)

    def tolerating(self, error: type[LampionAPIError] | None) -> Call[T_co | None]:
        return Call(self.method, self.path, self.result, self.params, self.json, error)

    def __iter__(self) -> Generator[Call[Any], Any, T_co]:
        """A call is a one-step flow: ``answer = yield from call`` inside a flow."""
        answer: T_co = yield self
        return answer


class Steps(Protocol[T_co]):
    """One call or a flow of several, ending in an answer of type ``T_co``."""

    def __iter__(self) -> Generator[Call[Any], Any, T_co]: ...


Flow: TypeAlias = Generator[Call[Any], Any, T]
"""Several calls, each chosen from the answers before it: ``x = yield from call``."""


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(result: type[T]) -> TypeAdapter[T]:
    adapter: TypeAdapter[T] | None = _ADAPTERS.get(result)
    if adapter is None:
        adapter = _ADAPTERS[result] = TypeAdapter(result)
    return adapter


def segment(value: str) -> str:
    """An id or a name as one path segment."""
    return quote(value, safe="")


def present(**values: Any) -> dict[str, Any]:
    """The values that were given: None means "not sent"."""
    return {name: value for name, value in values.items() if value is not None}


def get(path: str, result: type[T], **params: Any) -> Call[T]:
    return Call("GET", path, result, params=present(**params) or None)


def post(path: str, result: type[T], body: Any = None) -> Call[T]:
    return Call("POST", path, result, json=body)


def delete(path: str, **params: Any) -> Call[None]:
    return Call("DELETE", path, None, params=present(**params) or None)
