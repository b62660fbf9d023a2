from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status

from lampion.api.deps import PrincipalDep, RuntimeDep
from lampion.api.listing import Paging, paging_for, respond
from lampion.api.responses import errors
from lampion.schemas.webhooks import (
    Delivery,
    TestSent,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookUpdate,
)
from lampion.services import webhooks

router = APIRouter(prefix="/v1/orgs/webhooks", tags=["Webhooks"])


@router.get("", response_model=list[Webhook], responses=errors())
async def list_webhooks(
    request: Request,
    response: Response,
    rt: RuntimeDep,
    principal: PrincipalDep,
    paging: Paging = Depends(paging_for(*webhooks.ORDERING.sortable)),
    enabled: bool | None = None,
) -> list[Webhook]:
    """The organization's webhooks (never their secrets); filter: `enabled`."""
    page = await webhooks.list_webhooks(rt, principal, paging, enabled=enabled)
    return respond(request, response, page, paging)


@router.post(
    "", response_model=WebhookCreated, status_code=status.HTTP_201_CREATED, responses=errors(403)
)
async def create_webhook(
    body: WebhookCreate, rt: RuntimeDep, principal: PrincipalDep
) -> WebhookCreated:
    """Create a webhook for event types (or `*`). The signing secret is shown only here.
    Deliveries are signed as Standard Webhooks (`webhook-id`, `webhook-timestamp`,
    `webhook-signature: v1,…`) and with `X-Lampion-Signature: sha256=<hex HMAC of the body>`."""
    return await webhooks.create(rt, principal, body)


@router.patch("/{webhook_id}", response_model=Webhook, responses=errors(403, 404))
async def update_webhook(
    webhook_id: str, body: WebhookUpdate, rt: RuntimeDep, principal: PrincipalDep
) -> Webhook:
    """Change `url`, `events`, or `enabled` (re-enabling clears the disabled reason)."""
    return await webhooks.update(rt, principal, webhook_id, body)


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(403, 404),
)
async def delete_webhook(webhook_id: str, rt: RuntimeDep, principal: PrincipalDep) -> Response:
    """Delete a webhook."""
    await webhooks.delete(rt, principal, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{webhook_id}/deliveries", response_model=list[Delivery], responses=errors(404))
async def list_deliveries(
    webhook_id: str,
    request: Request,
    response: Response,
    rt: RuntimeDep,
    principal: PrincipalDep,
    paging: Paging = Depends(paging_for(*webhooks.DELIVERY_ORDERING.sortable)),
) -> list[Delivery]:
    """Recent deliveries, newest first, with their attempts and next retry."""
    page = await webhooks.deliveries(rt, principal, webhook_id, paging)
    return respond(request, response, page, paging)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    response_model=Delivery,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(403, 404),
)
async def redeliver(
    webhook_id: str, delivery_id: str, rt: RuntimeDep, principal: PrincipalDep
) -> Delivery:
    """Send a delivery's event again (same `webhook-id`)."""
    return await webhooks.redeliver(rt, principal, webhook_id, delivery_id)


@router.post(
    "/{webhook_id}/test",
    response_model=TestSent,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(403, 404),
)
async def send_test(webhook_id: str, rt: RuntimeDep, principal: PrincipalDep) -> TestSent:
    """Send a `webhook.test` event to this webhook."""
    return await webhooks.send_test(rt, principal, webhook_id)
