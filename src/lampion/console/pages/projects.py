"""The projects list."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from lampion.console.render import page
from lampion.console.viewer import ViewerDep

router = APIRouter()


@router.get("/console/projects", response_class=HTMLResponse)
async def projects(request: Request, viewer: ViewerDep) -> Response:
    listed = await viewer.api.projects.list()
    return page(request, "projects.html", viewer, projects=listed)
