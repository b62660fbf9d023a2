"""The projects list: each project's status, region, version and size; create and delete."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lampion.api.deps import RuntimeDep
from lampion.client import AsyncLampion, LampionAPIError
from lampion.console.pages.branch_view import branches_size, human_bytes
from lampion.console.render import api_error, is_fragment, page, templates
from lampion.console.viewer import ViewerDep
from lampion.runtime import Runtime
from lampion.schemas.projects import Project

router = APIRouter()
templates.env.filters["human_bytes"] = human_bytes

_SIZE_LOOKUPS = 8  # branch listings asked at once for the sizes column


async def _sizes(api: AsyncLampion, projects: list[Project]) -> dict[str, int | None]:
    """Each project's size, from its branches' last sampled sizes; a project whose branches
    cannot be listed (deleted meanwhile) has no size."""
    gate = asyncio.Semaphore(_SIZE_LOOKUPS)

    async def size_of(project: Project) -> int | None:
        async with gate:
            try:
                return branches_size(await api.branches.list(project.id))
            except LampionAPIError:
                return None

    sizes = await asyncio.gather(*(size_of(p) for p in projects))
    return {project.id: size for project, size in zip(projects, sizes, strict=True)}


def _choices(runtime: Runtime) -> dict[str, Any]:
    """The regions and PostgreSQL versions this server accepts (its settings and installs;
    the API names the same lists when it refuses another)."""
    return {
        "regions": list(runtime.settings.regions),
        "pg_versions": [install.major for install in runtime.installs],
    }


@router.get("/console/projects", response_class=HTMLResponse)
async def projects(request: Request, viewer: ViewerDep, runtime: RuntimeDep) -> Response:
    listed = await viewer.api.projects.list()
    sizes = await _sizes(viewer.api, listed)
    return page(request, "projects.html", viewer, projects=listed, sizes=sizes, **_choices(runtime))


@router.post("/console/projects", response_class=HTMLResponse)
async def create_project(
    request: Request, viewer: ViewerDep, name: Annotated[str, Form()] = "",
    region: Annotated[str, Form()] = "", pg_version: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    try:
        created = await viewer.api.projects.create(
            name, region=region or None, pg_version=int(pg_version) if pg_version else None
        )
    except LampionAPIError as error:
        return api_error(request, viewer, error)
    if not is_fragment(request):
        return RedirectResponse(f"/console/projects/{created.id}", status_code=303)
    sizes = {created.id: None}
    return page(request, "_project_row.html", viewer, project=created, sizes=sizes, fresh=True)


@router.post("/console/projects/{project_id}/delete")
async def delete_project(
    request: Request, viewer: ViewerDep, project_id: str,
    confirm_name: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    try:
        project = await viewer.api.projects.get(project_id)
        if confirm_name != project.name:
            raise LampionAPIError(
                400, "invalid_request", "Type the project's name exactly to delete it",
                {"field": "confirm_name"},
            )  # fmt: skip
        await viewer.api.projects.delete(project_id)
    except LampionAPIError as error:
        return api_error(request, viewer, error)
    if is_fragment(request):
        return Response(status_code=200, headers={"HX-Redirect": "/console/projects"})
    return RedirectResponse("/console/projects", status_code=303)
