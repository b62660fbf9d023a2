"""One page of a store-backed list, cut in SQL: the caller's filtered `Select`, ordered,
then LIMIT/OFFSET, with a count of every matching row."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import Enum, Row, Select, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression

from lampion.errors import InvalidRequest

T = TypeVar("T")
U = TypeVar("U")
Rows = TypeVar("Rows", bound=tuple[Any, ...])
Column = ColumnElement[Any] | QueryableAttribute[Any]


@dataclass(frozen=True)
class Paging:
    """What a client asked of a list: page (from 1), items per page, a field, a direction."""

    page: int = 1
    limit: int = 100
    sort: str | None = None
    order: Literal["asc", "desc"] = "asc"

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        return Page([convert(item) for item in self.items], self.total)


@dataclass(frozen=True)
class Ordering:
    """How a list sorts. ``natural`` is its order without `sort` (creation then id; newest
    first when ``newest_first``) and breaks ties under a sort; ``sortable`` maps each field
    a client may sort by to its column (the order of the keys is the order documented)."""

    natural: Sequence[Column]
    sortable: Mapping[str, Column]
    newest_first: bool = False

    def clauses(self, paging: Paging, dialect: str) -> list[UnaryExpression[Any]]:
        descending = paging.order == "desc"
        if paging.sort is None:
            return _directed(self.natural, self.newest_first != descending)
        column = self.sortable.get(paging.sort)
        if column is None:
            raise InvalidRequest(
                f"Cannot sort by {paging.sort!r}",
                details={"field": "sort", "allowed_values": list(self.sortable)},
            )
        expression = _expression(column)
        key = _as_text_sorts_in_python(expression, dialect)
        first = key.desc() if descending else key.asc()
        if getattr(expression, "nullable", True):  # NULL after values ascending, first desc
            first = first.nulls_first() if descending else first.nulls_last()
        # Ties keep the natural order, whichever the direction (a stable sort).
        return [first, *_directed(self.natural, self.newest_first)]


async def page_of(
    session: AsyncSession, query: Select[tuple[T]], paging: Paging, ordering: Ordering
) -> Page[T]:
    """A page of a one-entity query (`select(Model)`)."""
    rows = await page_of_rows(session, query, paging, ordering)
    return rows.map(lambda row: row[0])


async def page_of_rows(
    session: AsyncSession, query: Select[Rows], paging: Paging, ordering: Ordering
) -> Page[Row[Rows]]:
    """A page of a query of several columns (`select(Model, Other.id)`)."""
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    if not total or paging.offset >= total:  # also keeps a huge page number out of SQL
        return Page([], total or 0)
    dialect = session.get_bind().dialect.name
    cut = (
        query.order_by(None)
        .order_by(*ordering.clauses(paging, dialect))
        .limit(paging.limit)
        .offset(paging.offset)
    )
    return Page(list((await session.execute(cut)).all()), total)


def _directed(columns: Sequence[Column], descending: bool) -> list[UnaryExpression[Any]]:
    expressions = [_expression(column) for column in columns]
    return [each.desc() if descending else each.asc() for each in expressions]


def _expression(column: Column) -> ColumnElement[Any]:
    return column.expression if isinstance(column, QueryableAttribute) else column


def _as_text_sorts_in_python(column: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """Text in code-point order, as Python sorts it (and SQLite's default collation does),
    rather than by the PostgreSQL database's locale."""
    kind = column.type
    if dialect == "postgresql" and isinstance(kind, String) and not isinstance(kind, Enum):
        return column.collate("C")
    return column
