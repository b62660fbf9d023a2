from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from lampion.api.credentials import presented_key
from lampion.api.deps import PrincipalDep, RuntimeDep
from lampion.api.listing import Paging, paging_for, respond
from lampion.api.responses import errors
from lampion.schemas.metrics import LiveMetrics, OrgUsage, Snapshot, Usage
from lampion.services import metrics, usage
from lampion.services.auth import authenticate

router = APIRouter(tags=["Metrics & Usage"])
Period = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", examples=["2026-03"])]


@router.get("/v1/projects/{project_id}/metrics", response_model=LiveMetrics, responses=errors(404))
async def live_metrics(
    project_id: str, rt: RuntimeDep, principal: PrincipalDep, endpoint_id: str | None = None
) -> LiveMetrics:
    """Live metrics of the primary endpoint (or `endpoint_id`). Never wakes a suspended
    compute: it then answers with the last sample and `status: "suspended"`."""
    return await metrics.live(rt, principal, project_id, endpoint_id)


@router.get(
    "/v1/projects/{project_id}/metrics/history",
    response_model=list[Snapshot],
    responses=errors(404),
)
async def metrics_history(
    project_id: str,
    request: Request,
    response: Response,
    rt: RuntimeDep,
    principal: PrincipalDep,
    hours: Annotated[int, Query(ge=1, le=24)] = 6,
    endpoint_id: str | None = None,
    paging: Paging = Depends(paging_for(*metrics.HISTORY_ORDERING.sortable)),
) -> list[Snapshot]:
    """Snapshots of the last `hours` (1…24), oldest first (one every 30 s while running)."""
    page = await metrics.history(
        rt, principal, project_id, paging, hours=hours, endpoint_id=endpoint_id
    )
    return respond(request, response, page, paging)


@router.get("/v1/projects/{project_id}/usage", response_model=Usage, responses=errors(404))
async def project_usage(
    project_id: str, rt: RuntimeDep, principal: PrincipalDep, period: Period = None
) -> Usage:
    """Monthly usage (default: this month): compute hours, storage GB, transfer GB."""
    return await usage.project_usage(rt, principal, project_id, period)


@router.get("/v1/usage", response_model=OrgUsage, responses=errors())
async def org_usage(rt: RuntimeDep, principal: PrincipalDep, period: Period = None) -> OrgUsage:
    """The organization's usage with its plan and the estimated cost."""
    return await usage.org_usage(rt, principal, period)


@router.get("/metrics", include_in_schema=False)
async def prometheus(request: Request, rt: RuntimeDep) -> Response:
    """Prometheus text format; behind an API key unless LAMPION_METRICS_PUBLIC=true."""
    if not rt.settings.metrics_public:
        await authenticate(rt.sessions, presented_key(request.headers))
    body = await rt.telemetry.render(rt.sessions)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
