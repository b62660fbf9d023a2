"""Settings > API keys: create (the key shown once, on the answer to its creation) and
revoke. The API lets admin keys only; the page shows these actions to admin keys only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lampion.client import AuthenticationError, LampionAPIError
from lampion.console.pages.settings import settings_context, settings_page
from lampion.console.render import api_error, is_fragment, page
from lampion.console.viewer import ViewerDep

router = APIRouter()


@router.post("/console/settings/api-keys", response_class=HTMLResponse)
async def create_key(
    request: Request, viewer: ViewerDep, name: Annotated[str, Form()] = "",
    permission: Annotated[str, Form()] = "developer",
) -> Response:  # fmt: skip
    created = await viewer.api.api_keys.create(name, permission=permission)
    keys = await viewer.api.api_keys.list()
    if not is_fragment(request):
        context = await settings_context(viewer)
        return settings_page(request, viewer, created_key=created, **context)
    return page(request, "_key_created.html", viewer, created_key=created, keys=keys)


@router.post("/console/settings/api-keys/{key_id}/revoke", response_class=HTMLResponse)
async def revoke_key(request: Request, key_id: str, viewer: ViewerDep) -> Response:
    try:
        await viewer.api.api_keys.revoke(key_id)
        if not is_fragment(request):
            return RedirectResponse("/console/settings", status_code=303)
        keys = await viewer.api.api_keys.list()
    except AuthenticationError:
        raise  # the session's own key was revoked: to the sign-in page
    except LampionAPIError as error:
        return api_error(request, viewer, error)
    return page(request, "_keys.html", viewer, keys=keys, notice="Key revoked.")
