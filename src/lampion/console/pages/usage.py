"""Usage & billing: this month's usage per project and for the org, the plan's limits and the
estimated cost, as `GET /v1/usage` and `GET /v1/plans` give them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from lampion.console.render import page
from lampion.console.viewer import ViewerDep
from lampion.schemas.plans import Plan

router = APIRouter()

Period = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")]


@router.get("/console/usage", response_class=HTMLResponse)
async def usage(request: Request, viewer: ViewerDep, period: Period = None) -> Response:
    used = await viewer.api.usage.org(period=period)
    plans = await viewer.api.usage.plans()
    plan = Plan.model_validate(used.plan)
    return page(request, "usage.html", viewer, usage=used, plan=plan, plans=plans)
