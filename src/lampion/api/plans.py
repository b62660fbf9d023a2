"""Pricing plans."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from lampion.api.deps import PrincipalDep, RuntimeDep
from lampion.api.listing import Paging, paging_for, respond
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
    paging: Paging = Depends(paging_for(*plans.ORDERING.sortable)),
) -> list[Plan]:
    """Plans with their limits and prices."""
    page = await plans.list_plans(rt.sessions, paging)
    return respond(request, response, page, paging)
