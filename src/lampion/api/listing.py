"""Pagination, filters and sorting for every list route. The body stays a bare JSON array;
`X-Total-Count` and an RFC 8288 `Link` header carry the rest."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Query, Request, Response
from pydantic import BaseModel

T = TypeVar("T", bound=BaseModel)
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Paging:
    page: int
    limit: int
    sort: str | None
    order: Literal["asc", "desc"]


def paging_for(*sortable: str) -> Callable[..., Paging]:
    """The query parameters of a list route whose items sort by ``sortable`` (documented as
    an enum, so clients and the OpenAPI document know the allowed fields)."""
    sort_field = Literal[sortable]  # type: ignore[valid-type]

    def dependency(
        page: Annotated[int, Query(ge=1, description="Page number, from 1")] = 1,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = 100,
        sort: Annotated[sort_field | None, Query(description="A field to sort by")] = None,
        order: Annotated[Literal["asc", "desc"], Query(description="Sort direction")] = "asc",
    ) -> Paging:
        return Paging(page, limit, sort, order)

    return dependency


def paginate(
    request: Request,
    response: Response,
    items: Sequence[T],
    paging: Paging,
    filters: dict[str, Any] | None = None,
) -> list[T]:
    """Filters (equality on the given fields), sorts (stable: ties keep the natural order,
    which is by creation then id), and cuts one page."""
    chosen = [
        item
        for item in items
        if all(getattr(item, f) == v for f, v in (filters or {}).items() if v is not None)
    ]
    if paging.sort is not None:
        chosen.sort(
            key=lambda item: _sort_key(getattr(item, paging.sort)),  # type: ignore[arg-type]
            reverse=paging.order == "desc",
        )
    elif paging.order == "desc":
        chosen.reverse()
    total = len(chosen)
    start = (paging.page - 1) * paging.limit
    response.headers["X-Total-Count"] = str(total)
    response.headers["Link"] = _links(request, paging, total)
    return chosen[start : start + paging.limit]


def _sort_key(value: Any) -> tuple[int, Any]:
    return (value is None, value if value is not None else 0)


def _links(request: Request, paging: Paging, total: int) -> str:
    last = max(1, -(-total // paging.limit))

    def url(page: int) -> str:
        return str(request.url.include_query_params(page=page, limit=paging.limit))

    links = [f'<{url(1)}>; rel="first"', f'<{url(last)}>; rel="last"']
    if paging.page < last:
        links.append(f'<{url(paging.page + 1)}>; rel="next"')
    if paging.page > 1:
        links.append(f'<{url(min(paging.page - 1, last))}>; rel="prev"')
    return ", ".join(links)
