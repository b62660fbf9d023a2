from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from lampion.api.deps import PrincipalDep, RuntimeDep
from lampion.api.listing import Paging, paging_for, respond
from lampion.api.responses import errors
from lampion.schemas.endpoints import AllowlistUpdate, Endpoint, EndpointState, EndpointUpdate
from lampion.services import endpoints

router = APIRouter(prefix="/v1/projects/{project_id}/endpoints", tags=["Endpoints"])


@router.get("", response_model=list[Endpoint], responses=errors(404))
async def list_endpoints(
    project_id: str,
    request: Request,
    response: Response,
    rt: RuntimeDep,
    principal: PrincipalDep,
    paging: Paging = Depends(paging_for(*endpoints.ORDERING.sortable)),
    status: str | None = None,
    branch_id: str | None = None,
) -> list[Endpoint]:
    """List endpoints with connection strings and passwords (filters: `status`,
    `branch_id`)."""
    page = await endpoints.list_endpoints(
        rt, principal, project_id, paging, status=status, branch_id=branch_id
    )
    return respond(request, response, page, paging)


@router.get("/{endpoint_id}", response_model=Endpoint, responses=errors(404))
async def get_endpoint(
    project_id: str, endpoint_id: str, rt: RuntimeDep, principal: PrincipalDep
) -> Endpoint:
    """Get one endpoint."""
    return await endpoints.get(rt, principal, project_id, endpoint_id)


@router.patch("/{endpoint_id}", response_model=Endpoint, responses=errors(403, 404, 409, 503))
async def update_endpoint(
    project_id: str, endpoint_id: str, body: EndpointUpdate, rt: RuntimeDep, principal: PrincipalDep
) -> Endpoint:
    """Update settings: `auto_suspend_seconds`, `compute_units` (a running compute restarts
    to apply a new size)."""
    return await endpoints.update(rt, principal, project_id, endpoint_id, body)


@router.post(
    "/{endpoint_id}/suspend", response_model=EndpointState, responses=errors(403, 404, 409)
)
async def suspend_endpoint(
    project_id: str, endpoint_id: str, rt: RuntimeDep, principal: PrincipalDep
) -> EndpointState:
    """Suspend (scale to zero): fast shutdown, data kept. Idempotent."""
    return await endpoints.suspend(rt, principal, project_id, endpoint_id)


@router.post(
    "/{endpoint_id}/resume", response_model=EndpointState, responses=errors(403, 404, 409, 503)
)
async def resume_endpoint(
    project_id: str, endpoint_id: str, rt: RuntimeDep, principal: PrincipalDep
) -> EndpointState:
    """Resume a suspended compute. Idempotent."""
    return await endpoints.resume(rt, principal, project_id, endpoint_id)


@router.get("/{endpoint_id}/allowlist", response_model=list[str], responses=errors(404))
async def get_allowlist(
    project_id: str, endpoint_id: str, rt: RuntimeDep, principal: PrincipalDep
) -> list[str]:
    """The IP allowlist; empty means every address may connect."""
    return await endpoints.get_allowlist(rt, principal, project_id, endpoint_id)


@router.put("/{endpoint_id}/allowlist", response_model=list[str], responses=errors(403, 404, 409))
async def set_allowlist(
    project_id: str,
    endpoint_id: str,
    body: AllowlistUpdate,
    rt: RuntimeDep,
    principal: PrincipalDep,
) -> list[str]:
    """Replace the IP allowlist (addresses or CIDR networks). Applied without a restart."""
    return await endpoints.set_allowlist(rt, principal, project_id, endpoint_id, body.allowlist)
