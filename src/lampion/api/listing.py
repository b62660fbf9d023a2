"""The HTTP side of every list route: the paging query parameters, and the response headers.
The body stays a bare JSON array; `X-Total-Count` and an RFC 8288 `Link` header carry the
rest. Store-backed lists are cut in SQL by their service (`lampion.store.paging`); catalog
lists read from a compute are small and cut here, in memory (`paginate`)."""

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Query, Request, Response

from lampion.store.paging import Page, Paging

__all__ = ["MAX_LIMIT", "Page", "Paging", "paginate", "paging_for", "respond"]

T = TypeVar("T")
MAX_LIMIT = 1000


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


def respond(request: Request, response: Response, page: Page[T], paging: Paging) -> list[T]:
    """The page's items as the body; its total and the links to other pages as headers."""
    response.headers["X-Total-Count"] = str(page.total)
    response.headers["Link"] = _links(request, paging, page.total)
    return page.items


def paginate(
    request: Request,
    response: Response,
    items: Sequence[T],
    paging: Paging,
    filters: dict[str, Any] | None = None,
) -> list[T]:
    """For catalog lists held in memory: filters (equality on the given fields), sorts
    (stable: ties keep the given order), and cuts one page."""
    chosen = [
        item
        for item in items
        if all(getattr(item, f) == v for f, v in (filters or {}).items() if v is not None)
    ]
    if paging.sort is not None:
        field = paging.sort
        descending = paging.order == "desc"
        chosen.sort(key=lambda item: _sort_key(getattr(item, field)), reverse=descending)
    elif paging.order == "desc":
        chosen.reverse()
    page = Page(chosen[paging.offset : paging.offset + paging.limit], len(chosen))
    return respond(request, response, page, paging)


def _sort_key(value: Any) -> tuple[bool, Any]:
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
