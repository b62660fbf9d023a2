from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status

from lampion.api.deps import PrincipalDep, RuntimeDep
from lampion.api.listing import Paging, paging_for, respond
from lampion.api.responses import errors
from lampion.ids import API_KEY_PREFIX
from lampion.schemas.api_keys import ApiKey, ApiKeyCreate, ApiKeyCreated
from lampion.services import api_keys
from lampion.store.models import ApiKey as ApiKeyRow

router = APIRouter(prefix="/v1/api_keys", tags=["API keys"])


def _out(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        permission=row.permission,
        prefix=API_KEY_PREFIX + row.lookup,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )


@router.get("", response_model=list[ApiKey], responses=errors(403))
async def list_api_keys(
    request: Request,
    response: Response,
    rt: RuntimeDep,
    principal: PrincipalDep,
    paging: Paging = Depends(paging_for(*api_keys.ORDERING.sortable)),
) -> list[ApiKey]:
    """List the organization's active API keys (admin keys only). Keys are never shown."""
    principal.require_admin()
    page = await api_keys.list_keys(rt.sessions, principal.org_id, paging)
    return respond(request, response, page.map(_out), paging)


@router.get("/current", response_model=ApiKey, responses=errors())
async def current_api_key(rt: RuntimeDep, principal: PrincipalDep) -> ApiKey:
    """The key making this request, with its permission (any key may ask)."""
    return _out(await api_keys.get(rt.sessions, principal.org_id, principal.key_id))


@router.post(
    "", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED, responses=errors(403)
)
async def create_api_key(
    body: ApiKeyCreate, rt: RuntimeDep, principal: PrincipalDep
) -> ApiKeyCreated:
    """Create an API key (admin keys only). The key is in this response and nowhere else."""
    principal.require_admin()
    row, plaintext = await api_keys.create(
        rt.sessions, principal.org_id, body.name, body.permission
    )
    return ApiKeyCreated(**_out(row).model_dump(), key=plaintext)


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(403, 404),
)
async def revoke_api_key(key_id: str, rt: RuntimeDep, principal: PrincipalDep) -> Response:
    """Revoke an API key (admin keys only). Takes effect immediately."""
    principal.require_admin()
    await api_keys.revoke(rt.sessions, principal.org_id, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
