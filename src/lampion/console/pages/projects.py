"""The projects list: each project's state and its primary endpoint's status, region,
version and size; create and delete."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

import lampion.console.forms as forms
from lampion.api.deps import RuntimeDep
from lampion.client import AsyncLampion, LampionAPIError
from lampion.console.pages.branch_view import (
    branches_size,
    human_bytes,
    primary_endpoint_status,
)
from lampion.console.render import is_fragment, page, templates
from lampion.console.viewer import ViewerDep
from lampion.runtime import Runtime
from lampion.schemas.projects import Project, ProjectCreated

router = APIRouter()
templates.env.filters["human_bytes"] = human_bytes

_LOOKUPS = 8  # projects whose branches and endpoints are asked at once


@dataclass(frozen=True)
class ProjectFacts:
    """What the list shows beside a project's own fields: its size (its branches' last
    sampled sizes) and its primary endpoint's live status."""

    size: int | None = None
    endpoint_status: str | None = None


async def _facts(api: AsyncLampion, projects: list[Project]) -> dict[str, ProjectFacts]:
    """Each project's facts; a project whose branches or endpoints cannot be listed (deleted
    meanwhile) has none."""
    gate = asyncio.Semaphore(_LOOKUPS)

    async def facts_of(project: Project) -> ProjectFacts:
        async with gate:
            try:
                branches, endpoints = await asyncio.gather(
                    api.branches.list(project.id), api.endpoints.list(project.id)
                )
            except LampionAPIError:
                return ProjectFacts()
        return ProjectFacts(branches_size(branches), primary_endpoint_status(branches, endpoints))

    facts = await asyncio.gather(*(facts_of(p) for p in projects))
    return {project.id: fact for project, fact in zip(projects, facts, strict=True)}


async def _fresh_facts(api: AsyncLampion, created: ProjectCreated) -> dict[str, ProjectFacts]:
    try:
        endpoint = await api.endpoints.get(created.id, created.endpoint_id)
    except LampionAPIError:
        return {}
    return {created.id: ProjectFacts(endpoint_status=endpoint.status)}


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
    facts = await _facts(viewer.api, listed)
    return page(request, "projects.html", viewer, projects=listed, facts=facts, **_choices(runtime))


@router.post("/console/projects", response_class=HTMLResponse)
async def create_project(
    request: Request, viewer: ViewerDep, name: Annotated[str, Form()] = "",
    region: Annotated[str, Form()] = "", pg_version: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    created = await viewer.api.projects.create(
        name, region=region or None, pg_version=forms.whole_number("pg_version", pg_version)
    )
    if not is_fragment(request):
        return RedirectResponse(f"/console/projects/{created.id}", status_code=303)
    facts = await _fresh_facts(viewer.api, created)
    return page(request, "_project_row.html", viewer, project=created, facts=facts, fresh=True)


@router.post("/console/projects/{project_id}/delete")
async def delete_project(
    request: Request, viewer: ViewerDep, project_id: str,
    confirm_name: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    project = await viewer.api.projects.get(project_id)
    if confirm_name != project.name:
        raise LampionAPIError(
            400, "invalid_request", "Type the project's name exactly to delete it",
            {"field": "confirm_name"},
        )  # fmt: skip
    await viewer.api.projects.delete(project_id)
    if is_fragment(request):
        return Response(status_code=200, headers={"HX-Redirect": "/console/projects"})
    return RedirectResponse("/console/projects", status_code=303)
