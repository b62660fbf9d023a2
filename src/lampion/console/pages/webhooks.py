"""Settings > Webhooks: create (the signing secret shown once), enable/disable, delete, send a
test event; each webhook's deliveries with their status, and redeliver."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lampion.console.pages.settings import EVENT_CHOICES, settings_context, settings_page
from lampion.console.render import is_fragment, page
from lampion.console.viewer import Viewer, ViewerDep

router = APIRouter()
BASE = "/console/settings/webhooks"


async def _list(request: Request, viewer: Viewer, **extra: Any) -> Response:
    """The webhooks list (for htmx), or the whole Settings page after a plain form post."""
    if not is_fragment(request):
        return RedirectResponse("/console/settings", status_code=303)
    webhooks = await viewer.api.webhooks.list()
    return page(request, "_webhooks.html", viewer, webhooks=webhooks, **extra)


async def _deliveries(request: Request, viewer: Viewer, webhook_id: str, **extra: Any) -> Response:
    deliveries = await viewer.api.webhooks.deliveries(webhook_id)
    return page(
        request, "_webhook_deliveries.html", viewer, webhook_id=webhook_id,
        deliveries=deliveries, **extra,
    )  # fmt: skip


@router.post(BASE, response_class=HTMLResponse)
async def create_webhook(
    request: Request, viewer: ViewerDep, url: Annotated[str, Form()] = "",
    events: Annotated[list[str] | None, Form()] = None,
) -> Response:  # fmt: skip
    created = await viewer.api.webhooks.create(url, events or [])
    if not is_fragment(request):
        context = await settings_context(viewer)
        return settings_page(request, viewer, created_webhook=created, **context)
    webhooks = await viewer.api.webhooks.list()
    return page(
        request, "_webhook_created.html", viewer, created_webhook=created, webhooks=webhooks,
        event_choices=EVENT_CHOICES,
    )  # fmt: skip


@router.post(f"{BASE}/{{webhook_id}}/enabled", response_class=HTMLResponse)
async def set_enabled(
    request: Request, webhook_id: str, viewer: ViewerDep, enabled: Annotated[bool, Form()]
) -> Response:
    await viewer.api.webhooks.update(webhook_id, enabled=enabled)
    return await _list(request, viewer)


@router.post(f"{BASE}/{{webhook_id}}/delete", response_class=HTMLResponse)
async def delete_webhook(request: Request, webhook_id: str, viewer: ViewerDep) -> Response:
    await viewer.api.webhooks.delete(webhook_id)
    return await _list(request, viewer, notice="Webhook deleted.")


@router.get(f"{BASE}/{{webhook_id}}/deliveries", response_class=HTMLResponse)
async def deliveries(request: Request, webhook_id: str, viewer: ViewerDep) -> Response:
    return await _deliveries(request, viewer, webhook_id)


@router.post(f"{BASE}/{{webhook_id}}/test", response_class=HTMLResponse)
async def send_test(request: Request, webhook_id: str, viewer: ViewerDep) -> Response:
    sent = await viewer.api.webhooks.test(webhook_id)
    notice = f"Test event sent (delivery {sent.delivery_id})."
    return await _deliveries(request, viewer, webhook_id, notice=notice)


@router.post(
    f"{BASE}/{{webhook_id}}/deliveries/{{delivery_id}}/redeliver", response_class=HTMLResponse
)
async def redeliver(
    request: Request, webhook_id: str, delivery_id: str, viewer: ViewerDep
) -> Response:
    again = await viewer.api.webhooks.redeliver(webhook_id, delivery_id)
    notice = f"Delivery {delivery_id} queued again as {again.id}."
    return await _deliveries(request, viewer, webhook_id, notice=notice)
