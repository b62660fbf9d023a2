"""The Settings page: the org's API keys (admin keys only) and webhooks. Their actions live
in `api_keys` and `webhooks`; both render back into this page's parts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from lampion.console.render import page
from lampion.console.viewer import Viewer, ViewerDep
from lampion.event_types import ALL_EVENTS, EventType

router = APIRouter()

EVENT_CHOICES = [ALL_EVENTS, *(event.value for event in EventType)]
PERMISSIONS = ("developer", "read_only", "admin")


async def settings_context(viewer: Viewer) -> dict[str, Any]:
    """What the Settings page shows: API keys are listed to admin keys only (the API
    refuses the others)."""
    keys = await viewer.api.api_keys.list() if viewer.is_admin else []
    return {
        "keys": keys,
        "webhooks": await viewer.api.webhooks.list(),
        "event_choices": EVENT_CHOICES,
        "permissions": PERMISSIONS,
    }


def settings_page(request: Request, viewer: Viewer, **extra: Any) -> HTMLResponse:
    return page(request, "settings.html", viewer, **extra)


@router.get("/console/settings", response_class=HTMLResponse)
async def settings(request: Request, viewer: ViewerDep) -> Response:
    context = await settings_context(viewer)
    return settings_page(request, viewer, **context)
