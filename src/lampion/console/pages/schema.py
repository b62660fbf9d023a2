"""The schema browser of a project: databases → schemas → tables → columns and indexes, as the
schema route of the API lists them for a branch's endpoint. Plain links, so the keyboard, the
back button and a shared address all work."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from lampion.client import AuthenticationError, LampionAPIError
from lampion.console.pages.sql import chosen_endpoint, targets_of
from lampion.console.render import page
from lampion.console.viewer import Viewer, ViewerDep

router = APIRouter()


@dataclass
class Browsed:
    """What one walk down the levels found; it stops at the first level the API refused."""

    databases: list[dict[str, Any]] = field(default_factory=list)
    database: str | None = None
    schemas: list[dict[str, Any]] = field(default_factory=list)
    schema: str | None = None
    tables: list[dict[str, Any]] = field(default_factory=list)
    table: dict[str, Any] | None = None
    problem: LampionAPIError | None = None
    missing: list[str] = field(default_factory=list)

    def pick(self, kind: str, items: list[dict[str, Any]], wanted: str | None,
             preferred: str) -> str | None:  # fmt: skip
        """The wanted level, else the preferred one, else the first; a wanted one that is
        not there is named in ``missing``."""
        names = [str(item.get("name")) for item in items]
        if wanted is not None and wanted not in names:
            self.missing.append(f"No {kind} {wanted!r}")
        for name in (wanted, preferred):
            if name in names:
                return name
        return names[0] if names else None


def link(project_id: str, endpoint_id: str | None, **levels: str | None) -> str:
    """The browser's address at a level: ``link(p, e, database="db", schema="public")``."""
    params = {"endpoint_id": endpoint_id, **levels}
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"/console/projects/{project_id}/schema?{query}"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def first_rows(schema: str, table: str) -> str:
    """A query put into the editor for the user to run (or not), never run from here."""
    relation = f"{quote_ident(schema)}.{quote_ident(table)}"
    return f"SELECT * FROM {relation} LIMIT 100;"  # noqa: S608 - quoted identifiers, not run


async def browse(
    viewer: Viewer, project_id: str, endpoint_id: str, database: str | None,
    schema: str | None, table: str | None,
) -> Browsed:  # fmt: skip
    found = Browsed()
    listing = viewer.api.data.schema
    try:
        found.databases = (await listing(project_id, endpoint_id=endpoint_id)).items
        found.database = found.pick("database", found.databases, database, "postgres")
        if found.database is None:
            return found
        found.schemas = (
            await listing(project_id, database=found.database, endpoint_id=endpoint_id)
        ).items
        found.schema = found.pick("schema", found.schemas, schema, "public")
        if found.schema is None:
            return found
        found.tables = (
            await listing(
                project_id, database=found.database, schema=found.schema, endpoint_id=endpoint_id
            )
        ).items
    except AuthenticationError:
        raise
    except LampionAPIError as exc:
        found.problem = exc
        return found
    found.table = next((t for t in found.tables if t.get("name") == table), None)
    return found


@router.get("/console/projects/{project_id}/schema", response_class=HTMLResponse)
async def schema_browser(
    request: Request, project_id: str, viewer: ViewerDep, endpoint_id: str | None = None,
    database: str | None = None, schema: str | None = None, table: str | None = None,
) -> Response:  # fmt: skip
    project = await viewer.api.projects.get(project_id)
    targets = await targets_of(viewer, project_id)
    endpoint = chosen_endpoint(targets, endpoint_id)
    found = None
    if endpoint:
        found = await browse(viewer, project_id, endpoint, database, schema, table)
    editor_link = None
    if found and found.database and found.schema and found.table:
        query = first_rows(found.schema, str(found.table["name"]))
        editor_link = f"/console/projects/{project_id}/sql?" + urlencode(
            {"endpoint_id": endpoint, "database": found.database, "query": query}
        )
    return page(
        request, "schema.html", viewer, project=project, targets=targets, endpoint_id=endpoint,
        found=found, wanted_table=table, editor_link=editor_link,
        href=lambda **levels: link(project_id, endpoint, **levels),
    )  # fmt: skip
