"""Pricing plans."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from lampion.api.deps import PrincipalDep, RuntimeDep
from lampion.api.listing import Paging, paginate, paging_for
from lampion.api.responses import errors
from lampion.schemas.plans import Plan
from lampion.services import plans

router = APIRouter(tags=["Plans"])


@router.get("/v1/plans", response_model=list[Plan], responses=errors())
async def list_plans(
    request: Request,
    response: Response,
    rt: RuntimeDep,
    principal: PrincipalDep,
    page: Paging = Depends(paging_for("name", "cu_hour_usd", "max_projects")),
) -> list[Plan]:
    """Plans with their limits and prices."""
    items = await plans.list_plans(rt.sessions)
    return paginate(request, response, items, page)
