"""The SQL editor of a project: a query, a script or a psql meta-command run through the SQL API
on a branch's endpoint and database, its results (or its error) swapped in below."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from lampion.client import AuthenticationError, LampionAPIError
from lampion.console import sql_results
from lampion.console.render import is_fragment, page
from lampion.console.viewer import Viewer, ViewerDep

router = APIRouter()


@dataclass(frozen=True)
class Target:
    """An endpoint the editor can run on, named by its branch."""

    endpoint_id: str
    branch: str
    is_primary: bool


async def targets_of(viewer: Viewer, project_id: str) -> list[Target]:
    branches = await viewer.api.branches.list(project_id)
    found = [
        Target(branch.endpoint_id, branch.name, branch.is_primary)
        for branch in branches
        if branch.endpoint_id
    ]
    return sorted(found, key=lambda t: (not t.is_primary, t.branch))


def chosen_endpoint(targets: list[Target], wanted: str | None) -> str | None:
    ids = [t.endpoint_id for t in targets]
    if wanted in ids:
        return wanted
    return ids[0] if ids else None


async def _editor(
    request: Request, viewer: Viewer, project_id: str, *, endpoint_id: str | None,
    database: str, query: str, outcome: sql_results.Outcome | None = None,
    status_code: int = 200,
) -> Response:  # fmt: skip
    project = await viewer.api.projects.get(project_id)
    targets = await targets_of(viewer, project_id)
    return page(
        request, "sql.html", viewer, status_code=status_code, project=project, targets=targets,
        endpoint_id=chosen_endpoint(targets, endpoint_id), database=database, query=query,
        databases=None, outcome=outcome, page_size=sql_results.PAGE_SIZE,
    )  # fmt: skip


@router.get("/console/projects/{project_id}/sql", response_class=HTMLResponse)
async def editor(
    request: Request, project_id: str, viewer: ViewerDep, endpoint_id: str | None = None,
    database: str = "postgres", query: str = "",
) -> Response:  # fmt: skip
    return await _editor(
        request, viewer, project_id, endpoint_id=endpoint_id, database=database, query=query
    )


@router.get("/console/projects/{project_id}/sql/databases", response_class=HTMLResponse)
async def database_choices(
    request: Request, project_id: str, viewer: ViewerDep, endpoint_id: str,
    database: str = "postgres",
) -> Response:  # fmt: skip
    """The database picker for an endpoint (listing them may wake its compute)."""
    try:
        listed = [d.name for d in await viewer.api.databases.list(project_id, endpoint_id)]
        problem = None
    except AuthenticationError:
        raise
    except LampionAPIError as exc:
        listed, problem = [], exc
    if database not in listed:
        database = "postgres" if "postgres" in listed or not listed else listed[0]
    return page(
        request, "_sql_databases.html", viewer, databases=listed, database=database,
        problem=problem,
    )  # fmt: skip


async def _answer(
    viewer: Viewer, project_id: str, endpoint_id: str, database: str, query: str
) -> tuple[sql_results.Outcome, int]:
    try:
        if not endpoint_id:
            raise LampionAPIError(
                400, "invalid_request", "Choose the branch to run on", {"field": "endpoint_id"}
            )
        response = await viewer.api.data.sql(
            project_id, endpoint_id, query, database=database, row_mode="array"
        )
    except AuthenticationError:
        raise  # the key was revoked under the session: back to signing in
    except LampionAPIError as exc:
        return sql_results.failed(query, exc), exc.status_code
    return sql_results.succeeded(response), 200


@router.post("/console/projects/{project_id}/sql", response_class=HTMLResponse)
async def run(
    request: Request, project_id: str, viewer: ViewerDep,
    endpoint_id: Annotated[str, Form()] = "", database: Annotated[str, Form()] = "postgres",
    query: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    outcome, status_code = await _answer(viewer, project_id, endpoint_id, database, query)
    if not is_fragment(request):  # a browser without script posted the form itself
        return await _editor(
            request, viewer, project_id, endpoint_id=endpoint_id, database=database,
            query=query, outcome=outcome, status_code=status_code,
        )  # fmt: skip
    return page(
        request, "_sql_result.html", viewer, status_code=status_code, outcome=outcome,
        page_size=sql_results.PAGE_SIZE,
    )  # fmt: skip
