"""A project's Monitoring tab: metrics history charts (drawn by static/charts.js from
metrics.json), the live status beside them (polled by htmx), and the log tail with follow
(polled by static/logs.js)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from lampion.client import LampionAPIError
from lampion.console.render import page
from lampion.console.viewer import Viewer, ViewerDep
from lampion.schemas.metrics import Snapshot
from lampion.schemas.objects import LogTail

router = APIRouter()

RANGES = (1, 3, 6, 12, 24)
"""The hours the range selector offers (the API takes 1…24)."""
HISTORY_PAGE = 1000
HISTORY_PAGES = 3
"""At most 3000 snapshots per chart: a day at the production 30 s interval."""
LOG_LINES = 200

Hours = Annotated[int, Query(ge=1, le=24)]
EndpointId = Annotated[str | None, Query(max_length=100)]


async def _history(
    viewer: Viewer, project_id: str, hours: int, endpoint_id: str | None
) -> list[Snapshot]:
    """The newest snapshots of the range, oldest first."""
    newest_first: list[Snapshot] = []
    for number in range(1, HISTORY_PAGES + 1):
        batch = await viewer.api.usage.history_page(
            project_id, hours=hours, endpoint_id=endpoint_id, page=number, limit=HISTORY_PAGE,
            order="desc",
        )  # fmt: skip
        newest_first.extend(batch)
        if len(batch) < HISTORY_PAGE:
            break
    return newest_first[::-1]


@router.get("/console/projects/{project_id}/monitoring", response_class=HTMLResponse)
async def monitoring(
    request: Request, project_id: str, viewer: ViewerDep, hours: Hours = 6,
    endpoint: EndpointId = None,
) -> Response:  # fmt: skip
    project = await viewer.api.projects.get(project_id)
    endpoints = await viewer.api.endpoints.list(project_id)
    live = await viewer.api.usage.metrics(project_id, endpoint_id=endpoint)
    logs: LogTail | None = None
    logs_error: LampionAPIError | None = None
    try:  # the charts and live status are worth showing without the log
        logs = await viewer.api.data.logs(project_id, live.endpoint_id, lines=LOG_LINES)
    except LampionAPIError as error:
        logs_error = error
    return page(
        request, "monitoring.html", viewer, project=project, endpoints=endpoints,
        project_id=project.id, endpoint_id=live.endpoint_id, live=live, logs=logs,
        logs_error=logs_error, hours=hours, ranges=RANGES,
    )  # fmt: skip


@router.get("/console/projects/{project_id}/metrics.json")
async def metrics_json(
    request: Request, project_id: str, viewer: ViewerDep, hours: Hours = 6,
    endpoint: EndpointId = None,
) -> Response:  # fmt: skip
    """The metrics history as `GET /v1/projects/{id}/metrics/history` gives it."""
    try:
        snapshots = await _history(viewer, project_id, hours, endpoint)
    except LampionAPIError as error:
        failure = {"message": error.message, "code": error.code, "request_id": error.request_id}
        return JSONResponse({"error": failure}, status_code=error.status_code)
    return JSONResponse([snapshot.model_dump(mode="json") for snapshot in snapshots])


@router.get("/console/projects/{project_id}/monitoring/live", response_class=HTMLResponse)
async def live_status(
    request: Request, project_id: str, viewer: ViewerDep, endpoint: EndpointId = None
) -> Response:
    live = await viewer.api.usage.metrics(project_id, endpoint_id=endpoint)
    return page(request, "_monitoring_live.html", viewer, project_id=project_id, live=live)


@router.get("/console/projects/{project_id}/monitoring/logs", response_class=HTMLResponse)
async def log_tail(
    request: Request, project_id: str, viewer: ViewerDep,
    endpoint: Annotated[str, Query(min_length=1, max_length=100)],
    lines: Annotated[int, Query(ge=1, le=5000)] = LOG_LINES,
) -> Response:  # fmt: skip
    logs = await viewer.api.data.logs(project_id, endpoint, lines=lines)
    return page(request, "_logs.html", viewer, logs=logs)
